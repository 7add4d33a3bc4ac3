using System;
using System.Collections.Generic;

namespace XlaGen.Hlo
{
    /// <summary>XLA's PrimitiveType, with OpenXLA's numbers (xla_data.proto), so casts to the proto enum are exact.</summary>
    public enum ElementType
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
        Tuple = 13,
        OpaqueType = 14,
        C64 = 15,
        Bf16 = 16,
        Token = 17,
        C128 = 18,
    }

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

        public static bool TryParse(string text, out ElementType type) => ByName.TryGetValue(text, out type);

        public static bool IsFloatingPoint(this ElementType t) =>
            t == ElementType.F16 || t == ElementType.F32 || t == ElementType.F64 || t == ElementType.Bf16;

        public static bool IsComplex(this ElementType t) => t == ElementType.C64 || t == ElementType.C128;

        public static bool IsSignedInteger(this ElementType t) =>
            t == ElementType.S8 || t == ElementType.S16 || t == ElementType.S32 || t == ElementType.S64;

        public static bool IsUnsignedInteger(this ElementType t) =>
            t == ElementType.U8 || t == ElementType.U16 || t == ElementType.U32 || t == ElementType.U64;

        public static bool IsInteger(this ElementType t) => t.IsSignedInteger() || t.IsUnsignedInteger();

        /// <summary>Array element types, as opposed to tuple, token and opaque.</summary>
        public static bool IsArray(this ElementType t) =>
            t != ElementType.Invalid && t != ElementType.Tuple && t != ElementType.Token && t != ElementType.OpaqueType;

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
