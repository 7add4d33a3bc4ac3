using System.Diagnostics;
using System.Globalization;
using XlaGen;
using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Training;
using FashionMnistSample;

// The main job: train a 784-256-10 MLP on Fashion-MNIST with programs compiled at build time.
//   dotnet run -c Release --project samples/FashionMnist -- [--epochs N] [--batch N] [--lr X] [--seed N] [--out DIR]
//       [--constant-lr] [--device cpu|pjrt|pjrt:/path/plugin.so|grpc://host:8470] [--replicas N]
// --replicas N trains data-parallel on N virtual CPU devices: each global batch is split N ways and the gradients are
// all-reduced every step (the same model as one device, up to float rounding). With --device grpc://host:port the N
// replicas are the devices of an xlagen-server started with --devices N (or more); each step is one request. With
// --device pjrt[:plugin] they are N of the plugin's devices (TPU cores, GPUs), XLA running the all-reduce.
// The device is the embedded CPU executor unless --device or the XLAGEN_DEVICE variable names another: XLA through a
// PJRT plugin (libtpu, the CUDA plugin) or an xlagen-server.
// Exit codes: 0 success; 1 the dataset is missing; 2 the reloaded checkpoint predicts differently; 3 the main job
// (default training options) ended below 88% test accuracy; 4 the device could not be opened; 5 the device could not
// compile or run the training programs.
var options = Options.Parse(args);
var name = options.Device ?? Environment.GetEnvironmentVariable("XLAGEN_DEVICE");
DeviceSpec spec;
IDevice opened;
try
{
    spec = DeviceSpec.Parse(string.IsNullOrEmpty(name) ? "cpu" : name);
    opened = options.Replicas > 1
        ? spec.Backend switch
        {
            DeviceBackend.Remote => await Devices.ConnectReplicatedAsync(spec.Address, options.Replicas),
            DeviceBackend.Pjrt => Devices.PjrtReplicated(options.Replicas, spec.PluginPath),
            _ => Devices.Cpu(replicas: options.Replicas),
        }
        : spec.Backend == DeviceBackend.Remote ? await Devices.ConnectAsync(spec.Address) : Devices.Open(spec);
}
catch (Exception e) when (e is ArgumentException or DeviceConnectionException or NotSupportedException or XlaGen.Backends.Pjrt.PjrtPluginException or XlaGen.Backends.Pjrt.PjrtException)
{
    Console.Error.WriteLine($"fashion-mnist: --device {name}: {e.Message}");
    return 4;
}
using IDevice device = opened;
Console.WriteLine($"XlaGen {typeof(Devices).Assembly.GetName().Version} | device: {device.Info.Platform} ({device.Info.DeviceKind})" +
                  (spec.Backend == DeviceBackend.Remote ? $" on {spec.Address}" : "") +
                  (options.Replicas > 1 ? $" | {options.Replicas} replicas, {options.Batch / options.Replicas} examples each per step" : ""));
if (spec.Backend != DeviceBackend.Cpu) Console.WriteLine(device.Describe());
if (!FashionMnist.IsInstalled())
{
    Console.Error.WriteLine($"Fashion-MNIST is not installed in {FashionMnist.Directory}: run `sudo apt-get install dataset-fashion-mnist` (./fashion-mnist.sh does it for you).");
    return 1;
}
Directory.CreateDirectory(options.Out);
var clock = Stopwatch.StartNew();
var train = FashionMnist.LoadTrain();
var test = FashionMnist.LoadTest();
Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images ({clock.ElapsedMilliseconds} ms)");

using var model = FashionMlp.Create(device, options.Seed);
Console.WriteLine($"FashionMlp: {model.ParameterCount:N0} parameters ({string.Join(", ", model.ParameterSpecs)}), seed {options.Seed}");
var step = FashionMlp.BuildLossProgram(options.Batch);
Console.WriteLine($"Build-time programs: Logits, Probabilities, and {step.Name} ({step.Entry.Instructions.Count} instructions: forward, gradients, accuracy)");

// Adam at 1e-3, decayed along a cosine to 0 over the run: the final epochs settle instead of jittering.
long totalSteps = options.Epochs * ((train.Count + options.Batch - 1) / options.Batch);
model.Compile(new Adam(options.Cosine ? LearningRate.CosineWithWarmup(options.LearningRate, warmupSteps: 0, totalSteps) : options.LearningRate));
var checkpoints = new ModelCheckpoint(Path.Combine(options.Out, "epoch-{epoch}.safetensors"));
History history;
try
{
    history = model.Fit(train.Images, train.Labels, new FitOptions
    {
        Epochs = options.Epochs,
        BatchSize = options.Batch,
        Validation = new Dataset(test.Images, test.Labels),
        Callbacks = new ITrainingCallback[] { checkpoints },
    });
}
catch (Exception e) when (e is XlaCompileException or XlaExecutionException)
{
    // a device that cannot compile or run the model's programs (a plugin without the ops, a lost server)
    Console.Error.WriteLine($"fashion-mnist: --device {name ?? "cpu"}: training failed: {e.Message}");
    return 5;
}
Console.WriteLine();
Console.WriteLine(history.ToTable());
Console.Write(model.Summary());

var final = model.Evaluate(test.Images, test.Labels);
Console.WriteLine($"Test: {final}");
var checkpoint = Path.Combine(options.Out, "fashion-mlp.safetensors");
model.Save(checkpoint);
Console.WriteLine($"Saved {checkpoint} ({new FileInfo(checkpoint).Length:N0} bytes); per-epoch checkpoints: {checkpoints.Saved.Count}");

// Reload into a fresh runner and check it predicts exactly what the trained one does.
using var reloaded = FashionMlp.Create(device, seed: options.Seed + 1);
reloaded.Load(checkpoint);
var original = model.Predict(test.Images);
var restored = reloaded.Predict(test.Images);
bool identical = original.Data.AsSpan().SequenceEqual(restored.Data);
Console.WriteLine($"Reloaded checkpoint: predictions on {test.Count} test images {(identical ? "identical" : "DIFFER")} to the trained model's");

// A few test images.
var probabilities = reloaded.Probabilities(new Tensor<float>(new long[] { 8, 784 }, test.Images.Data.AsSpan(0, 8 * 784).ToArray()));
for (int i = 0; i < 8; i++)
{
    int best = 0;
    for (int c = 1; c < 10; c++) if (probabilities[i, c] > probabilities[i, best]) best = c;
    var truth = FashionMnist.ClassNames[test.Labels.Data[i]];
    Console.WriteLine($"  test #{i}: {FashionMnist.ClassNames[best],-12} {probabilities[i, best]:P1}   (truth: {truth}){(best == test.Labels.Data[i] ? "" : "  ✗")}");
}

var chart = Path.Combine(options.Out, "training.png");
TrainingChart.SavePng(history, chart);
history.SaveCsv(Path.Combine(options.Out, "history.csv"));
Console.WriteLine($"Chart: {chart}; history: {Path.Combine(options.Out, "history.csv")}");
double accuracy = final.Metrics["accuracy"];
Console.WriteLine($"Test accuracy {accuracy:P2} after {options.Epochs} epochs (target ≥ {Options.TargetAccuracy:P0}) in {clock.Elapsed.TotalSeconds:F0} s");
if (!identical)
{
    Console.Error.WriteLine("FAILED: the reloaded checkpoint predicts differently from the trained model");
    return 2;
}
if (accuracy < Options.TargetAccuracy)
{
    if (options.IsMainJob)
    {
        Console.Error.WriteLine($"FAILED: test accuracy {accuracy:P2} is below the {Options.TargetAccuracy:P0} target of the main job (10 epochs, batch 128, Adam 1e-3 on a cosine schedule, seed 42)");
        return 3;
    }
    Console.WriteLine($"Below the {Options.TargetAccuracy:P0} target, which holds only for the main job's settings (10 epochs, batch 128, --lr 1e-3, cosine schedule, seed 42); not a failure with these options");
}
return 0;

sealed record Options(int Epochs, int Batch, double LearningRate, int Seed, string Out, bool Cosine, string? Device, int Replicas = 1)
{
    /// <summary>The test accuracy the main job must reach (the sample exits with code 3 below it).</summary>
    public const double TargetAccuracy = 0.88;

    static readonly Options Defaults = new(10, 128, 1e-3, 42, Path.Combine("out", "fashion-mnist"), Cosine: true, Device: null);

    /// <summary>The main job: the default training settings (where the output goes and which device runs it do not
    /// matter). Only then is an accuracy below the target a failure.</summary>
    public bool IsMainJob => this with { Out = Defaults.Out, Device = null, Replicas = 1 } == Defaults;

    public static Options Parse(string[] args)
    {
        var o = Defaults;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--epochs" => o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--batch" => o with { Batch = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--lr" => o with { LearningRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--out" => o with { Out = Next() },
                "--constant-lr" => o with { Cosine = false },
                "--device" => o with { Device = Next() },
                "--replicas" => o with { Replicas = int.Parse(Next(), CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option {args[i]} (use --epochs, --batch, --lr, --seed, --out, --constant-lr, --device, --replicas)"),
            };
        }
        if (o.Replicas < 1) throw new ArgumentException($"--replicas {o.Replicas} must be at least 1");
        return o;
    }
}
