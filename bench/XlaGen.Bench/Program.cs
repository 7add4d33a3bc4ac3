using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using XlaGen.Bench.Infrastructure;
using XlaGen.Bench.Suites;

namespace XlaGen.Bench;

internal static class Program
{
    /// <summary>Registered suites.</summary>
    private static readonly IBenchSuite[] Suites =
    {
        new GemmSuite(),
        new PeerSuite("mlp", "MLP 784-256-10 training on Fashion-MNIST (Adam 1e-3, batch 128): XlaGen vs TorchSharp, separate processes, epoch samples/s."),
        new PeerSuite("cnn", "FashionMnistCnn sample's CNN training (Adam, batch 128): XlaGen vs TorchSharp, separate processes, epoch samples/s."),
        new PeerSuite("infer", "MLP inference, batch 1 latency and batch 1024 throughput: XlaGen vs TorchSharp, separate processes."),
        new MlpSuite(),
        new RemoteSuite(),
        new ReplicasSuite(),
        new FusionSuite(),
        new ConvSuite(),
        new HloSuite(),
    };

    private const string Usage = """
        usage: dotnet run -c Release --project bench/XlaGen.Bench -- <suite[,suite…]|list> [options]
               XlaGen.Bench worker mlp|cnn|infer [--epochs N] [--examples N] [--seed N] [--warmup-steps N] [--calls N]
               XlaGen.Bench pool [REPS]   (CNN max-pool kernels: direct vs rows, alternating medians)
          --out PATH       JSON result file (default: bench/results/<suite>.json under the repo root)
          --threads N      threads for ours and the reference library (default: all cores); mlp, cnn, infer:
                           torch.set_num_threads in the Torch peer, DOTNET_PROCESSOR_COUNT for both workers
          --reps N         timed repetitions per measurement, median reported (default 9); for mlp, cnn and
                           infer: runs of each process (default 3)
          --epochs N       mlp, cnn: epochs per run (default 3 and 2)
          --examples N     mlp, cnn: an epoch is the first N training images (default 60000 and 12800)
          --filter TEXT    only cases whose name contains TEXT
          --isa NAME       force our kernels to auto|avx512|avx2|scalar (default auto)
          --no-blas        do not load OpenBLAS (report ours only)
          --gap-ms N       idle pause before each timed batch (default 150; lets spinning BLAS threads sleep)
          --quick          fewer/shorter repetitions (smoke run); mlp: 1 epoch of 12800, cnn: 1 epoch of 2560,
                           infer: 300 calls
        """;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            PrintSuites();
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "worker")
            return Worker.Run(args[1..]);
        if (args[0] == "pool")
            return PoolTiming.Run(args[1..]);
        if (args[0] == "list")
        {
            PrintSuites();
            return 0;
        }
        // Several suites in one run: "gemm,mlp" measures both in the same process and writes one JSON.
        var selected = new List<IBenchSuite>();
        foreach (var requested in args[0].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var found = Suites.FirstOrDefault(s => s.Name.Equals(requested, StringComparison.OrdinalIgnoreCase));
            if (found is null)
            {
                Console.Error.WriteLine($"unknown suite '{requested}'");
                PrintSuites();
                return 2;
            }
            selected.Add(found);
        }

        var options = new BenchOptions();
        string? outPath = null;
        for (int i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--out": outPath = Next(); break;
                case "--threads": options = options with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--reps":
                    int reps = int.Parse(Next(), CultureInfo.InvariantCulture);
                    options = options with { Repetitions = reps, Runs = reps };
                    break;
                case "--epochs": options = options with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--examples": options = options with { Examples = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--filter": options = options with { Filter = Next() }; break;
                case "--isa": options = options with { Isa = Next() }; break;
                case "--no-blas": options = options with { NoReference = true }; break;
                case "--gap-ms": options = options with { GapMilliseconds = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--quick": options = options with { Repetitions = 3, MinRepSeconds = 0.01, WarmupSeconds = 0.05, GapMilliseconds = 100, Quick = true }; break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }

        var machine = MachineInfo.ToJson();
        Console.WriteLine($"{machine["cpu_model"]}, {Environment.ProcessorCount} logical cores, {machine["dotnet"]}");
        Console.WriteLine($"load average: {MachineInfo.LoadAverage() ?? "n/a"} (other work on the machine skews timings)");
        var results = new JsonObject();
        foreach (var suite in selected)
        {
            Console.WriteLine();
            Console.WriteLine($"suite {suite.Name}: {suite.Description}");
            results[suite.Name] = suite.Run(options);
        }
        machine["load_average_at_end"] = MachineInfo.LoadAverage();

        var name = string.Join("+", selected.Select(s => s.Name));
        var doc = new JsonObject
        {
            ["suite"] = name,
            ["machine"] = machine,
            ["suite_result"] = selected.Count == 1 ? results[selected[0].Name]!.DeepClone() : results,
        };
        outPath ??= Path.Combine(RepoRoot(), "bench", "results", name + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        Console.WriteLine($"wrote {Path.GetFullPath(outPath)}");
        return 0;
    }

    private static void PrintSuites()
    {
        Console.WriteLine("suites:");
        foreach (var s in Suites)
            Console.WriteLine($"  {s.Name,-10} {s.Description}");
    }

    /// <summary>The directory holding XlaGen.sln above the working directory, else the working directory.</summary>
    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "XlaGen.sln")))
                return dir.FullName;
        return Environment.CurrentDirectory;
    }
}
