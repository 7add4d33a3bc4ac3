using System;
using System.Collections.Generic;
using System.Globalization;

namespace XlaGen.Hlo
{
    // The literal half of the HLO text reader: constants of every element type, nested to any rank without recursion.
    sealed partial class HloTextReader
    {
        // ---------------- literals ----------------

        Literal ReadLiteral(Shape shape)
        {
            SkipTrivia();
            int start = pos;
            if (shape.IsTuple)
            {
                Expect("(", $"to open a tuple constant of shape {shape}");
                var elements = new Literal[shape.TupleShapes.Count];
                for (int i = 0; i < elements.Length; i++)
                {
                    if (i > 0) Expect(",", "between the elements of a tuple constant");
                    elements[i] = ReadLiteral(shape.TupleShapes[i]);
                }
                Expect(")", "to close a tuple constant");
                return Literal.Tuple(elements);
            }
            if (!shape.IsArray) throw Error($"a constant cannot have the shape {shape}", start);
            if (!shape.IsStatic) throw Error($"a constant needs a static shape, not {shape}", start);
            var dims = shape.ConcreteDims();
            var values = new List<KeyValuePair<string, int>>();
            ReadNested(dims, values);
            var type = shape.ElementType;
            var data = Literal.NewArray(type, values.Count);
            for (int i = 0; i < values.Count; i++) data.SetValue(ParseElement(type, values[i].Key, values[i].Value), i);
            return Literal.Create(Shape.Array(type, dims), data);
        }

        /// <summary>The element texts of a constant, { {1, 2}, {3, 4} }, in row-major order. A loop with one counter
        /// per axis, not recursion: the rank comes from the text (a 200 KB file can declare 50,000 dimensions) and must not
        /// be able to overflow the stack.</summary>
        void ReadNested(long[] dims, List<KeyValuePair<string, int>> values)
        {
            int rank = dims.Length;
            if (rank == 0)
            {
                ReadElementText(values);
                return;
            }
            var counts = new long[rank];
            var opens = new int[rank];
            int axis = 0;
            bool opening = true; // true: dimension `axis` opens next; false: an element of it was just read
            while (true)
            {
                if (opening)
                {
                    SkipTrivia();
                    opens[axis] = pos;
                    Expect("{", $"to open dimension {axis} of the constant (size {dims[axis]})");
                    counts[axis] = 0;
                    if (TryConsume("}"))
                    {
                        CheckCount(dims, counts, opens, axis);
                        if (axis == 0) return;
                        axis--;
                        counts[axis]++;
                        opening = false;
                        continue;
                    }
                }
                else if (!TryConsume(","))
                {
                    Expect("}", $"to close dimension {axis} of the constant");
                    CheckCount(dims, counts, opens, axis);
                    if (axis == 0) return;
                    axis--;
                    counts[axis]++;
                    continue;
                }
                // The next element of `axis`: a number, or dimension axis + 1 opening.
                if (axis + 1 < rank)
                {
                    axis++;
                    opening = true;
                }
                else
                {
                    ReadElementText(values);
                    counts[axis]++;
                    opening = false;
                }
            }
        }

        void CheckCount(long[] dims, long[] counts, int[] opens, int axis)
        {
            if (counts[axis] != dims[axis]) throw Error($"the constant has {counts[axis]} elements in dimension {axis} but the shape says {dims[axis]}", opens[axis]);
        }

        void ReadElementText(List<KeyValuePair<string, int>> values)
        {
            SkipTrivia();
            int at = pos;
            while (pos < s.Length && (char.IsLetterOrDigit(s[pos]) || s[pos] == '.' || s[pos] == '-' || s[pos] == '+' || s[pos] == '_')) pos++;
            if (pos == at) throw Error($"expected a number in the constant, found {Found()}");
            values.Add(new KeyValuePair<string, int>(s.Substring(at, pos - at), at));
        }

        object ParseElement(ElementType type, string text, int at)
        {
            const NumberStyles Integer = NumberStyles.AllowLeadingSign;
            var inv = CultureInfo.InvariantCulture;
            switch (type)
            {
                case ElementType.Pred:
                    if (text == "true" || text == "1") return true;
                    if (text == "false" || text == "0") return false;
                    break;
                case ElementType.F32:
                    if (TryParseSpecial(text, out var sf)) return (float)sf;
                    if (float.TryParse(text, NumberStyles.Float, inv, out var f)) return f;
                    break;
                case ElementType.F64:
                case ElementType.F16:
                case ElementType.Bf16:
                    if (TryParseSpecial(text, out var sd) || double.TryParse(text, NumberStyles.Float, inv, out sd))
                        return type == ElementType.F64 ? (object)sd : Literal.FromDouble(type, sd);
                    break;
                case ElementType.S8:
                case ElementType.S16:
                case ElementType.S32:
                case ElementType.S64:
                    if (long.TryParse(text, Integer, inv, out var l))
                    {
                        int bits = type.ByteSize() * 8;
                        if (bits == 64 || (l >= -(1L << (bits - 1)) && l < (1L << (bits - 1)))) return ConvertSigned(type, l);
                        throw Error($"{text} does not fit in {type.TextName()}", at);
                    }
                    break;
                case ElementType.U8:
                case ElementType.U16:
                case ElementType.U32:
                case ElementType.U64:
                    if (ulong.TryParse(text, NumberStyles.None, inv, out var u))
                    {
                        int bits = type.ByteSize() * 8;
                        if (bits == 64 || u < (1UL << bits)) return ConvertUnsigned(type, u);
                        throw Error($"{text} does not fit in {type.TextName()}", at);
                    }
                    break;
                default:
                    throw Error($"constants of type {type.TextName()} are not supported", at);
            }
            throw Error($"'{text}' is not a {type.TextName()} value", at);
        }

        static object ConvertSigned(ElementType type, long v)
        {
            switch (type)
            {
                case ElementType.S8: return (sbyte)v;
                case ElementType.S16: return (short)v;
                case ElementType.S32: return (int)v;
                default: return v;
            }
        }

        static object ConvertUnsigned(ElementType type, ulong v)
        {
            switch (type)
            {
                case ElementType.U8: return (byte)v;
                case ElementType.U16: return (ushort)v;
                case ElementType.U32: return (uint)v;
                default: return v;
            }
        }

        static bool TryParseSpecial(string text, out double value)
        {
            switch (text)
            {
                case "inf": case "+inf": value = double.PositiveInfinity; return true;
                case "-inf": value = double.NegativeInfinity; return true;
                case "nan": case "+nan": case "-nan": value = double.NaN; return true;
                default: value = 0; return false;
            }
        }
    }
}
