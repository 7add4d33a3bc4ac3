using XlaGen;

namespace FashionMnistCnnSample;

/// <summary>
/// A small convolutional network for 28×28 grey images, in TensorFlow's layouts (NHWC images, HWIO kernels):
/// Conv 3×3×32 → ReLU → MaxPool 2 → Conv 3×3×64 → ReLU → MaxPool 2 → Flatten → Dense 10.
/// </summary>
[XlaModel]
public partial class FashionCnn
{
    [Param(3, 3, 1, 32, Init = Init.HeNormal)] Tensor<float> conv1;
    [Param(32)] Tensor<float> bias1;
    [Param(3, 3, 32, 64, Init = Init.HeNormal)] Tensor<float> conv2;
    [Param(64)] Tensor<float> bias2;
    [Param(1600, 10, Init = Init.GlorotUniform)] Tensor<float> dense;
    [Param(10)] Tensor<float> bias3;

    /// <summary>Class scores for a batch of images.</summary>
    [Forward(Default = true)]
    [return: Shape("B", 10)]
    public Tensor<float> Logits([Shape("B", 28, 28, 1)] Tensor<float> images)
    {
        var h = Nn.MaxPool2D(Nn.Relu(Nn.Conv2D(images, conv1) + bias1));   // [B,26,26,32] → [B,13,13,32]
        h = Nn.MaxPool2D(Nn.Relu(Nn.Conv2D(h, conv2) + bias2));            // [B,11,11,64] → [B,5,5,64]
        return h.Flatten().MatMul(dense) + bias3;                            // [B,1600] → [B,10]
    }

    /// <summary>Class probabilities.</summary>
    [Forward]
    public Tensor<float> Probabilities([Shape("B", 28, 28, 1)] Tensor<float> images) => Nn.Softmax(Logits(images));

    /// <summary>Differentiated at build time into the train step; also reports accuracy.</summary>
    [Loss]
    public Tensor<float> Loss([Shape("B", 28, 28, 1)] Tensor<float> images, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(images), labels);
}
