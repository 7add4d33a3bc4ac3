namespace XlaGen.Tests.Models;

/// <summary>
/// The model that ../shared/keras-corpus/dl4j-cnn-batch-norm/cnn_batch_norm.h5 describes (Keras 2.1.3 Sequential,
/// channels_last): Conv2D(1, 3x3, valid) → BatchNormalization(epsilon 0.001) → ReLU → Conv2D(1, 3x3, valid) →
/// Flatten (h, w, c order) → Dense(1). Parameters are declared in the file's layer and weight order, so LoadKeras
/// maps them by order; BatchNormalization runs at inference: gamma·(x − mean)/√(var + ε) + beta.
/// </summary>
[XlaModel]
public partial class KerasCnnBatchNorm
{
    /// <summary>The BatchNormalization layer's epsilon in the file's model_config (checked by the test).</summary>
    public const float Epsilon = 0.001f;

    [Param(3, 3, 3, 1)] Tensor<float> conv1Kernel;
    [Param(1)] Tensor<float> conv1Bias;
    [Param(1)] Tensor<float> gamma;
    [Param(1)] Tensor<float> beta;
    [Param(1)] Tensor<float> movingMean;
    [Param(1)] Tensor<float> movingVariance;
    [Param(3, 3, 1, 1)] Tensor<float> conv2Kernel;
    [Param(1)] Tensor<float> conv2Bias;
    [Param(36, 1)] Tensor<float> denseKernel;
    [Param(1)] Tensor<float> denseBias;

    [Forward]
    public Tensor<float> Predict([Shape("B", 10, 10, 3)] Tensor<float> x)
    {
        var h = Nn.Conv2D(x, conv1Kernel) + conv1Bias;
        h = gamma * (h - movingMean) / (movingVariance + Epsilon).Sqrt() + beta;
        h = Nn.Conv2D(Nn.Relu(h), conv2Kernel) + conv2Bias;
        return h.Flatten().MatMul(denseKernel) + denseBias;
    }
}

/// <summary>The same layers with a Dense of two units: the file's dense_1 weights do not fit it.</summary>
[XlaModel]
public partial class KerasCnnTwoUnits
{
    [Param(3, 3, 3, 1)] Tensor<float> conv1Kernel;
    [Param(1)] Tensor<float> conv1Bias;
    [Param(1)] Tensor<float> gamma;
    [Param(1)] Tensor<float> beta;
    [Param(1)] Tensor<float> movingMean;
    [Param(1)] Tensor<float> movingVariance;
    [Param(3, 3, 1, 1)] Tensor<float> conv2Kernel;
    [Param(1)] Tensor<float> conv2Bias;
    [Param(36, 2, Init = Init.GlorotUniform)] Tensor<float> denseKernel;
    [Param(2, Init = Init.Uniform, Value = 0.5)] Tensor<float> denseBias;

    [Forward]
    public Tensor<float> Predict([Shape("B", 10, 10, 3)] Tensor<float> x)
    {
        var h = Nn.Conv2D(x, conv1Kernel) + conv1Bias;
        h = gamma * (h - movingMean) / (movingVariance + 0.001f).Sqrt() + beta;
        h = Nn.Conv2D(Nn.Relu(h), conv2Kernel) + conv2Bias;
        return h.Flatten().MatMul(denseKernel) + denseBias;
    }
}

/// <summary>A Keras Conv2D(1 filter, 3x3) on one channel, as a sub-model: a field named like the Keras layer
/// ("conv2d") holding "kernel" and "bias" gives the parameter paths conv2d.kernel and conv2d.bias, matched by name.</summary>
[XlaModel]
public partial class KerasConv3x3
{
    [Param(3, 3, 1, 1, Init = Init.GlorotUniform)] Tensor<float> kernel;
    [Param(1)] Tensor<float> bias;

    [Forward]
    public Tensor<float> Apply([Shape("N", 5, 5, 1)] Tensor<float> x) => Nn.Conv2D(x, kernel) + bias;
}

/// <summary>hls4ml's conv2d_1layer: Sequential[Conv2D(1, 3x3, valid, linear)] on 5x5x1 images.</summary>
[XlaModel]
public partial class KerasOneConv
{
    KerasConv3x3 conv2d;

    [Forward]
    public Tensor<float> Predict([Shape("B", 5, 5, 1)] Tensor<float> x) => conv2d.Apply(x);
}

/// <summary>Keras' NestedDenseModel(num=3) from keras3-nested-dense: three Dense(4, no bias) then Dense(2), all linear.</summary>
[XlaModel]
public partial class KerasNestedDense
{
    [Param(4, 4)] Tensor<float> d0;
    [Param(4, 4)] Tensor<float> d1;
    [Param(4, 4)] Tensor<float> d2;
    [Param(4, 2)] Tensor<float> outKernel;
    [Param(2, Init = Init.Uniform, Value = 1)] Tensor<float> outBias;

    [Forward]
    public Tensor<float> Predict([Shape("B", 4)] Tensor<float> x) => x.MatMul(d0).MatMul(d1).MatMul(d2).MatMul(outKernel) + outBias;

    [Loss]
    public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B", 2)] Tensor<float> y) => Losses.MeanSquaredError(Predict(x), y);
}

/// <summary>cnn_batch_norm.h5's model built from the layer library, its layers declared in another order than the file's
/// (Dense first): LoadKeras matches the file's auto-named layers (conv2d_1, batch_normalization_1, conv2d_2, dense_1) to
/// the library layers by Keras class and counter, which order matching could not.</summary>
[XlaModel]
public partial class KerasLibraryCnn
{
    XlaGen.Layers.Dense dense = new(36, 1);
    XlaGen.Layers.BatchNorm norm = new(1);
    XlaGen.Layers.Conv2D first = new(3, 1, 3);
    XlaGen.Layers.Conv2D second = new(1, 1, 3);
    XlaGen.Layers.Flatten flatten = new();

    [Forward]
    public Tensor<float> Predict([Shape("B", 10, 10, 3)] Tensor<float> x) => dense.Call(flatten.Call(second.Call(Nn.Relu(norm.Call(first.Call(x))))));
}

/// <summary>The same library layers with two Dense layers: the file has one dense layer, so Keras layer names cannot match.</summary>
[XlaModel]
public partial class KerasLibraryCnnTwoDense
{
    XlaGen.Layers.Conv2D first = new(3, 1, 3);
    XlaGen.Layers.BatchNorm norm = new(1);
    XlaGen.Layers.Conv2D second = new(1, 1, 3);
    XlaGen.Layers.Flatten flatten = new();
    XlaGen.Layers.Dense dense = new(36, 1);
    XlaGen.Layers.Dense extra = new(1, 1);

    [Forward]
    public Tensor<float> Predict([Shape("B", 10, 10, 3)] Tensor<float> x) => extra.Call(dense.Call(flatten.Call(second.Call(Nn.Relu(norm.Call(first.Call(x)))))));
}
