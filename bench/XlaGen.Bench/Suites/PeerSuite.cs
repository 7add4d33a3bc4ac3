using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Bench.Infrastructure;

namespace XlaGen.Bench.Suites;

/// <summary>
/// XlaGen against TorchSharp (libtorch CPU), each in a process of its own: the driver starts the XlaGen worker
/// (`XlaGen.Bench worker W`) and the Torch peer (bench/XlaGen.Bench.Torch, `XlaGen.Bench.Torch W`) alternately,
/// xlagen, torch, xlagen, torch, … (<c>--reps</c> runs each, default 3), with the same arguments, and reads the JSON
/// lines they print. Before every run and after the last, a fixed GEMM (our Sgemm 1024³ in this process) is timed
/// as a yardstick of the machine's state; the load average is recorded at start and end.
/// </summary>
internal sealed class PeerSuite : IBenchSuite
{
    const string TorchBuildHint = "dotnet build bench/XlaGen.Bench.Torch -c Release   (or bench/run.sh, which builds both)";

    readonly string workload;

    public PeerSuite(string workload, string description)
    {
        this.workload = workload;
        Description = description;
    }

    public string Name => workload;

    public string Description { get; }

    /// <summary>The workers' arguments: the suite's defaults, --quick's smaller ones, --epochs/--examples overrides.</summary>
    List<string> WorkerArguments(BenchOptions options)
    {
        var args = new List<string>();
        void Add(string name, int value)
        {
            args.Add(name);
            args.Add(value.ToString(CultureInfo.InvariantCulture));
        }
        switch (workload)
        {
            case "mlp":
                Add("--epochs", options.Epochs ?? (options.Quick ? 1 : 3));
                Add("--examples", options.Examples ?? (options.Quick ? 12800 : 60000));
                break;
            case "cnn":
                Add("--epochs", options.Epochs ?? (options.Quick ? 1 : 2));
                Add("--examples", options.Examples ?? (options.Quick ? 2560 : CnnExamples));
                break;
            default:
                Add("--calls", options.Quick ? 300 : 2000);
                break;
        }
        Add("--threads", options.Threads);
        return args;
    }

    /// <summary>The cnn suite's epoch: the first 12,800 training images (100 steps), since a full epoch of 60,000 takes
    /// longer than 30 s on this 2-core machine (on both sides). --examples 60000 for the whole set.</summary>
    const int CnnExamples = 12800;

    public JsonObject Run(BenchOptions options)
    {
        int runs = options.Runs ?? 3;
        var arguments = WorkerArguments(options);
        var sides = new List<Side> { new("xlagen", "dotnet", new[] { Assembly.GetExecutingAssembly().Location, "worker", workload }) };
        string? torchDll = TorchPeerDll();
        string? note = null;
        if (torchDll is null)
        {
            note = $"TorchSharp peer not built, reporting XlaGen alone. Build it with: {TorchBuildHint}";
            Console.WriteLine(note);
        }
        else
            sides.Add(new("torchsharp", "dotnet", new[] { torchDll, workload }) { Environment = TorchAllocatorEnvironment() });
        Console.WriteLine($"{runs} runs per side, alternating; worker arguments: {string.Join(' ', arguments)}; threads {options.Threads}");
        // Inherited by both workers and able to change their speed (libtorch's OpenMP threads spin at barriers by default).
        var environment = new JsonObject();
        foreach (var name in new[] { "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT", "DOTNET_PROCESSOR_COUNT", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" })
            if (Environment.GetEnvironmentVariable(name) is { } value)
                environment[name] = value;
        foreach (var side in sides)
            foreach (var (name, value) in side.Environment)
                environment[$"{side.Name}:{name}"] = value;
        if (environment.Count > 0)
            Console.WriteLine($"environment: {string.Join(' ', environment.Select(e => $"{e.Key}={e.Value}"))}");
        if (runs < 3) Console.WriteLine("note: fewer than 3 runs per side; medians are not meaningful");

        var yardstick = new Yardstick(options.Threads);
        var yardsticks = new JsonArray();
        void Measure(string label)
        {
            var (median, best) = yardstick.Measure();
            string? load = MachineInfo.LoadAverage();
            Console.WriteLine($"  yardstick sgemm 1024³ {median,6:F1} GF/s (best {best:F1})  load {load}  [{label}]");
            yardsticks.Add(new JsonObject { ["label"] = label, ["gflops_median"] = median, ["gflops_best"] = best, ["load_average"] = load });
        }

        string? loadStart = MachineInfo.LoadAverage();
        for (int r = 1; r <= runs; r++)
        {
            foreach (var side in sides)
            {
                Measure($"before {side.Name} run {r}");
                var lines = RunChild(side, arguments, options.Threads);
                side.Runs.Add(lines);
                Console.WriteLine($"{side.Name,-10} run {r}: {Summary(lines)}");
            }
        }
        Measure("end");
        string? loadEnd = MachineInfo.LoadAverage();

        var result = new JsonObject
        {
            ["workload"] = workload,
            ["runs_per_side"] = runs,
            ["threads"] = options.Threads,
            ["worker_arguments"] = string.Join(' ', arguments),
            ["load_average_at_start"] = loadStart,
            ["load_average_at_end"] = loadEnd,
            ["yardstick_sgemm_1024"] = yardsticks,
            ["environment"] = environment,
        };
        if (note != null) result["note"] = note;
        if (workload == "cnn")
            result["epoch_note"] = $"an epoch is the first {arguments[arguments.IndexOf("--examples") + 1]} training images, not the full 60,000";
        Console.WriteLine();
        if (workload == "infer") ReportInfer(sides, result);
        else ReportTraining(sides, result);
        return result;
    }

    sealed record Side(string Name, string Program, string[] Prefix)
    {
        public List<List<JsonObject>> Runs { get; } = new();

        /// <summary>Variables set for this side's worker only (on top of the inherited environment).</summary>
        public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    }

    /// <summary>
    /// glibc malloc settings for the Torch peer. libtorch's CPU allocator frees every tensor back to malloc, and glibc
    /// serves blocks above its mmap threshold (128 KiB, raised dynamically only up to 32 MiB) with mmap/munmap, so each
    /// training step maps, faults in and unmaps its activations: measured 2026-12-06 on this machine, the cnn peer ran
    /// 950 samples/s with 19 s of its 31 s in the kernel, and 3,830 samples/s (0.9 s in the kernel) with these settings,
    /// which keep freed memory in the heap. Without them the peer is not the strong baseline a ratio needs. Values the
    /// caller already exported win.
    /// </summary>
    static Dictionary<string, string> TorchAllocatorEnvironment()
    {
        var env = new Dictionary<string, string>();
        foreach (var (name, value) in new[] { ("MALLOC_MMAP_THRESHOLD_", "4000000000"), ("MALLOC_TRIM_THRESHOLD_", "4000000000"), ("MALLOC_TOP_PAD_", "536870912") })
            if (System.Environment.GetEnvironmentVariable(name) is null)
                env[name] = value;
        return env;
    }

    /// <summary>The Torch peer next to this build (bench/XlaGen.Bench.Torch/bin/&lt;config&gt;/net10.0), or
    /// $XLAGEN_BENCH_TORCH; null when it is not built.</summary>
    static string? TorchPeerDll()
    {
        if (Environment.GetEnvironmentVariable("XLAGEN_BENCH_TORCH") is { Length: > 0 } path)
            return File.Exists(path) ? path : null;
        var built = typeof(PeerSuite).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "XlaGenBenchTorchDll")?.Value;
        return built != null && File.Exists(built) ? built : null;
    }

    /// <summary>Runs one worker to its end and returns its JSON lines; throws with its stderr when it fails.</summary>
    static List<JsonObject> RunChild(Side side, List<string> arguments, int threads)
    {
        var start = new ProcessStartInfo(side.Program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in side.Prefix.Concat(arguments)) start.ArgumentList.Add(a);
        foreach (var (name, value) in side.Environment) start.Environment[name] = value;
        // XlaGen's CPU executor sizes its pool from Environment.ProcessorCount; the Torch peer gets --threads.
        if (threads != Environment.ProcessorCount)
            start.Environment["DOTNET_PROCESSOR_COUNT"] = threads.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {side.Program}");
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<JsonObject>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith('{') && JsonNode.Parse(line) is JsonObject o) lines.Add(o);
            else Console.WriteLine($"  [{side.Name}] {line}");
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || !lines.Any(l => (string?)l["type"] == "end"))
            throw new InvalidOperationException($"{side.Name} worker failed (exit code {process.ExitCode}): {string.Join(' ', start.ArgumentList)}\n{stderr.Result}");
        return lines;
    }

    static IEnumerable<JsonObject> OfType(IEnumerable<JsonObject> lines, string type) => lines.Where(l => (string?)l["type"] == type);

    static double Rate(JsonObject epoch) => (double)epoch["samples"]! / (double)epoch["seconds"]!;

    string Summary(List<JsonObject> lines)
    {
        if (workload == "infer")
            return string.Join(", ", OfType(lines, "infer").Select(l => $"{l["case"]} {(double)l["median_us"]!:F1} µs"));
        return string.Join(", ", OfType(lines, "epoch").Select(e => $"{Rate(e):N0}")) + " samples/s per epoch" +
            (OfType(lines, "epoch").LastOrDefault() is { } last ? $" (last: loss {(double)last["loss"]!:F3}, accuracy {(double?)last["accuracy"] ?? double.NaN:F3})" : "");
    }

    static double Median(IReadOnlyList<double> values)
    {
        var s = values.OrderBy(v => v).ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>Per side: the median and the best of all its epochs' samples/s over all runs; the ratios xlagen/torch.</summary>
    static void ReportTraining(List<Side> sides, JsonObject result)
    {
        Console.WriteLine($"{"implementation",-14} {"epochs",6} {"median samples/s",17} {"best samples/s",15} {"run medians",30}");
        var stats = new Dictionary<string, (double Median, double Best)>();
        foreach (var side in sides)
        {
            var rates = side.Runs.SelectMany(r => OfType(r, "epoch").Select(Rate)).ToList();
            var runMedians = side.Runs.Select(r => Median(OfType(r, "epoch").Select(Rate).ToList())).ToList();
            double median = Median(rates), best = rates.Max();
            stats[side.Name] = (median, best);
            Console.WriteLine($"{side.Name,-14} {rates.Count,6} {median,17:N0} {best,15:N0} {string.Join(" ", runMedians.Select(m => m.ToString("N0", CultureInfo.InvariantCulture))),30}");
            result[side.Name] = new JsonObject
            {
                ["median_samples_per_second"] = median,
                ["best_samples_per_second"] = best,
                ["run_median_samples_per_second"] = new JsonArray(runMedians.Select(m => (JsonNode?)m).ToArray()),
                ["runs"] = new JsonArray(side.Runs.Select(r => (JsonNode?)new JsonArray(r.Select(l => (JsonNode?)l.DeepClone()).ToArray())).ToArray()),
            };
        }
        if (stats.Count == 2)
        {
            double ratioMedian = stats["xlagen"].Median / stats["torchsharp"].Median, ratioBest = stats["xlagen"].Best / stats["torchsharp"].Best;
            Console.WriteLine($"xlagen / torchsharp: median {ratioMedian:F2}x, best {ratioBest:F2}x (>1: XlaGen trains faster)");
            result["ratio_xlagen_over_torchsharp_median"] = ratioMedian;
            result["ratio_xlagen_over_torchsharp_best"] = ratioBest;
        }
    }

    /// <summary>Per side and case: the median over runs of each run's median µs per call, the best call of all runs;
    /// ratios are throughputs xlagen/torch (torch µs / xlagen µs) for comparable cases.</summary>
    static void ReportInfer(List<Side> sides, JsonObject result)
    {
        Console.WriteLine($"{"implementation",-14} {"case",-24} {"median µs",10} {"best µs",10} {"samples/s",12}");
        var cases = new Dictionary<string, (double MedianUs, double BestUs)>();
        foreach (var side in sides)
        {
            var sideResult = new JsonObject();
            var names = side.Runs.SelectMany(r => OfType(r, "infer").Select(l => (string)l["case"]!)).Distinct().ToList();
            foreach (var name in names)
            {
                var lines = side.Runs.SelectMany(r => OfType(r, "infer").Where(l => (string?)l["case"] == name)).ToList();
                double median = Median(lines.Select(l => (double)l["median_us"]!).ToList());
                double best = lines.Min(l => (double)l["best_us"]!);
                int batch = (int)lines[0]["batch"]!;
                cases[side.Name + "/" + name] = (median, best);
                Console.WriteLine($"{side.Name,-14} {name,-24} {median,10:F1} {best,10:F1} {batch / median * 1e6,12:N0}");
                sideResult[name] = new JsonObject
                {
                    ["batch"] = batch,
                    ["median_us"] = median,
                    ["best_us"] = best,
                    ["samples_per_second"] = batch / median * 1e6,
                    ["run_median_us"] = new JsonArray(lines.Select(l => (JsonNode?)(double)l["median_us"]!).ToArray()),
                };
            }
            result[side.Name] = sideResult;
        }
        var ratios = new JsonObject();
        foreach (var (ours, theirs) in new[] { ("batch1.host_array", "batch1.host_array"), ("batch1.device_buffers", "batch1.tensor"), ("batch1024.host_array", "batch1024.host_array") })
        {
            if (!cases.TryGetValue("xlagen/" + ours, out var x) || !cases.TryGetValue("torchsharp/" + theirs, out var t)) continue;
            double ratioMedian = t.MedianUs / x.MedianUs, ratioBest = t.BestUs / x.BestUs;
            Console.WriteLine($"xlagen {ours} / torchsharp {theirs}: median {ratioMedian:F2}x, best {ratioBest:F2}x (throughput; >1: XlaGen faster)");
            ratios[$"{ours}_vs_{theirs}"] = new JsonObject { ["median"] = ratioMedian, ["best"] = ratioBest };
        }
        if (ratios.Count > 0) result["ratio_xlagen_over_torchsharp"] = ratios;
    }

    /// <summary>Our Sgemm on 1024×1024×1024 (NN) with the suite's thread count: one warm-up call, then the median and
    /// best GF/s of 5 timed calls.</summary>
    sealed class Yardstick(int threads)
    {
        const int N = 1024;
        readonly float[] a = Filled(1), b = Filled(2), c = new float[N * N];
        readonly GemmOptions gemmOptions = new(MaxThreads: threads);

        static float[] Filled(int seed)
        {
            var rng = new Random(seed);
            var x = new float[N * N];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
            return x;
        }

        public (double Median, double Best) Measure()
        {
            Gemm.Sgemm(false, false, N, N, N, 1f, a, N, b, N, 0f, c, N, gemmOptions);
            var rates = new double[5];
            for (int i = 0; i < rates.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Gemm.Sgemm(false, false, N, N, N, 1f, a, N, b, N, 0f, c, N, gemmOptions);
                rates[i] = 2.0 * N * N * N / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
            }
            return (Median(rates), rates.Max());
        }
    }
}
