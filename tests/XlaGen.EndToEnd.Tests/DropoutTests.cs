using XlaGen.Data;
using XlaGen.Tests.Conformance;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>
/// Nn.Dropout: the train step draws its mask from philox with the counter (replica 0, step) under the model's
/// <see cref="ModelRunner.RandomKey"/>, checked bit for bit against the reference generator; Predict, Evaluate and
/// eager calls are the identity; training is reproducible from the seed and resumes exactly from a checkpoint.
/// </summary>
public class DropoutTests
{
    static Tensor<float> Inputs(int rows, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return new Tensor<float>(new long[] { rows, 8 }, Enumerable.Range(0, rows * 8).Select(_ => (float)(rng.NextDouble() + 0.5)).ToArray());
    }

    /// <summary>The mask step <paramref name="step"/> draws for [rows, 8], from the reference philox.</summary>
    static bool[] ReferenceMask(ulong key, long step, int rows)
    {
        var (_, bits) = Ref.RngBitGenerator("rng_philox", new[] { key, 0UL, (ulong)step }, new long[] { rows, 8 }, typeof(uint));
        return ((uint[])bits).Select(b => b >= 1u << 31).ToArray();   // rate 0.5: keep when bits ≥ round(0.5 · 2³²)
    }

    [Fact]
    public void TrainStepDropsExactlyTheElementsThePhiloxBitsSay()
    {
        using var model = DropoutProbe.Create(seed: 11);
        model.Compile(new Sgd(1.0));
        const int rows = 4;
        var x = Inputs(rows, 5);
        for (long step = 0; step < 3; step++)
        {
            var before = ((Tensor<float>)model.GetParameter("w")).Data.ToArray();
            model.TrainStep(x);
            var after = ((Tensor<float>)model.GetParameter("w")).Data;
            var mask = ReferenceMask(model.RandomKey, step, rows);
            Assert.Contains(false, mask);
            Assert.Contains(true, mask);
            for (int j = 0; j < 8; j++)
            {
                // d mean(dropout(x·w)) / d w_j = Σ_i mask_ij · 2 · x_ij / (rows · 8)
                double grad = 0;
                for (int i = 0; i < rows; i++) grad += mask[i * 8 + j] ? 2.0 * x.Data[i * 8 + j] / (rows * 8) : 0;
                Assert.Equal(before[j] - grad, after[j], 1e-6);
            }
        }
    }

    [Fact]
    public void PredictEvaluateAndEagerAreTheIdentity()
    {
        using var model = DropoutProbe.Create(seed: 3);
        var x = Inputs(5, 9);
        var predicted = (Tensor<float>)model.Predict(x);
        Assert.Equal(x.Data, predicted.Data);   // w is all ones
        Assert.Equal(x.Data, model.ToModel().Scaled(x).Data);
        model.Compile(new Sgd(0.1));
        var evaluation = model.Evaluate(new Dataset(x), batchSize: 5);
        Assert.Equal(x.Data.Average(), evaluation.Loss, 1e-6);
    }

    [Fact]
    public void TrainingIsReproducibleFromTheSeedAndResumesExactly()
    {
        var (images, labels) = Data(64);
        float[] Train(int seed, int steps)
        {
            using var model = DropoutMlp.Create(seed: seed);
            model.Compile(new Adam(1e-3));
            for (int s = 0; s < steps; s++) model.TrainStep(Rows(images, s % 4), Rows(labels, s % 4));
            return ((Tensor<float>)model.GetParameter("w2")).Data.ToArray();
        }
        var a = Train(1, 6);
        Assert.Equal(a, Train(1, 6));
        Assert.NotEqual(a, Train(2, 6));

        var path = Path.Combine(Path.GetTempPath(), $"dropout-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var first = DropoutMlp.Create(seed: 1))
            {
                first.Compile(new Adam(1e-3));
                for (int s = 0; s < 4; s++) first.TrainStep(Rows(images, s % 4), Rows(labels, s % 4));
                first.Save(path);
            }
            using var resumed = DropoutMlp.Create(seed: 1);
            resumed.Compile(new Adam(1e-3));
            resumed.Load(path);
            for (int s = 4; s < 6; s++) resumed.TrainStep(Rows(images, s % 4), Rows(labels, s % 4));
            Assert.Equal(a, ((Tensor<float>)resumed.GetParameter("w2")).Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void DropoutMlpLearnsAndItsMasksDifferFromStepToStep()
    {
        var (images, labels) = Data(256);
        using var model = DropoutMlp.Create(seed: 5);
        model.Compile(new Adam(3e-3));
        var history = model.Fit(new Dataset(images, labels), new FitOptions { Epochs = 4, BatchSize = 32, Verbose = false });
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss * 0.7, $"loss went {history.Epochs[0].Loss} → {history.Epochs[^1].Loss}");
        // The same batch twice in a row: different masks give different losses (the step, not the batch, picks the bits).
        var batch = (Rows(images, 0), Rows(labels, 0));
        var l1 = model.TrainStep(batch.Item1, batch.Item2).Loss;
        var l2 = model.TrainStep(batch.Item1, batch.Item2).Loss;
        Assert.NotEqual(l1, l2);
    }

    static (Tensor<float> Images, Tensor<int> Labels) Data(int n)
    {
        var rng = new SplitMix64(99);
        var protos = Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
        var x = new float[n * 784];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.NextInt(10);
            for (int j = 0; j < 784; j++) x[i * 784 + j] = protos[y[i]][j] + (float)(rng.NextDouble() - 0.5);
        }
        return (new Tensor<float>(new long[] { n, 784 }, x), new Tensor<int>(new long[] { n }, y));
    }

    static Tensor<T> Rows<T>(Tensor<T> t, int block) where T : unmanaged
    {
        long rows = t.Shape[0] / 4, row = t.ElementCount / t.Shape[0];
        var shape = t.Shape.ToArray();
        shape[0] = rows;
        return new Tensor<T>(shape, t.Data.Skip((int)(block * rows * row)).Take((int)(rows * row)).ToArray());
    }
}
