using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Tests.Ops;

/// <summary>Shape rules of convolution, gather, scatter, reduce-window, select-and-scatter, dynamic-slice and
/// dynamic-update-slice: results as XLA's ShapeInference gives them (several from the corpus cases), and the exact errors.</summary>
public class WindowedAndIndexedOpShapeTests
{
    static Shape F32(params Dim[] d) => Shape.Array(ElementType.F32, d);

    static Shape S32(params Dim[] d) => Shape.Array(ElementType.S32, d);

    static Shape Infer(string opcode, Shape[] operands, HloAttributes a, HloComputation[]? called = null, Shape? declared = null) =>
        OpCatalogue.Get(opcode).InferShape(new ShapeQuery(opcode, operands, a, called, declared));

    static string Error(string opcode, Shape[] operands, HloAttributes a, HloComputation[]? called = null) =>
        Assert.Throws<ShapeException>(() => Infer(opcode, operands, a, called)).Message;

    static HloComputation Scalar(string opcode, ElementType t) => new HloBuilder("m").ScalarComputation(opcode, t);

    static HloComputation Ge()
    {
        var b = new HloBuilder("m", "ge");
        var x = b.Parameter(Shape.Scalar(ElementType.F32), "a");
        var y = b.Parameter(Shape.Scalar(ElementType.F32), "b");
        return b.Build(b.Compare(x, y, "GE"));
    }

    /// <summary>Dimension numbers from XLA's dim_labels notation (b/f and digits; i/o and digits for the kernel).</summary>
    static ConvolutionDimensionNumbers Labels(string input, string kernel, string output)
    {
        long[] Spatial(string s) => Enumerable.Range(0, s.Length - 2).Select(k => (long)s.IndexOf((char)('0' + k))).ToArray();
        return new ConvolutionDimensionNumbers
        {
            InputBatchDimension = input.IndexOf('b'), InputFeatureDimension = input.IndexOf('f'), InputSpatialDimensions = Spatial(input),
            KernelInputFeatureDimension = kernel.IndexOf('i'), KernelOutputFeatureDimension = kernel.IndexOf('o'), KernelSpatialDimensions = Spatial(kernel),
            OutputBatchDimension = output.IndexOf('b'), OutputFeatureDimension = output.IndexOf('f'), OutputSpatialDimensions = Spatial(output),
        };
    }

    static WindowDimension W(long size, long stride = 1, long lo = 0, long hi = 0, long rhsDilate = 1, long lhsDilate = 1) =>
        new(size, stride, lo, hi, rhsDilate, lhsDilate);

    // ---------------- convolution ----------------

    [Fact]
    public void ConvolutionShapes()
    {
        // corpus case 08: 4x4 image, 2x2 kernel, padding 0_1 on both spatial dims keeps 4x4
        Assert.Equal(F32(1, 1, 4, 4), Infer("convolution", new[] { F32(1, 1, 4, 4), F32(1, 1, 2, 2) },
            new HloAttributes { Convolution = Labels("bf01", "oi01", "bf01"), Window = new[] { W(2, hi: 1), W(2, hi: 1) } }));
        // the multihost runner's proto: strided, base-dilated, unusual dimension order
        Assert.Equal(F32(32, 24, 1024, 1), Infer("convolution", new[] { F32(32, 24, 64, 128), F32(32, 1024, 64, 128) },
            new HloAttributes { Convolution = Labels("0bf1", "0oi1", "0bf1"), Window = new[] { W(32, stride: 31, lhsDilate: 32), W(128) } }));
        // batch groups divide the batch; a symbolic batch passes through
        var grouped = new HloAttributes { Convolution = Labels("b01f", "01io", "b01f"), Window = new[] { W(3), W(3) }, BatchGroupCount = 2 };
        Assert.Equal(F32(2, 3, 3, 6), Infer("convolution", new[] { F32(4, 5, 5, 2), F32(3, 3, 2, 6) }, grouped));
        var b = Dim.Symbol("B");
        Assert.Equal(F32(b, 3, 3, 6), Infer("convolution", new[] { F32(b, 5, 5, 2), F32(3, 3, 2, 6) },
            new HloAttributes { Convolution = Labels("b01f", "01io", "b01f"), Window = new[] { W(3), W(3) } }));
        // feature groups: 4 input features = 2 kernel input features x 2 groups; a preferred result type
        Assert.Equal(Shape.Array(ElementType.S32, 1, 6, 3, 3), Infer("convolution", new[] { Shape.Array(ElementType.S8, 1, 4, 3, 3), Shape.Array(ElementType.S8, 6, 2, 1, 1) },
            new HloAttributes { Convolution = Labels("bf01", "oi01", "bf01"), Window = new[] { W(1), W(1) }, FeatureGroupCount = 2 }, null, Shape.Scalar(ElementType.S32)));
    }

    [Fact]
    public void InliningKeepsAConvolutionsPreferredResultType()
    {
        var callee = new HloBuilder("m", "conv");
        var x = callee.Parameter(Shape.Array(ElementType.S8, 1, 2, 3, 3), "x");
        var k = callee.Parameter(Shape.Array(ElementType.S8, 4, 2, 1, 1), "k");
        var attrs = new HloAttributes { Convolution = Labels("bf01", "oi01", "bf01"), Window = new[] { W(1), W(1) } };
        var conv = callee.Build(callee.AddInstruction("convolution", new[] { x, k }, attrs, Shape.Array(ElementType.S32, 1, 4, 3, 3)));
        var b = new HloBuilder("caller");
        var root = b.Inline(conv, new[] { b.Parameter(x.Shape, "a"), b.Parameter(k.Shape, "b") });
        Assert.Equal(Shape.Array(ElementType.S32, 1, 4, 3, 3), root.Shape);
    }

    [Fact]
    public void ConvolutionErrors()
    {
        var dn = Labels("bf01", "oi01", "bf01");
        Assert.Equal("convolution: lhs has 3 input features but the kernel has 1 × feature_group_count 1",
            Error("convolution", new[] { F32(1, 3, 4, 4), F32(1, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(2), W(2) } }));
        Assert.Equal("convolution: window dimension 0 has size 3 but kernel spatial dimension 2 of f32[1,1,2,2] is 2",
            Error("convolution", new[] { F32(1, 1, 4, 4), F32(1, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(3), W(2) } }));
        Assert.Equal("convolution: the window has 1 dimensions for 2 spatial dimensions",
            Error("convolution", new[] { F32(1, 1, 4, 4), F32(1, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(2) } }));
        Assert.Equal("convolution: feature_group_count (2) and batch_group_count (2) cannot both be above 1",
            Error("convolution", new[] { F32(2, 2, 4, 4), F32(2, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(2), W(2) }, FeatureGroupCount = 2, BatchGroupCount = 2 }));
        Assert.Equal("convolution: window dimension 0 changes the symbolic size B; only a size-1, stride-1 window without padding or dilation may slide over a symbolic dimension",
            Error("convolution", new[] { F32(1, 1, Dim.Symbol("B"), 4), F32(1, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(2), W(2) } }));
        Assert.Equal("convolution: input dimension number 1 is used twice (dimension numbers {1,1,2,3})",
            Error("convolution", new[] { F32(1, 1, 4, 4), F32(1, 1, 2, 2) }, new HloAttributes { Convolution = Labels("bf01", "oi01", "bf01").With(d => d.InputBatchDimension = 1), Window = new[] { W(2), W(2) } }));
        Assert.Equal("convolution: missing convolution dimension numbers (dim_labels=…)",
            Error("convolution", new[] { F32(1, 1, 4, 4), F32(1, 1, 2, 2) }, new HloAttributes()));
        Assert.Equal("convolution: element types differ: f32[1,1,4,4] and s32[1,1,2,2] (convert one operand first)",
            Error("convolution", new[] { F32(1, 1, 4, 4), S32(1, 1, 2, 2) }, new HloAttributes { Convolution = dn, Window = new[] { W(2), W(2) } }));
    }

    // ---------------- gather ----------------

    static HloAttributes Gather(long[] offset, long[] collapsed, long[] startIndexMap, long ivd, long[] sizes, long[]? obd = null, long[]? sibd = null) => new()
    {
        Gather = new GatherDimensionNumbers
        {
            OffsetDims = offset, CollapsedSliceDims = collapsed, StartIndexMap = startIndexMap, IndexVectorDim = ivd,
            OperandBatchingDims = obd ?? new long[0], StartIndicesBatchingDims = sibd ?? new long[0],
        },
        GatherSliceSizes = sizes,
    };

    [Fact]
    public void GatherShapes()
    {
        // corpus cases 09, 13, 15 and 16
        Assert.Equal(S32(2, 3), Infer("gather", new[] { S32(3, 3), S32(2) }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 1, 3 })));
        Assert.Equal(S32(2, 1, 1), Infer("gather", new[] { S32(3, 3), S32(2, 2) }, Gather(new long[] { 1, 2 }, new long[0], new long[] { 0, 1 }, 0, new long[] { 1, 1 })));
        Assert.Equal(S32(3, 2, 2), Infer("gather", new[] { S32(3, 2, 1, 3), S32(3, 2) },
            Gather(new long[] { 2 }, new long[] { 2 }, new long[] { 0 }, 2, new long[] { 2, 1, 1, 1 }, new long[] { 1, 3 }, new long[] { 1, 0 })));
        Assert.Equal(F32(4, 1), Infer("gather", new[] { F32(4, 4), S32(4, 1) },
            Gather(new long[0], new long[] { 1 }, new long[] { 1 }, 2, new long[] { 1, 1 }, new long[] { 0 }, new long[] { 0 })));
        // a symbolic batch of indices (embedding lookup)
        var b = Dim.Symbol("B");
        Assert.Equal(F32(b, 16), Infer("gather", new[] { F32(1000, 16), S32(b) }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 1, 16 })));
    }

    [Fact]
    public void GatherErrors()
    {
        var operand = S32(3, 3);
        var indices = S32(2);
        Assert.Equal("gather: start_index_map has 2 entries but the index vectors (dimension 1 of s32[2]) have 1",
            Error("gather", new[] { operand, indices }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0, 1 }, 1, new long[] { 1, 3 })));
        Assert.Equal("gather: slice size 4 of dimension 1 is larger than 3 in s32[3,3]",
            Error("gather", new[] { operand, indices }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 1, 4 })));
        Assert.Equal("gather: dimension 0 is collapsed or batching, so its slice size must be 0 or 1, not 2",
            Error("gather", new[] { operand, indices }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 2, 3 })));
        Assert.Equal("gather: offset_dims (1) + collapsed_slice_dims (0) + operand_batching_dims (0) must cover the 2 dimensions of s32[3,3]",
            Error("gather", new[] { operand, indices }, Gather(new long[] { 1 }, new long[0], new long[] { 0 }, 1, new long[] { 1, 3 })));
        Assert.Equal("gather: start indices must be integers, got f32[2]",
            Error("gather", new[] { operand, F32(2) }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 1, 3 })));
        Assert.Equal("gather: offset_dims {1,0} must be sorted and without repeats",
            Error("gather", new[] { S32(3, 3, 3), indices }, Gather(new long[] { 1, 0 }, new long[] { 0 }, new long[] { 0 }, 1, new long[] { 1, 3, 3 })));
        Assert.Equal("gather: index_vector_dim 2 is out of range for start indices s32[2] (0..1)",
            Error("gather", new[] { operand, indices }, Gather(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 2, new long[] { 1, 3 })));
    }

    // ---------------- scatter ----------------

    static HloAttributes Scatter(long[] uwd, long[] iwd, long[] sdtod, long ivd) => new()
    {
        Scatter = new ScatterDimensionNumbers { UpdateWindowDims = uwd, InsertedWindowDims = iwd, ScatterDimsToOperandDims = sdtod, IndexVectorDim = ivd },
    };

    static readonly HloAttributes ScatterV1 = Scatter(new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, 1);

    [Fact]
    public void ScatterShapes()
    {
        var add = Scalar("add", ElementType.S32);
        Assert.Equal(S32(3, 3), Infer("scatter", new[] { S32(3, 3), S32(2), S32(2, 3) }, ScatterV1, new[] { add }));
        // corpus case 20: index vectors along dimension 2, two window dims of size 1
        Assert.Equal(S32(3, 4), Infer("scatter", new[] { S32(3, 4), S32(3, 4, 2), S32(3, 4, 1, 1) },
            Scatter(new long[] { 2, 3 }, new long[0], new long[] { 0, 1 }, 2), new[] { add }));
        // two inputs scattered together: the combiner takes (input0, input1, update0, update1) and returns a pair
        var b = new HloBuilder("m", "pair");
        var p = new[] { b.Parameter(Shape.Scalar(ElementType.F32), "a"), b.Parameter(Shape.Scalar(ElementType.S32), "b"), b.Parameter(Shape.Scalar(ElementType.F32), "c"), b.Parameter(Shape.Scalar(ElementType.S32), "d") };
        var pair = b.Build(b.Tuple(b.Add(p[0], p[2]), b.Add(p[1], p[3])));
        Assert.Equal(Shape.Tuple(F32(3, 3), S32(3, 3)), Infer("scatter", new[] { F32(3, 3), S32(3, 3), S32(2), F32(2, 3), S32(2, 3) }, ScatterV1, new[] { pair }));
    }

    [Fact]
    public void ScatterErrors()
    {
        var add = Scalar("add", ElementType.S32);
        Assert.Equal("scatter: updates s32[2,3,1] must have rank 2 (1 window dims + 1 scatter dims)",
            Error("scatter", new[] { S32(3, 3), S32(2), S32(2, 3, 1) }, ScatterV1, new[] { add }));
        Assert.Equal("scatter: the scatter dims of updates s32[4,3] are [4] but the indices s32[2] give [2]",
            Error("scatter", new[] { S32(3, 3), S32(2), S32(4, 3) }, ScatterV1, new[] { add }));
        Assert.Equal("scatter: update window dimension 1 of s32[2,4] is 4, larger than input dimension 1 (3)",
            Error("scatter", new[] { S32(3, 3), S32(2), S32(2, 4) }, ScatterV1, new[] { add }));
        Assert.Equal("scatter: combiner %add_f32 parameter 0 is f32[], needs a scalar s32",
            Error("scatter", new[] { S32(3, 3), S32(2), S32(2, 3) }, ScatterV1, new[] { Scalar("add", ElementType.F32) }));
        Assert.Equal("scatter: takes N inputs, the indices and N updates (an odd count), got 4 operands",
            Error("scatter", new[] { S32(3, 3), S32(3, 3), S32(2), S32(2, 3) }, ScatterV1, new[] { add }));
        Assert.Equal("scatter: needs 1 called computation(s) (to_apply), got 0",
            Error("scatter", new[] { S32(3, 3), S32(2), S32(2, 3) }, ScatterV1));
    }

    // ---------------- reduce-window and select-and-scatter ----------------

    [Fact]
    public void ReduceWindowShapes()
    {
        var max = Scalar("maximum", ElementType.F32);
        var init = Shape.Scalar(ElementType.F32);
        Assert.Equal(F32(2, 2), Infer("reduce-window", new[] { F32(4, 6), init }, new HloAttributes { Window = new[] { W(2, 2), W(3, 3) } }, new[] { max }));
        Assert.Equal(F32(4, 6), Infer("reduce-window", new[] { F32(4, 6), init }, new HloAttributes { Window = new[] { W(3, lo: 1, hi: 1), W(1) } }, new[] { max }));
        // base dilation 2 turns 4 elements into 7 positions; a dilated window of 2 with dilation 3 spans 4
        Assert.Equal(F32(6, 3), Infer("reduce-window", new[] { F32(4, 6), init }, new HloAttributes { Window = new[] { W(2, lhsDilate: 2), W(2, rhsDilate: 3) } }, new[] { max }));
        var b = Dim.Symbol("B");
        Assert.Equal(F32(b, 3), Infer("reduce-window", new[] { F32(b, 6), init }, new HloAttributes { Window = new[] { W(1), W(2, 2) } }, new[] { max }));
    }

    [Fact]
    public void ReduceWindowErrors()
    {
        var max = Scalar("maximum", ElementType.F32);
        Assert.Equal("reduce-window: the window has 1 dimensions for the 2 dimensions of f32[4,6]",
            Error("reduce-window", new[] { F32(4, 6), Shape.Scalar(ElementType.F32) }, new HloAttributes { Window = new[] { W(2) } }, new[] { max }));
        Assert.Equal("reduce-window: init value 0 must be a scalar f32, got s32[]",
            Error("reduce-window", new[] { F32(4, 6), Shape.Scalar(ElementType.S32) }, new HloAttributes { Window = new[] { W(2), W(2) } }, new[] { max }));
        Assert.Equal("reduce-window: window dimension 1: stride 0 must be positive",
            Error("reduce-window", new[] { F32(4, 6), Shape.Scalar(ElementType.F32) }, new HloAttributes { Window = new[] { W(2), W(2, 0) } }, new[] { max }));
        Assert.Equal("reduce-window: missing window={size=…}",
            Error("reduce-window", new[] { F32(4, 6), Shape.Scalar(ElementType.F32) }, new HloAttributes(), new[] { max }));
    }

    [Fact]
    public void SelectAndScatterShapeAndErrors()
    {
        var add = Scalar("add", ElementType.F32);
        var window = new HloAttributes { Window = new[] { W(2, 2), W(2, 2) } };
        var init = Shape.Scalar(ElementType.F32);
        Assert.Equal(F32(4, 6), Infer("select-and-scatter", new[] { F32(4, 6), F32(2, 3), init }, window, new[] { Ge(), add }));
        Assert.Equal("select-and-scatter: source f32[2,2] must have the shape of the window positions f32[2,3]",
            Error("select-and-scatter", new[] { F32(4, 6), F32(2, 2), init }, window, new[] { Ge(), add }));
        Assert.Equal("select-and-scatter: select %add_f32 must return pred[], returns f32[]",
            Error("select-and-scatter", new[] { F32(4, 6), F32(2, 3), init }, window, new[] { add, add }));
        Assert.Equal("select-and-scatter: needs 2 called computation(s) (select, scatter), got 1",
            Error("select-and-scatter", new[] { F32(4, 6), F32(2, 3), init }, window, new[] { Ge() }));
    }

    // ---------------- dynamic-slice and dynamic-update-slice ----------------

    [Fact]
    public void DynamicSliceShapeAndErrors()
    {
        var i = Shape.Scalar(ElementType.S32);
        var sizes = new HloAttributes { DynamicSliceSizes = new long[] { 2, 3 } };
        Assert.Equal(F32(2, 3), Infer("dynamic-slice", new[] { F32(4, 6), i, i }, sizes));
        Assert.Equal(F32(2, 3), Infer("dynamic-slice", new[] { F32(4, 6), S32(2) }, sizes));   // XLA's older index-vector form
        Assert.Equal("dynamic-slice: needs 2 start indices (one per dimension of f32[4,6]), got 1",
            Error("dynamic-slice", new[] { F32(4, 6), i }, sizes));
        Assert.Equal("dynamic-slice: slice size 5 of dimension 0 is larger than 4 in f32[4,6]",
            Error("dynamic-slice", new[] { F32(4, 6), i, i }, new HloAttributes { DynamicSliceSizes = new long[] { 5, 3 } }));
        Assert.Equal("dynamic-slice: start indices must share one element type: s32[] and s64[]",
            Error("dynamic-slice", new[] { F32(4, 6), i, Shape.Scalar(ElementType.S64) }, sizes));
        Assert.Equal("dynamic-slice: start index 0 must be an integer scalar, got f32[]",
            Error("dynamic-slice", new[] { F32(4, 6), Shape.Scalar(ElementType.F32), i }, sizes));
        Assert.Equal("dynamic-slice: dimension 0 of f32[B,6] is symbolic (B); a dynamic slice needs constant dimensions",
            Error("dynamic-slice", new[] { F32(Dim.Symbol("B"), 6), i, i }, sizes));
    }

    [Fact]
    public void DynamicUpdateSliceShapeAndErrors()
    {
        var i = Shape.Scalar(ElementType.S32);
        Assert.Equal(F32(4, 6), Infer("dynamic-update-slice", new[] { F32(4, 6), F32(2, 3), i, i }, new HloAttributes()));
        Assert.Equal("dynamic-update-slice: update dimension 0 (5) does not fit in operand dimension 0 (4)",
            Error("dynamic-update-slice", new[] { F32(4, 6), F32(5, 3), i, i }, new HloAttributes()));
        Assert.Equal("dynamic-update-slice: element types differ: f32[4,6] and s32[2,3] (convert one operand first)",
            Error("dynamic-update-slice", new[] { F32(4, 6), S32(2, 3), i, i }, new HloAttributes()));
        Assert.Equal("dynamic-update-slice: needs 2 start indices (one per dimension of f32[4,6]), got 3",
            Error("dynamic-update-slice", new[] { F32(4, 6), F32(2, 3), i, i, i }, new HloAttributes()));
    }
}

static class ConvolutionDimensionNumbersTestExtensions
{
    public static ConvolutionDimensionNumbers With(this ConvolutionDimensionNumbers d, Action<ConvolutionDimensionNumbers> change)
    {
        change(d);
        return d;
    }
}
