using XlaGen;

namespace XlaGen.Bench.Suites;

/// <summary>
/// The cnn suite's model: a copy of samples/FashionMnistCnn/FashionCnn.cs (keep the two alike), compiled by the
/// generator in this build.
/// A convolutional network for 28×28 grey images as a Keras user writes it, in TensorFlow's layouts (NHWC images,
/// HWIO kernels): [Conv 3×3 → BatchNorm → ReLU → MaxPool 2] × 2 → Flatten → Dense 128 → ReLU → Dropout 0.4 →
/// Dense 10. The convolutions have no bias (BatchNorm's beta is one); the moving statistics are non-trainable
/// parameters the train step updates; Dropout is active in train steps only.
/// </summary>
[XlaModel]
public partial class BenchCnn
{
    [Param(3, 3, 1, 32, Init = Init.HeNormal)] Tensor<float> conv1;
    [Param(32, Init = Init.Ones)] Tensor<float> gamma1;
    [Param(32)] Tensor<float> beta1;
    [Param(32, Trainable = false)] Tensor<float> movingMean1;
    [Param(32, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance1;

    [Param(3, 3, 32, 64, Init = Init.HeNormal)] Tensor<float> conv2;
    [Param(64, Init = Init.Ones)] Tensor<float> gamma2;
    [Param(64)] Tensor<float> beta2;
    [Param(64, Trainable = false)] Tensor<float> movingMean2;
    [Param(64, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance2;

    [Param(1600, 128, Init = Init.HeUniform)] Tensor<float> dense1;
    [Param(128)] Tensor<float> bias1;
    [Param(128, 10, Init = Init.GlorotUniform)] Tensor<float> dense2;
    [Param(10)] Tensor<float> bias2;

    const double DropoutRate = 0.4;

    /// <summary>Class scores for a batch of images.</summary>
    [Forward(Default = true)]
    [return: Shape("B", 10)]
    public Tensor<float> Logits([Shape("B", 28, 28, 1)] Tensor<float> images)
    {
        var h = Nn.Conv2D(images, conv1);                                                            // [B,26,26,32]
        h = Nn.MaxPool2D(Nn.Relu(Nn.BatchNorm(h, gamma1, beta1, movingMean1, movingVariance1)));    // [B,13,13,32]
        h = Nn.Conv2D(h, conv2);                                                                     // [B,11,11,64]
        h = Nn.MaxPool2D(Nn.Relu(Nn.BatchNorm(h, gamma2, beta2, movingMean2, movingVariance2)));    // [B,5,5,64]
        var f = Nn.Dropout(Nn.Relu(h.Flatten().MatMul(dense1) + bias1), DropoutRate);               // [B,1600] → [B,128]
        return f.MatMul(dense2) + bias2;                                                             // [B,10]
    }

    /// <summary>Class probabilities.</summary>
    [Forward]
    public Tensor<float> Probabilities([Shape("B", 28, 28, 1)] Tensor<float> images) => Nn.Softmax(Logits(images));

    /// <summary>Differentiated at build time into the train step; also reports accuracy.</summary>
    [Loss]
    public Tensor<float> Loss([Shape("B", 28, 28, 1)] Tensor<float> images, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(images), labels);
}
