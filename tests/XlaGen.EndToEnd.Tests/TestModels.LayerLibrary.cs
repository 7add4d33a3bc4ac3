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
