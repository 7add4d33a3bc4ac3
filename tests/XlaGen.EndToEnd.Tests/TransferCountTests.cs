using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>What crosses between host and device during training, counted by a device wrapper: parameters and optimizer
/// state are uploaded once and stay resident; per step only the batch goes up; the running metrics come down once per
/// MetricsEvery steps while a progress display wants them, and at each epoch's end.</summary>
public class TransferCountTests
{
    sealed class CountingDevice(IDevice inner) : IDevice
    {
        readonly object gate = new();
        readonly List<string> uploads = new();
        readonly List<string> downloads = new();

        public DeviceInfo Info => inner.Info;

        public IExecutable CompileHlo(HloModule module) => inner.CompileHlo(module);

        public DeviceBuffer Upload(Tensor tensor)
        {
            lock (gate) uploads.Add(tensor.ShapeText);
            return inner.Upload(tensor);
        }

        public Tensor Download(DeviceBuffer buffer)
        {
            var t = inner.Download(buffer);
            lock (gate) downloads.Add(t.ShapeText);
            return t;
        }

        /// <summary>The uploads and downloads since the last call, as shape texts ("f64[6,5]").</summary>
        public (List<string> Uploads, List<string> Downloads) Take()
        {
            lock (gate)
            {
                var r = (uploads.ToList(), downloads.ToList());
                uploads.Clear();
                downloads.Clear();
                return r;
            }
        }

        public void Dispose() { }   // the shared CPU device stays
    }

    static Dataset Data(int n)
    {
        var rng = new SplitMix64(17);
        var x = new Tensor<double>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return new Dataset(x, y);
    }

    static int Count(List<string> list, string shape) => list.Count(s => s == shape);

    [Theory]
    [InlineData(true, 4)]
    [InlineData(true, 3)]
    [InlineData(true, 50)]
    [InlineData(false, 4)]
    public void FitUploadsParametersOnceAndReadsMetricsEveryFewSteps(bool verbose, int metricsEvery)
    {
        using var device = new CountingDevice(Devices.Cpu());
        using var model = TinyNet.Create(device, seed: 3);
        string[] parameterShapes = model.ParameterSpecs.Select(p => $"{p.ElementType.TextName()}[{string.Join(",", p.Dims)}]").ToArray();
        Assert.Equal(new[] { "f64[6,5]", "f64[5]", "f64[5,3]" }, parameterShapes);

        var (created, _) = device.Take();
        Assert.Equal(parameterShapes, created);   // one upload per parameter, at construction

        model.Compile(new Adam(0.01));
        var (compiled, _) = device.Take();
        // Adam's m and v per parameter (zeros), and the step counter.
        Assert.Equal(parameterShapes.SelectMany(s => new[] { s, s }).Append("s32[]"), compiled);

        const int Epochs = 3, BatchSize = 20, N = 200;
        const int StepsPerEpoch = N / BatchSize;
        var history = model.Fit(Data(N), new FitOptions { Epochs = Epochs, BatchSize = BatchSize, Verbose = verbose, Output = new StringWriter(), MetricsEvery = metricsEvery });
        var (uploads, downloads) = device.Take();
        int accumulators = model.Loss!.Metrics.Count + 2;   // loss sum, each metric's sum, example count
        Assert.Equal(3, accumulators);                       // TinyNet reports accuracy

        // Uploads during Fit: each step's three batch columns (x, labels and the sample weights of its sparse
        // cross-entropy, ones without ClassWeights), each epoch's zeroed accumulators, the (constant) learning rate once.
        // No parameter or optimizer state goes up again.
        Assert.Equal(Epochs * StepsPerEpoch, Count(uploads, "f64[20,6]"));
        Assert.Equal(Epochs * StepsPerEpoch, Count(uploads, "s32[20]"));
        Assert.Equal(Epochs * StepsPerEpoch, Count(uploads, "f32[20]"));
        Assert.Equal(Epochs * accumulators + 1, Count(uploads, "f32[]"));
        Assert.Equal(3 * Epochs * StepsPerEpoch + Epochs * accumulators + 1, uploads.Count);
        Assert.DoesNotContain(uploads, parameterShapes.Contains);

        // Downloads: only the scalar accumulators, all of them per read; reads every MetricsEvery steps while a progress
        // display is on, plus one at every epoch's end. Never the parameters.
        int readsPerEpoch = (verbose ? StepsPerEpoch / metricsEvery : 0) + 1;
        Assert.All(downloads, d => Assert.Equal("f32[]", d));
        Assert.Equal(Epochs * readsPerEpoch * accumulators, downloads.Count);
        Assert.True(downloads.Count < Epochs * StepsPerEpoch * accumulators || metricsEvery == 1);

        Assert.Equal(Epochs, history.Epochs.Count);
        Assert.Equal(Epochs * StepsPerEpoch, model.Step);
    }

    [Fact]
    public void EvaluateAndPredictUseTheResidentParameters()
    {
        using var device = new CountingDevice(Devices.Cpu());
        using var model = TinyNet.Create(device, seed: 4);
        device.Take();
        var data = Data(100);
        model.Evaluate(data, batchSize: 50);
        var (uploads, downloads) = device.Take();
        // Two batches of two columns and the zeroed accumulators go up; the accumulators come down once.
        Assert.Equal(new[] { "f32[]", "f32[]", "f32[]", "f64[50,6]", "s32[50]", "f64[50,6]", "s32[50]" }, uploads);
        Assert.Equal(new[] { "f32[]", "f32[]", "f32[]" }, downloads);
    }
}
