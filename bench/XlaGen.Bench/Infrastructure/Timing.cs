using System.Diagnostics;

namespace XlaGen.Bench.Infrastructure;

/// <summary>Per-call timing statistics in seconds.</summary>
internal readonly record struct TimingStats(double Median, double Min, double Max, int Repetitions, int CallsPerRepetition);

internal static class Timing
{
    /// <summary>
    /// Warms <paramref name="op"/> up, then times <see cref="BenchOptions.Repetitions"/> repetitions, each a batch of
    /// calls lasting at least <see cref="BenchOptions.MinRepSeconds"/>, and returns per-call statistics.
    /// </summary>
    public static TimingStats Measure(Action op, BenchOptions options)
    {
        // Warm-up: tiering/JIT, caches, worker threads; also estimates the per-call time.
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (warm < 3 || sw.Elapsed.TotalSeconds < options.WarmupSeconds)
        {
            op();
            warm++;
        }
        double perCall = sw.Elapsed.TotalSeconds / warm;
        int calls = (int)Math.Clamp(Math.Ceiling(options.MinRepSeconds / Math.Max(perCall, 1e-9)), 1, 1_000_000);

        var samples = new double[Math.Max(1, options.Repetitions)];
        for (int r = 0; r < samples.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++)
                op();
            samples[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / calls;
        }
        Array.Sort(samples);
        double median = samples.Length % 2 == 1
            ? samples[samples.Length / 2]
            : 0.5 * (samples[samples.Length / 2 - 1] + samples[samples.Length / 2]);
        return new TimingStats(median, samples[0], samples[^1], samples.Length, calls);
    }
}
