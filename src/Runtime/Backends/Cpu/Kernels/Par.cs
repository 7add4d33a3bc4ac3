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
        Split(n, (int)Math.Min(Workers, n / Scaled(grain)), body);
    }

    /// <summary>Like <see cref="For"/> with finer chunks (several per core) for uneven work.</summary>
    public static void ForBalanced(long n, long grain, Action<long, long> body)
    {
        if (!Worth(n, grain))
        {
            if (n > 0) body(0, n);
            return;
        }
        Split(n, (int)Math.Min(Workers * 4L, n / Scaled(grain)), body);
    }

    /// <summary>The chunk-to-range mapping of one split, with its chunk delegate made once: a thread reuses its job for
    /// every split it starts (a closure per split was an allocation per kernel call), and a split started inside
    /// another on the same thread takes a job of its own.</summary>
    sealed class SplitJob
    {
        public Action<long, long>? Body;
        public long N;
        public int Chunks;
        public bool Busy;
        public readonly Action<int> Chunk;

        public SplitJob()
        {
            Chunk = c => Body!(N * c / Chunks, N * (c + 1) / Chunks);
        }
    }

    [ThreadStatic]
    static SplitJob? t_job;

    static void Split(long n, int chunks, Action<long, long> body)
    {
        var job = t_job;
        if (job == null || job.Busy)
        {
            job = new SplitJob();
            t_job ??= job;
        }
        job.Body = body;
        job.N = n;
        job.Chunks = chunks;
        job.Busy = true;
        try
        {
            KernelCancellation.ParallelFor(0, chunks, job.Chunk);
        }
        finally
        {
            job.Body = null;
            job.Busy = false;
        }
    }
}
