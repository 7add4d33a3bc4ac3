using XlaGen.TestModels.Lib;

namespace XlaGen.Tests.Models;

[XlaModel]
public partial class Mlp
{
    [Param(784, 256, Init = Init.GlorotUniform)] Tensor<float> w1;
    [Param(256, Init = Init.Uniform, Value = 0.1)] Tensor<float> b1;
    [Param(256, 10, Init = Init.GlorotUniform)] Tensor<float> w2;
    [Param(10, Init = Init.Uniform, Value = 0.1)] Tensor<float> b2;

    [Forward(Default = true)]
    public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
        => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

    [Forward]
    public Tensor<float> Probabilities([Shape("B", 784)] Tensor<float> x) => Nn.Softmax(Logits(x));

    [Loss]
    public Tensor<float> Loss([Shape("B", 784)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}

/// <summary>A small double-precision classifier for finite-difference checks of the generated gradients.</summary>
[XlaModel]
public partial class TinyNet
{
    [Param(6, 5, Init = Init.GlorotUniform)] Tensor<double> w1;
    [Param(5, Init = Init.Uniform, Value = 0.5)] Tensor<double> b1;
    [Param(5, 3, Init = Init.GlorotUniform)] Tensor<double> w2;

    [Forward]
    public Tensor<double> Logits([Shape("B", 6)] Tensor<double> x) => Nn.Tanh(x.MatMul(w1) + b1).MatMul(w2);

    [Loss]
    public Tensor<double> Loss([Shape("B", 6)] Tensor<double> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels) + 0.01 * Losses.L2(w1);
}

/// <summary>Regression with mean squared error and a sigmoid unit, for the other loss functions.</summary>
[XlaModel]
public partial class Regressor
{
    [Param(4, 1, Init = Init.GlorotUniform)] Tensor<double> w;
    [Param(1)] Tensor<double> b;

    [Forward]
    public Tensor<double> Predict([Shape("B", 4)] Tensor<double> x) => x.MatMul(w) + b;

    [Loss]
    public Tensor<double> Loss([Shape("B", 4)] Tensor<double> x, [Shape("B", 1)] Tensor<double> y)
        => Losses.MeanSquaredError(Predict(x), y) + Losses.BinaryCrossEntropyWithLogits(Predict(x), (y + 1.0) * 0.5);
}

/// <summary>Uses a sub-model compiled in another assembly (XlaGen.TestModels.Lib) and one from this assembly.</summary>
[XlaModel]
public partial class Stacked
{
    Encoder encoder;
    Head head;

    [Forward]
    public Tensor<float> Forward([Shape("B", 12)] Tensor<float> x) => head.Score(encoder.Encode(x));
}

[XlaModel]
public partial class Head
{
    [Param(5, 3, Init = Init.GlorotNormal)] Tensor<float> w;

    [Forward]
    public Tensor<float> Score([Shape("N", 5)] Tensor<float> h) => Nn.LogSoftmax(h.MatMul(w));
}

/// <summary>Exercises the compiled surface: every member is compared with a naive loop in SurfaceTests.</summary>
[XlaModel]
public partial class Zoo
{
    [Param(4, 3, Init = Init.Normal, Value = 1)] Tensor<float> w;
    [Param(3, Init = Init.Uniform, Value = 1)] Tensor<float> b;

    /// <summary>Mean over the symbolic batch dimension (get-dimension-size at build time, a constant at run time).</summary>
    [Forward(Default = true)]
    public Tensor<float> BatchMean([Shape("B", 4)] Tensor<float> x) => x.Mean(0);

    [Forward]
    public Tensor<float> Reductions([Shape("B", 4)] Tensor<float> x) => x.Sum(1) + x.Max(-1) * 2f - x.Min(1) + x.Mean(1);

    [Forward]
    public Tensor<float> Elementwise([Shape("B", 4)] Tensor<float> x)
    {
        var a = (x.Abs() + 1f).Log() + x.Tanh() - x.Square() / 8f;
        var c = (x * x + 0.5f).Sqrt() + (x * x + 2f).Rsqrt() + Nn.Sigmoid(x) - (-x).Exp() * 0.01f;
        return a + c.Maximum(0.5f).Minimum(x + 1f) + (1f - x) + x.Pow(2f);
    }

    [Forward]
    public Tensor<float> Shapes([Shape("B", 4)] Tensor<float> x)
    {
        var t = x.Reshape(-1, 2, 2).Transpose(0, 2, 1).Reshape(-1, 4);
        return t.MatMul(w) + b;
    }

    [Forward]
    public Tensor<float> Select([Shape("B", 4)] Tensor<float> x, [Shape("B", 4)] Tensor<float> y)
        => Nn.Where(x.Greater(y), x, y * -1f) + Nn.Where(x.LessOrEqual(y), x, 0f * x);

    [Forward]
    public Tensor<float> Batched([Shape("B", 2, 3)] Tensor<float> x, [Shape("B", 3, 2)] Tensor<float> y) => x.MatMul(y);

    [Forward]
    public Tensor<float> Casts([Shape("B", 4)] Tensor<float> x) => (x * 3f).Cast<int>().Cast<float>();

    [Forward]
    public Tensor<float> Softmaxes([Shape("B", 4)] Tensor<float> x) => Nn.Softmax(x, 0) + Nn.LogSoftmax(x).Exp();
}
