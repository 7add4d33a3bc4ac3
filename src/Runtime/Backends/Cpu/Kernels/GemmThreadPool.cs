using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// A tiny fork/join pool for GEMM: Environment.ProcessorCount - 1 dedicated background workers plus the calling
/// thread. Workers spin briefly after each job (so back-to-back GEMMs of a training step pay no wake-up latency)
/// and then block. Only one caller can use the pool at a time; a concurrent caller that finds it busy gets
/// <c>false</c> from <see cref="TryRun"/> and runs its problem on its own thread instead, so concurrent calls are
/// safe and never oversubscribe the cores.
/// </summary>
internal static class GemmThreadPool
{
    /// <summary>How long an idle worker spins before blocking.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    private static readonly object s_gate = new();
    private static Worker[]? s_workers;

    /// <summary>Threads a call may use: the caller plus the workers.</summary>
    public static int MaxThreads { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// Runs body(0..parts-1) with part 0 on the calling thread and the others on workers. Returns false (running
    /// nothing) when the pool is busy with another caller or parts exceeds <see cref="MaxThreads"/>.
    /// </summary>
    public static bool TryRun(int parts, Action<int> body)
    {
        if (parts <= 1 || parts > MaxThreads)
            return false;
        if (!Monitor.TryEnter(s_gate))
            return false;
        try
        {
            var workers = s_workers ??= CreateWorkers(MaxThreads - 1);
            for (int i = 1; i < parts; i++)
                workers[i - 1].Post(body, i);

            Exception? first = null;
            try
            {
                body(0);
            }
            catch (Exception e)
            {
                first = e;
            }
            for (int i = 1; i < parts; i++)
            {
                var err = workers[i - 1].WaitDone();
                first ??= err;
            }
            if (first is not null)
                ExceptionDispatchInfo.Capture(first).Throw();
            return true;
        }
        finally
        {
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

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private Action<int>? _body;
        private int _part;
        private Exception? _error;
        private int _posted;   // incremented by the poster for each job
        private int _done;     // set to the job number by the worker when it finishes
        private int _sleeping; // 1 while the worker is (about to be) blocked on _wake

        public Worker(int index)
        {
            var t = new Thread(Loop) { IsBackground = true, Name = $"XlaGen GEMM worker {index}" };
            t.Start();
        }

        public void Post(Action<int> body, int part)
        {
            _body = body;
            _part = part;
            _error = null;
            Interlocked.Increment(ref _posted);
            if (Interlocked.Exchange(ref _sleeping, 0) == 1)
                _wake.Release();
        }

        public Exception? WaitDone()
        {
            int target = Volatile.Read(ref _posted);
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != target)
                spin.SpinOnce(sleep1Threshold: -1);
            return _error;
        }

        private void Loop()
        {
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
                try
                {
                    _body!(_part);
                }
                catch (Exception e)
                {
                    _error = e;
                }
                _body = null;
                Volatile.Write(ref _done, seen);
            }
        }
    }
}
