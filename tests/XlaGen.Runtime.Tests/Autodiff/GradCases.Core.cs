using XlaGen.Hlo;
using static XlaGen.Tests.Autodiff.Gen;

namespace XlaGen.Tests.Autodiff;

/// <summary>Gradient checks of the core rules: elementwise ops (each operand of the binary ones), data movement,
/// dot, reduce, call and fusion. Inputs stay away from kinks and ties (abs at 0, floor at integers, max ties).</summary>
public static class GradCasesCore
{
    static GradCase Unary(string op, GradInput x, string? suffix = null) =>
        new($"{op}{suffix}", new[] { x }, (b, p) => b.Unary(op, p[0]));

    static GradCase Binary(string op, GradInput x, GradInput y, string? suffix = null) =>
        new($"{op}{suffix}", new[] { x, y }, (b, p) => b.Binary(op, p[0], p[1]));

    static Dim[] Dims(params long[] d) => d.Select(v => (Dim)v).ToArray();

    public static IEnumerable<GradCase> All()
    {
        var m = D(3, 4);
        yield return Unary("negate", U(1, m));
        yield return Unary("abs", AwayFromZero(2, m));
        yield return Unary("sign", AwayFromZero(3, m));
        yield return Unary("floor", AwayFromIntegers(4, m));
        yield return Unary("ceil", AwayFromIntegers(5, m));
        yield return Unary("exponential", U(6, m));
        yield return Unary("log", U(7, m, 0.5, 2));
        yield return Unary("exponential-minus-one", U(15, m));
        yield return Unary("log-plus-one", U(16, m, -0.5, 2));
        yield return Unary("sqrt", U(8, m, 0.5, 2));
        yield return Unary("rsqrt", U(9, m, 0.5, 2));
        yield return Unary("tanh", U(10, m));
        yield return Unary("logistic", U(11, m, -3, 3));
        yield return Unary("copy", U(12, m));
        // On one replica all-reduce is the identity; its transpose (all-reduce of dy) must give d(x·x)/dx = 2x.
        yield return new("all-reduce/sum-one-replica", new[] { U(14, m) }, (b, p) => b.Multiply(b.AllReduce(new[] { p[0] }), p[0]));
        // On one replica (groups {{0}}) all-gather and reduce-scatter are the identity; each one's transpose is the other.
        yield return new("all-gather/one-replica", new[] { U(17, m) }, (b, p) => b.Multiply(b.AllGather(new[] { p[0] }, 0, new[] { new long[] { 0 } }), p[0]));
        yield return new("reduce-scatter/sum-one-replica", new[] { U(18, m) }, (b, p) => b.Multiply(b.ReduceScatter(new[] { p[0] }, 0, new[] { new long[] { 0 } }), p[0]));
        yield return new("convert/f64-to-f64", new[] { U(13, m) }, (b, p) => b.AddInstruction("convert", p, null, p[0].Shape));

        yield return Binary("add", U(20, m), U(21, m));
        yield return Binary("subtract", U(22, m), U(23, m));
        yield return Binary("multiply", U(24, m), U(25, m));
        yield return Binary("divide", U(26, m), AwayFromZero(27, m));
        var a = U(28, m);
        var gap = AwayFromZero(29, m);
        var bvals = new GradInput(m, a.Values.Zip(gap.Values, (x, g) => x + 0.5 * g).ToArray());
        yield return Binary("maximum", a, bvals);
        yield return Binary("minimum", a, bvals);
        yield return Binary("power", U(30, m, 0.5, 2), U(31, m, -2, 2));
        // x^0 is constant, also at x = 0 (where p·x^(p-1) would be 0·inf)
        yield return new("power/zero-exponent-at-zero", new[] { Of(D(4), 0, 0.5, -0.7, 2) },
            (b, p) => b.Power(p[0], b.Full(ElementType.F64, 0, Dims(4))));
        // remainder: x/y kept away from integers, where the quotient's truncation jumps
        var divisors = AwayFromZero(32, m);
        var r = new Random(33);
        var dividends = new GradInput(m, divisors.Values.Select(y => y * (r.Next(-2, 3) + 0.2 + 0.6 * r.NextDouble())).ToArray());
        yield return Binary("remainder", dividends, divisors);

        var predicate = new[] { true, false, false, true, true, false, true, false, false, true, true, true };
        yield return new("select", new[] { U(34, m), U(35, m) },
            (b, p) => b.Select(b.Constant(Literal.Create(Shape.Array(ElementType.Pred, Dims(3, 4)), predicate)), p[0], p[1]));
        yield return new("select/scalar-predicate", new[] { U(36, m), U(37, m) }, (b, p) => b.Select(b.Constant(Literal.Scalar(false)), p[0], p[1]));
        // clamp: x at least 0.05 from the bounds -0.4 and 0.45
        var xs = new GradInput(m, new[] { -0.9, -0.3, 0.1, 0.6, 0.2, -0.5, 0.8, 0.0, -0.2, 0.35, 0.55, -0.7 });
        yield return new("clamp/scalar-bounds", new[] { Of(D(), -0.4), xs, Of(D(), 0.45) }, (b, p) => b.AddInstruction("clamp", p));
        yield return new("clamp/array-bounds", new[] { new GradInput(m, Enumerable.Repeat(-0.4, 12).ToArray()), xs, new GradInput(m, Enumerable.Repeat(0.45, 12).ToArray()) },
            (b, p) => b.AddInstruction("clamp", p));

        foreach (var c in Structural()) yield return c;
        foreach (var c in Reductions()) yield return c;
        foreach (var c in Calls()) yield return c;
    }

    static IEnumerable<GradCase> Structural()
    {
        yield return new("broadcast/size-1-expansion", new[] { U(40, D(3, 1)) }, (b, p) => b.Broadcast(p[0], Dims(2, 3, 4), new long[] { 1, 2 }));
        yield return new("broadcast/scalar", new[] { U(41, D()) }, (b, p) => b.Broadcast(p[0], Dims(2, 3), Array.Empty<long>()));
        yield return new("reshape", new[] { U(42, D(2, 3, 4)) }, (b, p) => b.Reshape(p[0], Dims(6, 4)));
        yield return new("bitcast", new[] { U(43, D(2, 6)) }, (b, p) => b.AddInstruction("bitcast", p, null, Shape.Array(ElementType.F64, Dims(3, 4))));
        yield return new("transpose", new[] { U(44, D(2, 3, 4)) }, (b, p) => b.Transpose(p[0], 2, 0, 1));
        yield return new("reverse", new[] { U(45, D(2, 3, 4)) }, (b, p) => b.AddInstruction("reverse", p, new HloAttributes { Dimensions = new long[] { 0, 2 } }));
        yield return new("slice/strided", new[] { U(46, D(5, 6)) }, (b, p) => b.Slice(p[0], new[] { new SliceDimension(1, 5, 2), new SliceDimension(0, 6, 3) }));
        yield return new("concatenate/three", new[] { U(47, D(2, 2)), U(48, D(2, 1)), U(49, D(2, 3)) }, (b, p) => b.Concatenate(1, p));
        yield return new("pad/negative-and-interior", new[] { U(50, D(4, 5)), Of(D(), 0.3) }, (b, p) => b.AddInstruction("pad", p, new HloAttributes
        {
            Padding = new[] { new PaddingDimension(-1, 2, 1), new PaddingDimension(1, -2, 2) },
        }));
        yield return new("dot/matmul", new[] { U(51, D(3, 4)), U(52, D(4, 2)) }, (b, p) => b.MatMul(p[0], p[1]));
        yield return new("dot/batch-and-contraction-on-dim0", new[] { U(53, D(3, 2, 4)), U(54, D(2, 3, 5)) },
            (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(new long[] { 0 }, new long[] { 1 }, new long[] { 1 }, new long[] { 0 })));
        yield return new("dot/both-contract-dim0", new[] { U(55, D(4, 3)), U(56, D(4, 2)) },
            (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(new long[] { 0 }, new long[] { 0 })));
        yield return new("dot/two-contracting-dims-vector", new[] { U(57, D(2, 3, 4)), U(58, D(4, 2, 3)) },
            (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(new long[] { 0, 2 }, new long[] { 1, 0 })));
    }

    static IEnumerable<GradCase> Reductions()
    {
        yield return new("reduce/add-with-init-input", new[] { U(60, D(2, 3, 4)), Of(D(), 0.7) },
            (b, p) => b.Reduce(p[0], p[1], new long[] { 0, 2 }, b.ScalarComputation("add", ElementType.F64)));
        yield return new("reduce/max", new[] { Distinct(61, D(3, 5)) }, (b, p) => b.ReduceMax(p[0], 1));
        yield return new("reduce/min-all", new[] { Distinct(62, D(3, 5)) }, (b, p) => b.ReduceMin(p[0], 0, 1));
        // an init above some rows' maximum: those outputs come from the init (and their elements get nothing)
        yield return new("reduce/max-with-init-input", new[] { Distinct(63, D(4, 3)), Of(D(), 0.3123) },
            (b, p) => b.Reduce(p[0], p[1], new long[] { 1 }, b.ScalarComputation("maximum", ElementType.F64)));
    }

    static IEnumerable<GradCase> Calls()
    {
        HloComputation Callee(HloBuilder b)
        {
            var sub = b.CreateSubBuilder("callee");
            var x = sub.Parameter(Shape.Array(ElementType.F64, Dims(3, 4)), "a");
            var y = sub.Parameter(Shape.Array(ElementType.F64, Dims(3, 4)), "b");
            return sub.Build(sub.Add(sub.Multiply(x, y), sub.Exp(x)));
        }
        // the second operand depends on the first, and one call passes the same value twice
        yield return new("call/dependent-and-repeated-operands", new[] { U(70, D(3, 4)), U(71, D(3, 4)) }, (b, p) =>
        {
            var f = Callee(b);
            var xy = b.Multiply(p[0], p[1]);
            var first = b.AddInstruction("call", new[] { p[0], xy }, called: new[] { f });
            var twice = b.AddInstruction("call", new[] { p[1], p[1] }, called: new[] { f });
            return b.Add(first, twice);
        });
        yield return new("fusion", new[] { U(72, D(3, 4)), U(73, D(3, 4)) }, (b, p) =>
            b.AddInstruction("fusion", new[] { b.Tanh(p[0]), p[1] }, new HloAttributes { FusionKind = "kLoop" }, called: new[] { Callee(b) }));
    }
}
