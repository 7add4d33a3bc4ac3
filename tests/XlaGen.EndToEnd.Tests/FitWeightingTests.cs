using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Issue 9 item 5: FitOptions.ClassWeights (Keras' class_weight) and FitOptions.ValidationSplit.</summary>
public class FitWeightingTests
{
    /// <summary>TinyNet's loss with each example's term weighted, the sum divided by the examples (Keras' reduction),
    /// written out in doubles independently of the generated program.</summary>
    static double WeightedTinyLoss(IReadOnlyDictionary<string, double[]> p, double[] x, int[] labels, double[] weights)
    {
        int n = labels.Length;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var h = new double[5];
            for (int j = 0; j < 5; j++)
            {
                double s = p["b1"][j];
                for (int k = 0; k < 6; k++) s += x[i * 6 + k] * p["w1"][k * 5 + j];
                h[j] = Math.Tanh(s);
            }
            var logits = new double[3];
            for (int c = 0; c < 3; c++)
                for (int j = 0; j < 5; j++) logits[c] += h[j] * p["w2"][j * 3 + c];
            double max = logits.Max();
            double lse = Math.Log(logits.Sum(v => Math.Exp(v - max))) + max;
            total += weights[i] * (lse - logits[labels[i]]);
        }
        return total / n + 0.01 * p["w1"].Sum(v => v * v);
    }

    static (Tensor<double> X, Tensor<int> Labels) Data(int n, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new Tensor<double>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return (x, y);
    }

    static Dictionary<string, double[]> Parameters(ModelRunner model) =>
        model.GetParameters().ToDictionary(kv => kv.Key, kv => ((Tensor<double>)kv.Value).Data.ToArray());

    [Fact]
    public void ClassWeightsWeighEachExamplesTermInTheLossAndItsGradient()
    {
        const int n = 12;
        const double lr = 0.5;
        var (x, labels) = Data(n, 3);
        var classWeights = new Dictionary<int, double> { [0] = 3.0, [2] = 0.25 };   // class 1 is left out: weight 1
        var weights = labels.Data.Select(l => classWeights.TryGetValue(l, out var w) ? w : 1.0).ToArray();
        using var model = TinyNet.Create(seed: 6);
        var before = Parameters(model);
        model.Compile(new Sgd(lr));
        var history = model.Fit(new Dataset(x, labels), new FitOptions { Epochs = 1, BatchSize = n, Shuffle = false, Verbose = false, ClassWeights = classWeights });

        Assert.Equal(WeightedTinyLoss(before, x.Data, labels.Data, weights), history.Epochs[0].Loss, 1e-6);   // accumulated in f32
        var after = Parameters(model);
        foreach (var (path, values) in before)
        {
            for (int i = 0; i < values.Length; i++)
            {
                // one SGD step: after = before − lr · ∂L/∂p, the derivative by a central difference of the naive weighted loss
                const double h = 1e-5;
                var plus = before.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
                var minus = before.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
                plus[path][i] += h;
                minus[path][i] -= h;
                double gradient = (WeightedTinyLoss(plus, x.Data, labels.Data, weights) - WeightedTinyLoss(minus, x.Data, labels.Data, weights)) / (2 * h);
                Assert.Equal(values[i] - lr * gradient, after[path][i], 1e-8);
            }
        }
    }

    [Fact]
    public void WeightsOfOneTrainBitwiseLikeNoWeightsAndMetricsStayUnweighted()
    {
        var (x, labels) = Data(40, 4);
        using var plain = TinyNet.Create(seed: 2);
        using var weighted = TinyNet.Create(seed: 2);
        plain.Compile(new Adam(1e-2));
        weighted.Compile(new Adam(1e-2));
        var options = new FitOptions { Epochs = 2, BatchSize = 16, Verbose = false };
        var a = plain.Fit(new Dataset(x, labels), options);
        var b = weighted.Fit(new Dataset(x, labels), options with { ClassWeights = new Dictionary<int, double> { [0] = 1, [1] = 1, [2] = 1 } });
        Assert.Equal(a.Epochs[^1].Loss, b.Epochs[^1].Loss);
        foreach (var (path, values) in Parameters(plain)) Assert.Equal(values, Parameters(weighted)[path]);

        // A heavy class changes the loss but not the (unweighted) accuracy of the same predictions.
        using var heavy = TinyNet.Create(seed: 2);
        heavy.Compile(new Sgd(0));   // no update: both epochs see the initial weights
        using var light = TinyNet.Create(seed: 2);
        light.Compile(new Sgd(0));
        var h = heavy.Fit(new Dataset(x, labels), options with { ClassWeights = new Dictionary<int, double> { [1] = 10 } });
        var l = light.Fit(new Dataset(x, labels), options);
        Assert.NotEqual(l.Epochs[0].Loss, h.Epochs[0].Loss);
        Assert.Equal(l.Epochs[0].Metrics["accuracy"], h.Epochs[0].Metrics["accuracy"]);
    }

    [Fact]
    public void BadClassWeightsAreRefusedBeforeAnyStep()
    {
        var (x, labels) = Data(8, 5);
        using var model = TinyNet.Create(seed: 1);
        model.Compile(new Sgd(0.1));
        var data = new Dataset(x, labels);
        FitOptions With(Dictionary<int, double> w) => new() { Epochs = 1, BatchSize = 4, Verbose = false, ClassWeights = w };
        var e = Assert.Throws<ArgumentException>(() => model.Fit(data, With(new() { [3] = 2 })));
        Assert.StartsWith("TinyNet.Fit: ClassWeights name class 3, outside the 3 classes [0, 3) of Loss", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit(data, With(new() { [1] = -1 })));
        Assert.StartsWith("TinyNet.Fit: the weight of class 1 is -1; class weights must be finite and not negative", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit(data, With(new() { [1] = double.NaN })));
        Assert.StartsWith("TinyNet.Fit: the weight of class 1 is NaN", e.Message);
        Assert.Equal(0, model.Step);

        using var hand = HandLossClassifier.Create(seed: 1);
        hand.Compile(new Sgd(0.1));
        var rows = new Tensor<float>(new long[] { 4, 8 }, new float[32]);
        e = Assert.Throws<ArgumentException>(() => hand.Fit(new Dataset(rows, new Tensor<int>(new long[] { 4 }, new[] { 0, 1, 2, 3 })),
            new FitOptions { Epochs = 1, Verbose = false, ClassWeights = new Dictionary<int, double> { [0] = 2 } }));
        Assert.StartsWith("HandLossClassifier.Fit: ClassWeights weigh the examples of a sparse cross-entropy over the batch", e.Message);
    }

    [Fact]
    public void ValidationSplitHoldsOutTheLastFractionBeforeShuffling()
    {
        var (x, labels) = Data(50, 6);
        using var model = TinyNet.Create(seed: 3);
        model.Compile(new Adam(1e-2));
        var history = model.Fit(new Dataset(x, labels), new FitOptions { Epochs = 2, BatchSize = 8, Verbose = false, ValidationSplit = 0.2 });
        // Keras: the first floor(50 · 0.8) = 40 rows train, the last 10 validate
        Assert.Equal(2 * 40 / 8, model.Step);   // 5 steps of 8 per epoch
        var (_, heldOut) = new Dataset(x, labels).Split(40);
        var evaluated = model.Evaluate(heldOut, batchSize: 8);
        Assert.Equal(10, evaluated.Examples);
        Assert.Equal(evaluated.Loss, history.Epochs[^1].ValidationLoss!.Value, 1e-12);
        Assert.Equal(evaluated.Metrics["accuracy"], history.Epochs[^1].ValidationMetrics!["accuracy"], 1e-12);

        var data = new Dataset(x, labels);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(data, new FitOptions { Verbose = false, ValidationSplit = 0.2, Validation = heldOut }));
        Assert.Equal("TinyNet.Fit: set either Validation or ValidationSplit, not both (Parameter 'options')", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions { Verbose = false, ValidationSplit = 1 }));
        e = Assert.Throws<ArgumentException>(() => model.Fit(data.Slice(0, 1), new FitOptions { Verbose = false, ValidationSplit = 0.5 }));
        Assert.StartsWith("TinyNet.Fit: ValidationSplit 0.5 of 1 examples leaves no training examples", e.Message);
    }
}
