using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace XlaGen.Generator.Parsing
{
    /// <summary>System.Math and System.MathF calls on compile-time constants, folded at build time into a scalar constant
    /// (<c>x / MathF.Sqrt(32f)</c> divides by 5.656854…), with the precision of the overload called (MathF: float).</summary>
    static class ConstantMath
    {
        public static bool IsMathType(INamedTypeSymbol? type) =>
            type != null && type.ContainingNamespace?.ToDisplayString() == "System" && (type.Name == "Math" || type.Name == "MathF");

        public static Value? Fold(MethodCompiler compiler, IInvocationOperation inv)
        {
            var m = inv.TargetMethod;
            var call = m.ContainingType.Name + "." + m.Name;
            var args = compiler.Arguments(inv);
            if (args == null) return null;
            if (args.Any(a => !(a is ScalarValue)))
            {
                compiler.Unsupported(inv, $"'{call}' on a tensor (only calls on compile-time constants fold; on tensors write a.Maximum(b), a.Minimum(b), Nn.Relu(x), x.Sqrt(), x.Exp(), x.Log() or x.Abs())");
                return null;
            }
            var x = args.Select(a => ((ScalarValue)a!).Number).ToArray();
            double? r = Evaluate(m.Name, x);
            if (r == null)
            {
                compiler.Unsupported(inv, $"'{call}' (folded on constants: Abs, Acos, Asin, Atan, Atan2, Cbrt, Ceiling, Clamp, Cos, Cosh, Exp, Floor, Log, Log10, Log2, Max, Min, Pow, Round, Sign, Sin, Sinh, Sqrt, Tan, Tanh, Truncate)");
                return null;
            }
            var t = m.ReturnType.SpecialType;
            bool integral = t == SpecialType.System_Int32 || t == SpecialType.System_Int64 || t == SpecialType.System_Int16 || t == SpecialType.System_SByte || t == SpecialType.System_Byte;
            double value = t == SpecialType.System_Single ? (float)r.Value : r.Value;
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                compiler.Unsupported(inv, $"'{inv.Syntax}', which is {(double.IsNaN(value) ? "NaN" : "infinite")} (a constant folded at build time must be finite)");
                return null;
            }
            return new ScalarValue(value, integral);
        }

        /// <summary>The folded value of <paramref name="m"/> on <paramref name="x"/> in the overload's precision, or null when
        /// the function is not folded or the result is not finite (used where a failure is reported elsewhere).</summary>
        public static ScalarValue? Evaluate(IMethodSymbol m, double[] x)
        {
            var r = Evaluate(m.Name, x);
            if (r == null) return null;
            var t = m.ReturnType.SpecialType;
            bool integral = t == SpecialType.System_Int32 || t == SpecialType.System_Int64 || t == SpecialType.System_Int16 || t == SpecialType.System_SByte || t == SpecialType.System_Byte;
            double value = t == SpecialType.System_Single ? (float)r.Value : r.Value;
            return double.IsNaN(value) || double.IsInfinity(value) ? null : new ScalarValue(value, integral);
        }

        static double? Evaluate(string name, double[] x)
        {
            switch (name)
            {
                case "Abs" when x.Length == 1: return Math.Abs(x[0]);
                case "Acos" when x.Length == 1: return Math.Acos(x[0]);
                case "Asin" when x.Length == 1: return Math.Asin(x[0]);
                case "Atan" when x.Length == 1: return Math.Atan(x[0]);
                case "Atan2" when x.Length == 2: return Math.Atan2(x[0], x[1]);
                case "Cbrt" when x.Length == 1: return x[0] < 0 ? -Math.Pow(-x[0], 1.0 / 3) : Math.Pow(x[0], 1.0 / 3);
                case "Ceiling" when x.Length == 1: return Math.Ceiling(x[0]);
                case "Clamp" when x.Length == 3: return Math.Min(Math.Max(x[0], x[1]), x[2]);
                case "Cos" when x.Length == 1: return Math.Cos(x[0]);
                case "Cosh" when x.Length == 1: return Math.Cosh(x[0]);
                case "Exp" when x.Length == 1: return Math.Exp(x[0]);
                case "Floor" when x.Length == 1: return Math.Floor(x[0]);
                case "Log" when x.Length == 1: return Math.Log(x[0]);
                case "Log" when x.Length == 2: return Math.Log(x[0], x[1]);
                case "Log10" when x.Length == 1: return Math.Log10(x[0]);
                case "Log2" when x.Length == 1: return Math.Log(x[0]) / Math.Log(2);
                case "Max" when x.Length == 2: return Math.Max(x[0], x[1]);
                case "Min" when x.Length == 2: return Math.Min(x[0], x[1]);
                case "Pow" when x.Length == 2: return Math.Pow(x[0], x[1]);
                case "Round" when x.Length == 1: return Math.Round(x[0]);   // banker's rounding, as Math.Round
                case "Sign" when x.Length == 1: return Math.Sign(x[0]);
                case "Sin" when x.Length == 1: return Math.Sin(x[0]);
                case "Sinh" when x.Length == 1: return Math.Sinh(x[0]);
                case "Sqrt" when x.Length == 1: return Math.Sqrt(x[0]);
                case "Tan" when x.Length == 1: return Math.Tan(x[0]);
                case "Tanh" when x.Length == 1: return Math.Tanh(x[0]);
                case "Truncate" when x.Length == 1: return Math.Truncate(x[0]);
                default: return null;
            }
        }
    }
}
