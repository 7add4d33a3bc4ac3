namespace XlaGen.Tests.Models;

/// <summary>One weight per feature and a dropout before a mean: the train step's update is exactly
/// w − lr · 2 · mask · x / (B · 8) per feature, so the mask the program drew can be read back from the weights.</summary>
[XlaModel]
public partial class DropoutProbe
{
    [Param(8, Init = Init.Ones)] Tensor<float> w;

    [Forward]
    public Tensor<float> Scaled([Shape("B", 8)] Tensor<float> x) => Nn.Dropout(x * w, 0.5);

    [Loss]
    public Tensor<float> Loss([Shape("B", 8)] Tensor<float> x) => Scaled(x).Mean();
}

/// <summary>A small classifier with dropout between its layers, as Keras users write it.</summary>
[XlaModel]
public partial class DropoutMlp
{
    [Param(784, 64, Init = Init.GlorotUniform)] Tensor<float> w1;
    [Param(64)] Tensor<float> b1;
    [Param(64, 10, Init = Init.GlorotUniform)] Tensor<float> w2;
    [Param(10)] Tensor<float> b2;

    const double Rate = 0.25;

    [Forward]
    public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => Nn.Dropout(Nn.Relu(x.MatMul(w1) + b1), Rate).MatMul(w2) + b2;

    [Loss]
    public Tensor<float> Loss([Shape("B", 784)] Tensor<float> x, [Shape("B")] Tensor<int> labels) =>
        Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}
