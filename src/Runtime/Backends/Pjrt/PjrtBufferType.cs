using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// PJRT_Buffer_Type, the C API's element type enum. Its numbers are not xla.PrimitiveType's (our
/// <see cref="ElementType"/>): BF16 is 13 here and 16 there, C64 14 and 15, C128 15 and 18, TOKEN 23 and 17.
/// </summary>
public enum PjrtBufferType
{
    /// <summary>No type.</summary>
    Invalid = 0,
    /// <summary>Boolean, one byte per element.</summary>
    Pred = 1,
    /// <summary>Signed 8-bit integer.</summary>
    S8 = 2,
    /// <summary>Signed 16-bit integer.</summary>
    S16 = 3,
    /// <summary>Signed 32-bit integer.</summary>
    S32 = 4,
    /// <summary>Signed 64-bit integer.</summary>
    S64 = 5,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8 = 6,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16 = 7,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32 = 8,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64 = 9,
    /// <summary>IEEE half-precision float.</summary>
    F16 = 10,
    /// <summary>IEEE single-precision float.</summary>
    F32 = 11,
    /// <summary>IEEE double-precision float.</summary>
    F64 = 12,
    /// <summary>bfloat16 (13 here, 16 in <see cref="ElementType"/>).</summary>
    Bf16 = 13,
    /// <summary>Complex of two F32 (14 here, 15 in <see cref="ElementType"/>).</summary>
    C64 = 14,
    /// <summary>Complex of two F64 (15 here, 18 in <see cref="ElementType"/>).</summary>
    C128 = 15,
    /// <summary>8-bit float, 5 exponent and 2 mantissa bits (XLA's f8e5m2); XlaGen has no element type for it.</summary>
    F8E5M2 = 16,
    /// <summary>8-bit float, 4 exponent and 3 mantissa bits, finite only (f8e4m3fn); XlaGen has no element type for it.</summary>
    F8E4M3FN = 17,
    /// <summary>8-bit float f8e4m3b11fnuz (exponent bias 11, finite, unsigned zero); XlaGen has no element type for it.</summary>
    F8E4M3B11FNUZ = 18,
    /// <summary>8-bit float f8e5m2fnuz (finite, unsigned zero); XlaGen has no element type for it.</summary>
    F8E5M2FNUZ = 19,
    /// <summary>8-bit float f8e4m3fnuz (finite, unsigned zero); XlaGen has no element type for it.</summary>
    F8E4M3FNUZ = 20,
    /// <summary>Signed 4-bit integer; XlaGen has no element type for it.</summary>
    S4 = 21,
    /// <summary>Unsigned 4-bit integer; XlaGen has no element type for it.</summary>
    U4 = 22,
    /// <summary>Token (23 here, 17 in <see cref="ElementType"/>); no buffer holds one.</summary>
    Token = 23,
    /// <summary>Signed 2-bit integer; XlaGen has no element type for it.</summary>
    S2 = 24,
    /// <summary>Unsigned 2-bit integer; XlaGen has no element type for it.</summary>
    U2 = 25,
    /// <summary>8-bit float f8e4m3 (IEEE-style, with infinities); XlaGen has no element type for it.</summary>
    F8E4M3 = 26,
    /// <summary>8-bit float f8e3m4; XlaGen has no element type for it.</summary>
    F8E3M4 = 27,
    /// <summary>8-bit exponent-only float f8e8m0fnu (the scale type of microscaling formats); XlaGen has no element type for it.</summary>
    F8E8M0FNU = 28,
    /// <summary>4-bit float f4e2m1fn; XlaGen has no element type for it.</summary>
    F4E2M1FN = 29,
    /// <summary>Signed 1-bit integer; XlaGen has no element type for it.</summary>
    S1 = 30,
    /// <summary>Unsigned 1-bit integer; XlaGen has no element type for it.</summary>
    U1 = 31,
}

/// <summary>Conversions between <see cref="ElementType"/> and the PJRT C API's <see cref="PjrtBufferType"/>.</summary>
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
