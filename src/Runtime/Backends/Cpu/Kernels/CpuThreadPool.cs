using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// The CPU executor's one fork/join pool, for GEMM and every other split kernel (<see cref="Par"/>,
/// <see cref="KernelCancellation.ParallelFor"/>): Environment.ProcessorCount - 1 dedicated background workers plus
/// the calling thread. One pool matters on few cores: when GEMM had these workers and the other kernels used .NET's
/// thread pool, a GEMM worker still spinning after its dot shared a core with the next fused loop's thread-pool
/// worker; on 2 cores the MLP's Adam update after its weight-gradient dot ran 3.4x slower than alone (750 vs 220 µs).
/// Calls from inside a running job (a kernel split within a split) run serially on their thread. A call is cut into chunks that threads claim dynamically; the caller claims chunks too and only waits
/// for chunks already running elsewhere, so a worker that is slow to wake (busy machine) costs nothing but its
/// share of the speed-up. Workers spin briefly after each job (back-to-back GEMMs of a training step pay no
/// wake-up latency) and then block. One caller uses the pool at a time; a concurrent caller that finds it busy
/// gets <c>false</c> from <see cref="TryRun"/> and runs on its own thread, so concurrent calls are safe and never
/// oversubscribe the cores.
/// </summary>
internal static class CpuThreadPool
{
    /// <summary>How long an idle worker spins before blocking.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    private static readonly object s_gate = new();

    /// <summary>True on the thread that runs a job (its caller) and on the workers: a split inside a split is serial.</summary>
    [ThreadStatic]
    private static bool t_insideJob;

    /// <summary>True when the calling thread is already running one of this pool's jobs (or is marked serial).</summary>
    public static bool InsideJob => t_insideJob;

    /// <summary>Until disposed, every split kernel on this thread runs serially (a replica thread when the replicas
    /// already occupy every core: splitting them again oversubscribed two cores threefold).</summary>
    public static SerialScope Serial()
    {
        bool saved = t_insideJob;
        t_insideJob = true;
        return new SerialScope(saved);
    }

    /// <summary>Restores the thread's split mode.</summary>
    public readonly struct SerialScope(bool saved) : IDisposable
    {
        public void Dispose() => t_insideJob = saved;
    }
    private static Worker[]? s_workers;

    /// <summary>Threads a call may use: the caller plus the workers.</summary>
    public static int MaxThreads { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// Runs body(0..chunks-1), each exactly once, on the calling thread and up to chunks-1 workers, and returns
    /// when all have finished. Returns false (running nothing) when the pool is busy with another caller.
    /// </summary>
    public static bool TryRun(int chunks, Action<int> body)
    {
        if (chunks <= 1 || MaxThreads <= 1 || t_insideJob)
            return false;
        if (!Monitor.TryEnter(s_gate))
            return false;
        t_insideJob = true;
        try
        {
            var workers = s_workers ??= CreateWorkers(MaxThreads - 1);
            // Workers run the chunks with the caller's cancellation token (GemmDriver polls it per block).
            var job = s_job;
            int generation = job.Start(chunks, body, KernelCancellation.Current);
            int helpers = Math.Min(chunks - 1, workers.Length);
            for (int i = 0; i < helpers; i++)
                workers[i].Post(generation);
            job.Work(generation);
            job.WaitAll();
            var error = job.Finish();
            if (error is not null)
                ExceptionDispatchInfo.Capture(error).Throw();
            return true;
        }
        finally
        {
            t_insideJob = false;
            Monitor.Exit(s_gate);
        }
    }

    private static Worker[] CreateWorkers(int count)
    {
        var ws = new Worker[count];
        for (int i = 0; i < count; i++)
            ws[i] = new Worker(i + 1);
        return ws;
    }

    /// <summary>The pool's one job, reused by every call (a call allocates nothing). Each call is a generation: a chunk is
    /// claimed by a compare-and-swap on (generation, next chunk), so a worker that wakes late with an older generation
    /// claims nothing, and the caller starts the next generation only after every chunk of this one has finished.</summary>
    private static readonly ChunkJob s_job = new();

    private sealed class ChunkJob
    {
        private long _state;      // generation << 32 | next chunk
        private int _completed;
        private int _chunks;
        private int _generation;
        private Action<int>? _body;
        private CancellationToken _token;
        private Exception? _error;

        /// <summary>Starts the next generation (the caller holds the gate and the previous one has finished).</summary>
        public int Start(int chunks, Action<int> body, CancellationToken token)
        {
            int generation = ++_generation;
            _chunks = chunks;
            _body = body;
            _token = token;
            _error = null;
            _completed = 0;
            Volatile.Write(ref _state, (long)generation << 32);
            return generation;
        }

        /// <summary>The first error of this generation, and the references dropped.</summary>
        public Exception? Finish()
        {
            var error = _error;
            _body = null;
            _token = default;
            _error = null;
            return error;
        }

        /// <summary>Claims and runs chunks of <paramref name="generation"/> until none are left; returns at once for an
        /// older generation.</summary>
        public void Work(int generation)
        {
            while (true)
            {
                long s = Volatile.Read(ref _state);
                if ((int)(s >> 32) != generation)
                    return;
                int c = (int)(s & 0xFFFFFFFF);
                if (c >= _chunks)
                    return;
                if (Interlocked.CompareExchange(ref _state, s + 1, s) != s)
                    continue;
                try
                {
                    if (_token.CanBeCanceled) KernelCancellation.Run(_token, c, _body!);
                    else _body!(c);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, e, null);
                }
                Interlocked.Increment(ref _completed);
            }
        }

        public void WaitAll()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _completed) != _chunks)
                spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private int _generation;
        private int _posted;   // incremented by the poster for each job
        private int _sleeping; // 1 while the worker is (about to be) blocked on _wake

        public Worker(int index)
        {
            var t = new Thread(Loop) { IsBackground = true, Name = $"XlaGen GEMM worker {index}" };
            t.Start();
        }

        public void Post(int generation)
        {
            Volatile.Write(ref _generation, generation);
            Interlocked.Increment(ref _posted);
            if (Interlocked.Exchange(ref _sleeping, 0) == 1)
                _wake.Release();
        }

        private void Loop()
        {
            t_insideJob = true;
            int seen = 0;
            while (true)
            {
                long start = Stopwatch.GetTimestamp();
                int spins = 0;
                while (Volatile.Read(ref _posted) == seen)
                {
                    Thread.SpinWait(8);
                    if ((++spins & 63) != 0 || Stopwatch.GetTimestamp() - start < SpinTicks)
                        continue;
                    Volatile.Write(ref _sleeping, 1);
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref _posted) != seen)
                    {
                        // A job arrived while going to sleep; if the poster already claimed the sleep flag it
                        // released the semaphore, which must be consumed to keep the count balanced.
                        if (Interlocked.Exchange(ref _sleeping, 0) == 0)
                            _wake.Wait();
                    }
                    else
                    {
                        _wake.Wait();
                    }
                    start = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref _posted);
                // Only the latest generation matters: an older one was finished by its caller before it posted again.
                s_job.Work(Volatile.Read(ref _generation));
            }
        }
    }
}
