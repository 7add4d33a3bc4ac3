namespace XlaGen.Tests.Models;

/// <summary>A classifier whose loss is written by hand (no built-in loss), observing its logits for Compile's metrics.</summary>
[XlaModel]
public partial class HandLossClassifier
{
    [Param(8, 5, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(5, Init = Init.Uniform, Value = 0.3)] Tensor<float> b;

    [Forward(Default = true)]
    public Tensor<float> Logits([Shape("B", 8)] Tensor<float> x) => x.MatMul(w) + b;

    [Loss]
    public Tensor<float> Loss([Shape("B", 8)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
    {
        var logits = Losses.Observe(Logits(x), labels, PredictionKind.ClassLogits);
        return -(Nn.LogSoftmax(logits) * Nn.OneHot(labels, 5)).Sum(1).Mean(0);
    }
}

/// <summary>A hand-written loss that observes nothing: metric objects must be refused at Compile.</summary>
[XlaModel]
public partial class UnobservedLoss
{
    [Param(3, 2)] Tensor<float> w;

    [Forward(Default = true)]
    public Tensor<float> Predict([Shape("B", 3)] Tensor<float> x) => x.MatMul(w);

    [Loss]
    public Tensor<float> Loss([Shape("B", 3)] Tensor<float> x, [Shape("B", 2)] Tensor<float> y)
    {
        var d = Predict(x) - y;
        return (d * d).Mean(0).Sum(0);
    }
}

/// <summary>Independent binary decisions from logits (the built-in sigmoid cross-entropy observes them).</summary>
[XlaModel]
public partial class BinaryTagger
{
    [Param(6, 3, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(3)] Tensor<float> b;

    [Forward(Default = true)]
    public Tensor<float> Logits([Shape("B", 6)] Tensor<float> x) => x.MatMul(w) + b;

    [Loss]
    public Tensor<float> Loss([Shape("B", 6)] Tensor<float> x, [Shape("B", 3)] Tensor<float> tags)
        => Losses.BinaryCrossEntropyWithLogits(Logits(x), tags);
}

/// <summary>A regression whose hand-written loss observes values.</summary>
[XlaModel]
public partial class ObservedRegression
{
    [Param(4, 2, Init = Init.GlorotUniform)] Tensor<float> w;

    [Forward(Default = true)]
    public Tensor<float> Predict([Shape("B", 4)] Tensor<float> x) => x.MatMul(w);

    [Loss]
    public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B", 2)] Tensor<float> y)
    {
        Losses.Observe(Predict(x), y, PredictionKind.Values);
        var d = Predict(x) - y;
        return d.Abs().Mean(0).Sum(0) + (d * d).Mean(0).Sum(0);
    }
}
