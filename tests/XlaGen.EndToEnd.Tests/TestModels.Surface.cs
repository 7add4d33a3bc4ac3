namespace XlaGen.Tests.Models;

/// <summary>Indexing, layout, elementwise and statistics members, each compared with a naive loop in LayoutSurfaceTests.</summary>
[XlaModel]
public partial class LayoutZoo
{
    [Param(5, 3, Init = Init.Normal, Value = 1)] Tensor<float> table;
    [Param(6, Init = Init.Normal, Value = 1)] Tensor<float> gamma;
    [Param(6, Init = Init.Normal, Value = 1)] Tensor<float> beta;

    /// <summary>[B,10] → [B,11]: x[:, 2:5], x[:, -3:], x[:, 1::3], x[:, -100:2] (clamped), after taking the symbolic axis whole.</summary>
    [Forward(Default = true)]
    public Tensor<float> Slices([Shape("B", 10)] Tensor<float> x)
    {
        var all = x.Slice(0, 0);
        return Tensor.Concat(1, all.Slice(1, 2, 5), x.Slice(1, -3), x.Slice(axis: 1, start: 1, step: 3), x.Slice(-1, -100, 2));
    }

    /// <summary>[B,3] ×3 → [B,3,3] along a new middle axis.</summary>
    [Forward]
    public Tensor<float> Stacked([Shape("B", 3)] Tensor<float> x, [Shape("B", 3)] Tensor<float> y) => Tensor.Stack(1, x, y, x * y);

    /// <summary>[B,4] → [B,7]: value 0.5 two before and one after, plus zeros one before and two after.</summary>
    [Forward]
    public Tensor<float> Padded([Shape("B", 4)] Tensor<float> x) =>
        x.Pad(new[] { 0, 2 }, new[] { 0, 1 }, 0.5f) + x.Pad(new[] { 0, 1 }, new[] { 0, 2 }) * 10f;

    [Forward]
    public Tensor<float> Reversed([Shape("B", 2, 3)] Tensor<float> x) => x.Reverse(1, 2) + x.Reverse(-1) * 10f + x.Reverse() * 100f;

    [Forward]
    public Tensor<float> Rounding([Shape("B", 4)] Tensor<float> x, [Shape("B", 4)] Tensor<float> y) =>
        x.Sign() + x.Floor() * 2f + (x * 3f).Ceil() * 4f + x.Clamp(-0.5f, 0.25f) * 8f + (x * 5f) % y * 16f + x % 0.3f * 32f;

    /// <summary>Logical operators on masks and bitwise ones on ints, turned into floats.</summary>
    [Forward]
    public Tensor<float> Logic([Shape("B", 4)] Tensor<float> x, [Shape("B", 4)] Tensor<float> y)
    {
        var a = x.Greater(y * 0f);
        var c = y.Greater(x);
        var mask = (a & c) | (!a ^ c);
        var xi = (x * 10f).Cast<int>();
        var yi = (y * 10f).Cast<int>();
        var bits = (xi & yi) | (~xi ^ yi);
        return Nn.Where(mask, x, y) + bits.Cast<float>() * 100f;
    }

    [Forward]
    public Tensor<float> Flat([Shape("B", 2, 3, 2)] Tensor<float> x) => x.Flatten();

    /// <summary>Columns of a [B,6] activation picked by run-time indices: a gather over the symbolic batch.</summary>
    [Forward]
    public Tensor<float> Taken([Shape("B", 6)] Tensor<float> x, [Shape(3)] Tensor<int> idx) => x.Take(idx, 1);

    [Forward]
    public Tensor<float> Embed([Shape("B", 2)] Tensor<int> ids) => Nn.Embedding(table, ids);

    [Forward]
    public Tensor<float> OneHots([Shape("B")] Tensor<int> ids) => Nn.OneHot(ids, 5);

    /// <summary>table[s0:s0+2, s1:s1+2] and the table with a block of -1 written at the same place.</summary>
    [Forward]
    public Tensor<float> Dynamic([Shape(2)] Tensor<int> starts) =>
        Tensor.Concat(0, table.DynamicSlice(starts, 2, 2), table.DynamicUpdateSlice(table.Slice(0, 0, 2).Slice(1, 0, 2) * 0f - 1f, starts).Slice(1, 0, 2));

    /// <summary>Var and Std over the row, and Var over the symbolic batch.</summary>
    [Forward]
    public Tensor<float> Stats([Shape("B", 6)] Tensor<float> x) => x.Var(1) + x.Std(-1) * 10f + x.Var(0).Sum() * 100f;

    [Forward]
    public Tensor<float> Activations([Shape("B", 4)] Tensor<float> x) =>
        Nn.LeakyRelu(x, 0.2) + Nn.LeakyRelu(x) * 2f + Nn.Gelu(x) * 4f + Nn.Elu(x, 0.7) * 8f + Nn.Softplus(x) * 16f + Nn.Silu(x) * 32f;

    [Forward]
    public Tensor<float> Normalized([Shape("B", 6)] Tensor<float> x) => Nn.LayerNorm(x, gamma, beta, 1e-3);
}

/// <summary>Convolution and pooling in NHWC / HWIO, compared with naive loops in ConvSurfaceTests.</summary>
[XlaModel]
public partial class ConvZoo
{
    [Param(3, 3, 2, 4, Init = Init.Normal, Value = 1)] Tensor<float> k;
    [Param(3, 3, 1, 4, Init = Init.Normal, Value = 1)] Tensor<float> grouped;
    [Param(2, 2, 2, 3, Init = Init.Normal, Value = 1)] Tensor<float> k2;

    [Forward(Default = true)]
    public Tensor<float> Valid([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.Conv2D(x, k);

    [Forward]
    public Tensor<float> SameStrided([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.Conv2D(x, k, stride: 2, padding: Padding.Same);

    /// <summary>An even kernel with SAME padding: the odd padding row/column goes at the bottom/right.</summary>
    [Forward]
    public Tensor<float> SameEven([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.Conv2D(x, k2, padding: Padding.Same);

    [Forward]
    public Tensor<float> DilatedGrouped([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.Conv2D(x, grouped, 1, Padding.Same, dilation: 2, groups: 2);

    [Forward]
    public Tensor<float> MaxPools([Shape("B", 6, 7, 2)] Tensor<float> x) =>
        Tensor.Concat(1, Nn.MaxPool2D(x, 3, 2, Padding.Same), Nn.MaxPool2D(x, 2, 2, Padding.Same));

    [Forward]
    public Tensor<float> MaxPoolValid([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.MaxPool2D(x);

    [Forward]
    public Tensor<float> AvgPools([Shape("B", 6, 7, 2)] Tensor<float> x) =>
        Tensor.Concat(1, Nn.AvgPool2D(x, 3, 2, Padding.Same), Nn.AvgPool2D(x, 2, 2, Padding.Same));

    [Forward]
    public Tensor<float> AvgPoolValid([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.AvgPool2D(x, 3, 1);

    [Forward]
    public Tensor<float> GlobalPool([Shape("B", 6, 7, 2)] Tensor<float> x) => Nn.GlobalAvgPool2D(x);

    /// <summary>For the hand-computed AvgPool2D SAME example: a 2×2 window, stride 2, over a 3×3 image.</summary>
    [Forward]
    public Tensor<float> AvgPoolSmall([Shape(1, 3, 3, 1)] Tensor<float> x) => Nn.AvgPool2D(x, 2, 2, Padding.Same);
}

/// <summary>A double-precision model whose loss runs through every new differentiable lowering, for finite-difference
/// checks of the generated gradients (GradientSurfaceTests).</summary>
[XlaModel]
public partial class GradZoo
{
    [Param(3, 3, 2, 4, Init = Init.GlorotUniform)] Tensor<double> k1;
    [Param(2, 2, 2, 4, Init = Init.GlorotUniform)] Tensor<double> k2;
    [Param(5, 3, Init = Init.Normal, Value = 1)] Tensor<double> table;
    [Param(8, Init = Init.Uniform, Value = 1)] Tensor<double> gamma;
    [Param(8, Init = Init.Uniform, Value = 1)] Tensor<double> beta;
    [Param(8, 3, Init = Init.GlorotUniform)] Tensor<double> w;
    [Param(2, Init = Init.Constant, Value = 1.5)] Tensor<double> corner;   // starts (1, 1): 1.5 ± ε truncates to 1
    [Param(2, 3, Init = Init.Normal, Value = 1)] Tensor<double> patch;

    [Forward]
    public Tensor<double> Features([Shape("B", 6, 6, 2)] Tensor<double> x, [Shape("B", 2)] Tensor<int> ids)
    {
        var h = Nn.Gelu(Nn.Conv2D(x, k1, padding: Padding.Same));                       // [B,6,6,4]
        var pooled = Nn.MaxPool2D(h, 2) + Nn.AvgPool2D(h, 3, 2, Padding.Same);          // [B,3,3,4]
        var g = Nn.Elu(Nn.Conv2D(pooled, k2, stride: 2, padding: Padding.Same, groups: 2), 0.5);   // [B,2,2,4]
        var flat = Nn.Silu(g.Flatten());                                                 // [B,16]
        var picked = flat.Take((patch.Reshape(6).Abs() * 5.0).Cast<int>(), 1);           // [B,6]: run-time columns
        var spread = Tensor.Concat(1, flat.Slice(1, 0, 10), picked.Slice(1, 1, null, 2).Reverse(1)).Pad(new[] { 0, 2 }, new[] { 0, 2 }, 0.25);   // [B,17]
        var mixed = spread.Slice(1, 0, -1) + Nn.GlobalAvgPool2D(h).Sum(1).Reshape(-1, 1);   // [B,16]
        var emb = Nn.Embedding(table.DynamicUpdateSlice(patch, corner.Cast<int>()), ids).Flatten();   // [B,6]
        var rows = Tensor.Stack(1, mixed.Slice(1, 0, 8), mixed.Slice(1, 8) * 0.5).Sum(1);  // [B,8]
        var features = rows + Nn.LeakyRelu(emb.Pad(new[] { 0, 0 }, new[] { 0, 2 }), 0.1) + table.DynamicSlice(corner.Cast<int>(), 2, 3).Reshape(6).Pad(new[] { 0 }, new[] { 2 });
        return Nn.LayerNorm(Nn.Softplus(features) + features.Clamp(-0.5, 0.5) + features % 0.7, gamma, beta) + features.Std(1).Reshape(-1, 1) * features.Var(1).Reshape(-1, 1);
    }

    [Loss]
    public Tensor<double> Loss([Shape("B", 6, 6, 2)] Tensor<double> x, [Shape("B", 2)] Tensor<int> ids, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Features(x, ids).MatMul(w), labels);
}

/// <summary>Conv → ReLU → MaxPool → Flatten → Dense on 8×8 images, trained with Fit in GradientSurfaceTests.</summary>
[XlaModel]
public partial class TinyCnn
{
    [Param(3, 3, 1, 8, Init = Init.HeNormal)] Tensor<float> kernel;
    [Param(8)] Tensor<float> bias;
    [Param(128, 3, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(3)] Tensor<float> b;

    [Forward]
    public Tensor<float> Logits([Shape("B", 8, 8, 1)] Tensor<float> x) =>
        Nn.MaxPool2D(Nn.Relu(Nn.Conv2D(x, kernel, padding: Padding.Same) + bias)).Flatten().MatMul(w) + b;

    [Loss]
    public Tensor<float> Loss([Shape("B", 8, 8, 1)] Tensor<float> x, [Shape("B")] Tensor<int> labels) =>
        Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}
