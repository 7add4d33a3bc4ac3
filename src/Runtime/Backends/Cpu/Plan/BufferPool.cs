namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// Arrays of exact length keyed by (element type, length). Training steps repeat the same shapes, so after the
/// first run every intermediate comes from here. Not thread-safe: one pool belongs to one <see cref="RunContext"/>,
/// which one thread uses at a time.
/// </summary>
internal sealed class BufferPool
{
    /// <summary>Arrays kept per key; more are left to the GC (bounds growth when donated inputs outnumber outputs).</summary>
    const int MaxPerKey = 16;

    readonly Dictionary<(Type, int), Stack<Array>> free = new();

    /// <summary>An array of <paramref name="n"/> elements with undefined contents.</summary>
    public T[] Rent<T>(int n) where T : unmanaged
    {
        if (n == 0) return Array.Empty<T>();
        if (free.TryGetValue((typeof(T), n), out var stack) && stack.Count > 0) return (T[])stack.Pop();
        return GC.AllocateUninitializedArray<T>(n);
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
    }

    /// <summary>Number of pooled arrays (tests).</summary>
    public int Count => free.Values.Sum(s => s.Count);
}

/// <summary>What one execution (and every computation it calls) shares: the buffer pool.</summary>
internal sealed class RunContext
{
    public BufferPool Pool { get; } = new();
}
