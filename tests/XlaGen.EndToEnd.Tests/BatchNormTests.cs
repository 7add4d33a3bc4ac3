using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>
/// Nn.BatchNorm against naive loops: the train step normalises with the batch statistics, differentiates through them
/// (checked against central differences) and moves the non-trainable moving statistics by Keras' rule; Predict,
/// Evaluate and eager calls use the moving statistics; the statistics are saved and restored with the weights.
/// </summary>
public class BatchNormTests
{
    const double Momentum = 0.9, Epsilon = 1e-3;

    static (Tensor<double> X, Tensor<int> Labels) Data(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var x = new Tensor<double>(new long[] { n, 4 }, Enumerable.Range(0, n * 4).Select(_ => rng.NextDouble() * 4 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(2)).ToArray());
        return (x, y);
    }

    static double[] P(ModelRunner m, string path) => ((Tensor<double>)m.GetParameter(path)).Data.ToArray();

    /// <summary>Per-channel batch mean and population variance of x·w.</summary>
    static (double[,] H, double[] Mean, double[] Var) Hidden(double[] w, Tensor<double> x)
    {
        int n = (int)x.Shape[0];
        var h = new double[n, 3];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 4; k++) h[i, c] += x.Data[i * 4 + k] * w[k * 3 + c];
        var mean = new double[3];
        var variance = new double[3];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < n; i++) mean[c] += h[i, c] / n;
            for (int i = 0; i < n; i++) variance[c] += (h[i, c] - mean[c]) * (h[i, c] - mean[c]) / n;
        }
        return (h, mean, variance);
    }

    /// <summary>The loss with the given normalisation statistics.</summary>
    static double NaiveLoss(ModelRunner m, Tensor<double> x, Tensor<int> labels, double[] mean, double[] variance)
    {
        var (h, _, _) = Hidden(P(m, "w"), x);
        double[] gamma = P(m, "gamma"), beta = P(m, "beta"), v = P(m, "v");
        int n = (int)x.Shape[0];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var logits = new double[2];
            for (int c = 0; c < 3; c++)
            {
                double a = Math.Max(0, (h[i, c] - mean[c]) / Math.Sqrt(variance[c] + Epsilon) * gamma[c] + beta[c]);
                for (int j = 0; j < 2; j++) logits[j] += a * v[c * 2 + j];
            }
            double max = logits.Max();
            total += Math.Log(logits.Sum(l => Math.Exp(l - max))) + max - logits[labels.Data[i]];
        }
        return total / n;
    }

    [Fact]
    public void TheTrainStepUsesBatchStatisticsAndMovesTheMovingOnes()
    {
        using var model = BatchNormNet.Create(seed: 3);
        model.Compile(new Sgd(0.1));
        var (x, labels) = Data(16, 1);
        var movingMean = P(model, "movingMean");
        var movingVariance = P(model, "movingVariance");
        for (int step = 0; step < 3; step++)
        {
            var (_, mean, variance) = Hidden(P(model, "w"), x);
            double expectedLoss = NaiveLoss(model, x, labels, mean, variance);
            var result = model.TrainStep(x, labels);
            Assert.Equal(expectedLoss, result.Loss, 1e-6);
            for (int c = 0; c < 3; c++)
            {
                movingMean[c] = movingMean[c] * Momentum + mean[c] * (1 - Momentum);
                movingVariance[c] = movingVariance[c] * Momentum + variance[c] * (1 - Momentum);
            }
            Assert.Equal(movingMean, P(model, "movingMean"), (a, b) => Math.Abs(a - b) < 1e-12);
            Assert.Equal(movingVariance, P(model, "movingVariance"), (a, b) => Math.Abs(a - b) < 1e-12);
        }
    }

    [Fact]
    public void GradientsThroughTheBatchStatisticsMatchFiniteDifferences()
    {
        using var model = BatchNormNet.Create(seed: 8);
        var (x, labels) = Data(10, 2);
        var device = Devices.Cpu();
        using var program = device.CompileHlo(BatchNormNet.BuildLossProgram(10));
        var trainable = BatchNormNet.LossDefinition.TrainableParameters;
        Assert.Equal(new[] { "w", "gamma", "beta", "v" }, trainable);
        Assert.Equal(new[] { "movingMean", "movingVariance" }, BatchNormNet.LossDefinition.StateUpdates);
        var parameters = BatchNormNet.ParameterSpecs.ToDictionary(s => s.Path, s => P(model, s.Path));

        List<Tensor> Run(Dictionary<string, double[]> p)
        {
            var args = new List<Tensor> { x, labels };
            args.AddRange(BatchNormNet.ParameterSpecs.Select(s => (Tensor)new Tensor<double>(s.Dims, p[s.Path])));
            args.Add(Tensor<ulong>.FromArray(new ulong[3], 3));
            args.Add(Tensor<bool>.Scalar(true));
            args.Add(Naive.Ones(10));   // sample_weight
            return program.Execute(args.Select(device.Upload).ToList()).Select(device.Download).ToList();
        }
        var outputs = Run(parameters);
        var (_, mean, variance) = Hidden(parameters["w"], x);
        Assert.Equal(NaiveLoss(model, x, labels, mean, variance), ((Tensor<double>)outputs[0]).Data[0], 1e-12);

        var rng = new SplitMix64(5);
        var direction = trainable.ToDictionary(t => t, t => parameters[t].Select(_ => rng.NextDouble() - 0.5).ToArray());
        double analytic = 0;
        for (int k = 0; k < trainable.Count; k++)
        {
            var g = ((Tensor<double>)outputs[2 + k]).Data;   // after the loss and the accuracy metric
            for (int i = 0; i < g.Length; i++) analytic += g[i] * direction[trainable[k]][i];
        }
        double LossAt(double eps)
        {
            var moved = parameters.ToDictionary(kv => kv.Key, kv => direction.TryGetValue(kv.Key, out var d) ? kv.Value.Select((v, i) => v + eps * d[i]).ToArray() : kv.Value);
            return ((Tensor<double>)Run(moved)[0]).Data[0];
        }
        const double h = 1e-5;
        double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
        Assert.True(Math.Abs(analytic) > 1e-3, $"the directional derivative {analytic} is too small to test anything");
        Assert.Equal(numeric, analytic, 1e-6);
        // the new moving statistics come last
        var newMean = ((Tensor<double>)outputs[2 + trainable.Count]).Data;
        for (int c = 0; c < 3; c++) Assert.Equal(parameters["movingMean"][c] * Momentum + mean[c] * (1 - Momentum), newMean[c], 1e-12);
    }

    [Fact]
    public void PredictEvaluateAndEagerUseTheMovingStatistics()
    {
        using var model = BatchNormNet.Create(seed: 4);
        model.Compile(new Adam(1e-2));
        var (x, labels) = Data(32, 6);
        for (int s = 0; s < 5; s++) model.TrainStep(x, labels);
        double[] movingMean = P(model, "movingMean"), movingVariance = P(model, "movingVariance");
        Assert.Contains(movingMean, m => Math.Abs(m) > 1e-3);

        var (test, testLabels) = Data(7, 9);
        var expected = NaiveLoss(model, test, testLabels, movingMean, movingVariance);
        Assert.Equal(expected, model.Evaluate(new Dataset(test, testLabels), batchSize: 7).Loss, 1e-6);   // accumulated in f32
        var logits = (Tensor<double>)model.Predict(test);
        Assert.Equal(logits.Data, model.ToModel().Logits(test).Data, (a, b) => Math.Abs(a - b) < 1e-12);

        var path = Path.Combine(Path.GetTempPath(), $"bn-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using var restored = BatchNormNet.Create(seed: 99);
            restored.Load(path);
            Assert.Equal(movingMean, P(restored, "movingMean"));
            Assert.Equal(logits.Data, ((Tensor<double>)restored.Predict(test)).Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ConvolutionFeaturesNormalisePerChannel()
    {
        using var model = BatchNormConv.Create(seed: 2);
        model.Compile(new Sgd(0.01));
        var rng = new SplitMix64(3);
        var x = new Tensor<float>(new long[] { 6, 5, 5, 1 }, Enumerable.Range(0, 150).Select(_ => (float)rng.NextDouble()).ToArray());
        // The batch statistics the step uses: those of the convolution's output, per channel over (B, H, W).
        var conv = Nn.Conv2D(x, (Tensor<float>)model.GetParameter("kernel"), padding: Padding.Same).Data;
        var mean = new double[2];
        var variance = new double[2];
        for (int c = 0; c < 2; c++)
        {
            var values = Enumerable.Range(0, conv.Length / 2).Select(i => (double)conv[i * 2 + c]).ToArray();
            mean[c] = values.Average();
            variance[c] = values.Select(v => (v - mean[c]) * (v - mean[c])).Average();
        }
        model.TrainStep(x);
        var moved = ((Tensor<float>)model.GetParameter("movingVariance")).Data;
        for (int c = 0; c < 2; c++)
        {
            Assert.Equal(0.01 * mean[c], ((Tensor<float>)model.GetParameter("movingMean")).Data[c], 1e-5);
            Assert.Equal(0.99 + 0.01 * variance[c], moved[c], 1e-5);
        }
        Assert.Equal(((Tensor<float>)model.Predict(x)).Data, model.ToModel().Features(x).Data, (a, b) => Math.Abs(a - b) < 1e-5);
    }
}

/// <summary>The layer library's BatchNorm and Dropout: the same rules through configured instances.</summary>
public class LibraryNormalizationLayerTests
{
    [Fact]
    public void BatchNormLayerMovesItsStatisticsAndDropoutLayerIsTheIdentityInPredict()
    {
        using var model = LibraryNormNet.Create(seed: 6);
        model.Compile(new Sgd(0.01));
        var rng = new SplitMix64(8);
        var x = new Tensor<float>(new long[] { 8, 4 }, Enumerable.Range(0, 32).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        var kernel = ((Tensor<float>)model.GetParameter("dense.kernel")).Data.ToArray();
        model.TrainStep(x);
        var moved = ((Tensor<float>)model.GetParameter("norm.movingMean")).Data;
        for (int c = 0; c < 3; c++)
        {
            double mean = 0;
            for (int i = 0; i < 8; i++)
                for (int k = 0; k < 4; k++) mean += x.Data[i * 4 + k] * (double)kernel[k * 3 + c] / 8;
            Assert.Equal(0.1 * mean, moved[c], 1e-6);
        }
        Assert.Contains("norm.movingVariance", model.ParameterSpecs.Select(p => p.Path));
        Assert.DoesNotContain("norm.movingMean", LibraryNormNet.LossDefinition.TrainableParameters);
        Assert.Equal(((Tensor<float>)model.Predict(x)).Data, model.ToModel().Features(x).Data, (a, b) => Math.Abs(a - b) < 1e-5);
    }
}
