using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Cases.ConvolutionCases;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>reduce-window (pooling: NHWC rows of lanes and NCHW scalars, padding, strides, base and window
/// dilation, init values that are not the identity, interpreted and variadic reducers, operand order of a
/// non-commutative reducer) and select-and-scatter (max-pool gradient with GE and GT on ties, min selection,
/// windows entirely in padding, interpreted select, other scatter ops).</summary>
public static class WindowCases
{
    static ConformanceCase Reduce<T>(string name, Tensor<T> x, WindowDimension[] window, string op, T init, Func<T, T, T> f, double tol = 0) where T : unmanaged
    {
        var type = Tensor.ElementTypeOf<T>();
        var initT = Scalar(init);
        return new($"reduce-window/{name}", CaseModule.Of("rw", new Tensor[] { x, initT },
                (b, p) => b.AddInstruction("reduce-window", p, new HloAttributes { Window = window }, called: new[] { b.ScalarComputation(op, type) })),
            new Tensor[] { x, initT }, new Tensor[] { ReduceWindow(x, window, init, f) }, tol);
    }

    static ConformanceCase SelectScatter<T>(string name, Tensor<T> x, WindowDimension[] window, string direction, string scatterOp, T init,
        Func<T, T, bool> select, Func<T, T, T> scatter, int seed, Func<int, int, T[]> source) where T : unmanaged
    {
        var type = Tensor.ElementTypeOf<T>();
        var dims = x.Shape.Select((n, d) => WindowOutputSize(n, window[d])).ToArray();
        var src = new Tensor<T>(dims, source(seed, (int)Count(dims)));
        var initT = Scalar(init);
        var inputs = new Tensor[] { x, src, initT };
        return new($"select-and-scatter/{name}", CaseModule.Of("sas", inputs, (b, p) =>
            {
                var sel = CaseModule.Binary(b, "select", type, (s, a, c) => s.Compare(a, c, direction));
                return b.AddInstruction("select-and-scatter", p, new HloAttributes { Window = window }, called: new[] { sel, b.ScalarComputation(scatterOp, type) });
            }),
            inputs, new Tensor[] { SelectAndScatter(x, src, window, init, select, scatter) });
    }

    static float MaxF(float a, float b) => float.IsNaN(a) || float.IsNaN(b) ? float.NaN : Math.Max(a, b);

    public static IEnumerable<ConformanceCase> All()
    {
        var nhwc = T(RandomF32(60, 2 * 4 * 6 * 3), 2, 4, 6, 3);
        var pool2 = new[] { W(1), W(2, 2), W(2, 2), W(1) };
        yield return Reduce("maxpool-nhwc-2x2", nhwc, pool2, "maximum", float.NegativeInfinity, MaxF);
        yield return Reduce("sumpool-nhwc-3x3-same", nhwc, new[] { W(1), W(3, 1, 1, 1), W(3, 1, 1, 1), W(1) }, "add", 0f, (a, b) => a + b, 1e-6);
        var nchw = T(RandomF32(61, 2 * 3 * 5 * 5), 2, 3, 5, 5);
        yield return Reduce("maxpool-nchw-3x3-stride2-pad", nchw, new[] { W(1), W(1), W(3, 2, 1, 1), W(3, 2, 1, 1) }, "maximum", float.NegativeInfinity, MaxF);
        yield return Reduce("sum-init-not-identity", nchw, new[] { W(1), W(2), W(2, 1, 1, 0), W(2) }, "add", 1f, (a, b) => a + b, 1e-6);
        var r2 = T(RandomF64(62, 7 * 8), 7, 8);
        yield return Reduce("max-base-and-window-dilation-f64", r2, new[] { W(3, 2, 1, 2, rhsDilation: 2, lhsDilation: 2), W(2, 3, 0, 1, lhsDilation: 3) },
            "maximum", double.NegativeInfinity, Math.Max);
        yield return Reduce("sum-window-dilation-f64", r2, new[] { W(2, 1, 0, 0, rhsDilation: 3), W(3, 2, 2, 2, rhsDilation: 2) }, "add", 0.0, (a, b) => a + b, 1e-12);
        var ints = T(RandomS32(63, 6 * 5), 6, 5);
        yield return Reduce("min-s32-padded", ints, new[] { W(2, 2, 1, 1), W(3, 1, 1, 1) }, "minimum", int.MaxValue, Math.Min);
        yield return Reduce("product-s32", ints, new[] { W(2), W(2, 2) }, "multiply", 1, (a, b) => unchecked(a * b));
        var v = T(Enumerable.Range(1, 10).Select(i => (double)i).ToArray(), 10);
        yield return Reduce("1d-stride-wider-than-window", v, new[] { W(2, 3) }, "add", 0.0, (a, b) => a + b);
        yield return Reduce("window-larger-than-input", v, new[] { W(11) }, "add", 0.0, (a, b) => a + b);
        yield return Reduce("global-pool", nhwc, new[] { W(1), W(4), W(6), W(1) }, "add", 0f, (a, b) => a + b, 1e-5);
        var big = T(RandomF32(64, 8 * 32 * 32 * 16), 8, 32, 32, 16);
        yield return Reduce("maxpool-parallel", big, pool2, "maximum", float.NegativeInfinity, MaxF);
        var bigNchw = T(RandomF32(65, 4 * 8 * 64 * 64), 4, 8, 64, 64);
        yield return Reduce("maxpool-nchw-parallel", bigNchw, new[] { W(1), W(1), W(2, 2), W(2, 2) }, "maximum", float.NegativeInfinity, MaxF);
        var nan = T(new[] { 1f, float.NaN, 3, 4, 5, 6 }, 6);
        yield return Reduce("max-nan", nan, new[] { W(2, 2) }, "maximum", float.NegativeInfinity, MaxF);

        // reducer acc - x as subtract(p1, p0): the executor must keep the operand order (x - acc)
        var sub = T(new[] { 1.0, 2, 4, 8, 16, 32 }, 6);
        yield return new("reduce-window/non-commutative-swapped", CaseModule.Of("rw", new Tensor[] { sub, Scalar(0.0) }, (b, p) =>
            {
                var f = CaseModule.Binary(b, "rsub", ElementType.F64, (s, acc, x) => s.Subtract(x, acc));
                return b.AddInstruction("reduce-window", p, new HloAttributes { Window = new[] { W(3, 1, 1, 0) } }, called: new[] { f });
            }), new Tensor[] { sub, Scalar(0.0) }, new Tensor[] { ReduceWindow(sub, new[] { W(3, 1, 1, 0) }, 0.0, (acc, x) => x - acc) });

        // an interpreted reducer: acc + x*x
        var sq = T(RandomF32(66, 3 * 7), 3, 7);
        var sqWindow = new[] { W(2, 1, 0, 1), W(3, 2, 1, 1) };
        yield return new("reduce-window/sum-of-squares-interpreted", CaseModule.Of("rw", new Tensor[] { sq, Scalar(0f) }, (b, p) =>
            {
                var f = CaseModule.Binary(b, "sumsq", ElementType.F32, (s, acc, x) => s.Add(acc, s.Multiply(x, x)));
                return b.AddInstruction("reduce-window", p, new HloAttributes { Window = sqWindow }, called: new[] { f });
            }), new Tensor[] { sq, Scalar(0f) }, new Tensor[] { ReduceWindow(sq, sqWindow, 0f, (acc, x) => acc + x * x) }, 1e-6);

        // pred "any" over windows runs the interpreter (pred is not on the fast path)
        var pr = T(new[] { false, false, true, false, false, false, false, true }, 2, 4);
        yield return Reduce("or-pred", pr, new[] { W(1), W(2, 1, 0, 1) }, "or", false, (a, b) => a | b);

        // variadic argmax pooling: (value, index) pairs, first maximum wins
        foreach (var c in ArgMax()) yield return c;

        foreach (var c in SelectAndScatterCases()) yield return c;
    }

    static IEnumerable<ConformanceCase> ArgMax()
    {
        var x = T(new[] { 3f, 1, 3, 7, 2, 7, 0, 5, 5 }, 9);
        var idx = T(Enumerable.Range(0, 9).ToArray(), 9);
        var window = new[] { W(3, 2, 1, 1) };
        var pairs = x.Data.Zip(idx.Data, (a, b) => (a, b)).ToArray();
        var (want, dims) = ReduceWindow(pairs, new long[] { 9 }, window, (float.NegativeInfinity, -1),
            (acc, e) => e.Item1 > acc.Item1 ? e : acc);
        var inputs = new Tensor[] { x, idx, Scalar(float.NegativeInfinity), Scalar(-1) };
        yield return new("reduce-window/argmax-variadic", CaseModule.Of("rw", inputs, (b, p) =>
            {
                var sub = b.CreateSubBuilder("argmax");
                var av = sub.Parameter(Shape.Scalar(ElementType.F32), "av");
                var ai = sub.Parameter(Shape.Scalar(ElementType.S32), "ai");
                var bv = sub.Parameter(Shape.Scalar(ElementType.F32), "bv");
                var bi = sub.Parameter(Shape.Scalar(ElementType.S32), "bi");
                var take = sub.Compare(bv, av, "GT");
                var f = sub.Build(sub.Tuple(sub.Select(take, bv, av), sub.Select(take, bi, ai)));
                return b.AddInstruction("reduce-window", p, new HloAttributes { Window = window }, called: new[] { f });
            }), inputs,
            new Tensor[] { T(want.Select(w => w.Item1).ToArray(), dims), T(want.Select(w => w.Item2).ToArray(), dims) });
    }

    static IEnumerable<ConformanceCase> SelectAndScatterCases()
    {
        float[] Src(int seed, int n) => RandomF32(seed, n);
        var nhwc = T(RandomF32(70, 2 * 4 * 6 * 3), 2, 4, 6, 3);
        var pool2 = new[] { W(1), W(2, 2), W(2, 2), W(1) };
        yield return SelectScatter("maxpool-grad-nhwc", nhwc, pool2, "GE", "add", 0f, (a, b) => a >= b, (a, b) => a + b, 71, Src);
        // small integers make many ties: GE keeps the first maximum, GT moves to the last one
        var ties = T(RandomS32(72, 2 * 6 * 6).Select(v => (float)(Math.Abs(v) % 3)).ToArray(), 2, 6, 6);
        var overlap = new[] { W(1), W(3, 1, 1, 1), W(3, 2, 1, 1) };
        yield return SelectScatter("overlapping-ge-ties", ties, overlap, "GE", "add", 0f, (a, b) => a >= b, (a, b) => a + b, 73, Src);
        yield return SelectScatter("overlapping-gt-ties", ties, overlap, "GT", "add", 0f, (a, b) => a > b, (a, b) => a + b, 74, Src);
        yield return SelectScatter("min-le-f64", T(RandomF64(75, 5 * 7), 5, 7), new[] { W(2, 1, 0, 1), W(3, 2, 1, 0) }, "LE", "add", 0.0,
            (a, b) => a <= b, (a, b) => a + b, 76, (s, n) => RandomF64(s, n));
        yield return SelectScatter("s32-init-and-multiply", T(RandomS32(77, 4 * 4), 4, 4), new[] { W(2, 2), W(2, 1) }, "GE", "multiply", 1,
            (a, b) => a >= b, (a, b) => a * b, 78, (s, n) => RandomS32(s, n, 1, 4));
        // padding of 2 before a window of 2 with stride 2: the first windows lie entirely in padding and select nothing
        yield return SelectScatter("windows-in-padding", T(RandomF32(79, 6), 6), new[] { W(2, 2, 2, 0) }, "GE", "add", 0.5f,
            (a, b) => a >= b, (a, b) => a + b, 80, Src);
        var big = T(RandomF32(81, 8 * 16 * 16 * 32), 8, 16, 16, 32);
        yield return SelectScatter("maxpool-grad-large", big, pool2, "GE", "add", 0f, (a, b) => a >= b, (a, b) => a + b, 82, Src);

        // select on |a| >= |b|: interpreted
        var x = T(RandomF32(83, 5 * 6), 5, 6);
        var window = new[] { W(2, 1, 0, 1), W(2, 2) };
        var dims = x.Shape.Select((n, d) => WindowOutputSize(n, window[d])).ToArray();
        var src = T(RandomF32(84, (int)Count(dims)), dims);
        var inputs = new Tensor[] { x, src, Scalar(0f) };
        yield return new("select-and-scatter/abs-select-interpreted", CaseModule.Of("sas", inputs, (b, p) =>
            {
                var sel = CaseModule.Binary(b, "absge", ElementType.F32, (s, a, c) => s.Compare(s.Abs(a), s.Abs(c), "GE"));
                var sc = CaseModule.Binary(b, "addhalf", ElementType.F32, (s, a, c) => s.Add(a, s.Multiply(c, s.Constant(ElementType.F32, 0.5))));
                return b.AddInstruction("select-and-scatter", p, new HloAttributes { Window = window }, called: new[] { sel, sc });
            }), inputs, new Tensor[] { SelectAndScatter(x, src, window, 0f, (a, c) => Math.Abs(a) >= Math.Abs(c), (a, c) => a + c * 0.5f) }, 1e-6);
    }
}
