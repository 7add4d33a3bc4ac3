using XlaGen.Backends.Pjrt;
using XlaGen.Hlo;

namespace XlaGen.Tests.Pjrt;

/// <summary>PJRT_Buffer_Type (header enum order, openxla/xla @ 0882740a, API 0.94) is not xla.PrimitiveType.</summary>
public class PjrtBufferTypeTests
{
    // The header's enumerators in order: PJRT_Buffer_Type_INVALID = 0 … PJRT_Buffer_Type_U1 = 31.
    static readonly string[] HeaderOrder =
    {
        "INVALID", "PRED", "S8", "S16", "S32", "S64", "U8", "U16", "U32", "U64", "F16", "F32", "F64", "BF16", "C64", "C128",
        "F8E5M2", "F8E4M3FN", "F8E4M3B11FNUZ", "F8E5M2FNUZ", "F8E4M3FNUZ", "S4", "U4", "TOKEN", "S2", "U2", "F8E4M3", "F8E3M4",
        "F8E8M0FNU", "F4E2M1FN", "S1", "U1",
    };

    [Fact]
    public void EnumFollowsTheHeader()
    {
        for (int i = 0; i < HeaderOrder.Length; i++)
            Assert.Equal(HeaderOrder[i], ((PjrtBufferType)i).ToString().ToUpperInvariant());
        Assert.Equal(HeaderOrder.Length, Enum.GetValues<PjrtBufferType>().Length);
    }

    [Theory]
    [InlineData(ElementType.Pred, 1)]
    [InlineData(ElementType.S8, 2)]
    [InlineData(ElementType.S16, 3)]
    [InlineData(ElementType.S32, 4)]
    [InlineData(ElementType.S64, 5)]
    [InlineData(ElementType.U8, 6)]
    [InlineData(ElementType.U16, 7)]
    [InlineData(ElementType.U32, 8)]
    [InlineData(ElementType.U64, 9)]
    [InlineData(ElementType.F16, 10)]
    [InlineData(ElementType.F32, 11)]
    [InlineData(ElementType.F64, 12)]
    [InlineData(ElementType.Bf16, 13)]
    [InlineData(ElementType.C64, 14)]
    [InlineData(ElementType.C128, 15)]
    public void MapsBothWays(ElementType type, int pjrt)
    {
        Assert.Equal(pjrt, (int)PjrtBufferTypes.FromElementType(type));
        Assert.Equal(type, PjrtBufferTypes.ToElementType((PjrtBufferType)pjrt));
    }

    [Fact]
    public void NumbersDifferFromPrimitiveTypeWhereTheHeadersDo()
    {
        // xla.PrimitiveType: BF16 = 16, C64 = 15, C128 = 18 (our ElementType numbers); PJRT: 13, 14, 15.
        Assert.Equal(16, (int)ElementType.Bf16);
        Assert.NotEqual((int)ElementType.Bf16, (int)PjrtBufferTypes.FromElementType(ElementType.Bf16));
        Assert.NotEqual((int)ElementType.C64, (int)PjrtBufferTypes.FromElementType(ElementType.C64));
        Assert.NotEqual((int)ElementType.C128, (int)PjrtBufferTypes.FromElementType(ElementType.C128));
    }

    [Theory]
    [InlineData(ElementType.Tuple)]
    [InlineData(ElementType.Token)]
    [InlineData(ElementType.OpaqueType)]
    public void NonArrayTypesHaveNoBufferType(ElementType type) =>
        Assert.Contains("no PJRT buffer type", Assert.Throws<NotSupportedException>(() => PjrtBufferTypes.FromElementType(type)).Message);
}
