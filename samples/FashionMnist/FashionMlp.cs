using XlaGen;

namespace FashionMnistSample;

/// <summary>A 784-256-10 multilayer perceptron for 28×28 images.</summary>
[XlaModel]
public partial class FashionMlp
{
    [Param(784, 256, Init = Init.GlorotUniform)] Tensor<float> w1;
    [Param(256)] Tensor<float> b1;
    [Param(256, 10, Init = Init.GlorotUniform)] Tensor<float> w2;
    [Param(10)] Tensor<float> b2;

    /// <summary>Class scores for a batch of flattened images.</summary>
    [Forward(Default = true)]
    [return: Shape("B", 10)]
    public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
        => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

    /// <summary>Class probabilities.</summary>
    [Forward]
    public Tensor<float> Probabilities([Shape("B", 784)] Tensor<float> x) => Nn.Softmax(Logits(x));

    /// <summary>Differentiated at build time into the train step; also reports accuracy.</summary>
    [Loss]
    public Tensor<float> Loss([Shape("B", 784)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}
