using System.Globalization;
using System.Text.Json.Nodes;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Bench.Infrastructure;

namespace XlaGen.Bench.Suites;

/// <summary>
/// Our Sgemm against OpenBLAS cblas_sgemm in the same process, same operands, same thread count.
/// Shapes: the train step of a 784-256-10 MLP at batch 128, its batch-1 inference, and large squares.
/// </summary>
internal sealed unsafe class GemmSuite : IBenchSuite
{
    public string Name => "gemm";
    public string Description => "Sgemm vs OpenBLAS cblas_sgemm: MLP (784-256-10, batch 128) train-step shapes and squares 512/1024/2048 (plus two Dgemm rows).";

    private sealed record Case(string Name, int M, int N, int K, bool TransA, bool TransB, bool Double = false);

    private static readonly Case[] Cases =
    {
        // Forward: h = x·W1 (128×784 · 784×256), logits = h·W2 (128×256 · 256×10).
        new("mlp.fwd.x*W1", 128, 256, 784, false, false),
        new("mlp.fwd.h*W2", 128, 10, 256, false, false),
        // Batch-1 inference: one row through each layer (GemmRowVector for the first).
        new("infer.b1.x*W1", 1, 256, 784, false, false),
        new("infer.b1.h*W2", 1, 10, 256, false, false),
        // Backward: dW2 = hᵀ·dY, dH = dY·W2ᵀ, dW1 = xᵀ·dH.
        new("mlp.bwd.dW2=hT*dY", 256, 10, 128, true, false),
        new("mlp.bwd.dH=dY*W2T", 128, 256, 10, false, true),
        new("mlp.bwd.dW1=xT*dH", 784, 256, 128, true, false),
        new("square.512", 512, 512, 512, false, false),
        new("square.1024", 1024, 1024, 1024, false, false),
        new("square.1024.TN", 1024, 1024, 1024, true, false),
        new("square.1024.NT", 1024, 1024, 1024, false, true),
        new("square.2048", 2048, 2048, 2048, false, false),
        // f64 (Dgemm vs cblas_dgemm), for reference.
        new("f64.mlp.fwd.x*W1", 128, 256, 784, false, false, Double: true),
        new("f64.square.1024", 1024, 1024, 1024, false, false, Double: true),
    };

    public JsonObject Run(BenchOptions options)
    {
        var blas = options.NoReference ? null : OpenBlas.TryLoad();
        if (blas is not null)
            blas.Threads = options.Threads;
        else if (!options.NoReference)
            Console.WriteLine(OpenBlas.InstallHint);

        var isa = Gemm.ResolveIsa(Enum.Parse<GemmIsa>(options.Isa, ignoreCase: true));
        var ourOptions = GemmOptions.Default with { Isa = isa, MaxThreads = options.Threads };   // the executor's paths
        Console.WriteLine($"threads: ours {options.Threads} (of {Environment.ProcessorCount}), OpenBLAS {(blas is null ? "n/a" : blas.Threads.ToString(CultureInfo.InvariantCulture))}; " +
            $"median of {options.Repetitions} reps; ours ISA {isa}");
        Console.WriteLine();
        string header = $"{"case",-20} {"M",5} {"N",5} {"K",5} {"op",3} {"ours GF/s",10} {"BLAS GF/s",10} {"ours/BLAS",10} {"best-rep",9} {"ours µs",10} {"BLAS µs",10}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));

        var results = new JsonArray();
        var rng = new Random(42);
        foreach (var cs in Cases)
        {
            if (!options.Matches(cs.Name))
                continue;
            int lda = cs.TransA ? cs.M : cs.K, ldb = cs.TransB ? cs.K : cs.N, ldc = cs.N;
            double flops = 2.0 * cs.M * cs.N * cs.K;
            var (ours, reference, maxRelDiff) = cs.Double
                ? MeasureF64(cs, lda, ldb, ldc, rng, blas, ourOptions, options)
                : MeasureF32(cs, lda, ldb, ldc, rng, blas, ourOptions, options);

            double oursGf = flops / ours.Median / 1e9;
            double? blasGf = blas is null ? null : flops / reference.Median / 1e9;
            double? ratio = blasGf is null ? null : oursGf / blasGf;
            // Ratio of the fastest repetitions: less sensitive to other work on the machine than the medians.
            double? bestRatio = blas is null ? null : reference.Min / ours.Min;
            string op = (cs.TransA ? "T" : "N") + (cs.TransB ? "T" : "N");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{cs.Name,-20} {cs.M,5} {cs.N,5} {cs.K,5} {op,3} {oursGf,10:F1} {Fmt(blasGf, "F1"),10} {Fmt(ratio, "F2"),10} {Fmt(bestRatio, "F2"),9} {ours.Median * 1e6,10:F1} {Fmt(blas is null ? null : reference.Median * 1e6, "F1"),10}"));

            var entry = new JsonObject
            {
                ["name"] = cs.Name,
                ["m"] = cs.M, ["n"] = cs.N, ["k"] = cs.K,
                ["dtype"] = cs.Double ? "f64" : "f32",
                ["trans_a"] = cs.TransA, ["trans_b"] = cs.TransB,
                ["flops"] = flops,
                ["ours"] = StatsJson(ours, flops),
                ["openblas"] = blas is null ? null : StatsJson(reference, flops),
                ["ratio_ours_over_openblas"] = ratio,
                ["ratio_best_rep"] = bestRatio,
                ["max_rel_diff_vs_openblas"] = maxRelDiff,
            };
            results.Add(entry);
        }

        return new JsonObject
        {
            ["threads"] = options.Threads,
            ["isa"] = isa.ToString(),
            ["repetitions"] = options.Repetitions,
            ["statistic"] = "median seconds per call; gflops = 2*m*n*k / median",
            ["openblas"] = blas is null ? null : new JsonObject { ["config"] = blas.Config, ["threads"] = blas.Threads },
            ["results"] = results,
        };
    }

    private static (TimingStats Ours, TimingStats Reference, double? MaxRelDiff) MeasureF32(Case cs, int lda, int ldb, int ldc,
        Random rng, OpenBlas? blas, GemmOptions ourOptions, BenchOptions options)
    {
        var a = RandomArray(rng, cs.M * cs.K);
        var b = RandomArray(rng, cs.K * cs.N);
        var cOurs = new float[cs.M * cs.N];
        var cBlas = new float[cs.M * cs.N];
        fixed (float* pa = a, pb = b, pcb = cBlas)
        {
            float* ppa = pa, ppb = pb, ppc = pcb;
            var ops = new List<Action> { () => Gemm.Sgemm(cs.TransA, cs.TransB, cs.M, cs.N, cs.K, 1f, a, lda, b, ldb, 0f, cOurs, ldc, ourOptions) };
            if (blas is not null)
                ops.Add(() => blas.Sgemm(cs.TransA, cs.TransB, cs.M, cs.N, cs.K, 1f, ppa, lda, ppb, ldb, 0f, ppc, ldc));
            var stats = Timing.MeasureInterleaved(ops, options);
            return blas is null
                ? (stats[0], default, null)
                : (stats[0], stats[1], MaxRelDiff(cOurs.Select(x => (double)x).ToArray(), cBlas.Select(x => (double)x).ToArray()));
        }
    }

    private static (TimingStats Ours, TimingStats Reference, double? MaxRelDiff) MeasureF64(Case cs, int lda, int ldb, int ldc,
        Random rng, OpenBlas? blas, GemmOptions ourOptions, BenchOptions options)
    {
        var a = RandomArray(rng, cs.M * cs.K).Select(x => (double)x).ToArray();
        var b = RandomArray(rng, cs.K * cs.N).Select(x => (double)x).ToArray();
        var cOurs = new double[cs.M * cs.N];
        var cBlas = new double[cs.M * cs.N];
        fixed (double* pa = a, pb = b, pcb = cBlas)
        {
            double* ppa = pa, ppb = pb, ppc = pcb;
            var ops = new List<Action> { () => Gemm.Dgemm(cs.TransA, cs.TransB, cs.M, cs.N, cs.K, 1.0, a, lda, b, ldb, 0.0, cOurs, ldc, ourOptions) };
            if (blas is not null)
                ops.Add(() => blas.Dgemm(cs.TransA, cs.TransB, cs.M, cs.N, cs.K, 1.0, ppa, lda, ppb, ldb, 0.0, ppc, ldc));
            var stats = Timing.MeasureInterleaved(ops, options);
            return blas is null ? (stats[0], default, null) : (stats[0], stats[1], MaxRelDiff(cOurs, cBlas));
        }
    }

    private static string Fmt(double? v, string format) => v is null ? "-" : v.Value.ToString(format, CultureInfo.InvariantCulture);

    private static JsonObject StatsJson(TimingStats s, double flops) => new()
    {
        ["median_s"] = s.Median,
        ["min_s"] = s.Min,
        ["max_s"] = s.Max,
        ["gflops"] = flops / s.Median / 1e9,
        ["calls_per_rep"] = s.CallsPerRepetition,
    };

    private static float[] RandomArray(Random rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>max |ours - blas| / max |blas|: a sanity check that both computed the same product.</summary>
    private static double MaxRelDiff(double[] ours, double[] blas)
    {
        double maxDiff = 0, maxAbs = 1e-30;
        for (int i = 0; i < ours.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(ours[i] - blas[i]));
            maxAbs = Math.Max(maxAbs, Math.Abs(blas[i]));
        }
        return maxDiff / maxAbs;
    }
}
