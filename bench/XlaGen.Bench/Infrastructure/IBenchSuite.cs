using System.Text.Json.Nodes;

namespace XlaGen.Bench.Infrastructure;

/// <summary>A named group of measurements. Add a suite by implementing this and registering it in Program.</summary>
internal interface IBenchSuite
{
    string Name { get; }
    string Description { get; }

    /// <summary>Runs the suite, printing a human-readable table to stdout, and returns its JSON result body.</summary>
    JsonObject Run(BenchOptions options);
}

/// <summary>Command-line options shared by all suites.</summary>
internal sealed record BenchOptions
{
    /// <summary>Threads for both our code and the reference library (default: Environment.ProcessorCount).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Timed repetitions per measurement; the median is reported.</summary>
    public int Repetitions { get; init; } = 9;

    /// <summary>Minimum wall time of one timed repetition (short calls are batched up to this).</summary>
    public double MinRepSeconds { get; init; } = 0.03;

    /// <summary>Warm-up time per measurement before timing starts.</summary>
    public double WarmupSeconds { get; init; } = 0.25;

    /// <summary>
    /// Idle pause before each timed batch, so that the previous competitor's idle worker threads have gone to sleep
    /// (OpenBLAS workers spin for ~2^28 cycles ≈ 80 ms after a call and would otherwise steal the second core).
    /// </summary>
    public int GapMilliseconds { get; init; } = 150;

    /// <summary>Force our kernels' instruction set (auto, avx512, avx2, scalar); capped at what the CPU supports.</summary>
    public string Isa { get; init; } = "auto";

    /// <summary>Skip the reference library even if it is installed.</summary>
    public bool NoReference { get; init; }

    /// <summary>Only run cases whose name contains this (case-insensitive), if set.</summary>
    public string? Filter { get; init; }

    /// <summary>Process suites (mlp, cnn, infer): runs of each side; 3 when null (--reps sets it).</summary>
    public int? Runs { get; init; }

    /// <summary>Process suites: epochs per run, when set.</summary>
    public int? Epochs { get; init; }

    /// <summary>Process suites: the first this many training images make an epoch, when set.</summary>
    public int? Examples { get; init; }

    /// <summary>--quick: fewer, shorter repetitions (smoke run).</summary>
    public bool Quick { get; init; }

    public bool Matches(string caseName) =>
        Filter is null || caseName.Contains(Filter, StringComparison.OrdinalIgnoreCase);
}
