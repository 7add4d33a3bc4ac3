using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Tests;

/// <summary>Each op's shape rule rejects a malformed use with an exact message naming the op, the shapes and what differs.</summary>
public class ShapeRuleTests
{
    static Shape F32(params long[] dims) => Shape.Array(ElementType.F32, dims);

    static Shape S32(params long[] dims) => Shape.Array(ElementType.S32, dims);

    /// <summary>Ops whose operands cannot be malformed in a way the rule checks, with the reason.</summary>
    public static readonly IReadOnlyDictionary<string, string> NoOperandErrors = new Dictionary<string, string>
    {
        ["tuple"] = "any operands form a tuple",
        ["copy"] = "any value can be copied",
        ["replica-id"] = "it takes no operands or attributes; its result is always u32[]",
    };

    static HloComputation Scalar(HloBuilder b, string op, ElementType t = ElementType.F32) => b.ScalarComputation(op, t);

    public static TheoryData<string, Func<HloBuilder, HloInstruction>, string> Cases => new()
    {
        { "parameter", b => b.AddInstruction("parameter", Array.Empty<HloInstruction>(), new HloAttributes { ParameterNumber = -1 }, F32(2)), "parameter: parameter number -1 is negative" },
        { "constant", b => b.AddInstruction("constant", Array.Empty<HloInstruction>(), new HloAttributes { Literal = Literal.Scalar(1f) }, F32(2)), "constant: the literal has shape f32[] but the instruction says f32[2]" },
        { "iota", b => b.Iota(F32(2, 3), 2), "iota: iota_dimension 2 is out of range for rank 2" },
        { "get-dimension-size", b => b.AddInstruction("get-dimension-size", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { Dimensions = new long[] { 1 } }), "get-dimension-size: dimension 1 is out of range for rank 1" },
        { "negate", b => b.Negate(b.Parameter(Shape.Array(ElementType.Pred, 2), "p")), "negate: needs a numeric element type, got pred[2]" },
        { "abs", b => b.Abs(b.Parameter(Shape.Array(ElementType.Pred, 2), "p")), "abs: needs a numeric element type, got pred[2]" },
        { "sign", b => b.Unary("sign", b.Parameter(Shape.Array(ElementType.Pred), "p")), "sign: needs a numeric element type, got pred[]" },
        { "exponential", b => b.Exp(b.Parameter(S32(3), "i")), "exponential: needs a floating-point element type, got s32[3]" },
        { "exponential-minus-one", b => b.Unary("exponential-minus-one", b.Parameter(S32(3), "i")), "exponential-minus-one: needs a floating-point element type, got s32[3]" },
        { "log", b => b.Log(b.Parameter(S32(3), "i")), "log: needs a floating-point element type, got s32[3]" },
        { "log-plus-one", b => b.Unary("log-plus-one", b.Parameter(Shape.Array(ElementType.Pred, 2), "p")), "log-plus-one: needs a floating-point element type, got pred[2]" },
        { "sqrt", b => b.Sqrt(b.Parameter(S32(3), "i")), "sqrt: needs a floating-point element type, got s32[3]" },
        { "rsqrt", b => b.Rsqrt(b.Parameter(S32(3), "i")), "rsqrt: needs a floating-point element type, got s32[3]" },
        { "tanh", b => b.Tanh(b.Parameter(S32(3), "i")), "tanh: needs a floating-point element type, got s32[3]" },
        { "logistic", b => b.Logistic(b.Parameter(S32(3), "i")), "logistic: needs a floating-point element type, got s32[3]" },
        { "floor", b => b.Unary("floor", b.Parameter(S32(3), "i")), "floor: needs a floating-point element type, got s32[3]" },
        { "ceil", b => b.Unary("ceil", b.Parameter(S32(3), "i")), "ceil: needs a floating-point element type, got s32[3]" },
        { "not", b => b.Unary("not", b.Parameter(F32(3), "x")), "not: needs an integer or pred element type, got f32[3]" },
        { "convert", b => b.AddInstruction("convert", new[] { b.Parameter(F32(3), "x") }, null, S32(4)), "convert: result s32[4] must have the dimensions of the operand f32[3]" },
        { "add", b => b.Add(b.Parameter(F32(2, 3), "x"), b.Parameter(F32(3), "y")), "add: operand shapes differ: f32[2,3] and f32[3] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "subtract", b => b.Subtract(b.Parameter(F32(3), "x"), b.Parameter(S32(3), "y")), "subtract: element types differ: f32[3] and s32[3] (convert one operand first)" },
        { "multiply", b => b.Multiply(b.Parameter(F32(3), "x"), b.Parameter(F32(4), "y")), "multiply: operand shapes differ: f32[3] and f32[4] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "divide", b => b.Divide(b.Parameter(Shape.Array(ElementType.Pred, 3), "x"), b.Parameter(Shape.Array(ElementType.Pred, 3), "y")), "divide: needs a numeric element type, got pred[3]" },
        { "maximum", b => b.Maximum(b.Parameter(F32(3), "x"), b.Parameter(F32(1), "y")), "maximum: operand shapes differ: f32[3] and f32[1] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "minimum", b => b.Minimum(b.Parameter(F32(3), "x"), b.Parameter(F32(), "y")), "minimum: operand shapes differ: f32[3] and f32[] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "power", b => b.Power(b.Parameter(F32(3), "x"), b.Parameter(S32(3), "y")), "power: element types differ: f32[3] and s32[3] (convert one operand first)" },
        { "remainder", b => b.Binary("remainder", b.Parameter(F32(2), "x"), b.Parameter(F32(3), "y")), "remainder: operand shapes differ: f32[2] and f32[3] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "and", b => b.Binary("and", b.Parameter(F32(2), "x"), b.Parameter(F32(2), "y")), "and: needs an integer or pred element type, got f32[2]" },
        { "or", b => b.Binary("or", b.Parameter(F32(2), "x"), b.Parameter(F32(2), "y")), "or: needs an integer or pred element type, got f32[2]" },
        { "xor", b => b.Binary("xor", b.Parameter(S32(2), "x"), b.Parameter(S32(3), "y")), "xor: operand shapes differ: s32[2] and s32[3] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "compare", b => b.Compare(b.Parameter(F32(2), "x"), b.Parameter(F32(2), "y"), "GREATER"), "compare: direction must be one of EQ, NE, LT, LE, GT, GE, got GREATER" },
        { "select", b => b.Select(b.Parameter(F32(2), "p"), b.Parameter(F32(2), "x"), b.Parameter(F32(2), "y")), "select: the predicate must be pred, got f32[2]" },
        { "clamp", b => b.AddInstruction("clamp", new[] { b.Parameter(F32(2), "lo"), b.Parameter(F32(3), "x"), b.Parameter(F32(), "hi") }), "clamp: operand shapes differ: f32[2] and f32[3] (elementwise ops need equal dimensions; broadcast explicitly)" },
        { "broadcast", b => b.Broadcast(b.Parameter(F32(3), "x"), new Dim[] { 2, 4 }, new long[] { 1 }), "broadcast: operand dimension 0 of f32[3] is 3 but result dimension 1 of f32[2,4] is 4" },
        { "reshape", b => b.Reshape(b.Parameter(F32(2, 3), "x"), 7), "reshape: cannot reshape f32[2,3] (6 elements) to f32[7] (7 elements)" },
        { "bitcast", b => b.AddInstruction("bitcast", new[] { b.Parameter(F32(2, 3), "x") }, null, S32(6)), "bitcast: bitcast from f32[2,3] to s32[6] changes the element type or count; only same-type reshapes are supported" },
        { "transpose", b => b.Transpose(b.Parameter(F32(2, 3), "x"), 0, 0), "transpose: dimension 0 appears twice" },
        { "reverse", b => b.AddInstruction("reverse", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { Dimensions = new long[] { 1 } }), "reverse: dimension 1 is out of range for rank 1" },
        { "slice", b => b.Slice(b.Parameter(F32(4), "x"), new[] { new SliceDimension(2, 6, 1) }), "slice: dimension 0: [2:6] is outside 0..4 of f32[4]" },
        { "concatenate", b => b.Concatenate(0, b.Parameter(F32(2, 3), "x"), b.Parameter(F32(2, 4), "y")), "concatenate: operand 1 f32[2,4] differs from operand 0 f32[2,3] in dimension 1 (only dimension 0 may differ)" },
        { "pad", b => b.AddInstruction("pad", new[] { b.Parameter(F32(3), "x"), b.Parameter(F32(1), "v") }, new HloAttributes { Padding = new[] { new PaddingDimension(1, 1, 0) } }), "pad: the padding value must be a scalar, got f32[1]" },
        { "dot", b => b.Dot(b.Parameter(F32(2, 3), "x"), b.Parameter(F32(4, 5), "y"), new DotDimensionNumbers(new long[] { 1 }, new long[] { 0 })), "dot: contracting dimensions differ: f32[2,3] dimension 1 is 3, f32[4,5] dimension 0 is 4" },
        { "all-reduce", b => b.AllReduce(new[] { b.Parameter(F32(2), "x"), b.Parameter(S32(2), "y") }), "all-reduce: operand 1 s32[2] and operand 0 f32[2] differ in element type (one reducer serves them all)" },
        { "all-reduce", b => b.AddInstruction("all-reduce", new[] { b.Parameter(F32(2), "y") }, null, null, new[] { Scalar(b, "add", ElementType.S32) }), "all-reduce: reducer %add_s32 is (s32[], s32[]) -> s32[], needs (f32[], f32[]) -> f32[]" },
        { "all-reduce", b => b.AllReduce(new[] { b.Parameter(F32(2), "x") }, "add", new[] { new long[] { 0, 1 }, new long[] { 1, 2 } }), "all-reduce: replica 1 appears twice in replica_groups" },
        { "all-reduce", b => b.AddInstruction("all-reduce", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { ReplicaGroups = new[] { new long[] { 0, 1 } }, UseGlobalDeviceIds = true }, null, new[] { Scalar(b, "add") }), "all-reduce: use_global_device_ids=true needs a channel_id (XLA's flattened-id mode)" },
        { "all-gather", b => b.AllGather(new[] { b.Parameter(F32(2, 3), "x") }, 2, new[] { new long[] { 0, 1 } }), "all-gather: dimension 2 is out of range for operand 0 f32[2,3] (rank 2)" },
        { "all-gather", b => b.AllGather(new[] { b.Parameter(F32(2), "x") }, 0, new[] { new long[] { 0, 1 }, new long[] { 2 } }), "all-gather: replica groups of 2 and 1 replicas: every group must have the same size (it sets the result's dimension 0)" },
        { "all-gather", b => b.AddInstruction("all-gather", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { Dimensions = new long[] { 0 } }), "all-gather: with replica_groups={} (all replicas) the result shape must be stated (the replica count is known only when the program is compiled), or give the groups" },
        { "all-gather", b => b.AddInstruction("all-gather", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { Dimensions = new long[] { 0 } }, F32(3)), "all-gather: the stated result f32[3] is not operand 0 f32[2] with dimension 0 multiplied by a replica count" },
        { "all-gather", b => b.AddInstruction("all-gather", new[] { b.Parameter(F32(2), "x") }, new HloAttributes { ReplicaGroups = new[] { new long[] { 0, 1 } } }), "all-gather: needs dimensions={d}, the one dimension to gather along, got none" },
        { "reduce-scatter", b => b.ReduceScatter(new[] { b.Parameter(F32(3, 2), "x") }, 0, new[] { new long[] { 0, 1 } }), "reduce-scatter: operand 0 f32[3,2]: dimension 0 (3) does not split into 2 equal blocks, one per replica of a group" },
        { "reduce-scatter", b => b.AddInstruction("reduce-scatter", new[] { b.Parameter(F32(4), "x") }, new HloAttributes { Dimensions = new long[] { 0 }, ReplicaGroups = new[] { new long[] { 0, 1 } } }, null, new[] { Scalar(b, "add", ElementType.S32) }), "reduce-scatter: reducer %add_s32 is (s32[], s32[]) -> s32[], needs (f32[], f32[]) -> f32[]" },
        { "reduce", b => b.Reduce(b.Parameter(F32(2, 3), "x"), b.Parameter(F32(2), "init"), new long[] { 1 }, Scalar(b, "add")), "reduce: init value 0 must be a scalar, got f32[2]" },
        { "get-tuple-element", b => b.GetTupleElement(b.Tuple(b.Parameter(F32(2), "x")), 1), "get-tuple-element: index 1 is out of range for (f32[2]) (1 elements)" },
        { "call", b => b.AddInstruction("call", new[] { b.Parameter(S32(), "x") }, null, null, new[] { Scalar(b, "add") }), "call: %add_f32 takes 2 parameters, 1 operands given" },
        { "fusion", b => b.AddInstruction("fusion", new[] { b.Parameter(S32(), "x"), b.Parameter(F32(), "y") }, new HloAttributes { FusionKind = "kLoop" }, null, new[] { Scalar(b, "add") }), "fusion: operand 0 is s32[] but %add_f32 parameter 0 is f32[]" },
        { "map", b => b.AddInstruction("map", new[] { b.Parameter(F32(3), "x"), b.Parameter(F32(4), "y") }, new HloAttributes { Dimensions = new long[] { 0 } }, null, new[] { Scalar(b, "add") }), "map: operand 1 f32[4] differs in dimensions from operand 0 f32[3]" },
        { "while", b => b.AddInstruction("while", new[] { b.Parameter(F32(), "x") }, null, null, new[] { Scalar(b, "add"), Scalar(b, "maximum") }), "while: body %add_f32 must take one parameter of the state shape f32[]" },
        { "sort", b => b.AddInstruction("sort", new[] { b.Parameter(F32(3), "x") }, new HloAttributes { Dimensions = new long[] { 0 } }, null, new[] { Scalar(b, "add") }), "sort: comparator %add_f32 must return pred[]" },
        { "dynamic-slice", b => b.AddInstruction("dynamic-slice", new[] { b.Parameter(F32(4), "x"), b.Parameter(S32(), "i") }, new HloAttributes { DynamicSliceSizes = new long[] { 5 } }), "dynamic-slice: slice size 5 of dimension 0 is larger than 4 in f32[4]" },
        { "dynamic-update-slice", b => b.AddInstruction("dynamic-update-slice", new[] { b.Parameter(F32(4), "x"), b.Parameter(F32(5), "u"), b.Parameter(S32(), "i") }), "dynamic-update-slice: update dimension 0 (5) does not fit in operand dimension 0 (4)" },
        { "gather", b => b.AddInstruction("gather", new[] { b.Parameter(F32(4, 3), "x"), b.Parameter(S32(2), "i") }, new HloAttributes { Gather = new GatherDimensionNumbers { OffsetDims = new long[] { 1 }, CollapsedSliceDims = new long[] { 0 }, StartIndexMap = new long[] { 0 }, IndexVectorDim = 1 }, GatherSliceSizes = new long[] { 1, 4 } }), "gather: slice size 4 of dimension 1 is larger than 3 in f32[4,3]" },
        { "scatter", b => b.AddInstruction("scatter", new[] { b.Parameter(F32(4, 3), "x"), b.Parameter(S32(2), "i"), b.Parameter(F32(2, 4), "u") }, new HloAttributes { Scatter = new ScatterDimensionNumbers { UpdateWindowDims = new long[] { 1 }, InsertedWindowDims = new long[] { 0 }, ScatterDimsToOperandDims = new long[] { 0 }, IndexVectorDim = 1 } }, null, new[] { Scalar(b, "add") }), "scatter: update window dimension 1 of f32[2,4] is 4, larger than input dimension 1 (3)" },
        { "convolution", b => b.AddInstruction("convolution", new[] { b.Parameter(F32(1, 5, 5, 3), "x"), b.Parameter(F32(3, 3, 4, 8), "k") }, new HloAttributes { Window = new[] { new WindowDimension(3), new WindowDimension(3) }, Convolution = new ConvolutionDimensionNumbers { InputBatchDimension = 0, InputFeatureDimension = 3, InputSpatialDimensions = new long[] { 1, 2 }, KernelSpatialDimensions = new long[] { 0, 1 }, KernelInputFeatureDimension = 2, KernelOutputFeatureDimension = 3, OutputBatchDimension = 0, OutputFeatureDimension = 3, OutputSpatialDimensions = new long[] { 1, 2 } } }), "convolution: lhs has 3 input features but the kernel has 4 × feature_group_count 1" },
        { "reduce-window", b => b.AddInstruction("reduce-window", new[] { b.Parameter(F32(4, 4), "x"), b.Constant(ElementType.F32, 0) }, new HloAttributes { Window = new[] { new WindowDimension(2, 2) } }, null, new[] { Scalar(b, "add") }), "reduce-window: the window has 1 dimensions for the 2 dimensions of f32[4,4]" },
        { "rng-bit-generator", b => b.RngBitGenerator(b.Parameter(Shape.Array(ElementType.U64, 3), "s"), Shape.Array(ElementType.U32, 4), "rng_three_fry"), "rng-bit-generator: rng_three_fry keeps its state in u64[2] (key, counter), not u64[3]" },
        { "select-and-scatter", b => b.AddInstruction("select-and-scatter", new[] { b.Parameter(F32(4, 4), "x"), b.Parameter(F32(3, 3), "s"), b.Constant(ElementType.F32, 0) }, new HloAttributes { Window = new[] { new WindowDimension(2, 2), new WindowDimension(2, 2) } }, null, new[] { b.ScalarComputation("maximum", ElementType.F32), Scalar(b, "add") }), "select-and-scatter: source f32[3,3] must have the shape of the window positions f32[2,2]" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RejectsWithAnExactMessage(string opcode, Func<HloBuilder, HloInstruction> build, string message)
    {
        var b = new HloBuilder("m");
        var e = Assert.Throws<ShapeException>(() => build(b));
        Assert.Equal(message, e.Message);
        Assert.StartsWith(opcode + ":", e.Message);
    }
}
