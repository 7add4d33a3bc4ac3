using XlaGen.Backends.Cpu;
using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>The CPU executor's loop fusion on a real generated train step: training the sample's CNN (BatchNorm,
/// Dropout, Adam) with and without fusion gives bitwise the same weights, metrics and predictions.</summary>
public class LoopFusionTests
{
    static (Tensor<float> Images, Tensor<int> Labels) Data(int n)
    {
        var rng = new Random(7);
        var images = Enumerable.Range(0, n * 784).Select(_ => (float)rng.NextDouble()).ToArray();
        var labels = Enumerable.Range(0, n).Select(_ => rng.Next(10)).ToArray();
        return (Tensor<float>.FromArray(images, n, 28, 28, 1), Tensor<int>.FromArray(labels, n));
    }

    [Fact]
    public void TrainingTheCnnIsBitwiseTheSameWithAndWithoutFusion()
    {
        var (images, labels) = Data(70);   // batches of 32, 32 and a partial 6
        (IReadOnlyDictionary<string, Tensor> Weights, History History, float[] Predictions) Train(bool fuse)
        {
            using var model = FusionCnn.Create(new CpuDevice { Fusion = fuse }, seed: 3);
            model.Compile(new Adam(1e-2));
            var history = model.Fit(new Dataset(images, labels), new FitOptions { Epochs = 2, BatchSize = 32, Verbose = false });
            var program = model.TrainStepPrograms[0].Program;
            Assert.True(XlaGen.Backends.Cpu.Plan.LoopFusion.Run(program).Entry.Instructions.Count(i => i.Opcode == "fusion") >= 5);
            var predictions = model.Logits(Tensor<float>.FromArray(images.Data.AsSpan(0, 5 * 784).ToArray(), 5, 28, 28, 1)).Data;
            return (model.GetParameters().ToDictionary(kv => kv.Key, kv => TensorBytes.Clone(kv.Value)), history, predictions);
        }
        var plain = Train(false);
        var fused = Train(true);
        foreach (var (name, tensor) in plain.Weights)
            Assert.True(TensorBytes.Fingerprint(tensor) == TensorBytes.Fingerprint(fused.Weights[name]), $"{name} differs");
        Assert.Equal(plain.History.Epochs.Select(e => e.Loss), fused.History.Epochs.Select(e => e.Loss));
        Assert.Equal(plain.History.Epochs.Select(e => e.Metrics["accuracy"]), fused.History.Epochs.Select(e => e.Metrics["accuracy"]));
        Assert.Equal(plain.Predictions, fused.Predictions);
    }
}
