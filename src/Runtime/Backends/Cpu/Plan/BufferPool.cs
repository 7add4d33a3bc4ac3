using System.Collections.Concurrent;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// Arrays of exact length keyed by (element type, length). Training steps repeat the same shapes, so after the
/// first run every intermediate comes from here. Not thread-safe: one pool belongs to one <see cref="RunContext"/>,
/// which one thread uses at a time. When it has no array of a size it asks the device-wide
/// <see cref="SharedBufferPool"/> (arrays of disposed buffers) before allocating.
/// </summary>
internal sealed class BufferPool(SharedBufferPool? shared)
{
    /// <summary>Arrays kept per key; more are left to the GC (bounds growth when donated inputs outnumber outputs).</summary>
    const int MaxPerKey = 16;

    readonly Dictionary<(Type, int), Stack<Array>> free = new();

    /// <summary>An array of <paramref name="n"/> elements with undefined contents.</summary>
    public T[] Rent<T>(int n) where T : unmanaged
    {
        if (n == 0) return Array.Empty<T>();
        if (free.TryGetValue((typeof(T), n), out var stack) && stack.Count > 0) return (T[])stack.Pop();
        return shared?.TryRent<T>(n) ?? GC.AllocateUninitializedArray<T>(n);
    }

    public void Return(Array a)
    {
        if (a.Length == 0) return;
        var key = (a.GetType().GetElementType()!, a.Length);
        if (!free.TryGetValue(key, out var stack))
        {
            stack = new Stack<Array>();
            free[key] = stack;
        }
        if (stack.Count < MaxPerKey) stack.Push(a);
        else shared?.Return(a);
    }

    /// <summary>Number of pooled arrays (tests).</summary>
    public int Count => free.Values.Sum(s => s.Count);
}

/// <summary>
/// The device-wide, thread-safe pool: arrays of buffers the user disposed, which the next executions reuse for
/// their results (a result that leaves an execution otherwise costs a fresh allocation, often on the large object
/// heap). Bounded in count per size and in total bytes.
/// </summary>
internal sealed class SharedBufferPool
{
    const int MaxPerKey = 64;
    const long MaxBytes = 1L << 30;

    readonly ConcurrentDictionary<(Type, int), ConcurrentStack<Array>> free = new();
    long bytes;

    public T[]? TryRent<T>(int n) where T : unmanaged
    {
        if (Volatile.Read(ref bytes) == 0) return null;
        if (free.TryGetValue((typeof(T), n), out var stack) && stack.TryPop(out var a))
        {
            Interlocked.Add(ref bytes, -(long)n * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
            return (T[])a;
        }
        return null;
    }

    /// <summary>A pooled array of the same element type and length as <paramref name="like"/> (contents undefined), or
    /// null when none is free.</summary>
    public Array? TryRentLike(Array like) => TryRent(like.GetType().GetElementType()!, like.Length);

    /// <summary>A pooled array of <paramref name="elementType"/> with exactly <paramref name="length"/> elements
    /// (contents undefined), or null when none is free.</summary>
    public Array? TryRent(Type elementType, int length)
    {
        if (length == 0 || Volatile.Read(ref bytes) == 0) return null;
        if (free.TryGetValue((elementType, length), out var stack) && stack.TryPop(out var a))
        {
            Interlocked.Add(ref bytes, -(long)a.Length * ElementBytes(elementType));
            return a;
        }
        return null;
    }

    public void Return(Array a)
    {
        if (a.Length == 0) return;
        var type = a.GetType().GetElementType()!;
        long size = (long)a.Length * ElementBytes(type);
        if (Volatile.Read(ref bytes) + size > MaxBytes) return;
        var stack = free.GetOrAdd((type, a.Length), _ => new ConcurrentStack<Array>());
        if (stack.Count >= MaxPerKey) return;
        stack.Push(a);
        Interlocked.Add(ref bytes, size);
    }

    public long Bytes => Volatile.Read(ref bytes);

    static int ElementBytes(Type t) =>
        t == typeof(double) || t == typeof(long) || t == typeof(ulong) ? 8
        : t == typeof(float) || t == typeof(int) || t == typeof(uint) ? 4
        : t == typeof(short) || t == typeof(ushort) || t == typeof(Half) ? 2 : 1;
}

/// <summary>What one execution (and every computation it calls) shares: the buffer pool.</summary>
internal sealed class RunContext(SharedBufferPool? shared = null)
{
    public BufferPool Pool { get; } = new(shared);

    /// <summary>The running execution's cancellation, checked before every step and loop iteration (and inside the
    /// kernels through KernelCancellation, which the executable sets from the same token).</summary>
    public CancellationToken Cancellation { get; set; }

    /// <summary>Which replica this execution is and where it meets the others (null: a single-device execution).</summary>
    public ReplicaContext? Replica { get; set; }

    Array[]? arguments, results;

    /// <summary>A scratch array of <paramref name="n"/> argument slots, reused by every run of this context (the
    /// caller clears it afterwards so it holds no arrays between runs).</summary>
    public Array[] Arguments(int n) => arguments?.Length == n ? arguments : arguments = new Array[n];

    /// <summary>A scratch array of <paramref name="n"/> result slots, reused like <see cref="Arguments"/>.</summary>
    public Array[] Results(int n) => results?.Length == n ? results : results = new Array[n];

    CpuBuffer[]? buffers;
    bool[]? owned;

    /// <summary>Scratch for the arguments' buffers, reused like <see cref="Arguments"/>.</summary>
    public CpuBuffer[] Buffers(int n) => buffers?.Length == n ? buffers : buffers = new CpuBuffer[n];

    /// <summary>Scratch for the donation mask, reused like <see cref="Arguments"/> (the caller clears it).</summary>
    public bool[] Owned(int n) => owned?.Length == n ? owned : owned = new bool[n];
}
