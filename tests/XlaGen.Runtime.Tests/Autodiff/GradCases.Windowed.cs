using XlaGen.Hlo;
using static XlaGen.Tests.Autodiff.Gen;

namespace XlaGen.Tests.Autodiff;

/// <summary>Gradient checks of the windowed and indexed rules: convolution (both operands; strides, padding, both
/// dilations, groups, batch groups, reversal, layouts), reduce-window, select-and-scatter, gather, scatter and the
/// dynamic slices, including clamped and out-of-range indices.</summary>
public static class GradCasesWindowed
{
    static WindowDimension W(long size, long stride = 1, long lo = 0, long hi = 0, long rhsDilation = 1, long lhsDilation = 1, bool reverse = false) =>
        new(size, stride, lo, hi, rhsDilation, lhsDilation, reverse);

    static GradCase Conv(string name, string labels, long[] lhs, long[] rhs, WindowDimension[] window, long featureGroups = 1, long batchGroups = 1, int seed = 0) =>
        new($"convolution/{name}", new[] { U(100 + seed, lhs), U(200 + seed, rhs) }, (b, p) => b.AddInstruction("convolution", p, new HloAttributes
        {
            Window = window,
            Convolution = XlaGen.Tests.Conformance.Ref.Labels(labels),
            FeatureGroupCount = featureGroups,
            BatchGroupCount = batchGroups,
        }));

    public static IEnumerable<GradCase> All()
    {
        var same = new[] { W(3, 1, 1, 1), W(3, 1, 1, 1) };
        yield return Conv("nhwc-same", "b01f_01io->b01f", D(2, 4, 4, 2), D(3, 3, 2, 3), same);
        yield return Conv("nchw-stride2-asym-pad-rhs-dilation", "bf01_oi01->bf01", D(2, 2, 7, 6), D(3, 2, 2, 2), new[] { W(2, 2, 1, 0, rhsDilation: 2), W(2, 2, 0, 1) }, seed: 1);
        yield return Conv("stride-not-dividing", "b01f_01io->b01f", D(1, 8, 7, 2), D(3, 2, 2, 2), new[] { W(3, 3), W(2, 2, 1, 1) }, seed: 2);
        yield return Conv("lhs-dilation", "b01f_01io->b01f", D(1, 3, 4, 2), D(2, 3, 2, 2), new[] { W(2, 1, 1, 1, lhsDilation: 2), W(3, 2, 2, 1, lhsDilation: 3) }, seed: 3);
        yield return Conv("feature-groups", "b01f_01io->b01f", D(2, 4, 4, 4), D(2, 2, 2, 6), new[] { W(2), W(2, 1, 1, 0) }, featureGroups: 2, seed: 4);
        yield return Conv("depthwise", "b01f_01io->b01f", D(1, 5, 5, 3), D(3, 3, 1, 6), same, featureGroups: 3, seed: 5);
        yield return Conv("batch-groups", "b01f_01io->b01f", D(4, 4, 3, 2), D(2, 2, 2, 6), new[] { W(2), W(2) }, batchGroups: 2, seed: 6);
        yield return Conv("window-reversal", "b01f_01io->b01f", D(1, 4, 5, 2), D(2, 3, 2, 2), new[] { W(2, reverse: true), W(3, 1, 1, 1, reverse: true) }, seed: 7);
        yield return Conv("negative-padding", "b01f_01io->b01f", D(1, 7, 6, 1), D(2, 2, 1, 2), new[] { W(2, 1, -1, -2), W(2, 2, 1, -1) }, seed: 8);
        yield return Conv("conv1d-unusual-labels", "0bf_o0i->f0b", D(9, 2, 3), D(4, 3, 3), new[] { W(3, 2, 1, 2, rhsDilation: 2) }, seed: 9);

        foreach (var c in Windows()) yield return c;
        foreach (var c in Indexed()) yield return c;
    }

    static IEnumerable<GradCase> Windows()
    {
        HloInstruction RW(HloBuilder b, HloInstruction x, HloInstruction init, string op, params WindowDimension[] w) =>
            b.AddInstruction("reduce-window", new[] { x, init }, new HloAttributes { Window = w }, called: new[] { b.ScalarComputation(op, ElementType.F64) });

        yield return new("reduce-window/add-pool-stride-pad", new[] { U(300, D(2, 5, 6, 2)) },
            (b, p) => RW(b, p[0], b.Constant(ElementType.F64, 0), "add", W(1), W(3, 2, 1, 1), W(2, 2, 0, 1), W(1)));
        yield return new("reduce-window/add-dilations", new[] { U(301, D(6, 7)) },
            (b, p) => RW(b, p[0], b.Constant(ElementType.F64, 0), "add", W(2, 1, 1, 0, rhsDilation: 2, lhsDilation: 2), W(3, 2, 2, 2, rhsDilation: 3)));
        yield return new("reduce-window/add-with-init-input", new[] { U(302, D(4, 5)), Of(D(), 0.25) },
            (b, p) => RW(b, p[0], p[1], "add", W(2, 2, 0, 0), W(3, 1, 1, 1)));
        yield return new("reduce-window/max-pool", new[] { Distinct(303, D(2, 6, 6, 3)) },
            (b, p) => RW(b, p[0], b.Constant(ElementType.F64, double.NegativeInfinity), "maximum", W(1), W(2, 2), W(3, 2, 1, 1), W(1)));
        yield return new("reduce-window/min-overlapping-dilated", new[] { Distinct(304, D(7, 6)) },
            (b, p) => RW(b, p[0], b.Constant(ElementType.F64, double.PositiveInfinity), "minimum", W(3, 1, 1, 1, rhsDilation: 2), W(2, 1, 0, 1)));
        yield return new("reduce-window/max-with-init-input", new[] { Distinct(305, D(4, 6)), Of(D(), 0.4321) },
            (b, p) => RW(b, p[0], p[1], "maximum", W(2, 2), W(2, 2)));

        // select-and-scatter: linear in source and init; the operand only decides the selection (its cotangent is 0)
        var operand = Distinct(310, D(2, 6, 6));
        var srcDims = D(2, 3, 3);
        yield return new("select-and-scatter/max-pool-gradient", new[] { operand, U(311, srcDims), Of(D(), 0.1) }, (b, p) =>
        {
            var sub = b.CreateSubBuilder("ge");
            var x = sub.Parameter(Shape.Scalar(ElementType.F64), "a");
            var y = sub.Parameter(Shape.Scalar(ElementType.F64), "b");
            var select = sub.Build(sub.Compare(x, y, "GE"));
            return b.AddInstruction("select-and-scatter", p, new HloAttributes { Window = new[] { W(1), W(3, 2, 1, 1), W(2, 2, 0, 0) } },
                called: new[] { select, b.ScalarComputation("add", ElementType.F64) });
        });
        // min selection with padding: windows at the border select among fewer elements
        yield return new("select-and-scatter/min-select-padded", new[] { Distinct(312, D(5, 4)), U(313, D(3, 2)), Of(D(), -0.2) }, (b, p) =>
        {
            var sub = b.CreateSubBuilder("le");
            var x = sub.Parameter(Shape.Scalar(ElementType.F64), "a");
            var y = sub.Parameter(Shape.Scalar(ElementType.F64), "b");
            var select = sub.Build(sub.Compare(x, y, "LE"));
            return b.AddInstruction("select-and-scatter", p, new HloAttributes { Window = new[] { W(3, 2, 1, 1), W(2, 2, 0, 0) } },
                called: new[] { select, b.ScalarComputation("add", ElementType.F64) });
        });
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

    static ScatterDimensionNumbers SD(long[] window, long[] inserted, long[] map, long ivd, long[]? ib = null, long[]? sb = null) => new()
    {
        UpdateWindowDims = window,
        InsertedWindowDims = inserted,
        ScatterDimsToOperandDims = map,
        IndexVectorDim = ivd,
        InputBatchingDims = ib ?? Array.Empty<long>(),
        ScatterIndicesBatchingDims = sb ?? Array.Empty<long>(),
    };

    static HloComputation Replace(HloBuilder b)
    {
        var sub = b.CreateSubBuilder("replace");
        sub.Parameter(Shape.Scalar(ElementType.F64), "old");
        return sub.Build(sub.Parameter(Shape.Scalar(ElementType.F64), "new"));
    }

    static IEnumerable<GradCase> Indexed()
    {
        // out-of-range rows 7 and -2 are clamped to 5 and 0; row 3 is read twice
        yield return new("gather/embedding-clamped-repeated", new[] { U(400, D(6, 3)) }, (b, p) => b.AddInstruction("gather",
            new[] { p[0], Indices(b, D(5), 3, 7, -2, 3, 1) }, new HloAttributes { Gather = GD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1), GatherSliceSizes = new long[] { 1, 3 } }));
        yield return new("gather/windows-index-vector-dim0", new[] { U(401, D(4, 6)) }, (b, p) => b.AddInstruction("gather",
            new[] { p[0], Indices(b, D(2, 3), 1, 4, 0, 0, 5, 2) }, new HloAttributes { Gather = GD(new long[] { 1, 2 }, Array.Empty<long>(), new long[] { 1, 0 }, 0), GatherSliceSizes = new long[] { 2, 3 } }));
        yield return new("gather/batching-dims", new[] { U(402, D(2, 5, 3)) }, (b, p) => b.AddInstruction("gather",
            new[] { p[0], Indices(b, D(2, 4), 4, 0, 2, 4, 3, 3, 0, 1) },
            new HloAttributes { Gather = GD(new long[] { 2 }, new long[] { 1 }, new long[] { 1 }, 2, new long[] { 0 }, new long[] { 0 }), GatherSliceSizes = new long[] { 1, 1, 3 } }));

        var rows = SD(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1);
        // duplicates add up; index 6 is out of range, so that update is skipped and gets no cotangent
        yield return new("scatter/add-duplicates-out-of-range", new[] { U(410, D(6, 3)), U(411, D(5, 3)) }, (b, p) => b.AddInstruction("scatter",
            new[] { p[0], Indices(b, D(5), 2, 5, 2, 6, 0), p[1] }, new HloAttributes { Scatter = rows }, called: new[] { b.ScalarComputation("add", ElementType.F64) }));
        yield return new("scatter/add-windows-ivd0", new[] { U(412, D(4, 5)), U(413, D(2, 2, 3)) }, (b, p) => b.AddInstruction("scatter",
            new[] { p[0], Indices(b, D(2, 2), 0, 3, 2, 1), p[1] }, new HloAttributes { Scatter = SD(new long[] { 1, 2 }, Array.Empty<long>(), new long[] { 0, 1 }, 0) },
            called: new[] { b.ScalarComputation("add", ElementType.F64) }));
        // replace: rows 1 and 4 are written twice (the later update wins), row 9 is out of range
        yield return new("scatter/replace-duplicates-out-of-range", new[] { U(414, D(6, 3)), U(415, D(5, 3)) }, (b, p) => b.AddInstruction("scatter",
            new[] { p[0], Indices(b, D(5), 1, 4, 1, 9, 4), p[1] }, new HloAttributes { Scatter = rows }, called: new[] { Replace(b) }));
        yield return new("scatter/add-batching-dims", new[] { U(416, D(2, 5, 3)), U(417, D(2, 2, 3)) }, (b, p) => b.AddInstruction("scatter",
            new[] { p[0], Indices(b, D(2, 2), 4, 0, 1, 4), p[1] },
            new HloAttributes { Scatter = SD(new long[] { 2 }, new long[] { 1 }, new long[] { 1 }, 2, new long[] { 0 }, new long[] { 0 }) },
            called: new[] { b.ScalarComputation("add", ElementType.F64) }));

        yield return new("dynamic-slice/clamped", new[] { U(420, D(5, 6)) }, (b, p) => b.AddInstruction("dynamic-slice",
            new[] { p[0], b.Constant(Literal.Scalar(4)), b.Constant(Literal.Scalar(-1)) }, new HloAttributes { DynamicSliceSizes = new long[] { 3, 2 } }));
        yield return new("dynamic-update-slice/clamped", new[] { U(421, D(5, 6)), U(422, D(2, 3)) }, (b, p) => b.AddInstruction("dynamic-update-slice",
            new[] { p[0], p[1], b.Constant(Literal.Scalar(1)), b.Constant(Literal.Scalar(5)) }));
    }
}
