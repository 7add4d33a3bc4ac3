namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Splits large kernels across the cores. Work below the grain runs on the calling thread with no allocation, so
/// the small ops of a training step never pay for scheduling.
/// </summary>
internal static class Par
{
    public static readonly int Workers = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Elements per chunk for cheap elementwise work (add, copy): about 64 KiB of f32.</summary>
    public const int CheapGrain = 1 << 15;

    /// <summary>Elements per chunk for transcendental work (exp, tanh, pow).</summary>
    public const int CostlyGrain = 1 << 12;

    /// <summary>True when <paramref name="n"/> units of work are worth splitting.</summary>
    public static bool Worth(long n, long grain) => Workers > 1 && n >= 2 * grain;

    /// <summary>Runs <paramref name="body"/>(lo, hi) over [0, n) in up to <see cref="Workers"/> contiguous chunks of at least <paramref name="grain"/>.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        if (!Worth(n, grain))
        {
            if (n > 0) body(0, n);
            return;
        }
        int chunks = (int)Math.Min(Workers, n / grain);
        Parallel.For(0, chunks, c => body(n * c / chunks, n * (c + 1) / chunks));
    }

    /// <summary>Like <see cref="For"/> with finer chunks (several per core) for uneven work.</summary>
    public static void ForBalanced(long n, long grain, Action<long, long> body)
    {
        if (!Worth(n, grain))
        {
            if (n > 0) body(0, n);
            return;
        }
        int chunks = (int)Math.Min(Workers * 4L, n / grain);
        Parallel.For(0, chunks, c => body(n * c / chunks, n * (c + 1) / chunks));
    }
}
