using XlaGen.Layers;

namespace XlaGen.Tests.Models;

// Library layers inside loss programs for LayerGradientTests: each loss is Σ layer(x + shift) · r with r a random input
// and shift a parameter (zeros) broadcast over the batch, so the gradient of shift is the input gradient summed over the
// batch. The tests compare every gradient with central differences of independent naive loops in f64.

[XlaModel]
public partial class DenseGrad
{
    [Param(4)] Tensor<float> shift;
    Dense dense = new(4, 3, Activation.Tanh);

    [Forward]
    public Tensor<float> Call([Shape("B", 4)] Tensor<float> x) => dense.Call(x + shift);

    [Loss]
    public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B", 3)] Tensor<float> r) => (Call(x) * r).Sum();
}

[XlaModel]
public partial class ConvGrad
{
    [Param(5, 5, 4)] Tensor<float> shift;
    Conv2D conv = new(4, 4, 3, strides: 2, padding: Padding.Same, groups: 2);
    Conv2D dilated = new(4, 3, 2, dilation: 2);

    [Forward(Default = true)]
    public Tensor<float> Strided([Shape("B", 5, 5, 4)] Tensor<float> x) => conv.Call(x + shift);

    [Forward]
    public Tensor<float> Dilated([Shape("B", 5, 5, 4)] Tensor<float> x) => dilated.Call(x + shift);

    [Loss]
    public Tensor<float> Loss([Shape("B", 5, 5, 4)] Tensor<float> x, [Shape("B", 3, 3, 4)] Tensor<float> r1, [Shape("B", 3, 3, 3)] Tensor<float> r2)
        => (Strided(x) * r1).Sum() + (Dilated(x) * r2).Sum();
}

/// <summary>DepthwiseConv2D with stride, SAME padding and a depth multiplier, and with dilation (VALID).</summary>
[XlaModel]
public partial class DepthwiseGrad
{
    [Param(5, 5, 3)] Tensor<float> shift;
    DepthwiseConv2D strided = new(3, 3, strides: 2, padding: Padding.Same, depthMultiplier: 2);
    DepthwiseConv2D dilated = new(3, 2, dilation: 2, useBias: false);
    DepthwiseConv2D relu = new(3, 3, padding: Padding.Same, activation: Activation.Relu);

    [Forward(Default = true)]
    public Tensor<float> Strided([Shape("B", 5, 5, 3)] Tensor<float> x) => strided.Call(x + shift);

    [Forward]
    public Tensor<float> Dilated([Shape("B", 5, 5, 3)] Tensor<float> x) => dilated.Call(x + shift);

    [Forward]
    public Tensor<float> Relu([Shape("B", 5, 5, 3)] Tensor<float> x) => relu.Call(x);

    [Loss]
    public Tensor<float> Loss([Shape("B", 5, 5, 3)] Tensor<float> x, [Shape("B", 3, 3, 6)] Tensor<float> r1, [Shape("B", 3, 3, 3)] Tensor<float> r2)
        => (Strided(x) * r1).Sum() + (Dilated(x) * r2).Sum();
}

/// <summary>The layers without weights: gradients of their input only.</summary>
[XlaModel]
public partial class PoolGrad
{
    [Param(5, 5, 2)] Tensor<float> shift;
    MaxPool2D maxPool = new(2);
    AvgPool2D avgPool = new(3, strides: 2, padding: Padding.Same);
    GlobalAvgPool2D gap = new();
    Flatten flatten = new();

    [Loss]
    public Tensor<float> Loss([Shape("B", 5, 5, 2)] Tensor<float> x, [Shape("B", 2, 2, 2)] Tensor<float> r1, [Shape("B", 3, 3, 2)] Tensor<float> r2,
        [Shape("B", 2)] Tensor<float> r3, [Shape("B", 50)] Tensor<float> r4)
    {
        var s = x + shift;
        return (maxPool.Call(s) * r1).Sum() + (avgPool.Call(s) * r2).Sum() + (gap.Call(s) * r3).Sum() + (flatten.Call(s * s) * r4).Sum();
    }
}

/// <summary>LayerNorm and every activation of the library.</summary>
[XlaModel]
public partial class NormActivationGrad
{
    [Param(5)] Tensor<float> shift;
    LayerNorm norm = new(5);
    ActivationLayer relu = new(Activation.Relu);
    ActivationLayer sigmoid = new(Activation.Sigmoid);
    ActivationLayer tanh = new(Activation.Tanh);
    ActivationLayer softmax = new(Activation.Softmax);
    ActivationLayer gelu = new(Activation.Gelu);
    ActivationLayer elu = new(Activation.Elu);
    ActivationLayer silu = new(Activation.Silu);
    ActivationLayer softplus = new(Activation.Softplus);

    [Loss]
    public Tensor<float> Loss([Shape("B", 5)] Tensor<float> x, [Shape("B", 5)] Tensor<float> r)
    {
        var s = x + shift;
        var a = relu.Call(s) + sigmoid.Call(s) * 2f + tanh.Call(s) * 3f + softmax.Call(s) * 4f + gelu.Call(s) * 5f + elu.Call(s) * 6f
            + silu.Call(s) * 7f + softplus.Call(s) * 8f;
        return (norm.Call(s) * r).Sum() + (a * r * r).Sum();
    }
}

[XlaModel]
public partial class EmbeddingGrad
{
    Embedding embedding = new(6, 4);

    [Loss]
    public Tensor<float> Loss([Shape("B", 3)] Tensor<int> ids, [Shape("B", 3, 4)] Tensor<float> r) => (embedding.Call(ids) * r).Sum();
}

/// <summary>BatchNorm in training mode: the gradient flows through the batch statistics.</summary>
[XlaModel]
public partial class BatchNormGrad
{
    [Param(3, 3, 2)] Tensor<float> shift;
    BatchNorm norm = new(2);

    [Loss]
    public Tensor<float> Loss([Shape("B", 3, 3, 2)] Tensor<float> x, [Shape("B", 3, 3, 2)] Tensor<float> r) => (norm.Call(x + shift) * r).Sum();
}

/// <summary>MultiHeadAttention: self-attention (with value_dim ≠ key_dim), causal self-attention, and cross-attention
/// with its own key and value sizes.</summary>
[XlaModel]
public partial class AttentionGrad
{
    [Param(4, 6)] Tensor<float> shift;
    MultiHeadAttention self = new(6, 2, 3, valueDim: 4);
    MultiHeadAttention causal = new(6, 2, 3, causal: true);
    MultiHeadAttention cross = new(6, 3, 2, keyFeatures: 4, valueFeatures: 5);
    MultiHeadAttention crossKeyIsValue = new(6, 2, 2, valueFeatures: 5, useBias: false);

    [Forward(Default = true)]
    public Tensor<float> Self([Shape("B", 4, 6)] Tensor<float> x) => self.Call(x + shift);

    [Forward]
    public Tensor<float> Causal([Shape("B", 4, 6)] Tensor<float> x) => causal.Call(x + shift);

    [Forward]
    public Tensor<float> Cross([Shape("B", 4, 6)] Tensor<float> q, [Shape("B", 3, 5)] Tensor<float> v, [Shape("B", 3, 4)] Tensor<float> k)
        => cross.Call(q + shift, v, k);

    [Forward]
    public Tensor<float> CrossKeyIsValue([Shape("B", 4, 6)] Tensor<float> q, [Shape("B", 3, 5)] Tensor<float> v) => crossKeyIsValue.Call(q, v);

    [Loss]
    public Tensor<float> Loss([Shape("B", 4, 6)] Tensor<float> x, [Shape("B", 3, 5)] Tensor<float> v, [Shape("B", 3, 4)] Tensor<float> k,
        [Shape("B", 4, 6)] Tensor<float> r)
        => (Self(x) * r).Sum() + (Causal(x) * r * r).Sum() + (Cross(x, v, k) * r * 0.5f).Sum();
}

/// <summary>MultiHeadAttention with attention dropout: the loss program draws (training mode), Predict does not.</summary>
[XlaModel]
public partial class AttentionDropout
{
    MultiHeadAttention attention = new(6, 2, 3, dropout: 0.5);

    [Forward]
    public Tensor<float> Call([Shape("B", 4, 6)] Tensor<float> x) => attention.Call(x);

    [Loss]
    public Tensor<float> Loss([Shape("B", 4, 6)] Tensor<float> x) => Call(x).Square().Mean();
}
