using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>Modules built with HloBuilder that together use every op and attribute the printer, parser and proto
/// mapping know, with and without layouts, metadata and aliases. Symbolic ones exist only as text and IR.</summary>
public static class SampleModules
{
    public static IEnumerable<string> StaticNames => Static.Keys;

    public static IEnumerable<string> SymbolicNames => Symbolic.Keys;

    public static HloModule Get(string name) => Static.TryGetValue(name, out var f) ? f() : Symbolic[name]();

    static readonly Dictionary<string, Func<HloModule>> Static = new()
    {
        ["mlp"] = () => Mlp(128),
        ["control"] = Control,
        ["structural"] = Structural,
        ["constants"] = Constants,
        ["windowed"] = Windowed,
        ["gather_scatter"] = GatherScatter,
        ["layouts_metadata_aliases"] = LayoutsMetadataAliases,
        ["dot_variants"] = DotVariants,
        ["collectives"] = Collectives,
    };

    static readonly Dictionary<string, Func<HloModule>> Symbolic = new()
    {
        ["mlp_symbolic"] = () => Mlp(Dim.Symbol("B")),
        ["symbolic_reshape_concat"] = SymbolicReshapeConcat,
    };

    static Shape F32(params Dim[] dims) => Shape.Array(ElementType.F32, dims);

    static HloModule Mlp(Dim batch)
    {
        var b = new HloBuilder("mlp");
        var x = b.Parameter(F32(batch, 784), "x");
        var w1 = b.Parameter(F32(784, 256), "w1");
        var b1 = b.Parameter(F32(256), "b1");
        b.Metadata = new OpMetadata("Dense", "mlp/fc1", "Mlp.cs", 42);
        var h = b.MatMul(x, w1);
        var hb = b.Add(h, b.Broadcast(b1, new[] { batch, (Dim)256 }, new long[] { 1 }));
        b.Metadata = null;
        var relu = b.Maximum(hb, b.Full(ElementType.F32, 0, new[] { batch, (Dim)256 }));
        var sum = b.ReduceSum(relu, 1);
        var max = b.ReduceMax(relu, 0, 1);
        return b.BuildModule(b.Tuple(sum, max));
    }

    static HloModule SymbolicReshapeConcat()
    {
        var b = new HloBuilder("sym");
        var bb = Dim.Symbol("B");
        var x = b.Parameter(F32(bb, 2), "x");
        var y = b.Parameter(F32(bb * 2), "y");
        var flat = b.Reshape(x, bb * 2);
        var cat = b.Concatenate(0, flat, y);
        var whole = b.Slice(x, new[] { new SliceDimension(0, bb, 1), new SliceDimension(0, 2, 1) });
        var t = b.Transpose(whole, 1, 0);
        return b.BuildModule(b.Tuple(cat, t));
    }

    static HloModule Control()
    {
        var b = new HloBuilder("control");
        var state = Shape.Tuple(Shape.Scalar(ElementType.S32), F32(4));

        var cond = b.CreateSubBuilder("cond");
        var cs = cond.Parameter(state, "s");
        var ci = cond.GetTupleElement(cs, 0);
        var condition = cond.Build(cond.Compare(ci, cond.Constant(ElementType.S32, 3), "LT"));

        var body = b.CreateSubBuilder("body");
        var bs = body.Parameter(state, "s");
        var i = body.GetTupleElement(bs, 0);
        var v = body.GetTupleElement(bs, 1);
        var next = body.Add(i, body.Constant(ElementType.S32, 1));
        var doubled = body.Add(v, v);
        var loopBody = body.Build(body.Tuple(next, doubled));

        var cmp = b.CreateSubBuilder("less");
        var l0 = cmp.Parameter(Shape.Scalar(ElementType.F32), "a");
        var l1 = cmp.Parameter(Shape.Scalar(ElementType.F32), "b");
        cmp.Parameter(Shape.Scalar(ElementType.S32), "c");
        cmp.Parameter(Shape.Scalar(ElementType.S32), "d");
        var less = cmp.Build(cmp.Compare(l0, l1, "LT", "TOTALORDER"));

        var sq = b.CreateSubBuilder("square");
        var sp = sq.Parameter(Shape.Scalar(ElementType.F32), "p");
        var square = sq.Build(sq.Multiply(sp, sp));

        var fused = b.CreateSubBuilder("fused");
        var fp = fused.Parameter(F32(4), "p");
        var fusedComp = fused.Build(fused.Negate(fp));
        fusedComp.IsFusionComputation = true;

        var x = b.Parameter(F32(4), "x");
        var init = b.Tuple(b.Constant(ElementType.S32, 0), x);
        var loop = b.AddInstruction("while", new[] { init }, null, null, new[] { loopBody, condition });
        var data = b.GetTupleElement(loop, 1);
        var keys = b.Iota(Shape.Array(ElementType.S32, 4), 0);
        var sorted = b.AddInstruction("sort", new[] { data, keys }, new HloAttributes { Dimensions = new long[] { 0 }, IsStable = true }, null, new[] { less });
        var mapped = b.AddInstruction("map", new[] { b.GetTupleElement(sorted, 0) }, new HloAttributes { Dimensions = new long[] { 0 } }, null, new[] { square });
        var called = b.AddInstruction("call", new[] { mapped }, null, null, new[] { fusedComp });
        var fusion = b.AddInstruction("fusion", new[] { called }, new HloAttributes { FusionKind = "kLoop" }, null, new[] { fusedComp });
        return b.BuildModule(b.Tuple(fusion, b.GetTupleElement(sorted, 1)));
    }

    static HloModule Structural()
    {
        var b = new HloBuilder("structural");
        var x = b.Parameter(F32(2, 3), "x");
        var t = b.Transpose(x, 1, 0);
        var sl = b.Slice(x, new[] { new SliceDimension(0, 2, 1), new SliceDimension(0, 3, 2) });
        var cat = b.Concatenate(1, x, sl);
        var padded = b.AddInstruction("pad", new[] { cat, b.Constant(ElementType.F32, 0) },
            new HloAttributes { Padding = new[] { new PaddingDimension(1, -1, 0), new PaddingDimension(0, 2, 1) } });
        var rev = b.AddInstruction("reverse", new[] { padded }, new HloAttributes { Dimensions = new long[] { 0, 1 } });
        var iota = b.Iota(Shape.Array(ElementType.S32, 3, 2), 1);
        var conv = b.Convert(iota, ElementType.F32);
        var bc = b.AddInstruction("bitcast", new[] { conv }, null, F32(6));
        var copy = b.AddInstruction("copy", new[] { bc });
        var clamp = b.AddInstruction("clamp", new[] { b.Constant(ElementType.F32, -1), copy, b.Constant(ElementType.F32, 1) });
        var p = b.Compare(t, t, "GE", "FLOAT");
        var sel = b.Select(p, t, b.Negate(t));
        var abs = b.Abs(b.Exp(b.Log(b.Sqrt(b.Rsqrt(b.Tanh(b.Logistic(sel)))))));
        var ints = b.Convert(abs, ElementType.S32);
        var bits = b.AddInstruction("and", new[] { ints, b.AddInstruction("not", new[] { ints }) });
        var pw = b.AddInstruction("power", new[] { abs, abs });
        return b.BuildModule(b.Tuple(rev, clamp, bits, pw));
    }

    static HloModule Constants()
    {
        var b = new HloBuilder("constants");
        var values = new List<HloInstruction>
        {
            b.Constant(Literal.Create(F32(2, 3), new[] { 1f, -2.5f, 1e-5f, float.PositiveInfinity, float.NegativeInfinity, float.NaN })),
            b.Constant(Literal.Create(Shape.Array(ElementType.F64, 3), new[] { 1e300, -5e-324, 0.1 })),
            b.Constant(Literal.Create(Shape.Array(ElementType.Pred, 2, 2), new[] { true, false, false, true })),
            b.Constant(Literal.Create(Shape.Array(ElementType.S8, 3), new sbyte[] { -128, 0, 127 })),
            b.Constant(Literal.Create(Shape.Array(ElementType.U8, 2), new byte[] { 0, 255 })),
            b.Constant(Literal.Create(Shape.Array(ElementType.S16, 2), new short[] { -32768, 32767 })),
            b.Constant(Literal.Create(Shape.Array(ElementType.U16, 2), new ushort[] { 0, 65535 })),
            b.Constant(Literal.Create(Shape.Array(ElementType.S32, 1, 1, 2), new[] { int.MinValue, int.MaxValue })),
            b.Constant(Literal.Create(Shape.Array(ElementType.U32, 1), new[] { uint.MaxValue })),
            b.Constant(Literal.Create(Shape.Array(ElementType.S64, 2), new[] { long.MinValue, long.MaxValue })),
            b.Constant(Literal.Create(Shape.Array(ElementType.U64, 1), new[] { ulong.MaxValue })),
            b.Constant(Literal.FromDoubles(Shape.Array(ElementType.F16, 3), new[] { 0.1, -65504, 1.0 / 3 })),
            b.Constant(Literal.FromDoubles(Shape.Array(ElementType.Bf16, 3), new[] { 0.1, -3e38, 1.0 / 3 })),
            b.Constant(Literal.Create(F32(0), new float[0])),
            b.Constant(Literal.Tuple(Literal.Scalar(1.5f), Literal.Create(Shape.Array(ElementType.S32, 2), new[] { 7, 8 }))),
            b.Constant(Literal.Scalar(-0.0f)),
        };
        return b.BuildModule(b.Tuple(values.ToArray()));
    }

    static WindowDimension W(long size, long stride = 1, long lo = 0, long hi = 0, long rhsDilate = 1, long lhsDilate = 1, bool reversal = false) =>
        new(size, stride, lo, hi, rhsDilate, lhsDilate, reversal);

    static HloModule Windowed()
    {
        var b = new HloBuilder("windowed");
        var img = b.Parameter(F32(2, 8, 8, 4), "img");      // b01f
        var kernel = b.Parameter(F32(3, 3, 2, 6), "kernel"); // 01io, 2 groups of 2 input features
        var dn = new ConvolutionDimensionNumbers
        {
            InputBatchDimension = 0, InputFeatureDimension = 3, InputSpatialDimensions = new long[] { 1, 2 },
            KernelInputFeatureDimension = 2, KernelOutputFeatureDimension = 3, KernelSpatialDimensions = new long[] { 0, 1 },
            OutputBatchDimension = 0, OutputFeatureDimension = 3, OutputSpatialDimensions = new long[] { 1, 2 },
        };
        var conv = b.AddInstruction("convolution", new[] { img, kernel }, new HloAttributes
        {
            Convolution = dn,
            Window = new[] { W(3, 2, 1, 1, 2, 1, true), W(3, 1, 0, 2, 1, 2) },
            FeatureGroupCount = 2,
            OperandPrecision = new[] { "high", "highest" },
        });
        var max = b.ScalarComputation("maximum", ElementType.F32);
        var add = b.ScalarComputation("add", ElementType.F32);
        var ge = b.CreateSubBuilder("ge");
        var g0 = ge.Parameter(Shape.Scalar(ElementType.F32), "a");
        var g1 = ge.Parameter(Shape.Scalar(ElementType.F32), "b");
        var geComp = ge.Build(ge.Compare(g0, g1, "GE"));
        var ninf = b.Constant(ElementType.F32, double.NegativeInfinity);
        var pool = b.AddInstruction("reduce-window", new[] { img, ninf }, new HloAttributes { Window = new[] { W(1), W(2, 2), W(2, 2), W(1) } }, null, new[] { max });
        var zero = b.Constant(ElementType.F32, 0);
        var grad = b.AddInstruction("select-and-scatter", new[] { img, pool, zero }, new HloAttributes { Window = new[] { W(1), W(2, 2), W(2, 2), W(1) } }, null, new[] { geComp, add });
        var i = b.Parameter(Shape.Scalar(ElementType.S32), "i");
        var ds = b.AddInstruction("dynamic-slice", new[] { img, i, i, i, i }, new HloAttributes { DynamicSliceSizes = new long[] { 1, 2, 2, 4 } });
        var dus = b.AddInstruction("dynamic-update-slice", new[] { img, ds, i, i, i, i });
        return b.BuildModule(b.Tuple(conv, pool, grad, dus));
    }

    static HloModule GatherScatter()
    {
        var b = new HloBuilder("gather_scatter");
        var operand = b.Parameter(Shape.Array(ElementType.S32, 3, 3), "operand");
        var indices = b.Parameter(Shape.Array(ElementType.S32, 2), "indices");
        var gather = b.AddInstruction("gather", new[] { operand, indices }, new HloAttributes
        {
            Gather = new GatherDimensionNumbers { OffsetDims = new long[] { 1 }, CollapsedSliceDims = new long[] { 0 }, StartIndexMap = new long[] { 0 }, IndexVectorDim = 1 },
            GatherSliceSizes = new long[] { 1, 3 },
            IndicesAreSorted = true,
        });
        var batched = b.Parameter(F32(4, 4), "batched");
        var diag = b.Iota(Shape.Array(ElementType.S32, 4, 1), 0);
        var gather2 = b.AddInstruction("gather", new[] { batched, diag }, new HloAttributes
        {
            Gather = new GatherDimensionNumbers
            {
                CollapsedSliceDims = new long[] { 1 }, StartIndexMap = new long[] { 1 }, OperandBatchingDims = new long[] { 0 },
                StartIndicesBatchingDims = new long[] { 0 }, IndexVectorDim = 2,
            },
            GatherSliceSizes = new long[] { 1, 1 },
        });
        var add = b.ScalarComputation("add", ElementType.S32);
        var scatter = b.AddInstruction("scatter", new[] { operand, indices, gather }, new HloAttributes
        {
            Scatter = new ScatterDimensionNumbers { UpdateWindowDims = new long[] { 1 }, InsertedWindowDims = new long[] { 0 }, ScatterDimsToOperandDims = new long[] { 0 }, IndexVectorDim = 1 },
            UniqueIndices = true,
        }, null, new[] { add });
        return b.BuildModule(b.Tuple(gather, gather2, scatter));
    }

    static HloModule LayoutsMetadataAliases()
    {
        var b = new HloBuilder("layouts");
        var x = b.Parameter(F32(2, 3).WithLayout(new long[] { 0, 1 }), "x");
        var s = b.Parameter(Shape.Tuple(F32(3).WithLayout(new long[] { 0 }), Shape.Scalar(ElementType.S32)), "state");
        b.Metadata = new OpMetadata("Weird\"Op", "a\\b\nc", "C:\\src\\Model.cs", 7);
        var y = b.AddInstruction("negate", new[] { x }, null, F32(2, 3).WithLayout(new long[] { 0, 1 }));
        b.Metadata = new OpMetadata(OpName: "only_name");
        var c = b.AddInstruction("constant", new HloInstruction[0], new HloAttributes { Literal = Literal.Create(F32(2, 3), new[] { 1f, 2, 3, 4, 5, 6 }) }, F32(2, 3).WithLayout(new long[] { 0, 1 }));
        b.Metadata = null;
        var sum = b.AddInstruction("add", new[] { y, c }, null, F32(2, 3).WithLayout(new long[] { 0, 1 }));
        var m = b.BuildModule(b.Tuple(sum, b.GetTupleElement(s, 1)));
        m.InputOutputAliases.Add(new InputOutputAlias(new long[] { 0 }, 0, new long[0]));
        m.InputOutputAliases.Add(new InputOutputAlias(new long[] { 1 }, 1, new long[] { 1 }, MustAlias: true));
        return m;
    }

    static HloModule DotVariants()
    {
        var b = new HloBuilder("dots");
        var lhs = b.Parameter(F32(8, 2, 3), "lhs");
        var rhs = b.Parameter(F32(8, 3, 5), "rhs");
        var batched = b.AddInstruction("dot", new[] { lhs, rhs }, new HloAttributes
        {
            Dot = new DotDimensionNumbers(new long[] { 2 }, new long[] { 1 }, new long[] { 0 }, new long[] { 0 }),
            OperandPrecision = new[] { "highest", "default" },
        });
        var a = b.Parameter(Shape.Array(ElementType.S8, 4, 3), "a");
        var c = b.Parameter(Shape.Array(ElementType.S8, 3, 2), "c");
        var mixed = b.Dot(a, c, new DotDimensionNumbers(new long[] { 1 }, new long[] { 0 }), ElementType.S32);
        var outer = b.Dot(b.Parameter(F32(3), "u"), b.Parameter(F32(2), "v"), new DotDimensionNumbers(new long[0], new long[0]));
        return b.BuildModule(b.Tuple(batched, mixed, outer));
    }

    static HloModule Collectives()
    {
        var b = new HloBuilder("collectives");
        var x = b.Parameter(F32(8), "x");
        var y = b.Parameter(F32(2, 3), "y");
        var all = b.AllReduce(new[] { x });
        var grouped = b.AddInstruction("all-reduce", new[] { x, b.Reshape(y, 6) }, new HloAttributes
        {
            ReplicaGroups = new[] { new long[] { 0, 2 }, new long[] { 1, 3 } },
            ChannelId = 3,
            UseGlobalDeviceIds = true,
        }, called: new[] { b.ScalarComputation("maximum", ElementType.F32) });
        var gathered = b.AllGather(new[] { y }, 1, new[] { new long[] { 0, 1 }, new long[] { 2, 3 } }, channelId: 4);
        var scattered = b.ReduceScatter(new[] { x, b.Reshape(y, 6) }, 0, new[] { new long[] { 1, 0 }, new long[] { 3, 2 } });
        return b.BuildModule(b.Tuple(all, grouped, b.ReplicaId(), gathered, scattered));
    }
}
