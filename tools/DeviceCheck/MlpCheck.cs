using System.Diagnostics;
using System.Globalization;
using FashionMnistSample;
using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.DeviceCheck;

/// <summary>The Fashion-MNIST MLP (samples/FashionMnist/FashionMlp.cs, 784-256-10) on the device: its train step timed
/// on resident buffers, its programs' peak memory against our CPU plan's estimate, and the sample's main job
/// (10 epochs, batch 128, Adam 1e-3 on a cosine schedule, seed 42) trained to a test accuracy.</summary>
static class MlpCheck
{
    public const int BatchSize = 128;
    public const int Seed = 42;
    public const double LearningRate = 1e-3;
    public const double TargetAccuracy = 0.88;

    /// <summary>A batch of real training images when the data is there, else a deterministic synthetic one.</summary>
    public static (Tensor<float> X, Tensor<int> Labels, string What) FirstBatch(FashionMnist.Split? train)
    {
        if (train != null)
        {
            var x = new Tensor<float>(new long[] { BatchSize, 784 }, train.Images.Data.AsSpan(0, BatchSize * 784).ToArray());
            var y = new Tensor<int>(new long[] { BatchSize }, train.Labels.Data.AsSpan(0, BatchSize).ToArray());
            return (x, y, "the first 128 Fashion-MNIST training images");
        }
        var (images, labels) = Synthetic(BatchSize);
        return (images, labels, "synthetic uniform [0,1) images, seed 42");
    }

    /// <summary><paramref name="examples"/> deterministic uniform [0, 1) images with random labels (seed 42).</summary>
    public static (Tensor<float> Images, Tensor<int> Labels) Synthetic(int examples)
    {
        var random = new Random(Seed);
        var images = new float[examples * 784];
        for (int i = 0; i < images.Length; i++) images[i] = (float)random.NextDouble();
        var labels = new int[examples];
        for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(10);
        return (new Tensor<float>(new long[] { examples, 784 }, images), new Tensor<int>(new long[] { examples }, labels));
    }

    /// <summary>
    /// The train step program (forward, gradients, Adam, accumulators; every piece of state donated) run
    /// <paramref name="warmup"/> + <paramref name="timed"/> times on the device, each step's outputs feeding the next,
    /// waiting for each step's results before the next starts; and the peak-memory rows of the train step and the
    /// forward program on the device against the reference (our CPU plan).
    /// </summary>
    public static (StepSection Step, List<PeakMemoryRow> Peak) TimeStep(IDevice device, IDevice reference, FashionMnist.Split? train, int warmup, int timed)
    {
        var (x, y, what) = FirstBatch(train);
        using var model = FashionMlp.Create(device, Seed);
        var loss = model.Loss ?? throw new InvalidOperationException("FashionMlp has no [Loss] method");
        var optimizer = new Adam(LearningRate);
        var bindings = loss.Bind("FashionMlp." + loss.Method, new Tensor[] { x, y });
        var trainStep = TrainingPrograms.TrainStep(loss.BuildProgram(bindings), loss, model.ParameterSpecs, optimizer, BatchSize);
        var forward = FashionMlp.BuildLogitsProgram(BatchSize);
        var step = new StepSection { Program = trainStep.Name, BatchSize = BatchSize, Data = what, WarmupSteps = warmup, TimedSteps = timed };
        var peak = new List<PeakMemoryRow>
        {
            PeakRow($"{trainStep.Name} (B={BatchSize})", trainStep, device, reference),
            PeakRow($"{forward.Name} (B={BatchSize})", forward, device, reference),
        };
        try
        {
            var clock = Stopwatch.StartNew();
            using var exe = device.CompileHlo(trainStep);
            step.CompileMs = Math.Round(clock.Elapsed.TotalMilliseconds, 1);
            var times = RunSteps(device, exe, model, loss, optimizer, x, y, warmup, timed, out string sync, out double pipelined);
            step.Sync = sync;
            step.PipelinedStepMs = Math.Round(pipelined, 4);
            times.Sort();
            double median = Median(times);
            step.MedianStepMs = Math.Round(median, 4);
            step.BestStepMs = Math.Round(times[0], 4);
            step.MeanStepMs = Math.Round(times.Average(), 4);
            step.P90StepMs = Math.Round(times[(int)Math.Min(times.Count - 1, Math.Ceiling(0.9 * times.Count) - 1)], 4);
            step.SamplesPerS = Math.Round(BatchSize / (median / 1000), 1);
        }
        catch (Exception e)
        {
            step.Error = $"{e.GetType().Name}: {e.Message}";
        }
        return (step, peak);
    }

    static List<double> RunSteps(IDevice device, IExecutable exe, ModelRunner model, LossDefinition loss, Optimizer optimizer,
        Tensor x, Tensor y, int warmup, int timed, out string sync, out double pipelinedMs)
    {
        var layout = TrainingPrograms.LayoutOf(loss, model.ParameterSpecs, optimizer);
        var args = new DeviceBuffer[layout.ParameterCount];
        var parameters = model.GetParameters();
        args[0] = device.Upload(x);
        args[1] = device.Upload(y);
        if (loss.HasSampleWeight) args[2] = device.Upload(new Tensor<float>(new[] { x.Shape[0] }, Enumerable.Repeat(1f, (int)x.Shape[0]).ToArray()));   // every example alike
        for (int i = 0; i < model.ParameterSpecs.Count; i++) args[layout.Inputs + i] = device.Upload(parameters[model.ParameterSpecs[i].Path]);
        int s = layout.SlotsStart;
        foreach (var t in layout.Trainable)
        {
            var spec = model.ParameterSpecs[t];
            if (spec.ElementType != ElementType.F32) throw new NotSupportedException($"parameter {spec.Path} is {spec.Shape}; the step timing handles f32 parameters");
            for (int k = 0; k < layout.SlotsPerParameter; k++) args[s++] = device.Upload(new Tensor<float>(spec.Dims, new float[spec.ElementCount]));
        }
        args[layout.StepIndex] = device.Upload(Tensor<int>.Scalar(0));
        args[layout.LearningRateIndex] = device.Upload(Tensor<float>.Scalar((float)LearningRate));
        for (int i = 0; i < layout.Accumulators; i++)
        {
            var shape = layout.Plan.AccumulatorShapes[i];
            args[layout.AccumulatorsStart + i] = device.Upload(new Tensor<float>(shape.ConcreteDims(), new float[shape.ElementCount]));
        }
        var donated = layout.Trainable.Select(t => layout.Inputs + t)
            .Concat(Enumerable.Range(layout.SlotsStart, layout.Trainable.Length * layout.SlotsPerParameter))
            .Append(layout.StepIndex)
            .Concat(Enumerable.Range(layout.AccumulatorsStart, layout.Accumulators)).ToArray();
        var options = new ExecuteOptions { DonatedArguments = donated };
        int stepsRun = 0;
        var times = new List<double>(timed);
        var clock = new Stopwatch();
        void Step(bool wait)
        {
            var outputs = exe.Execute(args, options);
            if (wait) Task.WaitAll(outputs.Select(b => b.Ready).ToArray());
            int o = 0;
            foreach (var t in layout.Trainable) args[layout.Inputs + t] = outputs[o++];
            for (int k = 0; k < layout.Trainable.Length * layout.SlotsPerParameter; k++) args[layout.SlotsStart + k] = outputs[o++];
            args[layout.StepIndex] = outputs[o++];
            for (int k = 0; k < layout.Accumulators; k++) args[layout.AccumulatorsStart + k] = outputs[o++];
            stepsRun++;
        }
        try
        {
            for (int i = 0; i < warmup; i++) Step(wait: true);
            for (int i = 0; i < timed; i++)
            {
                clock.Restart();
                Step(wait: true);
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
            // The same number of steps queued back to back, waited for once at the end (a download of the step
            // counter): the throughput a training loop that never waits gets.
            clock.Restart();
            for (int i = 0; i < timed; i++) Step(wait: false);
            var counter = (Tensor<int>)device.Download(args[layout.StepIndex]);
            pipelinedMs = clock.Elapsed.TotalMilliseconds / timed;
            if (counter.Data[0] != stepsRun) throw new InvalidOperationException($"the step counter is {counter.Data[0]} after {stepsRun} steps");
            var lossSum = ((Tensor<float>)device.Download(args[layout.AccumulatorsStart])).Data[0];
            if (!float.IsFinite(lossSum)) throw new InvalidOperationException($"the accumulated loss is {lossSum} after {stepsRun} steps");
        }
        finally
        {
            foreach (var b in args) b?.Dispose();
        }
        sync = "each timed step waits for DeviceBuffer.Ready of all its outputs";
        return times;
    }

    static PeakMemoryRow PeakRow(string name, HloModule module, IDevice device, IDevice reference)
    {
        var row = new PeakMemoryRow { Program = name };
        try
        {
            using (var r = reference.CompileHlo(module)) row.ReferenceBytes = r.PeakMemoryBytes;
            using (var d = device.CompileHlo(module))
            {
                row.DeviceBytes = d.PeakMemoryBytes;
                row.DeviceSource = d is XlaGen.Backends.Pjrt.PjrtExecutable pjrt ? pjrt.PeakMemorySource : null;
            }
            if (row.ReferenceBytes > 0 && row.DeviceBytes > 0) row.Ratio = Math.Round((double)row.DeviceBytes / row.ReferenceBytes, 4);
        }
        catch (Exception e)
        {
            row.Error = $"{e.GetType().Name}: {e.Message}";
        }
        return row;
    }

    /// <summary>The sample's main job on the device: <paramref name="epochs"/> epochs of Adam 1e-3 decayed along a
    /// cosine to 0, batch 128, seed 42, then the test accuracy.</summary>
    public static TrainingSection Train(IDevice device, FashionMnist.Split train, FashionMnist.Split test, int epochs, TextWriter log)
    {
        var section = new TrainingSection { Model = "FashionMlp 784-256-10 (samples/FashionMnist)", Epochs = epochs, BatchSize = BatchSize, Seed = Seed, TargetAccuracy = TargetAccuracy };
        try
        {
            using var model = FashionMlp.Create(device, Seed);
            long totalSteps = epochs * ((train.Count + BatchSize - 1) / BatchSize);
            var optimizer = new Adam(XlaGen.Training.LearningRate.CosineWithWarmup(LearningRate, warmupSteps: 0, totalSteps));
            model.Compile(optimizer);
            section.Optimizer = optimizer.Describe() + ", learning rate " + optimizer.LearningRate.Describe();
            var clock = Stopwatch.StartNew();
            var history = model.Fit(new Dataset(train.Images, train.Labels), new FitOptions
            {
                Epochs = epochs,
                BatchSize = BatchSize,
                Verbose = false,
                Callbacks = new ITrainingCallback[] { new EpochLog(log) },
            });
            double fitSeconds = clock.Elapsed.TotalSeconds;
            section.FitSeconds = Math.Round(fitSeconds, 3);
            section.SamplesPerS = Math.Round(epochs * train.Count / fitSeconds, 1);
            foreach (var e in history.Epochs)
            {
                section.PerEpoch.Add(new EpochRow
                {
                    Epoch = e.Epoch, Loss = e.Loss, Accuracy = e.Metrics.TryGetValue("accuracy", out var a) ? a : double.NaN,
                    Seconds = Math.Round(e.Duration.TotalSeconds, 3), SamplesPerS = Math.Round(e.SamplesPerSecond, 1),
                });
            }
            var final = model.Evaluate(new Dataset(test.Images, test.Labels));
            section.TestLoss = final.Loss;
            section.TestAccuracy = final.Metrics["accuracy"];
        }
        catch (Exception e)
        {
            section.Error = $"{e.GetType().Name}: {e.Message}";
        }
        return section;
    }

    static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    sealed class EpochLog(TextWriter log) : ITrainingCallback
    {
        public void OnEpochEnd(ModelRunner model, EpochMetrics m, TrainingControl control) =>
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {m.Epoch}: loss {m.Loss:F4}, accuracy {(m.Metrics.TryGetValue("accuracy", out var a) ? a : double.NaN):F4}, {m.Duration.TotalSeconds:F1} s, {m.SamplesPerSecond:F0} samples/s"));
    }
}
