using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// PJRT_Buffer_Type, the C API's element type enum. Its numbers are not xla.PrimitiveType's (our
/// <see cref="ElementType"/>): BF16 is 13 here and 16 there, C64 14 and 15, C128 15 and 18, TOKEN 23 and 17.
/// </summary>
public enum PjrtBufferType
{
    Invalid = 0,
    Pred = 1,
    S8 = 2,
    S16 = 3,
    S32 = 4,
    S64 = 5,
    U8 = 6,
    U16 = 7,
    U32 = 8,
    U64 = 9,
    F16 = 10,
    F32 = 11,
    F64 = 12,
    Bf16 = 13,
    C64 = 14,
    C128 = 15,
    F8E5M2 = 16,
    F8E4M3FN = 17,
    F8E4M3B11FNUZ = 18,
    F8E5M2FNUZ = 19,
    F8E4M3FNUZ = 20,
    S4 = 21,
    U4 = 22,
    Token = 23,
    S2 = 24,
    U2 = 25,
    F8E4M3 = 26,
    F8E3M4 = 27,
    F8E8M0FNU = 28,
    F4E2M1FN = 29,
    S1 = 30,
    U1 = 31,
}

public static class PjrtBufferTypes
{
    /// <summary>The PJRT buffer type of an element type; throws for tuples, tokens and opaque types (no buffer has them).</summary>
    public static PjrtBufferType FromElementType(ElementType type) => type switch
    {
        ElementType.Pred => PjrtBufferType.Pred,
        ElementType.S8 => PjrtBufferType.S8,
        ElementType.S16 => PjrtBufferType.S16,
        ElementType.S32 => PjrtBufferType.S32,
        ElementType.S64 => PjrtBufferType.S64,
        ElementType.U8 => PjrtBufferType.U8,
        ElementType.U16 => PjrtBufferType.U16,
        ElementType.U32 => PjrtBufferType.U32,
        ElementType.U64 => PjrtBufferType.U64,
        ElementType.F16 => PjrtBufferType.F16,
        ElementType.F32 => PjrtBufferType.F32,
        ElementType.F64 => PjrtBufferType.F64,
        ElementType.Bf16 => PjrtBufferType.Bf16,
        ElementType.C64 => PjrtBufferType.C64,
        ElementType.C128 => PjrtBufferType.C128,
        _ => throw new NotSupportedException($"element type {type} has no PJRT buffer type (only array element types are buffers)"),
    };

    /// <summary>The element type of a PJRT buffer type; throws for the types XlaGen has no element type for.</summary>
    public static ElementType ToElementType(PjrtBufferType type) => type switch
    {
        PjrtBufferType.Pred => ElementType.Pred,
        PjrtBufferType.S8 => ElementType.S8,
        PjrtBufferType.S16 => ElementType.S16,
        PjrtBufferType.S32 => ElementType.S32,
        PjrtBufferType.S64 => ElementType.S64,
        PjrtBufferType.U8 => ElementType.U8,
        PjrtBufferType.U16 => ElementType.U16,
        PjrtBufferType.U32 => ElementType.U32,
        PjrtBufferType.U64 => ElementType.U64,
        PjrtBufferType.F16 => ElementType.F16,
        PjrtBufferType.F32 => ElementType.F32,
        PjrtBufferType.F64 => ElementType.F64,
        PjrtBufferType.Bf16 => ElementType.Bf16,
        PjrtBufferType.C64 => ElementType.C64,
        PjrtBufferType.C128 => ElementType.C128,
        _ => throw new NotSupportedException($"PJRT buffer type {type} ({(int)type}) has no XlaGen element type"),
    };
}
