namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Splits large kernels across the cores. Work below the grain runs on the calling thread with no allocation, so
/// the small ops of a training step never pay for scheduling. The grains come from measurements on a 2-core VM:
/// a Parallel.For fork/join costs about 50 µs there, memory-bound ops (add, copy) gain only from about 4M elements
/// (one core already saturates memory below that), transcendental ops (exp, tanh) from about 256K elements.
/// The forked chunks see the calling thread's <see cref="KernelCancellation"/> token; a cancelled execution's
/// chunks end with its OperationCanceledException (not an AggregateException).
/// </summary>
internal static class Par
{
    public static readonly int Workers = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Elements per chunk for memory-bound work (add, compare, copies, reductions).</summary>
    public const int CheapGrain = 1 << 20;

    /// <summary>Elements per chunk for transcendental work (exp, tanh, pow, divide).</summary>
    public const int CostlyGrain = 1 << 17;

    /// <summary>Elements per chunk for work that interprets a computation per element (generic reduce, map, sort
    /// comparators): each element costs tens of nanoseconds.</summary>
    public const int InterpretedGrain = 1 << 11;

    /// <summary>Multiply-adds below which a batched dot runs its batches on one thread.</summary>
    public const long DotGrain = 1L << 24;

    /// <summary>Grains on this thread are divided by 2^shift (tests force the split paths with small inputs).</summary>
    [ThreadStatic]
    static int grainShift;

    /// <summary>Until disposed, kernels run on this thread split work <paramref name="shift"/> powers of two sooner.</summary>
    internal static IDisposable ScaleGrainsForTesting(int shift)
    {
        int saved = grainShift;
        grainShift = shift;
        return new Restore(saved);
    }

    sealed class Restore(int saved) : IDisposable
    {
        public void Dispose() => grainShift = saved;
    }

    /// <summary>A grain or buffer budget as this thread sees it (smaller under <see cref="ScaleGrainsForTesting"/>).</summary>
    internal static long Scaled(long grain) => Math.Max(1, grain >> grainShift);

    /// <summary>True when <paramref name="n"/> units of work are worth splitting.</summary>
    public static bool Worth(long n, long grain) => Workers > 1 && n >= 2 * Scaled(grain);

    /// <summary>Runs <paramref name="body"/>(lo, hi) over [0, n) in up to <see cref="Workers"/> contiguous chunks of at least <paramref name="grain"/>.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        if (!Worth(n, grain))
        {
            if (n > 0) body(0, n);
            return;
        }
        int chunks = (int)Math.Min(Workers, n / Scaled(grain));
        KernelCancellation.ParallelFor(0, chunks, c => body(n * c / chunks, n * (c + 1) / chunks));
    }

    /// <summary>Like <see cref="For"/> with finer chunks (several per core) for uneven work.</summary>
    public static void ForBalanced(long n, long grain, Action<long, long> body)
    {
        if (!Worth(n, grain))
        {
            if (n > 0) body(0, n);
            return;
        }
        int chunks = (int)Math.Min(Workers * 4L, n / Scaled(grain));
        KernelCancellation.ParallelFor(0, chunks, c => body(n * c / chunks, n * (c + 1) / chunks));
    }
}
