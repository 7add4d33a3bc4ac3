using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace XlaGen.Generator.Parsing
{
    /// <summary>C# arithmetic, comparisons and conversions on build-time scalars (ints, floats, bools, enum values), shared by
    /// the method compiler and the evaluation of constructor arguments and member initializers.</summary>
    static class ScalarMath
    {
        /// <summary>A C# constant as a scalar (enum constants are their underlying number), or null for strings and others.</summary>
        public static ScalarValue? Constant(object? value)
        {
            switch (value)
            {
                case bool b: return new ScalarValue(b ? 1 : 0, true, isBool: true);
                case int i: return new ScalarValue(i, true);
                case long l: return new ScalarValue(l, true);
                case short s: return new ScalarValue(s, true);
                case byte by: return new ScalarValue(by, true);
                case sbyte sb: return new ScalarValue(sb, true);
                case ushort us: return new ScalarValue(us, true);
                case uint ui: return new ScalarValue(ui, true);
                case float f: return new ScalarValue(f, false);
                case double d: return new ScalarValue(d, false);
                default: return null;
            }
        }

        /// <summary><paramref name="a"/> op <paramref name="b"/>, or null when the operator does not apply to scalars.</summary>
        public static ScalarValue? Binary(BinaryOperatorKind kind, ScalarValue a, ScalarValue b)
        {
            bool integral = a.IsIntegral && b.IsIntegral;
            switch (kind)
            {
                case BinaryOperatorKind.Add: return new ScalarValue(a.Number + b.Number, integral);
                case BinaryOperatorKind.Subtract: return new ScalarValue(a.Number - b.Number, integral);
                case BinaryOperatorKind.Multiply: return new ScalarValue(a.Number * b.Number, integral);
                case BinaryOperatorKind.Divide:
                    return integral && b.Number != 0 ? new ScalarValue(Math.Truncate(a.Number / b.Number), true) : new ScalarValue(a.Number / b.Number, false);
                case BinaryOperatorKind.Remainder: return new ScalarValue(a.Number % b.Number, integral);
                case BinaryOperatorKind.Equals: return Bool(a.Number == b.Number);
                case BinaryOperatorKind.NotEquals: return Bool(a.Number != b.Number);
                case BinaryOperatorKind.LessThan: return Bool(a.Number < b.Number);
                case BinaryOperatorKind.LessThanOrEqual: return Bool(a.Number <= b.Number);
                case BinaryOperatorKind.GreaterThan: return Bool(a.Number > b.Number);
                case BinaryOperatorKind.GreaterThanOrEqual: return Bool(a.Number >= b.Number);
                case BinaryOperatorKind.ConditionalAnd: return Bool(a.Number != 0 && b.Number != 0);
                case BinaryOperatorKind.ConditionalOr: return Bool(a.Number != 0 || b.Number != 0);
                case BinaryOperatorKind.And when a.IsBool && b.IsBool: return Bool(a.Number != 0 && b.Number != 0);
                case BinaryOperatorKind.Or when a.IsBool && b.IsBool: return Bool(a.Number != 0 || b.Number != 0);
                case BinaryOperatorKind.ExclusiveOr when a.IsBool && b.IsBool: return Bool((a.Number != 0) != (b.Number != 0));
                case BinaryOperatorKind.And when integral: return new ScalarValue((long)a.Number & (long)b.Number, true);
                case BinaryOperatorKind.Or when integral: return new ScalarValue((long)a.Number | (long)b.Number, true);
                case BinaryOperatorKind.ExclusiveOr when integral: return new ScalarValue((long)a.Number ^ (long)b.Number, true);
                case BinaryOperatorKind.LeftShift when integral: return new ScalarValue((long)a.Number << (int)b.Number, true);
                case BinaryOperatorKind.RightShift when integral: return new ScalarValue((long)a.Number >> (int)b.Number, true);
                default: return null;
            }
        }

        /// <summary>-x, +x, !b, ~n on a scalar, or null.</summary>
        public static ScalarValue? Unary(UnaryOperatorKind kind, ScalarValue s)
        {
            switch (kind)
            {
                case UnaryOperatorKind.Plus: return s;
                case UnaryOperatorKind.Minus: return new ScalarValue(-s.Number, s.IsIntegral);
                case UnaryOperatorKind.Not when s.IsBool: return Bool(s.Number == 0);
                case UnaryOperatorKind.BitwiseNegation when s.IsIntegral && !s.IsBool: return new ScalarValue(~(long)s.Number, true);
                default: return null;
            }
        }

        /// <summary>A C# numeric conversion of a scalar to <paramref name="type"/> (int truncates, float rounds, an enum keeps its number).</summary>
        public static ScalarValue Convert(ScalarValue s, ITypeSymbol? type)
        {
            var target = type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable ? nullable.TypeArguments[0] : type;
            if (target?.TypeKind == TypeKind.Enum) return new ScalarValue(Math.Truncate(s.Number), true);
            var t = target?.SpecialType ?? SpecialType.None;
            if (t == SpecialType.System_Boolean) return s;
            bool integral = t == SpecialType.System_Int32 || t == SpecialType.System_Int64 || t == SpecialType.System_Int16 || t == SpecialType.System_Byte
                || t == SpecialType.System_SByte || t == SpecialType.System_UInt16 || t == SpecialType.System_UInt32 || t == SpecialType.System_UInt64;
            return new ScalarValue(integral ? Math.Truncate(s.Number) : t == SpecialType.System_Single ? (float)s.Number : s.Number, integral, s.IsBool);
        }

        public static ScalarValue Bool(bool b) => new ScalarValue(b ? 1 : 0, true, isBool: true);

        /// <summary>True when <paramref name="s"/> is a bool that holds true.</summary>
        public static bool IsTrue(ScalarValue s) => s.Number != 0;

        public static string Text(ScalarValue s) =>
            s.IsBool ? (s.Number != 0 ? "true" : "false") : s.Number.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
    }
}
