using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>The direct inference path (issue 10): Predict of one chunk runs the program directly, and the span form
/// writes into the caller's buffer, bitwise the tensor path, allocating (almost) nothing once warm on the CPU executor.</summary>
[Collection(nameof(AllocationMeasurements))]
public class DirectInferenceTests(ITestOutputHelper output)
{
    static float[] Rows(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        return x;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void SpanPredictIsBitwiseTheTensorPaths(int rows)
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 7);
        var x = Rows(rows, rows);
        var tensor = new Tensor<float>(new long[] { rows, 784 }, x);
        var viaRun = model.Logits(tensor);
        var viaPredict = model.Predict(tensor);
        var viaChunks = model.Predict(tensor, batchSize: 2); // the Dataset loop, for more than one row
        var into = new float[rows * 10];
        model.Predict(x, into);
        Assert.Equal(viaRun.Data, into);
        Assert.Equal(viaRun.Data, viaPredict.Data);
        Assert.Equal(viaRun.Data, viaChunks.Data);
        Assert.Equal(new long[] { rows, 10 }, viaPredict.Shape);

        var probabilities = new float[rows * 10];
        model.Probabilities(x, probabilities);
        Assert.Equal(model.Probabilities(tensor).Data, probabilities);
    }

    [Fact]
    public void SpanPredictOnReplicasMatchesOneDevice()
    {
        using var device = Devices.Cpu(replicas: 2);
        using var replicated = Mlp.Create(device, seed: 5);
        using var single = Mlp.Create(Devices.Cpu(), seed: 5);
        foreach (int rows in new[] { 1, 4 })
        {
            var x = Rows(rows, 40 + rows);
            var a = new float[rows * 10];
            var b = new float[rows * 10];
            replicated.Predict(x, a);
            single.Predict(x, b);
            Assert.Equal(b, a);
            Assert.Equal(b, replicated.Predict(new Tensor<float>(new long[] { rows, 784 }, x)).Data);
        }
    }

    [Fact]
    public void SpanPredictNamesExpectedAndActualLengths()
    {
        using var model = Mlp.Create(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => model.Predict(new float[785], new float[10]));
        Assert.Contains("785", e.Message);
        Assert.Contains("784", e.Message);
        Assert.Equal("input", e.ParamName);
        Assert.Throws<ArgumentException>(() => model.Predict(ReadOnlySpan<float>.Empty, new float[10]));
        e = Assert.Throws<ArgumentException>(() => model.Predict(new float[2 * 784], new float[10]));
        Assert.Contains("has 10 elements", e.Message);
        Assert.Contains("20 elements", e.Message);
        Assert.Equal("output", e.ParamName);
    }

    /// <summary>Bytes per warm call the test allows: none (issue 10). The last 64 B were two closures C# allocated on
    /// entry to RunInto and DirectProgramFor for lambdas of their cold paths, and at batch 8 a delegate per split GEMM
    /// and a job per pool call (found with a GCAllocationTick listener). Before that: 696 B (closures per dot and
    /// elementwise kernel, a GEMM job per dot, the fusion's operand lists and its split closure, a message per argument).</summary>
    const long BytesPerCallBound = 0;

    [Fact]
    public void SpanPredictAllocationsStayWithinTheBound()
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 7);
        var x = Rows(1, 9);
        var y = new float[10];
        for (int i = 0; i < 50; i++) model.Predict(x, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) model.Predict(x, y);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"100 span Predict calls at batch 1: {bytes} bytes");
        Assert.InRange(bytes, 0, 100 * BytesPerCallBound);

        // A batch of 8 rows too (another program, its own pooled arrays).
        var x8 = Rows(8, 10);
        var y8 = new float[80];
        for (int i = 0; i < 50; i++) model.Predict(x8, y8);
        before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) model.Predict(x8, y8);
        bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"100 span Predict calls at batch 8: {bytes} bytes");
        Assert.InRange(bytes, 0, 100 * BytesPerCallBound);   // the split GEMM's pool job and delegate are reused too
    }

    /// <summary>A regression guard, not the target (issue 10 wants 0 per step in steady state): a TrainStep at batch 32
    /// measured 106,731 bytes on this thread on 2026-12-06, then about 6,000 once uploads copied into recycled arrays,
    /// 3,592 on 2026-12-07 once the CPU executor updated the step's handles in place. What is left: the zeroed
    /// accumulators and their read-back (TrainStep returns the batch's values), the result record, the uploaded batch.
    /// The bound leaves room for JIT tiering differences, not for a per-element allocation.</summary>
    [Fact]
    public void TrainStepAllocationsStayWithinTheGuard()
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 7);
        model.Compile(new Sgd(0.1));
        var x = new Tensor<float>(new long[] { 32, 784 }, Rows(32, 3));
        var labels = new Tensor<int>(new long[] { 32 }, Enumerable.Range(0, 32).Select(i => i % 10).ToArray());
        for (int i = 0; i < 20; i++) model.TrainStep(x, labels);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) model.TrainStep(x, labels);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"TrainStep at batch 32: {bytes / 100} bytes per step (this thread)");
        Assert.InRange(bytes / 100, 0, 5_000);
    }

    /// <summary>Issue 10's target: Fit allocates nothing per step in steady state on the thread that runs the steps,
    /// measured as the difference between an epoch of 200 steps and one of 100 (the same data, not shuffled), so per-epoch
    /// work cancels out (whole bytes per step: under 100 bytes over the 100 extra steps). History: 4,712 bytes per step
    /// on 2026-12-06; 3,600 once a step on batches of the same dims reused its program, arguments and options; on
    /// 2026-12-07 824 with in-place execution on the CPU executor, 400 with lent batches (HostStaging), 128 with Par.For's
    /// reused job and closures moved off common paths, and 0 once Fit stopped building a fresh sample-weight column of
    /// ones per call (4 bytes per example: it scaled with the epoch, so it read as 128 bytes per step). The class runs
    /// alone (its collection): kernels of tests running beside it make the pool fall back to Parallel.For, which
    /// allocates.</summary>
    [Fact]
    public void FitAllocatesNothingPerStep()
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 7);
        model.Compile(new Adam(1e-3));
        const int batch = 32;
        var x = new Tensor<float>(new long[] { 200 * batch, 784 }, Rows(200 * batch, 5));
        var y = new Tensor<int>(new long[] { 200 * batch }, Enumerable.Range(0, 200 * batch).Select(i => i % 10).ToArray());
        var all = new XlaGen.Data.Dataset(x, y);
        var half = all.Slice(0, 100 * batch);
        var options = new FitOptions { Epochs = 1, BatchSize = batch, Shuffle = false, Verbose = false };
        model.Fit(all, options);
        model.Fit(half, options);
        long Measure(XlaGen.Data.Dataset d)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            model.Fit(d, options);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long perStep = (Measure(all) - Measure(half)) / 100;
        output.WriteLine($"Fit at batch {batch}: {perStep} bytes per step (this thread)");
        Assert.Equal(0, perStep);
    }
}

/// <summary>Tests that count allocations on their thread run alone: a kernel of another test running at the same time
/// holds the CPU pool, and the split then falls back to Parallel.For, which allocates.</summary>
[CollectionDefinition(nameof(AllocationMeasurements), DisableParallelization = true)]
public sealed class AllocationMeasurements
{
}
