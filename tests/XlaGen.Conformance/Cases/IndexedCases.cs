using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>get-dimension-size, dynamic-slice and dynamic-update-slice (clamped starts, index vector form, several
/// index types, in place), gather (embedding lookup, gather_nd, index_vector_dim 0, batching dims, offset dims before
/// batch dims, clamped indices) and scatter (add with duplicates, replace, skipped out-of-bounds windows, batching
/// dims, interpreted and variadic combiners, operand order of a non-commutative combiner).</summary>
public static class IndexedCases
{
    static Dim[] D(params long[] dims) => dims.Select(d => (Dim)d).ToArray();

    public static IEnumerable<ConformanceCase> All()
    {
        var m = T(RandomF32(90, 3 * 5), 3, 5);
        yield return new("get-dimension-size/dim1", CaseModule.Of("gds", new Tensor[] { m },
                (b, p) => b.AddInstruction("get-dimension-size", p, new HloAttributes { Dimensions = new long[] { 1 } })),
            new Tensor[] { m }, new Tensor[] { Scalar(5) });

        foreach (var c in DynamicSlices()) yield return c;
        foreach (var c in Gathers()) yield return c;
        foreach (var c in Scatters()) yield return c;
    }

    static IEnumerable<ConformanceCase> DynamicSlices()
    {
        var x = T(RandomF32(91, 5 * 6), 5, 6);
        ConformanceCase Slice<TI>(string name, Tensor x, TI[] starts, long[] sizes, Tensor want) where TI : unmanaged
        {
            var inputs = new Tensor[] { x }.Concat(starts.Select(s => (Tensor)Scalar(s))).ToArray();
            return new($"dynamic-slice/{name}", CaseModule.Of("ds", inputs,
                (b, p) => b.AddInstruction("dynamic-slice", p, new HloAttributes { DynamicSliceSizes = sizes })), inputs, new[] { want });
        }
        yield return Slice("inside", x, new[] { 1, 2 }, new long[] { 3, 2 }, DynamicSlice(x, new long[] { 1, 2 }, new long[] { 3, 2 }));
        yield return Slice("clamped-high-and-negative-s64", x, new[] { 4L, -3L }, new long[] { 3, 4 }, DynamicSlice(x, new long[] { 4, -3 }, new long[] { 3, 4 }));
        yield return Slice("u32-huge-clamps", x, new[] { 0u, uint.MaxValue }, new long[] { 2, 2 }, DynamicSlice(x, new long[] { 0, uint.MaxValue }, new long[] { 2, 2 }));
        var r3 = T(RandomS32(92, 2 * 3 * 4), 2, 3, 4);
        yield return Slice("rank3-s32-whole-dim", r3, new[] { 1, 0, 1 }, new long[] { 1, 3, 2 }, DynamicSlice(r3, new long[] { 1, 0, 1 }, new long[] { 1, 3, 2 }));
        var vec = T(new[] { 3, 1 }, 2);
        yield return new("dynamic-slice/index-vector-form", CaseModule.Of("ds", new Tensor[] { x, vec },
                (b, p) => b.AddInstruction("dynamic-slice", p, new HloAttributes { DynamicSliceSizes = new long[] { 2, 3 } })),
            new Tensor[] { x, vec }, new Tensor[] { DynamicSlice(x, new long[] { 3, 1 }, new long[] { 2, 3 }) });

        var u = T(RandomF32(93, 2 * 3), 2, 3);
        ConformanceCase Update(string name, Tensor<float> x, Tensor<float> u, int[] starts, bool intermediate = false)
        {
            var inputs = new Tensor[] { x, u }.Concat(starts.Select(s => (Tensor)Scalar(s))).ToArray();
            return new($"dynamic-update-slice/{name}", CaseModule.Of("dus", inputs, (b, p) =>
                {
                    // an intermediate operand that dies here is updated in place
                    var operand = intermediate ? b.Add(p[0], p[0]) : p[0];
                    return b.AddInstruction("dynamic-update-slice", new[] { operand }.Concat(p.Skip(1)).ToArray());
                }),
                inputs, new Tensor[] { DynamicUpdateSlice(intermediate ? Map(x, v => v + v) : x, u, starts.Select(s => (long)s).ToArray()) });
        }
        yield return Update("inside", x, u, new[] { 2, 1 });
        yield return Update("clamped", x, u, new[] { 9, -4 });
        yield return Update("in-place", x, u, new[] { 1, 3 }, intermediate: true);
        var pr = T(new[] { true, false, true, false }, 4);
        var pu = T(new[] { true, true }, 2);
        yield return new("dynamic-update-slice/pred", CaseModule.Of("dus", new Tensor[] { pr, pu, Scalar(1) }, (b, p) => b.AddInstruction("dynamic-update-slice", p)),
            new Tensor[] { pr, pu, Scalar(1) }, new Tensor[] { DynamicUpdateSlice(pr, pu, new long[] { 1 }) });
    }

    static GatherDimensionNumbers GD(long[] offset, long[] collapsed, long[] map, long ivd, long[]? ob = null, long[]? ib = null) => new()
    {
        OffsetDims = offset,
        CollapsedSliceDims = collapsed,
        StartIndexMap = map,
        IndexVectorDim = ivd,
        OperandBatchingDims = ob ?? Array.Empty<long>(),
        StartIndicesBatchingDims = ib ?? Array.Empty<long>(),
    };

    static ConformanceCase GatherCase<T>(string name, Tensor<T> operand, int[] indices, long[] indexDims, GatherDimensionNumbers g, long[] sizes) where T : unmanaged
    {
        var idx = Ref.T(indices, indexDims);
        var inputs = new Tensor[] { operand, idx };
        return new($"gather/{name}", CaseModule.Of("gather", inputs,
                (b, p) => b.AddInstruction("gather", p, new HloAttributes { Gather = g, GatherSliceSizes = sizes })),
            inputs, new Tensor[] { Gather(operand, indices.Select(i => (long)i).ToArray(), indexDims, g, sizes) });
    }

    static IEnumerable<ConformanceCase> Gathers()
    {
        var table = T(RandomF32(100, 10 * 4), 10, 4);
        yield return GatherCase("embedding-lookup-clamped", table, new[] { 3, 0, 12, -3, 9, 3 }, new long[] { 6 }, GD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1), new long[] { 1, 4 });
        var r3 = T(RandomS32(101, 3 * 4 * 5), 3, 4, 5);
        yield return GatherCase("gather-nd-s32", r3, new[] { 0, 1, 2, 3, 1, 0 }, new long[] { 3, 2 }, GD(new long[] { 1 }, new long[] { 0, 1 }, new long[] { 0, 1 }, 1), new long[] { 1, 1, 5 });
        var m46 = T(RandomF64(102, 4 * 6), 4, 6);
        yield return GatherCase("index-vector-dim0-windows", m46, new[] { 1, 4, 0, 0, 2, 5 }, new long[] { 2, 3 }, GD(new long[] { 1, 2 }, Array.Empty<long>(), new long[] { 1, 0 }, 0), new long[] { 2, 3 });
        var batched = T(RandomF32(103, 2 * 5 * 3), 2, 5, 3);
        yield return GatherCase("batching-dims", batched, new[] { 4, 0, 2, 1, 3, 3, 0, 4 }, new long[] { 2, 4 },
            GD(new long[] { 2 }, new long[] { 1 }, new long[] { 1 }, 2, new long[] { 0 }, new long[] { 0 }), new long[] { 1, 1, 3 });
        yield return GatherCase("offset-dims-first", m46, new[] { 5, 0, 2 }, new long[] { 3 }, GD(new long[] { 0 }, new long[] { 1 }, new long[] { 1 }, 1), new long[] { 4, 1 });
        yield return GatherCase("multiple-batch-dims", m46, new[] { 0, 1, 3, 2, 1, 4, 2, 0, 3, 5, 0, 0 }, new long[] { 2, 3, 2 },
            GD(new long[] { 2 }, new long[] { 0 }, new long[] { 0, 1 }, 2), new long[] { 1, 2 });
        var pr = T(new[] { true, false, false, true, true, false }, 3, 2);
        yield return GatherCase("pred-rows", pr, new[] { 2, 0 }, new long[] { 2, 1 }, GD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1), new long[] { 1, 2 });
        var big = T(RandomF32(104, 1000 * 64), 1000, 64);
        yield return GatherCase("embedding-parallel", big, RandomS32(105, 5000, 0, 1000), new long[] { 5000 }, GD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1), new long[] { 1, 64 });
        yield return GatherCase("no-offset-dims", m46, new[] { 1, 2, 3, 5 }, new long[] { 2, 2 }, GD(Array.Empty<long>(), new long[] { 0, 1 }, new long[] { 0, 1 }, 1), new long[] { 1, 1 });
    }

    static ScatterDimensionNumbers SD(long[] window, long[] inserted, long[] map, long ivd, long[]? ib = null, long[]? sb = null) => new()
    {
        UpdateWindowDims = window,
        InsertedWindowDims = inserted,
        ScatterDimsToOperandDims = map,
        IndexVectorDim = ivd,
        InputBatchingDims = ib ?? Array.Empty<long>(),
        ScatterIndicesBatchingDims = sb ?? Array.Empty<long>(),
    };

    static ConformanceCase ScatterCase<T>(string name, Tensor<T> operand, int[] indices, long[] indexDims, Tensor<T> updates, ScatterDimensionNumbers s,
        Func<HloBuilder, HloComputation> combiner, Func<T, T, T> f, double tol = 0) where T : unmanaged
    {
        var idx = Ref.T(indices, indexDims);
        var inputs = new Tensor[] { operand, idx, updates };
        return new($"scatter/{name}", CaseModule.Of("scatter", inputs,
                (b, p) => b.AddInstruction("scatter", p, new HloAttributes { Scatter = s }, called: new[] { combiner(b) })),
            inputs, new Tensor[] { Scatter(operand, indices.Select(i => (long)i).ToArray(), indexDims, updates, s, f) }, tol);
    }

    static HloComputation Replace(HloBuilder b, ElementType t) => CaseModule.Binary(b, "replace", t, (s, x, y) => y);

    static IEnumerable<ConformanceCase> Scatters()
    {
        var x = T(RandomF32(110, 6 * 3), 6, 3);
        var rows = SD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1);
        var u4 = T(RandomF32(111, 4 * 3), 4, 3);
        yield return ScatterCase("add-duplicates", x, new[] { 2, 5, 2, 0 }, new long[] { 4 }, u4, rows, b => b.ScalarComputation("add", ElementType.F32), (a, c) => a + c, 1e-6);
        yield return ScatterCase("replace-out-of-bounds-skipped", x, new[] { 4, 6, -1, 1 }, new long[] { 4 }, u4, rows, b => Replace(b, ElementType.F32), (a, c) => c);
        yield return ScatterCase("max", x, new[] { 1, 1, 3, 3 }, new long[] { 4 }, u4, rows, b => b.ScalarComputation("maximum", ElementType.F32), Math.Max);
        // a window of 3 rows starting at row 4 of 6 does not fit: skipped whole
        var win = T(RandomF32(112, 2 * 3 * 3), 2, 3, 3);
        yield return ScatterCase("window-partly-outside-skipped", x, new[] { 1, 4 }, new long[] { 2, 1 }, win, SD(new long[] { 1, 2 }, Array.Empty<long>(), new long[] { 0 }, 1),
            b => b.ScalarComputation("add", ElementType.F32), (a, c) => a + c, 1e-6);
        var si = T(RandomS32(113, 4 * 5), 4, 5);
        var su = T(RandomS32(114, 3), 3);
        yield return ScatterCase("add-s32-points-ivd0", si, new[] { 0, 3, 3, 1, 4, 4 }, new long[] { 2, 3 }, su, SD(Array.Empty<long>(), new long[] { 0, 1 }, new long[] { 0, 1 }, 0),
            b => b.ScalarComputation("add", ElementType.S32), (a, c) => a + c);
        var batched = T(RandomF64(115, 2 * 5 * 3), 2, 5, 3);
        var bu = T(RandomF64(116, 2 * 2 * 3), 2, 2, 3);
        yield return ScatterCase("batching-dims", batched, new[] { 4, 0, 1, 4 }, new long[] { 2, 2 }, bu,
            SD(new long[] { 2 }, new long[] { 1 }, new long[] { 1 }, 2, new long[] { 0 }, new long[] { 0 }), b => b.ScalarComputation("add", ElementType.F64), (a, c) => a + c, 1e-12);
        // combiner y - x written as subtract(p1, p0): operand order must be kept
        yield return ScatterCase("non-commutative-swapped", x, new[] { 0, 0, 5, 2 }, new long[] { 4 }, u4, rows,
            b => CaseModule.Binary(b, "rsub", ElementType.F32, (s, a, c) => s.Subtract(c, a)), (a, c) => c - a, 1e-6);
        yield return ScatterCase("interpreted-combiner", x, new[] { 3, 3, 1, 0 }, new long[] { 4 }, u4, rows,
            b => CaseModule.Binary(b, "mix", ElementType.F32, (s, a, c) => s.Add(s.Multiply(a, s.Constant(ElementType.F32, 0.5)), c)), (a, c) => a * 0.5f + c, 1e-6);
        var pr = T(new[] { false, false, true, false }, 4);
        yield return ScatterCase("pred-or", pr, new[] { 1, 3, 1 }, new long[] { 3, 1 }, T(new[] { true, false, false }, 3), SD(Array.Empty<long>(), new long[] { 0 }, new long[] { 0 }, 1),
            b => b.ScalarComputation("or", ElementType.Pred), (a, c) => a | c);
        var big = T(RandomF32(117, 1000 * 64), 1000, 64);
        var bigU = T(RandomF32(118, 5000 * 64), 5000, 64);
        yield return ScatterCase("embedding-gradient-large", big, RandomS32(119, 5000, 0, 1000), new long[] { 5000 }, bigU, rows,
            b => b.ScalarComputation("add", ElementType.F32), (a, c) => a + c, 1e-5);
        // the updates are the input itself, an intermediate that dies here: the result may not overwrite it while reading it
        var t3 = T(new[] { 1f, 2, 4 }, 3);
        var perm = new[] { 2, 0, 1 };
        var doubled = Map(t3, v => v + v);
        yield return new("scatter/updates-alias-dying-input", CaseModule.Of("scatter", new Tensor[] { t3 }, (b, p) =>
            {
                var t = b.Add(p[0], p[0]);
                return b.AddInstruction("scatter", new[] { t, b.Constant(Literal.Create(Shape.Array(ElementType.S32, D(3, 1)), perm)), t },
                    new HloAttributes { Scatter = SD(Array.Empty<long>(), new long[] { 0 }, new long[] { 0 }, 1) }, called: new[] { b.ScalarComputation("add", ElementType.F32) });
            }), new Tensor[] { t3 }, new Tensor[] { Scatter(doubled, perm.Select(i => (long)i).ToArray(), new long[] { 3, 1 }, doubled, SD(Array.Empty<long>(), new long[] { 0 }, new long[] { 0 }, 1), (a, c) => a + c) });
        foreach (var c in VariadicScatter()) yield return c;
    }

    /// <summary>Two inputs scattered together: (sum of f32, max of s32) in one combiner returning a tuple.</summary>
    static IEnumerable<ConformanceCase> VariadicScatter()
    {
        var a = T(RandomF32(120, 5), 5);
        var c = T(RandomS32(121, 5), 5);
        var idx = T(new[] { 1, 4, 1 }, 3);
        var ua = T(RandomF32(122, 3), 3);
        var uc = T(RandomS32(123, 3), 3);
        var s = SD(Array.Empty<long>(), new long[] { 0 }, new long[] { 0 }, 1);
        var wantA = Scatter(a, new long[] { 1, 4, 1 }, new long[] { 3 }, ua, s, (x, y) => x + y);
        var wantC = Scatter(c, new long[] { 1, 4, 1 }, new long[] { 3 }, uc, s, Math.Max);
        var inputs = new Tensor[] { a, c, idx, ua, uc };
        yield return new("scatter/variadic-tuple-combiner", CaseModule.Of("scatter", inputs, (b, p) =>
            {
                var sub = b.CreateSubBuilder("pair");
                var xa = sub.Parameter(Shape.Scalar(ElementType.F32), "xa");
                var xc = sub.Parameter(Shape.Scalar(ElementType.S32), "xc");
                var ya = sub.Parameter(Shape.Scalar(ElementType.F32), "ya");
                var yc = sub.Parameter(Shape.Scalar(ElementType.S32), "yc");
                var f = sub.Build(sub.Tuple(sub.Add(xa, ya), sub.Maximum(xc, yc)));
                return b.AddInstruction("scatter", p, new HloAttributes { Scatter = s }, called: new[] { f });
            }), inputs, new Tensor[] { wantA, wantC }, 1e-6);
    }
}
