using System.Diagnostics;
using XlaGen;
using XlaGen.Data;
using XlaGen.Hlo;
using FashionMnistSample;

// The main job: Fashion-MNIST with a model whose programs were compiled at build time.
var seed = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 42;
var device = Devices.Cpu();
Console.WriteLine($"XlaGen {typeof(Devices).Assembly.GetName().Version} | device: {device.Info.Platform} ({device.Info.DeviceKind}), {device.Info.DeviceCount} device(s)");

if (!FashionMnist.IsInstalled())
{
    Console.Error.WriteLine($"Fashion-MNIST is not installed in {FashionMnist.Directory}: run `sudo apt-get install dataset-fashion-mnist` (./fashion-mnist.sh does it for you).");
    return 1;
}
var sw = Stopwatch.StartNew();
var test = FashionMnist.LoadTest();
Console.WriteLine($"Loaded {test.Count} test images from {FashionMnist.Directory} in {sw.ElapsedMilliseconds} ms");

using var model = FashionMlp.Create(device, seed);
Console.WriteLine($"Model FashionMlp: {model.ParameterCount:N0} parameters ({string.Join(", ", model.ParameterSpecs)}), seed {seed}");

// The program the generator wrote, bound to a batch of 1000.
const int batch = 1000;
var program = FashionMlp.BuildLogitsProgram(batch);
HloVerifier.Verify(program);
var ops = program.Entry.Instructions.GroupBy(i => i.Opcode).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}");
Console.WriteLine($"Program {program.Name}: {program.Entry.Instructions.Count} instructions ({string.Join(", ", ops)}); " +
                  $"{string.Join(", ", program.ParameterShapes)} -> {program.ResultShape}");
Console.WriteLine();
Console.WriteLine(program.ToString().Split('\n').Take(4).Aggregate((a, b) => a + "\n" + b) + "\n  ...");
Console.WriteLine();

// Forward pass over all test images in batches (the last batch may be smaller: it compiles a program for its size).
sw.Restart();
int correct = 0;
var counts = new int[10];
for (int start = 0; start < test.Count; start += batch)
{
    int n = Math.Min(batch, test.Count - start);
    var x = new Tensor<float>(new long[] { n, 784 }, test.Images.Data.AsSpan(start * 784, n * 784).ToArray());
    var logits = model.Logits(x);
    for (int i = 0; i < n; i++)
    {
        int best = 0;
        for (int c = 1; c < 10; c++)
        {
            if (logits[i, c] > logits[i, best]) best = c;
        }
        counts[best]++;
        if (best == test.Labels.Data[start + i]) correct++;
    }
}
var elapsed = sw.Elapsed.TotalSeconds;
Console.WriteLine($"Forward pass over {test.Count} images: {elapsed:F2} s ({test.Count / elapsed:N0} images/s)");
Console.WriteLine($"Untrained accuracy: {100.0 * correct / test.Count:F2}% (chance is 10%; training arrives with the next milestone)");
Console.WriteLine("Predicted class histogram: " + string.Join(", ", counts.Select((c, i) => $"{FashionMnist.ClassNames[i]} {c}")));
return 0;
