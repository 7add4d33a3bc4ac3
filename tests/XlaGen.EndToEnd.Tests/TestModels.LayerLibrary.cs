using XlaGen.Layers;

namespace XlaGen.Tests.Models;

/// <summary>Every layer of the runtime's library (XlaGen.Layers, another assembly: compiled here from its recorded
/// source), configured as a user would, one forward per layer for the naive-loop tests.</summary>
[XlaModel]
public partial class LayerZoo
{
    Conv2D conv = new(4, 6, 3, strides: 2, padding: Padding.Same, groups: 2, activation: Activation.Relu);
    Conv2D dilated = new(4, 3, 2, dilation: 2, useBias: false);
    MaxPool2D maxPool = new(2);
    AvgPool2D avgPool = new(3, strides: 2, padding: Padding.Same);
    GlobalAvgPool2D gap = new();
    Flatten flatten = new();
    LayerNorm norm = new(5);
    Dense dense = new(5, 3, Activation.Tanh);
    Embedding embedding = new(7, 5);

    [Forward(Default = true)]
    public Tensor<float> Conv([Shape("B", 7, 7, 4)] Tensor<float> x) => conv.Call(x);

    [Forward]
    public Tensor<float> Dilated([Shape("B", 7, 7, 4)] Tensor<float> x) => dilated.Call(x);

    [Forward]
    public Tensor<float> MaxPool([Shape("B", 7, 7, 4)] Tensor<float> x) => maxPool.Call(x);

    [Forward]
    public Tensor<float> AvgPool([Shape("B", 7, 7, 4)] Tensor<float> x) => avgPool.Call(x);

    [Forward]
    public Tensor<float> GlobalPool([Shape("B", 7, 7, 4)] Tensor<float> x) => gap.Call(x);

    [Forward]
    public Tensor<float> Flat([Shape("B", 7, 7, 4)] Tensor<float> x) => flatten.Call(x);

    [Forward]
    public Tensor<float> Norm([Shape("B", 5)] Tensor<float> x) => norm.Call(x);

    [Forward]
    public Tensor<float> DenseOut([Shape("B", 5)] Tensor<float> x) => dense.Call(x);

    [Forward]
    public Tensor<float> Embed([Shape("B", 3)] Tensor<int> ids) => embedding.Call(ids);
}

/// <summary>The README's example, verbatim, so it keeps compiling.</summary>
[XlaModel]
public partial class Cnn
{
    Conv2D conv = new(1, 32, 3, padding: Padding.Same, activation: Activation.Relu);
    MaxPool2D pool = new(2);
    Flatten flatten = new();
    Dense hidden = new(14 * 14 * 32, 128, Activation.Relu);
    Dense logits = new(128, 10);

    [Forward]
    public Tensor<float> Call([Shape("B", 28, 28, 1)] Tensor<float> x) => logits.Call(hidden.Call(flatten.Call(pool.Call(conv.Call(x)))));
}

/// <summary>A classifier from library layers with a loss: training differentiates through them.</summary>
[XlaModel]
public partial class LayerClassifier
{
    Conv2D conv = new(2, 4, 3, activation: Activation.Tanh);
    GlobalAvgPool2D pool = new();
    LayerNorm norm = new(4);
    Dense head = new(4, 3);

    [Forward]
    public Tensor<float> Call([Shape("B", 6, 6, 2)] Tensor<float> x) => head.Call(norm.Call(pool.Call(conv.Call(x))));

    [Loss]
    public Tensor<float> Loss([Shape("B", 6, 6, 2)] Tensor<float> x, [Shape("B")] Tensor<int> labels) => Losses.SparseSoftmaxCrossEntropy(Call(x), labels);
}
