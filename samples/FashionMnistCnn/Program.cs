using System.Diagnostics;
using System.Globalization;
using XlaGen;
using XlaGen.Data;
using XlaGen.Training;
using FashionMnistCnnSample;

// A CNN on Fashion-MNIST with programs compiled at build time (the same Fit/Evaluate API as samples/FashionMnist).
//   dotnet run -c Release --project samples/FashionMnistCnn -- [--epochs N] [--batch N] [--lr X] [--seed N] [--out DIR]
var options = Options.Parse(args);
var device = Devices.Cpu();
Console.WriteLine($"XlaGen {typeof(Devices).Assembly.GetName().Version} | device: {device.Info.Platform} ({device.Info.DeviceKind}), {Environment.ProcessorCount} cores");
if (!FashionMnist.IsInstalled())
{
    Console.Error.WriteLine($"Fashion-MNIST is not installed in {FashionMnist.Directory}: run `sudo apt-get install dataset-fashion-mnist` (./fashion-mnist.sh does it for you).");
    return 1;
}
Directory.CreateDirectory(options.Out);
var clock = Stopwatch.StartNew();
var train = FashionMnist.LoadTrain();
var test = FashionMnist.LoadTest();
// The loader gives f32[N,784]; the CNN reads NHWC images, the same pixels viewed as [N,28,28,1] (no copy).
var trainImages = train.Images.Reshaped(train.Count, 28, 28, 1);
var testImages = test.Images.Reshaped(test.Count, 28, 28, 1);
Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images ({clock.ElapsedMilliseconds} ms)");

using var model = FashionCnn.Create(device, options.Seed);
Console.WriteLine($"FashionCnn: {model.ParameterCount:N0} parameters ({string.Join(", ", model.ParameterSpecs)}), seed {options.Seed}");
var step = FashionCnn.BuildLossProgram(options.Batch);
Console.WriteLine($"Build-time programs: Logits, Probabilities, and {step.Name} ({step.Entry.Instructions.Count} instructions: forward, gradients, accuracy)");

long totalSteps = options.Epochs * ((train.Count + options.Batch - 1) / options.Batch);
model.Compile(new Adam(LearningRate.CosineWithWarmup(options.LearningRate, warmupSteps: 0, totalSteps)));
var history = model.Fit(trainImages, train.Labels, new FitOptions
{
    Epochs = options.Epochs,
    BatchSize = options.Batch,
    Validation = new Dataset(testImages, test.Labels),
});
Console.WriteLine();
Console.WriteLine(history.ToTable());

var final = model.Evaluate(testImages, test.Labels);
Console.WriteLine($"Test: {final}");
var checkpoint = Path.Combine(options.Out, "fashion-cnn.safetensors");
model.Save(checkpoint);
Console.WriteLine($"Saved {checkpoint} ({new FileInfo(checkpoint).Length:N0} bytes)");

var probabilities = model.Probabilities(new Tensor<float>(new long[] { 8, 28, 28, 1 }, test.Images.Data.AsSpan(0, 8 * 784).ToArray()));
for (int i = 0; i < 8; i++)
{
    int best = 0;
    for (int c = 1; c < 10; c++) if (probabilities[i, c] > probabilities[i, best]) best = c;
    var truth = FashionMnist.ClassNames[test.Labels.Data[i]];
    Console.WriteLine($"  test #{i}: {FashionMnist.ClassNames[best],-12} {probabilities[i, best]:P1}   (truth: {truth}){(best == test.Labels.Data[i] ? "" : "  ✗")}");
}
history.SaveCsv(Path.Combine(options.Out, "history.csv"));
var epochSeconds = history.Epochs.Average(e => e.Duration.TotalSeconds);
Console.WriteLine($"Test accuracy {final.Metrics["accuracy"]:P2} after {options.Epochs} epochs ({epochSeconds:F0} s per epoch, {clock.Elapsed.TotalSeconds:F0} s in all)");
return 0;

sealed record Options(int Epochs, int Batch, double LearningRate, int Seed, string Out)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(10, 128, 3e-3, 42, Path.Combine("out", "fashion-mnist-cnn"));
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
                _ => throw new ArgumentException($"unknown option {args[i]} (use --epochs, --batch, --lr, --seed, --out)"),
            };
        }
        return o;
    }
}
