using System.Diagnostics;

namespace XlaGen.Bench.Infrastructure;

/// <summary>Per-call timing statistics in seconds.</summary>
internal readonly record struct TimingStats(double Median, double Min, double Max, int Repetitions, int CallsPerRepetition);

internal static class Timing
{
    /// <summary>
    /// Warms each op up, then times <see cref="BenchOptions.Repetitions"/> rounds; in each round every op runs one
    /// batch of calls lasting at least <see cref="BenchOptions.MinRepSeconds"/> (order alternating between rounds),
    /// so that competitors see the same machine conditions. Each batch is preceded by an idle gap
    /// (<see cref="BenchOptions.GapMilliseconds"/>) and one untimed call. Returns per-call statistics for each op.
    /// </summary>
    public static TimingStats[] MeasureInterleaved(IReadOnlyList<Action> ops, BenchOptions options)
    {
        int count = ops.Count;
        var calls = new int[count];
        for (int o = 0; o < count; o++)
        {
            // Warm-up: JIT tiering, caches, worker threads; also estimates the per-call time.
            var op = ops[o];
            var sw = Stopwatch.StartNew();
            int warm = 0;
            while (warm < 3 || sw.Elapsed.TotalSeconds < options.WarmupSeconds)
            {
                op();
                warm++;
            }
            double perCall = sw.Elapsed.TotalSeconds / warm;
            calls[o] = (int)Math.Clamp(Math.Ceiling(options.MinRepSeconds / Math.Max(perCall, 1e-9)), 1, 1_000_000);
        }

        int reps = Math.Max(1, options.Repetitions);
        var samples = new double[count][];
        for (int o = 0; o < count; o++)
            samples[o] = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            for (int i = 0; i < count; i++)
            {
                int o = r % 2 == 0 ? i : count - 1 - i;
                var op = ops[o];
                int n = calls[o];
                if (options.GapMilliseconds > 0)
                {
                    Thread.Sleep(options.GapMilliseconds);
                    op(); // wake our own workers too: both sides start a batch from the same state
                }
                long t0 = Stopwatch.GetTimestamp();
                for (int c = 0; c < n; c++)
                    op();
                samples[o][r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / n;
            }
        }

        var result = new TimingStats[count];
        for (int o = 0; o < count; o++)
        {
            var s = samples[o];
            Array.Sort(s);
            double median = s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
            result[o] = new TimingStats(median, s[0], s[^1], s.Length, calls[o]);
        }
        return result;
    }
}
