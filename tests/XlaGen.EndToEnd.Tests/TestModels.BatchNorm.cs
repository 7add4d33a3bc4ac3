namespace XlaGen.Tests.Models;

/// <summary>Dense → BatchNorm → ReLU → Dense in f64 (finite differences are exact enough there), Keras' layout of a
/// BatchNormalization layer: gamma, beta, moving mean, moving variance.</summary>
[XlaModel]
public partial class BatchNormNet
{
    [Param(4, 3, Init = Init.GlorotUniform)] Tensor<double> w;
    [Param(3, Init = Init.Ones)] Tensor<double> gamma;
    [Param(3)] Tensor<double> beta;
    [Param(3, Trainable = false)] Tensor<double> movingMean;
    [Param(3, Init = Init.Ones, Trainable = false)] Tensor<double> movingVariance;
    [Param(3, 2, Init = Init.GlorotUniform)] Tensor<double> v;

    [Forward]
    public Tensor<double> Logits([Shape("B", 4)] Tensor<double> x) =>
        Nn.Relu(Nn.BatchNorm(x.MatMul(w), gamma, beta, movingMean, movingVariance, momentum: 0.9)).MatMul(v);

    [Loss]
    public Tensor<double> Loss([Shape("B", 4)] Tensor<double> x, [Shape("B")] Tensor<int> labels) =>
        Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}

/// <summary>BatchNorm over the channels of NHWC images, as in a CNN.</summary>
[XlaModel]
public partial class BatchNormConv
{
    [Param(3, 3, 1, 2, Init = Init.HeNormal)] Tensor<float> kernel;
    [Param(2, Init = Init.Ones)] Tensor<float> gamma;
    [Param(2)] Tensor<float> beta;
    [Param(2, Trainable = false)] Tensor<float> movingMean;
    [Param(2, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance;

    [Forward]
    public Tensor<float> Features([Shape("B", 5, 5, 1)] Tensor<float> x) =>
        Nn.BatchNorm(Nn.Conv2D(x, kernel, padding: Padding.Same), gamma, beta, movingMean, movingVariance);

    [Loss]
    public Tensor<float> Loss([Shape("B", 5, 5, 1)] Tensor<float> x)
    {
        var f = Features(x);
        return (f * f).Mean();
    }
}

/// <summary>The library's BatchNorm and Dropout layers after a Dense without bias.</summary>
[XlaModel]
public partial class LibraryNormNet
{
    XlaGen.Layers.Dense dense = new(4, 3, useBias: false);
    XlaGen.Layers.BatchNorm norm = new(3, momentum: 0.9);
    XlaGen.Layers.Dropout dropout = new(0.5);

    [Forward]
    public Tensor<float> Features([Shape("B", 4)] Tensor<float> x) => dropout.Call(norm.Call(dense.Call(x)));

    [Loss]
    public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x) => Features(x).Square().Mean();
}

/// <summary>Dense → BatchNorm → ReLU → Dropout → Dense: random draws and state updates in every train step (issue 10,
/// steps per execution).</summary>
[XlaModel]
public partial class StepsNet
{
    [Param(6, 8, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(8, Init = Init.Ones)] Tensor<float> gamma;
    [Param(8)] Tensor<float> beta;
    [Param(8, Trainable = false)] Tensor<float> movingMean;
    [Param(8, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance;
    [Param(8, 3, Init = Init.GlorotUniform)] Tensor<float> v;

    [Forward]
    public Tensor<float> Logits([Shape("B", 6)] Tensor<float> x) =>
        Nn.Dropout(Nn.Relu(Nn.BatchNorm(x.MatMul(w), gamma, beta, movingMean, movingVariance, momentum: 0.9)), 0.25).MatMul(v);

    [Loss]
    public Tensor<float> Loss([Shape("B", 6)] Tensor<float> x, [Shape("B")] Tensor<int> labels) =>
        Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}
