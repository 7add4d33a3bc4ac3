namespace XlaGen.Tests;

/// <summary>Shape and element-type errors of the layout, indexing, CNN and normalisation members: each is an XG
/// diagnostic on the C# call, phrased for that call (layouts, channels, padding mode), not for the HLO it lowers to.</summary>
public class SurfaceDiagnosticTests
{
    static string Model(string expression) => $$"""
        [XlaModel]
        public partial class M
        {
            [Param(3, 3, 2, 16)] Tensor<float> k;
            [Param(3, 3, 1, 4)] Tensor<float> k1;
            [Param(3, 3, 4, 6)] Tensor<float> k4;
            [Param(5)] Tensor<float> gamma;
            [Param(4)] Tensor<float> beta;
            [Param(10)] Tensor<float> vector;

            [Forward]
            public Tensor<float> F([Shape("B", 28, 28, 1)] Tensor<float> x, [Shape("B", 2, 2, 1)] Tensor<float> small, [Shape("B", 4)] Tensor<float> v,
                [Shape("B", 8, 8, 16)] Tensor<float> wide, [Shape("B", "H", 28, 1)] Tensor<float> tall, [Shape("B", 4, 4, 1)] Tensor<int> ints,
                [Shape("B")] Tensor<int> ids) => {{(expression.Contains("[|") ? expression : "[|" + expression + "|]")}};
        }
        """;

    public static TheoryData<string, string, string> Cases => new()
    {
        // CNN
        { "Nn.Conv2D(x, k)", "XG0001", "Conv2D: input f32[B,28,28,1] has 1 channel but the kernel f32[3,3,2,16] expects 2 (HWIO)" },
        { "Nn.Conv2D(v, k1)", "XG0001", "Conv2D: the input must be NHWC [batch, height, width, channels], got f32[B,4]" },
        { "Nn.Conv2D(x, vector)", "XG0001", "Conv2D: the kernel must be HWIO [height, width, input channels, output channels], got f32[10]" },
        { "Nn.Conv2D(small, k1)", "XG0001", "Conv2D: the 3×3 kernel does not fit the 2×2 input f32[B,2,2,1] with Padding.Valid" },
        { "Nn.Conv2D(x, k1, dilation: 14)", "XG0001", "Conv2D: the 3×3 kernel (dilation 14) does not fit the 28×28 input f32[B,28,28,1] with Padding.Valid" },
        { "Nn.Conv2D(wide, k4, groups: 3)", "XG0001", "Conv2D: groups=3 must divide the 16 channels of the input f32[B,8,8,16]" },
        { "Nn.Conv2D(wide, k4, groups: 2)", "XG0001", "Conv2D: with groups=2 each group of input f32[B,8,8,16] has 8 channels but the kernel f32[3,3,4,6] expects 4 (HWIO: dim 2 is the channels of one group)" },
        { "Nn.Conv2D(wide, k4, groups: 4)", "XG0001", "Conv2D: groups=4 must divide the 6 output channels of the kernel f32[3,3,4,6]" },
        { "Nn.Conv2D(x, k1, stride: 0)", "XG0001", "Conv2D: stride 0 must be at least 1" },
        { "Nn.Conv2D(tall, k1, padding: Padding.Same)", "XG0001", "Conv2D: the input f32[B,H,28,1] needs a constant height for a 3×3 kernel with stride 1" },
        { "Nn.MaxPool2D(small, 3)", "XG0001", "MaxPool2D: the 3×3 window does not fit the 2×2 input f32[B,2,2,1] with Padding.Valid" },
        { "Nn.MaxPool2D(v)", "XG0001", "MaxPool2D: the input must be NHWC [batch, height, width, channels], got f32[B,4]" },
        { "[|Nn.AvgPool2D(ints, 2)|].Cast<float>()", "XG0002", "AvgPool2D: needs a floating-point tensor, got s32[B,4,4,1]" },
        { "Nn.AvgPool2D(tall, 2, 1, Padding.Same)", "XG0001", "AvgPool2D: the input f32[B,H,28,1] needs a constant height to pool over it" },
        { "Nn.GlobalAvgPool2D(v)", "XG0001", "GlobalAvgPool2D: the input must be NHWC [batch, height, width, channels], got f32[B,4]" },
        // layout and indexing
        { "v.Slice(0, 1)", "XG0001", "Slice: axis 0 of f32[B,4] is symbolic (B); only the whole dimension can be taken (start 0, no end, step 1)" },
        { "v.Slice(1, 3, -2)", "XG0001", "Slice: [3:-2] of axis 1 (size 4) of f32[B,4] is empty" },
        { "v.Slice(2, 0)", "XG0001", "Slice: axis 2 is out of range for f32[B,4] (rank 2)" },
        { "Tensor.Concat(0, v, v)", "XG0001", "Concat: axis 0 of part 0 f32[B,4] is symbolic (B); tensors can only be joined along a constant dimension" },
        { "Tensor.Concat(1, x, small)", "XG0001", "Concat: part 1 f32[B,2,2,1] differs from part 0 f32[B,28,28,1] in dimension 2 (only axis 1 may differ)" },
        { "Tensor.Concat(-1, v, x)", "XG0001", "Concat: part 1 f32[B,28,28,1] has rank 4 but part 0 f32[B,4] has rank 2" },
        { "Tensor.Stack(0, v, v.Slice(1, 1))", "XG0001", "Stack: part 1 f32[B,3] differs from part 0 f32[B,4] (stacked tensors must have one shape)" },
        { "v.Pad(new[] { 1, 0 }, new[] { 0, 0 })", "XG0001", "Pad: dimension 0 of f32[B,4] is symbolic (B) and cannot be padded" },
        { "v.Pad(new[] { 0, -1 }, new[] { 0, 0 })", "XG0001", "Pad: padding must not be negative (use Slice to trim), got -1 before and 0 after dimension 1 of f32[B,4]" },
        { "v.Take(ids, 0)", "XG0001", "Take: axis 0 of f32[B,4] is symbolic (B); the indexed dimension must be constant" },
        { "v.Take(v, 1)", "XG0002", "Take: indices must be integers, got f32[B,4]" },
        { "Nn.Embedding(vector, ids)", "XG0001", "Embedding: the table must be [vocabulary, dim], got f32[10]" },
        { "Nn.OneHot(v, 3)", "XG0002", "OneHot: ids must be integers, got f32[B,4]" },
        { "vector.DynamicSlice(ids, 2)", "XG0001", "DynamicSlice: starts must be a vector with one index per dimension of f32[10] ([1]), got s32[B]" },
        { "v.Reverse(1, -1)", "XG0001", "Reverse: axis listed twice in (1, -1)" },
        // elementwise, statistics, normalisation
        { "v & v", "XG0002", "&: needs bool or integer tensors, got f32[B,4]" },
        { "(!v.Greater(v)).Cast<float>() + ([|~v|])", "XG0002", "~: needs bool or integer tensors, got f32[B,4]" },
        { "[|ints.Floor()|].Cast<float>()", "XG0002", "Floor: needs a floating-point tensor, got s32[B,4,4,1]" },
        { "[|Nn.Gelu(ids)|].Cast<float>()", "XG0002", "Gelu: needs a floating-point tensor, got s32[B]" },
        { "Nn.LayerNorm(v, gamma, beta)", "XG0001", "LayerNorm: gamma must be [4] (the last dimension of x f32[B,4]), got f32[5]" },
        // metric observations
        { "Losses.Observe(v, ids.Cast<float>(), PredictionKind.ClassLogits)", "XG0002", "Observe: class indices must be integers, got f32[B]" },
        { "Losses.Observe(v, x, PredictionKind.ClassProbabilities)", "XG0001", "Observe: the target of the ClassProbabilities prediction f32[B,4] must be class indices [B] or of the prediction's shape, got f32[B,28,28,1]" },
        { "Losses.Observe(v, x, PredictionKind.Values)", "XG0001", "Observe: the target of the Values prediction f32[B,4] must have its shape, got f32[B,28,28,1]" },
        { "[|Losses.Observe(ints, ints, PredictionKind.Values)|].Cast<float>()", "XG0002", "Observe: the prediction must be floating point, got s32[B,4,4,1]" },
        { "Losses.Observe(v, v, (PredictionKind)9)", "XG0001", "Observe: the kind must be a PredictionKind known at build time (PredictionKind.ClassLogits, …)" },
        { "v % vector", "XG0001", "%: shapes [B,4] and [10] do not broadcast: dimension 4 and 10 differ (NumPy rules: equal, or one of them 1)" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ErrorIsOnTheCallAndNamesTheProblem(string expression, string id, string message)
    {
        var d = DiagnosticTests.Single(Model(expression), id);
        var marked = expression.Contains("[|") ? expression.Substring(expression.IndexOf("[|") + 2, expression.IndexOf("|]") - expression.IndexOf("[|") - 2) : expression;
        Assert.Equal($"'{marked}': {message}", d.GetMessage());
    }
}
