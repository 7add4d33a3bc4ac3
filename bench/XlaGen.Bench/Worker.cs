using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using XlaGen.Bench.Suites;
using XlaGen.Data;
using XlaGen.Training;

using XlaGen.Bench.Protocol;

namespace XlaGen.Bench;

/// <summary>
/// XlaGen's side of the cnn, mlp and infer suites, in a process of its own (`XlaGen.Bench worker mlp|cnn|infer …`),
/// the counterpart of bench/XlaGen.Bench.Torch with the same arguments and the same JSON lines on stdout: "start",
/// one "epoch" line per training epoch (samples, seconds) or "infer" lines, then "end". The CPU executor uses
/// Environment.ProcessorCount threads; the driver sets DOTNET_PROCESSOR_COUNT to give it fewer.
/// </summary>
internal static class Worker
{
    const int Batch = 128;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("mlp" or "cnn" or "infer"))
        {
            Console.Error.WriteLine(WorkerArgs.Usage("XlaGen.Bench worker"));
            return 2;
        }
        if (WorkerArgs.TryParse(args.AsSpan(1), "XlaGen.Bench worker") is not { } o) return 2;
        if (o.Threads != Environment.ProcessorCount)
            Console.Error.WriteLine($"worker: --threads {o.Threads} ignored: the CPU executor uses Environment.ProcessorCount ({Environment.ProcessorCount}); set DOTNET_PROCESSOR_COUNT");
        Emit(new JsonObject
        {
            ["type"] = "start",
            ["impl"] = "xlagen",
            ["workload"] = args[0],
            ["threads"] = Environment.ProcessorCount,
            ["version"] = typeof(Devices).Assembly.GetName().Version?.ToString(),
            ["pid"] = Environment.ProcessId,
        });
        switch (args[0])
        {
            case "mlp": TrainMlp(o); break;
            case "cnn": TrainCnn(o); break;
            case "infer": Infer(o); break;
        }
        Emit(new JsonObject { ["type"] = "end" });
        return 0;
    }

    static void Emit(JsonObject line)
    {
        Console.Out.WriteLine(line.ToJsonString());
        Console.Out.Flush();
    }

    /// <summary>The first <paramref name="count"/> training images as f32[n,784] and their labels.</summary>
    static (Tensor<float> Images, Tensor<int> Labels) TrainPrefix(int count)
    {
        var train = FashionMnist.LoadTrain();
        int n = Math.Min(count, train.Count);
        if (n == train.Count) return (train.Images, train.Labels);
        return (new Tensor<float>(new long[] { n, 784 }, train.Images.Data.AsSpan(0, n * 784).ToArray()),
                new Tensor<int>(new long[] { n }, train.Labels.Data.AsSpan(0, n).ToArray()));
    }

    /// <summary>784-256-10 MLP (BenchMlp), Adam 1e-3, batch 128.</summary>
    static void TrainMlp(WorkerArgs o)
    {
        var (images, labels) = TrainPrefix(o.Examples);
        using var model = BenchMlp.Create(Devices.Cpu(), o.Seed);
        model.Compile(new Adam(1e-3));
        Train(model, new Dataset(images, labels), o);
    }

    /// <summary>The FashionMnistCnn sample's network (BenchCnn), NHWC; Adam with the sample's schedule (cosine decay
    /// from 3e-3 to 0 over the run's steps), batch 128.</summary>
    static void TrainCnn(WorkerArgs o)
    {
        var (images, labels) = TrainPrefix(o.Examples);
        int n = (int)labels.Shape[0];
        using var model = BenchCnn.Create(Devices.Cpu(), o.Seed);
        long steps = (long)o.Epochs * ((n + Batch - 1) / Batch) + o.WarmupSteps + 1;
        model.Compile(new Adam(LearningRate.CosineWithWarmup(3e-3, warmupSteps: 0, steps)));
        Train(model, new Dataset(images.Reshaped(n, 28, 28, 1), labels), o);
    }

    /// <summary>
    /// Warm-up first, untimed: one Fit epoch over the first warm-up-steps batches plus as many examples as the real
    /// epoch's last, short batch has, so both train-step programs are compiled before timing. Then one Fit of
    /// <c>--epochs</c> epochs (shuffled every epoch, no validation), each epoch reported by a callback with Fit's own
    /// wall time and count. Fit also accumulates the loss and the accuracy on the device.
    /// </summary>
    static void Train(ModelRunner model, Dataset data, WorkerArgs o)
    {
        int n = (int)data.Count;
        int warmCount = Math.Min(n, o.WarmupSteps * Batch + n % Batch);
        if (warmCount > 0)
            model.Fit(data.Slice(0, warmCount), new FitOptions { Epochs = 1, BatchSize = Batch, Verbose = false });
        model.Fit(data, new FitOptions
        {
            Epochs = o.Epochs,
            BatchSize = Batch,
            Verbose = false,
            Callbacks = new ITrainingCallback[] { new EpochLines(n) },
            StepsPerExecution = o.StepsPerExecution,
        });
    }

    sealed class EpochLines(int samples) : ITrainingCallback
    {
        int epoch;

        public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) => Emit(new JsonObject
        {
            ["type"] = "epoch",
            ["epoch"] = ++epoch,
            ["samples"] = samples,
            ["seconds"] = metrics.Duration.TotalSeconds,
            ["loss"] = metrics.Loss,
            ["accuracy"] = metrics.Metrics.TryGetValue("accuracy", out var a) ? a : null,
        });
    }

    /// <summary>
    /// The MLP (initialized, untrained): batch 1 latency host float[] to host float[] through the generated forward
    /// method (<c>Logits</c>: wraps the array in a Tensor, uploads it, runs, downloads a new Tensor — on the CPU device an
    /// upload copy, the output buffer and the downloaded array per call), through <c>Predict</c> (Keras' predict: the
    /// same plus, before issue 10, its chunking Dataset; one chunk now runs directly), device buffer to device buffer (the compiled program executed on an input
    /// and parameters already on the device, the output buffer disposed), through the span overload
    /// <c>Predict(ReadOnlySpan, Span)</c> (the caller's arrays in and out); batch 1024 host to host and by span.
    /// </summary>
    static void Infer(WorkerArgs o)
    {
        var (images, _) = TrainPrefix(1024);
        var device = Devices.Cpu();
        using var model = BenchMlp.Create(device, o.Seed);
        var one = images.Data.AsSpan(0, 784).ToArray();
        var all = images.Data;

        float[] HostCall(float[] input, int rows) => model.Logits(new Tensor<float>(new long[] { rows, 784 }, input)).Data;
        HostCall(one, 1);

        // The program Logits compiled for batch 1, run on device-resident arguments: input, then parameters in order.
        using var program = device.CompileHlo(model.GetCompiledProgram("Logits(1)"));
        var arguments = new List<DeviceBuffer> { device.Upload(new Tensor<float>(new long[] { 1, 784 }, one)) };
        foreach (var spec in model.ParameterSpecs) arguments.Add(device.Upload(model.GetParameter(spec.Path)));
        void DeviceCall()
        {
            foreach (var output in program.Execute(arguments)) output.Dispose();
        }

        InferTiming.Latency("batch1.host_array", 1, o.Calls, () => HostCall(one, 1), Emit);
        InferTiming.Latency("batch1.predict", 1, o.Calls, () => model.Predict(new Tensor<float>(new long[] { 1, 784 }, one)), Emit);
        InferTiming.Latency("batch1.device_buffers", 1, o.Calls, DeviceCall, Emit);
        // The direct path: the caller's span in, the caller's span out (one copy each way, nothing allocated once warm).
        var outOne = new float[10];
        var outAll = new float[1024 * 10];
        InferTiming.Latency("batch1.span", 1, o.Calls, () => model.Predict(one, outOne), Emit);
        InferTiming.Latency("batch1024.host_array", 1024, Math.Max(20, o.Calls / 100), () => HostCall(all, 1024), Emit);
        InferTiming.Latency("batch1024.span", 1024, Math.Max(20, o.Calls / 100), () => model.Predict(all, outAll), Emit);
        foreach (var b in arguments) b.Dispose();
    }
}

