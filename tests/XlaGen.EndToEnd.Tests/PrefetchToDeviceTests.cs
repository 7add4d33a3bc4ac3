using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Prefetch to device (ModelRunner.Staged): on a device outside this process the next batch is uploaded on a
/// worker while the current step runs; the results are bitwise those of serial uploads, and every staged buffer is
/// released, also when a step or an upload fails halfway through an epoch.</summary>
public class PrefetchToDeviceTests
{
    /// <summary>Not an IHostMemoryDevice, so the runner treats it as remote. Records each upload's buffer and thread,
    /// and can fail the n-th upload of a batch-shaped tensor.</summary>
    sealed class OutOfProcessDevice(IDevice inner, int failAtBatchUpload = -1, int failAtLabelUpload = -1, int failAtExecution = -1) : IDevice
    {
        readonly object gate = new();
        int batchUploads, labelUploads, executions;
        readonly int failAtExecution = failAtExecution;

        public List<(string Shape, int Thread, DeviceBuffer Buffer)> Uploads { get; } = new();

        public DeviceInfo Info => inner.Info;

        public IExecutable CompileHlo(HloModule module) => new Failing(this, inner.CompileHlo(module));

        sealed class Failing(OutOfProcessDevice device, IExecutable inner) : IExecutable
        {
            public HloModule Module => inner.Module;

            public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null) =>
                Interlocked.Increment(ref device.executions) == device.failAtExecution
                    ? throw new XlaExecutionException($"simulated failure of execution {device.failAtExecution}")
                    : inner.Execute(arguments, options);

            public void Dispose() => inner.Dispose();
        }

        public DeviceBuffer Upload(Tensor tensor)
        {
            if (tensor.ShapeText.StartsWith("f64[", StringComparison.Ordinal) && tensor.ShapeText.EndsWith(",6]", StringComparison.Ordinal)
                && Interlocked.Increment(ref batchUploads) == failAtBatchUpload)
            {
                throw new IOException($"simulated transport failure at batch upload {failAtBatchUpload}");
            }
            if (tensor.ShapeText.StartsWith("s32[", StringComparison.Ordinal) && tensor.ShapeText != "s32[]"
                && Interlocked.Increment(ref labelUploads) == failAtLabelUpload)
            {
                throw new IOException($"simulated transport failure at label upload {failAtLabelUpload}");
            }
            var b = inner.Upload(tensor);
            lock (gate) Uploads.Add((tensor.ShapeText, Environment.CurrentManagedThreadId, b));
            return b;
        }

        public Tensor Download(DeviceBuffer buffer) => inner.Download(buffer);

        public void Dispose() { }
    }

    static Dataset Data(int n)
    {
        var rng = new SplitMix64(29);
        var x = new Tensor<double>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return new Dataset(x, y);
    }

    static double[][] Weights(ModelRunner model) =>
        Enumerable.Range(0, model.ParameterSpecs.Count).Select(i => ((Tensor<double>)model.GetParameter(model.ParameterSpecs[i].Path)).Data).ToArray();

    [Fact]
    public void PrefetchedFitEqualsSerialFitAndUploadsOnAWorker()
    {
        var data = Data(200);
        var fit = new FitOptions { Epochs = 2, BatchSize = 16, Verbose = false, ShuffleSeed = 5, Validation = Data(40) };
        // A schedule that changes the learning rate every step, so its scalar is staged with each batch.
        Optimizer Opt() => new Adam(LearningRate.CosineWithWarmup(0.05, 3, 26));

        var overlapped = new OutOfProcessDevice(Devices.Cpu());
        using var a = TinyNet.Create(overlapped, seed: 4);
        a.Compile(Opt());
        int fitThread = Environment.CurrentManagedThreadId;
        var historyA = a.Fit(data, fit);

        var serialDevice = new OutOfProcessDevice(Devices.Cpu());
        using var b = TinyNet.Create(serialDevice, seed: 4);
        b.PrefetchToDevice = false;
        b.Compile(Opt());
        var historyB = b.Fit(data, fit);

        using var local = TinyNet.Create(Devices.Cpu(), seed: 4);
        local.Compile(Opt());
        var historyLocal = local.Fit(data, fit);

        Assert.Equal(Weights(b), Weights(a));
        Assert.Equal(Weights(local), Weights(a));
        Assert.Equal(historyB.Epochs.Select(e => (e.Loss, e.ValidationLoss)), historyA.Epochs.Select(e => (e.Loss, e.ValidationLoss)));
        Assert.Equal(historyLocal.Epochs.Select(e => (e.Loss, e.ValidationLoss)), historyA.Epochs.Select(e => (e.Loss, e.ValidationLoss)));

        // 13 steps an epoch: the first batch of each epoch (and of each validation pass) goes up inline, the rest on workers.
        var batchesA = overlapped.Uploads.Where(u => u.Shape.EndsWith(",6]", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * 13 + 2 * 3, batchesA.Count);
        Assert.Equal(2 * 12 + 2 * 2, batchesA.Count(u => u.Thread != fitThread));
        Assert.All(serialDevice.Uploads, u => Assert.Equal(fitThread, u.Thread));
        // f32[] scalars: a learning rate per step (it changes every step), each disposed once the next replaced it,
        // and the zeroed metric accumulators (loss, accuracy, count) of 2 epochs and 2 validation passes, donated to the
        // programs: only the learning rate of the last step is still alive, kept for the next Fit
        var scalars = overlapped.Uploads.Where(u => u.Shape == "f32[]").ToList();
        Assert.Equal(26 + 2 * 3 + 2 * 3, scalars.Count);
        Assert.Single(scalars, r => !r.Buffer.IsDeleted);
        // every batch buffer was released
        Assert.All(batchesA, u => Assert.True(u.Buffer.IsDeleted));
        Assert.All(overlapped.Uploads.Where(u => u.Shape.StartsWith("s32[", StringComparison.Ordinal) && u.Shape != "s32[]"), u => Assert.True(u.Buffer.IsDeleted));
    }

    [Theory]
    [InlineData(1)]   // the first batch (inline)
    [InlineData(2)]   // the second (on a worker, while step 1 runs)
    [InlineData(7)]
    public void AFailedUploadEndsFitAndReleasesEverythingStaged(int failAt)
    {
        var device = new OutOfProcessDevice(Devices.Cpu(), failAt);
        using var model = TinyNet.Create(device, seed: 4);
        model.Compile(new Adam(0.01));
        var e = Assert.Throws<IOException>(() => model.Fit(Data(200), new FitOptions { Epochs = 1, BatchSize = 16, Verbose = false }));
        Assert.Contains($"batch upload {failAt}", e.Message);
        Assert.Equal(failAt - 1, model.Step);   // the steps before the failed upload ran
        var staged = device.Uploads.Where(u => u.Shape.EndsWith(",6]", StringComparison.Ordinal) || u.Shape.StartsWith("s32[", StringComparison.Ordinal) && u.Shape != "s32[]").ToList();
        Assert.Equal(2 * (failAt - 1), staged.Count);
        Assert.All(staged, u => Assert.True(u.Buffer.IsDeleted, $"{u.Shape} staged but never released"));

        // the runner stays usable: the next Fit trains from where it stopped
        Assert.Single(model.Fit(Data(200), new FitOptions { Epochs = 1, BatchSize = 16, Verbose = false }).Epochs);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void AFailedLabelUploadReleasesTheBatchAlreadyUploaded(int failAt)
    {
        var device = new OutOfProcessDevice(Devices.Cpu(), failAtLabelUpload: failAt);
        using var model = TinyNet.Create(device, seed: 4);
        model.Compile(new Adam(0.01));
        var e = Assert.Throws<IOException>(() => model.Fit(Data(200), new FitOptions { Epochs = 1, BatchSize = 16, Verbose = false }));
        Assert.Contains($"label upload {failAt}", e.Message);
        var batches = device.Uploads.Where(u => u.Shape.EndsWith(",6]", StringComparison.Ordinal)).ToList();
        Assert.Equal(failAt, batches.Count);   // the failed batch's x went up before its labels failed
        Assert.All(batches, u => Assert.True(u.Buffer.IsDeleted, "an uploaded batch was never released"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void AFailedStepReleasesTheBatchStagedBehindIt(int failAt)
    {
        var device = new OutOfProcessDevice(Devices.Cpu(), failAtExecution: failAt);
        using var model = TinyNet.Create(device, seed: 4);
        model.Compile(new Adam(0.01));
        var e = Assert.Throws<XlaExecutionException>(() => model.Fit(Data(200), new FitOptions { Epochs = 1, BatchSize = 16, Verbose = false }));
        Assert.Contains($"execution {failAt}", e.Message);
        var batches = device.Uploads.Where(u => u.Shape.EndsWith(",6]", StringComparison.Ordinal)).ToList();
        Assert.True(batches.Count >= failAt, $"{batches.Count} batches uploaded");
        Assert.All(batches, u => Assert.True(u.Buffer.IsDeleted, "a staged batch was never released"));
    }
}
