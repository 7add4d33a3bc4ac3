using System;
using System.Collections.Generic;

namespace XlaGen.Hlo
{
    /// <summary>XLA's PrimitiveType, with OpenXLA's numbers (xla_data.proto), so casts to the proto enum are exact.</summary>
    public enum ElementType
    {
        /// <summary>No type; never valid in a shape.</summary>
        Invalid = 0,
        /// <summary>Boolean (pred in HLO text), one byte per element.</summary>
        Pred = 1,
        /// <summary>Signed 8-bit integer.</summary>
        S8 = 2,
        /// <summary>Signed 16-bit integer.</summary>
        S16 = 3,
        /// <summary>Signed 32-bit integer (C# <see cref="int"/>).</summary>
        S32 = 4,
        /// <summary>Signed 64-bit integer (C# <see cref="long"/>).</summary>
        S64 = 5,
        /// <summary>Unsigned 8-bit integer (C# <see cref="byte"/>).</summary>
        U8 = 6,
        /// <summary>Unsigned 16-bit integer.</summary>
        U16 = 7,
        /// <summary>Unsigned 32-bit integer.</summary>
        U32 = 8,
        /// <summary>Unsigned 64-bit integer.</summary>
        U64 = 9,
        /// <summary>IEEE 754 half-precision float.</summary>
        F16 = 10,
        /// <summary>IEEE 754 single-precision float (C# <see cref="float"/>).</summary>
        F32 = 11,
        /// <summary>IEEE 754 double-precision float (C# <see cref="double"/>).</summary>
        F64 = 12,
        /// <summary>The element type of a tuple shape.</summary>
        Tuple = 13,
        /// <summary>An opaque value (opaque in HLO text); has no elements.</summary>
        OpaqueType = 14,
        /// <summary>Complex number of two F32 parts.</summary>
        C64 = 15,
        /// <summary>bfloat16: the upper 16 bits of an F32 (8-bit exponent, 7-bit mantissa).</summary>
        Bf16 = 16,
        /// <summary>A token, which orders side-effecting instructions; has no elements.</summary>
        Token = 17,
        /// <summary>Complex number of two F64 parts.</summary>
        C128 = 18,
    }

    /// <summary>Names, classification and sizes of <see cref="ElementType"/> values.</summary>
    public static class ElementTypes
    {
        static readonly Dictionary<ElementType, string> Names = new Dictionary<ElementType, string>
        {
            [ElementType.Pred] = "pred", [ElementType.S8] = "s8", [ElementType.S16] = "s16",
            [ElementType.S32] = "s32", [ElementType.S64] = "s64", [ElementType.U8] = "u8",
            [ElementType.U16] = "u16", [ElementType.U32] = "u32", [ElementType.U64] = "u64",
            [ElementType.F16] = "f16", [ElementType.F32] = "f32", [ElementType.F64] = "f64",
            [ElementType.Bf16] = "bf16", [ElementType.C64] = "c64", [ElementType.C128] = "c128",
            [ElementType.Token] = "token", [ElementType.OpaqueType] = "opaque",
        };

        static readonly Dictionary<string, ElementType> ByName = Invert();

        static Dictionary<string, ElementType> Invert()
        {
            var d = new Dictionary<string, ElementType>(StringComparer.Ordinal);
            foreach (var kv in Names) d[kv.Value] = kv.Key;
            return d;
        }

        /// <summary>The HLO text spelling: f32, s32, pred, bf16 ...</summary>
        public static string TextName(this ElementType t) =>
            Names.TryGetValue(t, out var n) ? n : throw new ArgumentException($"element type {t} has no HLO text name");

        /// <summary>Reads an HLO text name (f32, s32, pred, bf16, token, opaque …; case-sensitive), as <see cref="TextName"/> writes it.</summary>
        public static bool TryParse(string text, out ElementType type) => ByName.TryGetValue(text, out type);

        /// <summary>Whether the type is a real floating-point type: F16, BF16, F32 or F64.</summary>
        public static bool IsFloatingPoint(this ElementType t) =>
            t == ElementType.F16 || t == ElementType.F32 || t == ElementType.F64 || t == ElementType.Bf16;

        /// <summary>Whether the type is C64 or C128.</summary>
        public static bool IsComplex(this ElementType t) => t == ElementType.C64 || t == ElementType.C128;

        /// <summary>Whether the type is S8, S16, S32 or S64.</summary>
        public static bool IsSignedInteger(this ElementType t) =>
            t == ElementType.S8 || t == ElementType.S16 || t == ElementType.S32 || t == ElementType.S64;

        /// <summary>Whether the type is U8, U16, U32 or U64 (pred is not an integer).</summary>
        public static bool IsUnsignedInteger(this ElementType t) =>
            t == ElementType.U8 || t == ElementType.U16 || t == ElementType.U32 || t == ElementType.U64;

        /// <summary>Whether the type is a signed or unsigned integer (pred is not).</summary>
        public static bool IsInteger(this ElementType t) => t.IsSignedInteger() || t.IsUnsignedInteger();

        /// <summary>Array element types, as opposed to tuple, token and opaque.</summary>
        public static bool IsArray(this ElementType t) =>
            t != ElementType.Invalid && t != ElementType.Tuple && t != ElementType.Token && t != ElementType.OpaqueType;

        /// <summary>Bytes per element: 1 for pred, s8 and u8; 2 for 16-bit types; 4 for 32-bit; 8 for 64-bit and c64; 16 for c128.</summary>
        /// <exception cref="ArgumentException"><paramref name="t"/> is a tuple, token, opaque or invalid type, which have no elements.</exception>
        public static int ByteSize(this ElementType t)
        {
            switch (t)
            {
                case ElementType.Pred: case ElementType.S8: case ElementType.U8: return 1;
                case ElementType.S16: case ElementType.U16: case ElementType.F16: case ElementType.Bf16: return 2;
                case ElementType.S32: case ElementType.U32: case ElementType.F32: return 4;
                case ElementType.S64: case ElementType.U64: case ElementType.F64: case ElementType.C64: return 8;
                case ElementType.C128: return 16;
                default: throw new ArgumentException($"element type {t} has no byte size");
            }
        }
    }
}
