namespace XlaGen.Tests.Models;

/// <summary>The CNN of samples/FashionMnistCnn (Conv → BatchNorm → ReLU → MaxPool twice, Dense, Dropout, Dense): its
/// train step has the long elementwise chains the CPU executor's loop fusion exists for.</summary>
[XlaModel]
public partial class FusionCnn
{
    [Param(3, 3, 1, 8, Init = Init.HeNormal)] Tensor<float> conv1;
    [Param(8, Init = Init.Ones)] Tensor<float> gamma1;
    [Param(8)] Tensor<float> beta1;
    [Param(8, Trainable = false)] Tensor<float> movingMean1;
    [Param(8, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance1;
    [Param(3, 3, 8, 16, Init = Init.HeNormal)] Tensor<float> conv2;
    [Param(16, Init = Init.Ones)] Tensor<float> gamma2;
    [Param(16)] Tensor<float> beta2;
    [Param(16, Trainable = false)] Tensor<float> movingMean2;
    [Param(16, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance2;
    [Param(400, 32, Init = Init.HeUniform)] Tensor<float> dense1;
    [Param(32)] Tensor<float> bias1;
    [Param(32, 10, Init = Init.GlorotUniform)] Tensor<float> dense2;
    [Param(10)] Tensor<float> bias2;

    [Forward(Default = true)]
    public Tensor<float> Logits([Shape("B", 28, 28, 1)] Tensor<float> images)
    {
        var h = Nn.Conv2D(images, conv1);
        h = Nn.MaxPool2D(Nn.Relu(Nn.BatchNorm(h, gamma1, beta1, movingMean1, movingVariance1)));
        h = Nn.Conv2D(h, conv2);
        h = Nn.MaxPool2D(Nn.Relu(Nn.BatchNorm(h, gamma2, beta2, movingMean2, movingVariance2)));
        var f = Nn.Dropout(Nn.Relu(h.Flatten().MatMul(dense1) + bias1), 0.4);
        return f.MatMul(dense2) + bias2;
    }

    [Loss]
    public Tensor<float> Loss([Shape("B", 28, 28, 1)] Tensor<float> images, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(images), labels);
}
