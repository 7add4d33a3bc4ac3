using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Autodiff
{
    /// <summary>The elementwise gradient rules too long for one line of the op catalogue, which names them on the op's
    /// entry (<see cref="Ops.OpCatalogue"/>); the one-line rules are written on the entries themselves.</summary>
    internal static class ElementwiseGradients
    {
        /// <summary>remainder: d/dx = 1, d/dy (x − y·trunc(x/y)) = −trunc(x/y).</summary>
        public static HloInstruction?[] Remainder(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var q = c.B.Divide(y.Operand(0), y.Operand(1));
            var trunc = c.B.Multiply(c.B.Unary("sign", q), c.B.Unary("floor", c.B.Abs(q)));
            return new[] { dy, c.B.Negate(c.B.Multiply(dy, trunc)) };
        }

        public static HloInstruction?[] Maximum(GradientContext c, HloInstruction y, HloInstruction dy) => Chooser(c, y, dy, "GT");

        public static HloInstruction?[] Minimum(GradientContext c, HloInstruction y, HloInstruction dy) => Chooser(c, y, dy, "LT");

        /// <summary>maximum/minimum: the gradient goes to the chosen operand, split evenly on ties (as JAX does).</summary>
        static HloInstruction?[] Chooser(GradientContext c, HloInstruction y, HloInstruction dy, string wins)
        {
            var a = y.Operand(0);
            var b = y.Operand(1);
            var zeros = c.Zeros(y.Shape);
            var half = c.B.Multiply(dy, c.Full(y, 0.5));
            var eq = c.B.Compare(a, b, "EQ");
            var aWins = c.B.Compare(a, b, wins);
            var bWins = c.B.Compare(b, a, wins);
            var da = c.B.Select(aWins, dy, c.B.Select(eq, half, zeros));
            var db = c.B.Select(bWins, dy, c.B.Select(eq, half, zeros));
            return new[] { da, db };
        }

        public static HloInstruction?[] Power(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var x = y.Operand(0);
            var p = y.Operand(1);
            // d/dx x^p = p * x^(p-1), 0 where p = 0 (x^0 is constant even at x = 0, where x^-1 is inf);
            // d/dp x^p = log(x) * x^p, with log(0) replaced by 0 (JAX's _pow_jvp_lhs / _replace_zero).
            var pIsZero = c.B.Compare(p, c.Zeros(p.Shape), "EQ");
            var jac = c.B.Select(pIsZero, c.Zeros(p.Shape), c.B.Multiply(p, c.B.Power(x, c.B.Subtract(p, c.Full(p, 1)))));
            var dx = c.B.Multiply(dy, jac);
            var isZero = c.B.Compare(x, c.Zeros(x.Shape), "EQ");
            var safe = c.B.Select(isZero, c.Full(x, 1), x);
            var dp = c.B.Multiply(dy, c.B.Multiply(c.B.Log(safe), y));
            return new[] { dx, dp };
        }

        /// <summary>convert: the cotangent converted back, to a floating-point operand only (integers carry none).</summary>
        public static HloInstruction?[] Convert(GradientContext c, HloInstruction y, HloInstruction dy) =>
            new[] { y.Operand(0).Shape.ElementType.IsFloatingPoint() ? c.B.Convert(dy, y.Operand(0).Shape.ElementType) : null };

        /// <summary>select: the cotangent goes to the chosen branch; the predicate gets none.</summary>
        public static HloInstruction?[] Select(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var p = y.Operand(0);
            if (p.Shape.IsScalar) p = c.B.BroadcastScalar(p, y.Shape.Dims.ToArray());
            var zeros = c.Zeros(y.Shape);
            return new[] { null, c.B.Select(p, dy, zeros), c.B.Select(p, zeros, dy) };
        }

        public static HloInstruction?[] Clamp(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var lo = y.Operand(0);
            var x = y.Operand(1);
            var hi = y.Operand(2);
            var dims = x.Shape.Dims.ToArray();
            var loB = lo.Shape.IsScalar ? c.B.BroadcastScalar(lo, dims) : lo;
            var hiB = hi.Shape.IsScalar ? c.B.BroadcastScalar(hi, dims) : hi;
            var zeros = c.Zeros(x.Shape);
            var below = c.B.Compare(x, loB, "LT");
            var above = c.B.Compare(x, hiB, "GT");
            var dx = c.B.Select(below, zeros, c.B.Select(above, zeros, dy));
            HloInstruction dLo = c.B.Select(below, dy, zeros);
            HloInstruction dHi = c.B.Select(above, dy, zeros);
            if (lo.Shape.IsScalar) dLo = c.B.ReduceSum(dLo, Enumerable.Range(0, x.Shape.Rank).Select(i => (long)i).ToArray());
            if (hi.Shape.IsScalar) dHi = c.B.ReduceSum(dHi, Enumerable.Range(0, x.Shape.Rank).Select(i => (long)i).ToArray());
            return new[] { dLo, dx, dHi };
        }
    }
}
