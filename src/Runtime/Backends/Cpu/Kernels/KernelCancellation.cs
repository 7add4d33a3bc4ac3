using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// The running execution's cancellation as kernels see it: an ambient token per thread, set by the executable for
/// the calling thread and carried by <see cref="Par"/>, the GEMM pool and batched dots to the threads they fork.
/// Kernels that can run long poll it once per block of work (a row, a tile, a window, an output position) through
/// <see cref="WorkPoll"/>, which reads the token only after about <see cref="Block"/> elementary operations, so
/// the hot loops pay one subtraction per block and a thread-static read plus a volatile read every few hundred
/// microseconds of work. A cancelled execution stops inside a kernel within about a millisecond of work per thread.
/// </summary>
internal static class KernelCancellation
{
    /// <summary>Elementary operations (multiply-adds, element visits, comparator calls) between two polls.</summary>
    public const long Block = 1 << 18;

    [ThreadStatic]
    static CancellationToken current;

    /// <summary>The token of the execution running on this thread (none outside an execution).</summary>
    public static CancellationToken Current => current;

    /// <summary>Until disposed, kernels on this thread poll <paramref name="token"/>.</summary>
    public static Scope Enter(CancellationToken token)
    {
        var saved = current;
        current = token;
        return new Scope(saved);
    }

    /// <summary>Throws <see cref="OperationCanceledException"/> when this thread's execution was cancelled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ThrowIfRequested() => current.ThrowIfCancellationRequested();

    /// <summary>Runs <paramref name="body"/> with <paramref name="token"/> as this thread's token (a forked thread).</summary>
    public static void Run<TArg>(CancellationToken token, TArg arg, Action<TArg> body)
    {
        var saved = current;
        current = token;
        try
        {
            token.ThrowIfCancellationRequested();
            body(arg);
        }
        finally
        {
            current = saved;
        }
    }

    /// <summary>Runs body(from..to-1) split across the cores on <see cref="CpuThreadPool"/>, each call seeing the caller's
    /// token; the first exception is rethrown as it is (a cancellation as its OperationCanceledException). Inside a
    /// running job it is serial; when another thread (another replica) holds the pool, .NET's Parallel.For runs it.</summary>
    public static void ParallelFor(int from, int to, Action<int> body)
    {
        if (to - from <= 1 || CpuThreadPool.InsideJob)
        {
            for (int i = from; i < to; i++) body(i);
            return;
        }
        if (from == 0 && CpuThreadPool.TryRun(to, body)) return;
        Fallback(from, to, body);
    }

    /// <summary>A range not starting at 0, or the pool held by another thread: the closures live here, so the common
    /// path above allocates none.</summary>
    static void Fallback(int from, int to, Action<int> body)
    {
        if (from != 0 && CpuThreadPool.TryRun(to - from, c => body(from + c))) return;
        var token = current;
        try
        {
            Parallel.For(from, to, i => Run(token, i, body));
        }
        catch (AggregateException e) when (token.IsCancellationRequested && e.InnerExceptions.All(x => x is OperationCanceledException))
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    public readonly struct Scope(CancellationToken saved) : IDisposable
    {
        public void Dispose() => current = saved;
    }
}

/// <summary>Counts work done by one thread of a kernel and polls the execution's cancellation once per
/// <see cref="KernelCancellation.Block"/> operations. A local value: create one per range a thread runs.</summary>
internal struct WorkPoll
{
    long left;

    public WorkPoll() => left = KernelCancellation.Block;

    /// <summary>Records <paramref name="work"/> operations just done (or about to be done); polls when a block is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long work)
    {
        if ((left -= work) > 0) return;
        left = KernelCancellation.Block;
        KernelCancellation.ThrowIfRequested();
    }
}
