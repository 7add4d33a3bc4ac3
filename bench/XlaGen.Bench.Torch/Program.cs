using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

using XlaGen.Bench.Protocol;

namespace XlaGen.Bench.Torch;

/// <summary>
/// The TorchSharp (libtorch CPU) peer of XlaGen.Bench's cnn, mlp and infer suites, in a process of its own. The driver
/// (XlaGen.Bench) starts it and reads the JSON lines it prints to stdout: one "start" line, then one "epoch" line per
/// training epoch (samples, seconds) or "infer" lines, then "end". Everything else goes to stderr.
///   XlaGen.Bench.Torch mlp|cnn|infer [--epochs N] [--examples N] [--threads N] [--seed N] [--warmup-steps N] [--calls N]
/// </summary>
internal static class Program
{
    const int Batch = 128;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("mlp" or "cnn" or "infer"))
        {
            Console.Error.WriteLine(WorkerArgs.Usage("XlaGen.Bench.Torch"));
            return 2;
        }
        if (WorkerArgs.TryParse(args.AsSpan(1), "XlaGen.Bench.Torch") is not { } o) return 2;
        torch.set_num_threads(o.Threads);
        torch.manual_seed(o.Seed);
        Emit(new JsonObject
        {
            ["type"] = "start",
            ["impl"] = "torchsharp",
            ["workload"] = args[0],
            ["threads"] = torch.get_num_threads(),
            ["version"] = typeof(torch).Assembly.GetName().Version?.ToString(),
            ["pid"] = Environment.ProcessId,
        });
        switch (args[0])
        {
            case "mlp": Train(o, cnn: false); break;
            case "cnn": Train(o, cnn: true); break;
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

    /// <summary>784-256-10, ReLU: the network of XlaGen.Bench's BenchMlp.</summary>
    static nn.Module<TT, TT> Mlp() => nn.Sequential(
        ("fc1", nn.Linear(784, 256)), ("relu", nn.ReLU()), ("fc2", nn.Linear(256, 10)));

    /// <summary>samples/FashionMnistCnn/FashionCnn.cs in NCHW: [Conv 3×3 (no bias) → BatchNorm → ReLU → MaxPool 2] × 2 →
    /// Flatten 1600 → Dense 128 → ReLU → Dropout 0.4 → Dense 10. BatchNorm with Keras' momentum 0.99 (torch's 0.01)
    /// and epsilon 1e-3, as Nn.BatchNorm.</summary>
    static nn.Module<TT, TT> Cnn() => nn.Sequential(
        ("conv1", nn.Conv2d(1, 32, 3, bias: false)),
        ("bn1", nn.BatchNorm2d(32, eps: 1e-3, momentum: 0.01)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(32, 64, 3, bias: false)),
        ("bn2", nn.BatchNorm2d(64, eps: 1e-3, momentum: 0.01)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense1", nn.Linear(1600, 128)),
        ("relu3", nn.ReLU()),
        ("dropout", nn.Dropout(0.4)),
        ("dense2", nn.Linear(128, 10)));

    /// <summary>
    /// Trains on the first <c>--examples</c> Fashion-MNIST training images (all 60000 by default), shuffled each epoch,
    /// batch 128 (the last batch of an epoch smaller), Adam: 1e-3 for the MLP; for the CNN the sample's schedule, cosine
    /// decay from 3e-3 to 0 over all steps of the run. Each step also accumulates the loss and the number of correct
    /// predictions on the device (as XlaGen's Fit does), read once at the end of the epoch. A few warm-up steps run
    /// first, untimed.
    /// </summary>
    static void Train(WorkerArgs o, bool cnn)
    {
        var (images, labels) = FashionMnistIdx.LoadTrain(o.Examples);
        int n = labels.Length;
        var x = cnn ? torch.tensor(images, new long[] { n, 1, 28, 28 }) : torch.tensor(images, new long[] { n, 784 });
        var y = torch.tensor(labels.Select(l => (long)l).ToArray(), new long[] { n });
        var model = cnn ? Cnn() : Mlp();
        model.train();
        var optimizer = optim.Adam(model.parameters(), cnn ? 3e-3 : 1e-3);
        int stepsPerEpoch = (n + Batch - 1) / Batch;
        var schedule = cnn ? optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max: o.Epochs * stepsPerEpoch) : null;
        var loss = nn.CrossEntropyLoss();

        void Step(TT index, TT lossSum, TT correct)
        {
            using var scope = torch.NewDisposeScope();
            var xb = x.index_select(0, index);
            var yb = y.index_select(0, index);
            optimizer.zero_grad();
            var logits = model.forward(xb);
            var l = loss.forward(logits, yb);
            l.backward();
            optimizer.step();
            using (torch.no_grad())
            {
                lossSum.add_(l.detach() * yb.shape[0]);
                correct.add_(logits.argmax(1).eq(yb).sum());
            }
        }

        // Warm-up: untimed steps on the first batch (allocator, thread pool, kernels' first use); no schedule step.
        using (var warm = torch.NewDisposeScope())
        {
            var first = torch.arange(Math.Min(Batch, n), dtype: ScalarType.Int64);
            var lossSum = torch.zeros(1);
            var correct = torch.zeros(1, ScalarType.Int64);
            for (int s = 0; s < o.WarmupSteps; s++)
                Step(first, lossSum, correct);
        }

        var generator = new torch.Generator((ulong)o.Seed);
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            using var scope = torch.NewDisposeScope();
            var t0 = Stopwatch.GetTimestamp();
            var order = torch.randperm(n, generator: generator);
            var lossSum = torch.zeros(1);
            var correct = torch.zeros(1, ScalarType.Int64);
            for (int start = 0; start < n; start += Batch)
            {
                using var step = torch.NewDisposeScope();
                Step(order.narrow(0, start, Math.Min(Batch, n - start)), lossSum, correct);
                schedule?.step();
            }
            double meanLoss = lossSum.item<float>() / n;
            double accuracy = (double)correct.item<long>() / n;
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            Emit(new JsonObject
            {
                ["type"] = "epoch",
                ["epoch"] = epoch,
                ["samples"] = n,
                ["seconds"] = seconds,
                ["loss"] = meanLoss,
                ["accuracy"] = accuracy,
            });
        }
    }

    /// <summary>
    /// The MLP (initialized, untrained: the timing does not depend on the weights) in eval mode without autograd:
    /// batch 1 latency from a host float[] to a host float[] (a torch tensor made from the array, forward, the
    /// output copied out) and tensor to tensor (a prepared input tensor, forward, the output tensor), median and best
    /// of <c>--calls</c> single calls; and batch 1024 throughput, host float[] to float[].
    /// </summary>
    static void Infer(WorkerArgs o)
    {
        torch.set_grad_enabled(false);
        var (images, _) = FashionMnistIdx.LoadTrain(1024);
        var model = Mlp();
        model.eval();
        var one = images.AsSpan(0, 784).ToArray();

        float[] HostCall(float[] input, int rows)
        {
            using var scope = torch.NewDisposeScope();
            var t = torch.tensor(input, new long[] { rows, 784 });
            return model.forward(t).data<float>().ToArray();
        }

        var prepared = torch.tensor(one, new long[] { 1, 784 });
        void TensorCall()
        {
            using var scope = torch.NewDisposeScope();
            model.forward(prepared);
        }

        InferTiming.Latency("batch1.host_array", 1, o.Calls, () => HostCall(one, 1), Emit);
        InferTiming.Latency("batch1.tensor", 1, o.Calls, TensorCall, Emit);
        InferTiming.Latency("batch1024.host_array", 1024, Math.Max(20, o.Calls / 100), () => HostCall(images, 1024), Emit);
    }
}

/// <summary>Reads Fashion-MNIST's gzip IDX files itself (no XlaGen reference): $FASHION_MNIST_DIR or
/// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), pixels scaled to [0,1].</summary>
internal static class FashionMnistIdx
{
    public static string Directory => Environment.GetEnvironmentVariable("FASHION_MNIST_DIR") is { Length: > 0 } d ? d : "/usr/share/datasets/fashion-mnist";

    public static (float[] Images, int[] Labels) LoadTrain(int count)
    {
        var images = Read(Path.Combine(Directory, "train-images-idx3-ubyte.gz"), 0x803, out var imageDims);
        var labels = Read(Path.Combine(Directory, "train-labels-idx1-ubyte.gz"), 0x801, out var labelDims);
        if (imageDims.Length != 3 || imageDims[1] != 28 || imageDims[2] != 28 || labelDims[0] != imageDims[0])
            throw new InvalidDataException("unexpected Fashion-MNIST shapes");
        int n = Math.Min(count, imageDims[0]);
        var pixels = new float[n * 784];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = images[i] / 255f;
        var classes = new int[n];
        for (int i = 0; i < n; i++) classes[i] = labels[i];
        return (pixels, classes);
    }

    static byte[] Read(string path, int magic, out int[] dims)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} not found: install Fashion-MNIST with `apt-get install dataset-fashion-mnist` or set FASHION_MNIST_DIR");
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        var bytes = ms.ToArray();
        int BigEndian(int at) => (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
        if (BigEndian(0) != magic) throw new InvalidDataException($"{path}: not an unsigned-byte IDX file of the expected rank");
        dims = new int[magic & 0xff];
        for (int d = 0; d < dims.Length; d++) dims[d] = BigEndian(4 + 4 * d);
        return bytes[(4 + 4 * dims.Length)..];
    }
}
