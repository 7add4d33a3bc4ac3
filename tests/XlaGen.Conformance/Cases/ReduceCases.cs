using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>reduce: every recognised scalar reducer over inner, outer, middle and several axes; init values that are
/// not the identity; empty reductions; NaN; reducers the executor must interpret (sum of squares, argmax over a tuple
/// of value and index, pred any).</summary>
public static class ReduceCases
{
    static ConformanceCase Simple<T>(string name, Tensor<T> x, string op, T init, long[] axes, Func<T, T, T> f, double tol = 0) where T : unmanaged
    {
        var type = Tensor.ElementTypeOf<T>();
        var initT = Scalar(init);
        // f32 sums are referenced in f64 so the reference's own rounding does not count against the backend
        Tensor want = x is Tensor<float> xf && op == "add"
            ? Map(Reduce(Map(xf, v => (double)v), axes, (double)(float)(object)init, (a, b) => a + b), v => (float)v)
            : Reduce(x, axes, init, f);
        return new($"reduce/{name}", CaseModule.Of("reduce", new Tensor[] { x, initT },
                (b, p) => b.Reduce(p[0], p[1], axes, b.ScalarComputation(op, type))),
            new Tensor[] { x, initT }, new Tensor[] { want }, tol);
    }

    public static IEnumerable<ConformanceCase> All()
    {
        var m = T(RandomF32(40, 12), 3, 4);
        yield return Simple("sum-inner", m, "add", 0f, new long[] { 1 }, (a, b) => a + b, 1e-6);
        yield return Simple("sum-outer", m, "add", 0f, new long[] { 0 }, (a, b) => a + b, 1e-6);
        yield return Simple("sum-all", m, "add", 0f, new long[] { 0, 1 }, (a, b) => a + b, 1e-6);
        yield return Simple("sum-nothing-init10", m, "add", 10f, Array.Empty<long>(), (a, b) => a + b, 1e-6);
        var r3 = T(RandomF32(41, 2 * 3 * 4), 2, 3, 4);
        yield return Simple("sum-outer-and-inner", r3, "add", 0f, new long[] { 0, 2 }, (a, b) => a + b, 1e-6);
        yield return Simple("sum-middle", r3, "add", 1.5f, new long[] { 1 }, (a, b) => a + b, 1e-6);
        var r4 = T(RandomF64(42, 2 * 3 * 4 * 5), 2, 3, 4, 5);
        yield return Simple("sum-rank4-alternating", r4, "add", 0.0, new long[] { 1, 3 }, (a, b) => a + b, 1e-12);
        yield return Simple("max-rank4-leading", r4, "maximum", double.NegativeInfinity, new long[] { 0, 1 }, Math.Max);
        yield return Simple("max-nan", T(new[] { 1f, float.NaN, 3, 2, 5, 4 }, 2, 3), "maximum", float.NegativeInfinity, new long[] { 1 }, MaxNaN);
        yield return Simple("min-s32", T(RandomS32(43, 20), 4, 5), "minimum", int.MaxValue, new long[] { 0 }, Math.Min);
        yield return Simple("min-u16-inner", T(new ushort[] { 5, 3, 9, 65535, 2, 8 }, 2, 3), "minimum", ushort.MaxValue, new long[] { 1 }, (a, b) => Math.Min(a, b));
        yield return Simple("product-f64", T(new[] { 1.5, 2, -1, 4, 0.5, 3 }, 3, 2), "multiply", 1.0, new long[] { 0 }, (a, b) => a * b, 1e-12);
        yield return Simple("product-s64-wraps", T(new[] { long.MaxValue, 2L, 3L }, 3), "multiply", 1L, new long[] { 0 }, (a, b) => unchecked(a * b));
        yield return Simple("and-s32-bits", T(new[] { 0b1110, 0b0111, 0b1111, 0b1011 }, 2, 2), "and", -1, new long[] { 1 }, (a, b) => a & b);
        yield return Simple("or-u8-bits", T(new byte[] { 1, 2, 4, 8 }, 4), "or", (byte)0, new long[] { 0 }, (a, b) => (byte)(a | b));
        yield return Simple("and-pred", T(new[] { true, true, false, true }, 2, 2), "and", true, new long[] { 1 }, (a, b) => a & b);
        yield return Simple("or-pred", T(new[] { false, false, false, true }, 2, 2), "or", false, new long[] { 0 }, (a, b) => a | b);
        yield return Simple("sum-s8-wraps", T(new sbyte[] { 100, 100, -1 }, 3), "add", (sbyte)0, new long[] { 0 }, (a, b) => unchecked((sbyte)(a + b)));
        yield return Simple("sum-empty-axis", T(Array.Empty<float>(), 2, 0), "add", 3f, new long[] { 1 }, (a, b) => a + b);
        yield return Simple("sum-empty-kept", T(Array.Empty<float>(), 0, 2), "add", 3f, new long[] { 1 }, (a, b) => a + b);
        yield return Simple("sum-scalar", Scalar(2f), "add", 1f, Array.Empty<long>(), (a, b) => a + b);
        var big = T(RandomF32(44, 300 * 500), 300, 500);
        yield return Simple("sum-rows-parallel", big, "add", 0f, new long[] { 1 }, (a, b) => a + b, 1e-5);
        yield return Simple("sum-cols-parallel", big, "add", 0f, new long[] { 0 }, (a, b) => a + b, 1e-5);
        yield return Simple("max-all-parallel", big, "maximum", float.NegativeInfinity, new long[] { 0, 1 }, Math.Max);
        var tall = T(RandomF32(45, 100_000), 100_000, 1);
        yield return Simple("sum-long-column", tall, "add", 0f, new long[] { 0 }, (a, b) => a + b, 1e-4);

        // reducer the executor cannot vectorise: acc + x*x
        var sq = T(RandomF32(46, 12), 3, 4);
        yield return new("reduce/sum-of-squares-interpreted", () =>
            {
                var b = new HloBuilder("sumsq");
                var x = b.Parameter(sq.HloShape, "x");
                var reducer = CaseModule.Binary(b, "acc_plus_square", ElementType.F32, (s, acc, v) => s.Add(acc, s.Multiply(v, v)));
                return b.BuildModule(b.Reduce(x, b.Constant(ElementType.F32, 0), new long[] { 1 }, reducer));
            },
            new Tensor[] { sq }, new Tensor[] { Reduce(sq, new long[] { 1 }, 0f, (a, v) => a + v * v) }, 1e-6);

        // pred "any" through a reducer written as or(p1, p0) plus a constant: interpreted
        var pr = T(new[] { false, true, false, false, false, false }, 2, 3);
        yield return new("reduce/pred-any-interpreted", () =>
            {
                var b = new HloBuilder("any");
                var x = b.Parameter(pr.HloShape, "x");
                var reducer = CaseModule.Binary(b, "any", ElementType.Pred, (s, acc, v) => s.Binary("or", s.Binary("and", v, s.Constant(Literal.Scalar(true))), acc));
                return b.BuildModule(b.Reduce(x, b.Constant(Literal.Scalar(false)), new long[] { 1 }, reducer));
            },
            new Tensor[] { pr }, new Tensor[] { T(new[] { true, false }, 2) });

        // a reducer that builds arrays inside is not a scalar program: it runs as a plan per element
        yield return new("reduce/reducer-with-array-ops", () =>
            {
                var b = new HloBuilder("fallback");
                var x = b.Parameter(sq.HloShape, "x");
                var sub = b.CreateSubBuilder("via_arrays");
                var acc = sub.Parameter(Shape.Scalar(ElementType.F32), "acc");
                var v = sub.Parameter(Shape.Scalar(ElementType.F32), "v");
                var pair = sub.Broadcast(v, new Dim[] { 2 }, Array.Empty<long>());
                var twice = sub.ReduceSum(pair, 0);
                var reducer = sub.Build(sub.Add(acc, twice));
                return b.BuildModule(b.Reduce(x, b.Constant(ElementType.F32, 0), new long[] { 0 }, reducer));
            },
            new Tensor[] { sq }, new Tensor[] { Reduce(sq, new long[] { 0 }, 0f, (a, v) => a + 2 * v) }, 1e-6);

        foreach (var c in ArgmaxCases()) yield return c;
    }

    static float MaxNaN(float a, float b) => float.IsNaN(a) || float.IsNaN(b) ? float.NaN : Math.Max(a, b);

    /// <summary>argmax over a dim with a variadic reducer: ((v0, i0), (v1, i1)) -> the larger value, the smaller index on ties.</summary>
    static IEnumerable<ConformanceCase> ArgmaxCases()
    {
        var values = T(new[] { 1f, 5, 3, 5, -1, -2, -3, -4, 0, 0, 0, 0 }, 3, 4);
        var wantValue = new float[3];
        var wantIndex = new int[3];
        for (int r = 0; r < 3; r++)
        {
            float best = float.NegativeInfinity;
            int at = -1;
            for (int c = 0; c < 4; c++)
            {
                float v = values.Data[r * 4 + c];
                if (v > best || (v == best && c < at))
                {
                    best = v;
                    at = c;
                }
            }
            wantValue[r] = best;
            wantIndex[r] = at;
        }
        yield return new("reduce/argmax-tuple", () =>
            {
                var b = new HloBuilder("argmax");
                var x = b.Parameter(values.HloShape, "x");
                var idx = b.Iota(Shape.Array(ElementType.S32, 3, 4), 1);
                var sub = b.CreateSubBuilder("argmax_reducer");
                var v0 = sub.Parameter(Shape.Scalar(ElementType.F32), "v0");
                var i0 = sub.Parameter(Shape.Scalar(ElementType.S32), "i0");
                var v1 = sub.Parameter(Shape.Scalar(ElementType.F32), "v1");
                var i1 = sub.Parameter(Shape.Scalar(ElementType.S32), "i1");
                var gt = sub.Compare(v1, v0, "GT");
                var eq = sub.Compare(v1, v0, "EQ");
                var lowerIndex = sub.Compare(i1, i0, "LT");
                var takeSecond = sub.Binary("or", gt, sub.Binary("and", eq, lowerIndex));
                var reducer = sub.Build(sub.Tuple(sub.Select(takeSecond, v1, v0), sub.Select(takeSecond, i1, i0)));
                var r = b.AddInstruction("reduce", new[] { x, idx, b.Constant(ElementType.F32, double.NegativeInfinity), b.Constant(ElementType.S32, -1) },
                    new HloAttributes { Dimensions = new long[] { 1 } }, called: new[] { reducer });
                return b.BuildModule(r);
            },
            new Tensor[] { values }, new Tensor[] { T(wantValue, 3), T(wantIndex, 3) });
    }
}
