using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace XlaGen.Hlo
{
    /// <summary>
    /// A constant value: a static array shape and its elements in row-major (logical) order, held in the
    /// natural CLR array for the element type (float[] for f32, int[] for s32, bool[] for pred, ushort[] bits
    /// for f16/bf16), or a tuple of literals.
    /// </summary>
    public sealed class Literal
    {
        Literal(Shape shape, Array? data, Literal[]? elements)
        {
            Shape = shape;
            Data = data;
            TupleElements = elements ?? new Literal[0];
        }

        /// <summary>The literal's static shape (an array shape, or a tuple of its elements' shapes).</summary>
        public Shape Shape { get; }

        /// <summary>The elements (row-major) of an array literal; null for a tuple.</summary>
        public Array? Data { get; }

        /// <summary>The elements of a tuple literal; empty for an array literal.</summary>
        public IReadOnlyList<Literal> TupleElements { get; }

        /// <summary>The CLR element type of <see cref="Data"/> for <paramref name="t"/>: bool for pred, the matching integer and
        /// float types, and ushort (the raw bits) for f16 and bf16.</summary>
        /// <exception cref="NotSupportedException"><paramref name="t"/> has no elements (tuple, token, opaque) or is complex.</exception>
        public static Type StorageType(ElementType t)
        {
            switch (t)
            {
                case ElementType.Pred: return typeof(bool);
                case ElementType.S8: return typeof(sbyte);
                case ElementType.S16: return typeof(short);
                case ElementType.S32: return typeof(int);
                case ElementType.S64: return typeof(long);
                case ElementType.U8: return typeof(byte);
                case ElementType.U16: return typeof(ushort);
                case ElementType.U32: return typeof(uint);
                case ElementType.U64: return typeof(ulong);
                case ElementType.F16: return typeof(ushort);
                case ElementType.Bf16: return typeof(ushort);
                case ElementType.F32: return typeof(float);
                case ElementType.F64: return typeof(double);
                default: throw new NotSupportedException($"element type {t} has no literal storage");
            }
        }

        /// <summary>A zeroed storage array for <paramref name="n"/> elements of <paramref name="t"/> (AOT-safe, no reflection).</summary>
        public static Array NewArray(ElementType t, int n)
        {
            switch (t)
            {
                case ElementType.Pred: return new bool[n];
                case ElementType.S8: return new sbyte[n];
                case ElementType.S16: return new short[n];
                case ElementType.S32: return new int[n];
                case ElementType.S64: return new long[n];
                case ElementType.U8: return new byte[n];
                case ElementType.U16: case ElementType.F16: case ElementType.Bf16: return new ushort[n];
                case ElementType.U32: return new uint[n];
                case ElementType.U64: return new ulong[n];
                case ElementType.F32: return new float[n];
                case ElementType.F64: return new double[n];
                default: throw new NotSupportedException($"element type {t} has no literal storage");
            }
        }

        /// <summary>An array literal of <paramref name="shape"/> holding <paramref name="data"/> (row-major, not copied).</summary>
        /// <param name="shape">A static array shape.</param>
        /// <param name="data">The elements in row-major order, in the array type <see cref="StorageType"/> gives.</param>
        /// <exception cref="ArgumentException"><paramref name="shape"/> is a tuple or has a symbolic dim, or <paramref name="data"/>
        /// has the wrong array type or element count.</exception>
        /// <exception cref="NotSupportedException">The element type has no literal storage.</exception>
        public static Literal Create(Shape shape, Array data)
        {
            if (shape.IsTuple) throw new ArgumentException("use Literal.Tuple for tuple literals");
            if (!shape.IsStatic) throw new ArgumentException($"a literal needs a static shape, not {shape}");
            var want = StorageType(shape.ElementType);
            if (data.GetType().GetElementType() != want)
                throw new ArgumentException($"a {shape.ElementType.TextName()} literal holds {want.Name}[] elements, not {data.GetType().Name}");
            if (data.Length != shape.ElementCount)
                throw new ArgumentException($"shape {shape} has {shape.ElementCount} elements but {data.Length} values were given");
            return new Literal(shape, data, null);
        }

        /// <summary>A tuple literal of <paramref name="elements"/> (the array is copied, the literals are shared).</summary>
        public static Literal Tuple(params Literal[] elements) =>
            new Literal(Shape.Tuple(elements.Select(e => e.Shape).ToArray()), null, (Literal[])elements.Clone());

        /// <summary>An f32 scalar.</summary>
        public static Literal Scalar(float v) => Create(Shape.Scalar(ElementType.F32), new[] { v });

        /// <summary>An f64 scalar.</summary>
        public static Literal Scalar(double v) => Create(Shape.Scalar(ElementType.F64), new[] { v });

        /// <summary>An s32 scalar.</summary>
        public static Literal Scalar(int v) => Create(Shape.Scalar(ElementType.S32), new[] { v });

        /// <summary>An s64 scalar.</summary>
        public static Literal Scalar(long v) => Create(Shape.Scalar(ElementType.S64), new[] { v });

        /// <summary>A pred scalar.</summary>
        public static Literal Scalar(bool v) => Create(Shape.Scalar(ElementType.Pred), new[] { v });

        /// <summary>A scalar of any numeric element type holding <paramref name="value"/> converted as XLA's convert would.</summary>
        public static Literal ScalarOf(ElementType type, double value)
        {
            var data = NewArray(type, 1);
            data.SetValue(FromDouble(type, value), 0);
            return Create(Shape.Scalar(type), data);
        }

        /// <summary>Builds the array from doubles (tests, parsers); integer types truncate toward zero.</summary>
        public static Literal FromDoubles(Shape shape, IReadOnlyList<double> values)
        {
            var data = NewArray(shape.ElementType, values.Count);
            for (int i = 0; i < values.Count; i++) data.SetValue(FromDouble(shape.ElementType, values[i]), i);
            return Create(shape, data);
        }

        /// <summary>The value converted as XLA's convert does: floats round to the nearest representable value,
        /// integers truncate toward zero and saturate at the type's range (NaN becomes 0).</summary>
        public static object FromDouble(ElementType t, double v)
        {
            double Sat(double lo, double hi) => double.IsNaN(v) ? 0 : Math.Truncate(Math.Max(lo, Math.Min(hi, v)));
            switch (t)
            {
                case ElementType.Pred: return v != 0;
                case ElementType.S8: return (sbyte)Sat(sbyte.MinValue, sbyte.MaxValue);
                case ElementType.S16: return (short)Sat(short.MinValue, short.MaxValue);
                case ElementType.S32: return (int)Sat(int.MinValue, int.MaxValue);
                case ElementType.S64: return v >= 9223372036854775807.0 ? long.MaxValue : (long)Sat(long.MinValue, long.MaxValue);
                case ElementType.U8: return (byte)Sat(0, byte.MaxValue);
                case ElementType.U16: return (ushort)Sat(0, ushort.MaxValue);
                case ElementType.U32: return (uint)Sat(0, uint.MaxValue);
                case ElementType.U64: return v >= 18446744073709551615.0 ? ulong.MaxValue : (ulong)Sat(0, ulong.MaxValue);
                case ElementType.F32: return (float)v;
                case ElementType.F64: return v;
                case ElementType.F16: return HalfBits.FromDoubleF16(v);
                case ElementType.Bf16: return HalfBits.FromDoubleBf16(v);
                default: throw new NotSupportedException($"element type {t} is not numeric");
            }
        }

        /// <summary>Element <paramref name="index"/> (row-major) as a double.</summary>
        public double GetDouble(long index)
        {
            if (Data == null) throw new InvalidOperationException("a tuple literal has no elements of its own");
            var v = Data.GetValue(index)!;
            switch (Shape.ElementType)
            {
                case ElementType.Pred: return (bool)v ? 1 : 0;
                case ElementType.F16: return HalfBits.ToDoubleF16((ushort)v);
                case ElementType.Bf16: return HalfBits.ToDoubleBf16((ushort)v);
                default: return Convert.ToDouble(v, CultureInfo.InvariantCulture);
            }
        }

        /// <summary>One element as HLO text writes it: 1, -2.5, inf, nan, true.</summary>
        public string FormatElement(long index)
        {
            switch (Shape.ElementType)
            {
                case ElementType.Pred: return (bool)Data!.GetValue(index)! ? "true" : "false";
                case ElementType.F32: return FormatFloat((float)Data!.GetValue(index)!);
                case ElementType.F64: return FormatDouble((double)Data!.GetValue(index)!);
                case ElementType.F16:
                case ElementType.Bf16: return FormatFloat((float)GetDouble(index));
                default: return Convert.ToString(Data!.GetValue(index), CultureInfo.InvariantCulture)!;
            }
        }

        /// <summary>An f32 as HLO text writes it: the shortest round-trip decimal (lower-case e for exponents), or nan, inf, -inf.</summary>
        public static string FormatFloat(float f)
        {
            if (float.IsNaN(f)) return "nan";
            if (float.IsPositiveInfinity(f)) return "inf";
            if (float.IsNegativeInfinity(f)) return "-inf";
            return f.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        }

        /// <summary>An f64 as HLO text writes it: the shortest round-trip decimal (lower-case e for exponents), or nan, inf, -inf.</summary>
        public static string FormatDouble(double d)
        {
            if (double.IsNaN(d)) return "nan";
            if (double.IsPositiveInfinity(d)) return "inf";
            if (double.IsNegativeInfinity(d)) return "-inf";
            return d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        }

        /// <summary>The literal in HLO constant syntax: 42, {1, 2}, { {1, 2}, {3, 4} }, (1, {2}).</summary>
        public string ToText()
        {
            var sb = new StringBuilder();
            AppendText(sb);
            return sb.ToString();
        }

        /// <summary>Appends the literal in HLO constant syntax, as <see cref="ToText"/> returns it, to <paramref name="sb"/>.</summary>
        public void AppendText(StringBuilder sb)
        {
            if (Shape.IsTuple)
            {
                sb.Append('(');
                for (int i = 0; i < TupleElements.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    TupleElements[i].AppendText(sb);
                }
                sb.Append(')');
                return;
            }
            AppendNested(sb, Shape.ConcreteDims());
        }

        /// <summary>{ {1, 2}, {3, 4} }: a loop with one counter per axis, not recursion, since the rank comes from the
        /// input (a proto or text may declare thousands of dimensions) and must not be able to overflow the stack.</summary>
        void AppendNested(StringBuilder sb, long[] dims)
        {
            int rank = dims.Length;
            long index = 0;
            if (rank == 0)
            {
                sb.Append(FormatElement(index));
                return;
            }
            var counters = new long[rank];
            int axis = 0;
            sb.Append(rank == 1 ? "{" : "{ ");
            while (true)
            {
                bool inner = axis == rank - 1;
                if (counters[axis] == dims[axis])
                {
                    sb.Append(inner ? "}" : " }");
                    if (axis == 0) return;
                    axis--;
                    counters[axis]++;
                    continue;
                }
                if (counters[axis] > 0) sb.Append(", ");
                if (inner)
                {
                    sb.Append(FormatElement(index++));
                    counters[axis]++;
                }
                else
                {
                    axis++;
                    counters[axis] = 0;
                    sb.Append(axis == rank - 1 ? "{" : "{ ");
                }
            }
        }

        /// <summary>Element-wise equality of shape and values (NaN equals NaN bitwise).</summary>
        public bool ValueEquals(Literal other)
        {
            if (!Shape.Equals(other.Shape)) return false;
            if (Shape.IsTuple) return TupleElements.Zip(other.TupleElements, (a, b) => a.ValueEquals(b)).All(x => x);
            for (int i = 0; i < Data!.Length; i++)
            {
                if (!Equals(Data.GetValue(i), other.Data!.GetValue(i))) return false;
            }
            return true;
        }
    }

    /// <summary>IEEE half and bfloat16 bit conversions, usable without System.Half (netstandard2.0).</summary>
    internal static class HalfBits
    {
        public static double ToDoubleBf16(ushort bits) => BitConverterCompat.Int32BitsToSingle(bits << 16);

        public static ushort FromDoubleBf16(double v)
        {
            float f = (float)v;
            int bits = BitConverterCompat.SingleToInt32Bits(f);
            if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
            // round to nearest even
            int rounding = 0x7FFF + ((bits >> 16) & 1);
            return (ushort)((bits + rounding) >> 16);
        }

        public static double ToDoubleF16(ushort h)
        {
            int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
            double v;
            if (exp == 0) v = mant * Math.Pow(2, -24);
            else if (exp == 31) v = mant == 0 ? double.PositiveInfinity : double.NaN;
            else v = (1 + mant / 1024.0) * Math.Pow(2, exp - 15);
            return sign == 1 ? -v : v;
        }

        public static ushort FromDoubleF16(double v)
        {
            if (double.IsNaN(v)) return 0x7E00;
            ushort sign = (ushort)(v < 0 || (v == 0 && 1 / v < 0) ? 0x8000 : 0);
            v = Math.Abs(v);
            if (v >= 65520) return (ushort)(sign | 0x7C00);
            if (v < Math.Pow(2, -14))
            {
                return (ushort)(sign | (ushort)Math.Round(v / Math.Pow(2, -24), MidpointRounding.ToEven));
            }
            int e = (int)Math.Floor(Math.Log(v, 2));
            double m = v / Math.Pow(2, e) - 1;
            int mant = (int)Math.Round(m * 1024, MidpointRounding.ToEven);
            if (mant == 1024) { mant = 0; e++; }
            return (ushort)(sign | ((e + 15) << 10) | mant);
        }
    }

    static class BitConverterCompat
    {
        public static float Int32BitsToSingle(int bits) => BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);

        public static int SingleToInt32Bits(float f) => BitConverter.ToInt32(BitConverter.GetBytes(f), 0);
    }
}
