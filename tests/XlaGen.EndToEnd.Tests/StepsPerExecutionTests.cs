using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Issue 10: FitOptions.StepsPerExecution = K runs K train steps in one device call and is bitwise K single steps.</summary>
public class StepsPerExecutionTests
{
    static Dataset Data(int n, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new Tensor<float>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return new Dataset(x, y);
    }

    /// <summary>103 examples in batches of 4: 25 full batches and a partial one of 3, so K = 3 and K = 16 leave
    /// leftover full batches and the partial one to single steps.</summary>
    static (History History, byte[] Checkpoint, long Step, IReadOnlyCollection<string> Programs) Train(int k, Dictionary<int, double>? classWeights = null, int replicas = 1)
    {
        using var device = replicas > 1 ? Devices.Cpu(replicas: replicas) : null;
        using var model = device != null ? StepsNet.Create(device, seed: 5) : StepsNet.Create(seed: 5);
        // A learning rate that changes every step (warmup, then cosine decay), so each of the K steps needs its own.
        model.Compile(new Adam(LearningRate.CosineWithWarmup(2e-2, warmupSteps: 7, totalSteps: 90)));
        var history = model.Fit(Data(103, 1), new FitOptions
        {
            Epochs = 3, BatchSize = 4, Verbose = false, StepsPerExecution = k, ClassWeights = classWeights, MetricsEvery = 5,
        });
        var path = Path.Combine(Path.GetTempPath(), $"xlagen-spe-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            return (history, File.ReadAllBytes(path), model.Step, model.CompiledTrainSteps);
        }
        finally
        {
            File.Delete(path);
        }
    }

    static void AssertSameHistory(History expected, History actual)
    {
        Assert.Equal(expected.Epochs.Count, actual.Epochs.Count);
        for (int e = 0; e < expected.Epochs.Count; e++)
        {
            Assert.Equal(expected.Epochs[e].Loss, actual.Epochs[e].Loss);
            Assert.Equal(expected.Epochs[e].Metrics, actual.Epochs[e].Metrics);
        }
    }

    [Theory]
    [InlineData(2)]    // 26 batches: 13 chunks would need 26 full ones, but the last is partial
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(64)]   // more than an epoch's batches: every step runs alone
    public void KStepsPerCallAreBitwiseKSingleSteps(int k)
    {
        var single = Train(1);
        var grouped = Train(k);
        AssertSameHistory(single.History, grouped.History);
        Assert.Equal(3 * 26, grouped.Step);
        Assert.Equal(single.Checkpoint, grouped.Checkpoint);   // weights, BatchNorm statistics, Adam's moments, step
        if (k <= 25) Assert.Contains($"4*{k}", grouped.Programs);
        else Assert.DoesNotContain(grouped.Programs, p => p.Contains('*'));
    }

    /// <summary>On the CPU executor's replicas each replica gathers its stack of K slices on its own thread; the K-step
    /// program all-reduces inside its loop. Batches of 4 split 2 per replica; the partial batch of 3 runs whole on
    /// both, as a single step.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(16)]
    public void OnCpuReplicasKStepsPerCallAreBitwiseKSingleSteps(int k)
    {
        var single = Train(1, replicas: 2);
        var grouped = Train(k, replicas: 2);
        AssertSameHistory(single.History, grouped.History);
        Assert.Equal(3 * 26, grouped.Step);
        Assert.Equal(single.Checkpoint, grouped.Checkpoint);
        Assert.Contains(grouped.Programs, p => p.EndsWith($"*{k}/2", StringComparison.Ordinal));
        Assert.DoesNotContain(single.Programs, p => p.Contains('*'));
    }

    [Fact]
    public void WithClassWeightsTheWeightedStepsAreBitwiseTheSame()
    {
        var weights = new Dictionary<int, double> { [0] = 2.5, [2] = 0.5 };
        var single = Train(1, weights);
        var grouped = Train(16, weights);
        AssertSameHistory(single.History, grouped.History);
        Assert.Equal(single.Checkpoint, grouped.Checkpoint);
        Assert.NotEqual(Train(16).Checkpoint, grouped.Checkpoint);   // the weights did change the training
    }

    [Fact]
    public void MetricsAreReadBetweenDeviceCalls()
    {
        using var model = StepsNet.Create(seed: 5);
        model.Compile(new Sgd(0.1));
        var reads = new List<long>();
        model.Fit(Data(103, 1), new FitOptions
        {
            Epochs = 1, BatchSize = 4, Verbose = false, StepsPerExecution = 8, MetricsEvery = 5, Callbacks = [new Reads(reads)],
        });
        // 26 steps: chunks end at 8, 16, 24; then single steps 25 and 26 (the last read is the epoch's end).
        Assert.Equal(new long[] { 8, 16, 24, 26 }, reads);
    }

    sealed class Reads(List<long> steps) : ITrainingCallback
    {
        public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) { }

        public void OnMetricsRead(ModelRunner model, int epoch, long step, double loss, TrainingControl control) => steps.Add(step);
    }

    [Fact]
    public void StepsPerExecutionMustBePositive()
    {
        using var model = StepsNet.Create(seed: 5);
        model.Compile(new Sgd(0.1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(Data(8, 1), new FitOptions { Verbose = false, StepsPerExecution = 0 }));
        Assert.Contains("StepsPerExecution must be at least 1, got 0", e.Message);
    }
}
