using System.Globalization;
using System.Text.RegularExpressions;

namespace XlaGen.Package.Tests;

/// <summary>
/// What a user does: a new console project in a temp folder installs the XlaGen package from the local feed, writes
/// an [XlaModel] in Program.cs, builds it in Debug and runs it; and a shape mistake in the model fails that build with
/// XG0001. The restore is offline (see <see cref="Feed"/>).
/// </summary>
public class ConsumerTests
{
    /// <summary>The user's project file, as `dotnet new console` writes it plus the package, with XML docs on and warnings as
    /// errors as many libraries build: the generated code must not warn (a broken cref in it once did).</summary>
    static string ProjectFile => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <ImplicitUsings>enable</ImplicitUsings>
            <Nullable>enable</Nullable>
            <GenerateDocumentationFile>true</GenerateDocumentationFile>
            <NoWarn>$(NoWarn);CS1591</NoWarn>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="XlaGen" Version="{Feed.Version}" />
          </ItemGroup>
        </Project>
        """;

    /// <summary>
    /// A small classifier trained on synthetic data: 4 classes, the label of a 32-feature row is the argmax of a fixed
    /// random projection. Prints the loss of the first and the last epoch and the accuracy on held-out rows.
    /// <paramref name="hidden"/> is the hidden layer's width in the [Param] attributes.
    /// </summary>
    static string Program(string forward) => """
        using XlaGen;
        using XlaGen.Data;
        using XlaGen.Training;

        int epochs = args.Length > 0 ? int.Parse(args[0]) : 8;
        var random = new Random(7);
        var projection = Enumerable.Range(0, 32 * 4).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        (Tensor<float> X, Tensor<int> Y) Make(int n)
        {
            var x = Enumerable.Range(0, n * 32).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var y = new int[n];
            for (int i = 0; i < n; i++)
            {
                var scores = Enumerable.Range(0, 4).Select(c => Enumerable.Range(0, 32).Sum(j => x[i * 32 + j] * projection[j * 4 + c])).ToList();
                y[i] = scores.IndexOf(scores.Max());
            }
            return (new Tensor<float>(new long[] { n, 32 }, x), new Tensor<int>(new long[] { n }, y));
        }
        var (trainX, trainY) = Make(2048);
        var (testX, testY) = Make(512);

        using var model = Classifier.Create(Devices.Cpu(), seed: 1);
        model.Compile(new Adam(1e-2));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var history = model.Fit(trainX, trainY, new FitOptions { Epochs = epochs, BatchSize = 64, Verbose = false, ShuffleSeed = 3 });
        var seconds = clock.Elapsed.TotalSeconds;
        var result = model.Evaluate(new Dataset(testX, testY));
        Console.WriteLine($"first-loss={history.Epochs[0].Loss:R}");
        Console.WriteLine($"last-loss={history.Epochs[^1].Loss:R}");
        Console.WriteLine($"test-accuracy={result.Metrics["accuracy"]:R}");
        Console.WriteLine($"fit-seconds={seconds:F3}");

        [XlaModel]
        public partial class Classifier
        {
            [Param(32, 64, Init = Init.GlorotUniform)] Tensor<float> w1;
            [Param(64)] Tensor<float> b1;
            [Param(64, 4, Init = Init.GlorotUniform)] Tensor<float> w2;
            [Param(4)] Tensor<float> b2;

            [Forward]
            public Tensor<float> Logits([Shape("B", 32)] Tensor<float> x)
        """ + "\n        => " + forward + ";\n" + """

            [Loss]
            public Tensor<float> Loss([Shape("B", 32)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
                => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
        }
        """;

    static double Number(string output, string name)
    {
        var m = Regex.Match(output, "^" + Regex.Escape(name) + "=(\\S+)$", RegexOptions.Multiline);
        Assert.True(m.Success, $"the program printed no {name}=…:\n{output}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task AConsoleProjectInstallsThePackageBuildsInDebugTrainsAndAShapeMistakeFailsTheBuild()
    {
        using var feed = new Feed();
        var app = Path.Combine(feed.Root, "App");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "App.csproj"), ProjectFile);
        File.WriteAllText(Path.Combine(app, "Program.cs"), Program("Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2"));

        var restore = await feed.Run(app, "restore --nologo");
        Assert.True(restore.ExitCode == 0, $"offline restore from {Feed.Folder} (third-party packages from the machine's packages folder) failed:\n{restore.Output}");
        Assert.True(File.Exists(Path.Combine(feed.Root, "packages", "xlagen", Feed.Version, $"xlagen.{Feed.Version}.nupkg")),
            "the XlaGen package should have been restored into the temp packages folder");

        var build = await feed.Run(app, "build -c Debug --no-restore --nologo -v:q -clp:NoSummary");
        Assert.True(build.ExitCode == 0, $"the Debug build failed:\n{build.Output}");
        // The generator ran inside the user's compiler: the runner it emits is what Classifier.Create comes from.
        Assert.True(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "XlaGen.Runtime.dll")));
        Assert.False(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "XlaGen.Generator.dll")), "the generator is an analyzer, not a library of the app");

        var run = await feed.Run(app, "bin/Debug/net10.0/App.dll", timeoutSeconds: 120);
        Assert.True(run.ExitCode == 0, $"the app failed:\n{run.Output}");
        double first = Number(run.Output, "first-loss"), last = Number(run.Output, "last-loss"), accuracy = Number(run.Output, "test-accuracy");
        Assert.True(last < first / 2, $"training should at least halve the loss: {run.Output}");
        Assert.True(accuracy > 0.8, $"a linearly separable problem should be learned (4 classes, chance is 0.25): {run.Output}");

        // The same project with w2 where w1 belongs: the build stops on that expression.
        File.WriteAllText(Path.Combine(app, "Program.cs"), Program("Nn.Relu(x.MatMul(w2) + b1).MatMul(w2) + b2"));
        var broken = await feed.Run(app, "build -c Debug --no-restore --nologo -v:q -clp:NoSummary");
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Contains("error XG0001: 'x.MatMul(w2)': MatMul: f32[B,32] × f32[64,4]: inner dimensions differ (32 vs 64)", broken.Output);

        // The package's build/XlaGen.props makes <XlaGenDeviceMemory> visible to the generator: parameters over it fail the build.
        File.WriteAllText(Path.Combine(app, "Program.cs"), Program("Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2"));
        var small = await feed.Run(app, "build -c Debug --no-restore --nologo -v:q -clp:NoSummary -p:XlaGenDeviceMemory=1KiB");
        Assert.NotEqual(0, small.ExitCode);
        Assert.Contains("error XG0024: [XlaModel] class 'Classifier' has ", small.Output);
        Assert.Contains("more than the device memory XlaGenDeviceMemory = 1KiB (1,024 bytes)", small.Output);
    }
}
