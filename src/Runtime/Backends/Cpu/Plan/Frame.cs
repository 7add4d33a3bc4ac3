namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// The run-time state of one computation invocation: one slot per array leaf of every instruction value, and
/// reference counts per storage so an array returns to the pool when its last alias dies. A storage is owned when
/// this run may overwrite or recycle it: intermediates and donated inputs are owned; constants and inputs that were
/// not donated are not. Kernels read operand arrays from <see cref="Data"/> and define their outputs with
/// <see cref="Alloc{T}"/>, <see cref="AllocReusing{T}"/>, <see cref="Alias"/> or <see cref="SetExternal"/>.
/// </summary>
internal sealed class Frame
{
    readonly int[] storageOf;
    readonly int[] refs;
    readonly bool[] owned;

    public Frame(int slots)
    {
        Data = new Array?[slots];
        storageOf = new int[slots];
        refs = new int[slots];
        owned = new bool[slots];
    }

    public Array?[] Data { get; }

    public RunContext Context { get; private set; } = null!;

    public IReadOnlyList<Array> Inputs { get; private set; } = Array.Empty<Array>();

    public IReadOnlyList<bool>? InputOwned { get; private set; }

    public void Begin(RunContext context, IReadOnlyList<Array> inputs, IReadOnlyList<bool>? inputOwned)
    {
        Context = context;
        Inputs = inputs;
        InputOwned = inputOwned;
    }

    public void End()
    {
        Inputs = Array.Empty<Array>();
        InputOwned = null;
        Context = null!;
    }

    /// <summary>A fresh pooled array for <paramref name="slot"/> (contents undefined: the kernel writes all of it).</summary>
    public T[] Alloc<T>(int slot, int n) where T : unmanaged
    {
        var a = Context.Pool.Rent<T>(n);
        Define(slot, a, true);
        return a;
    }

    /// <summary>Writes in place into operand slot <paramref name="candidate"/> when this run owns its storage and
    /// nothing else refers to it (the compiler passes only operands whose last use is this instruction, with the
    /// output's type and size); otherwise a fresh array.</summary>
    public T[] AllocReusing<T>(int slot, int n, int candidate, int candidate2 = -1) where T : unmanaged
    {
        if (candidate >= 0 && CanReuse(candidate)) return Reuse<T>(slot, candidate);
        if (candidate2 >= 0 && CanReuse(candidate2)) return Reuse<T>(slot, candidate2);
        return Alloc<T>(slot, n);
    }

    /// <summary>As <see cref="AllocReusing{T}"/> with any number of candidates, tried in order.</summary>
    public T[] AllocReusingAny<T>(int slot, int n, int[] candidates) where T : unmanaged
    {
        foreach (int candidate in candidates)
            if (CanReuse(candidate)) return Reuse<T>(slot, candidate);
        return Alloc<T>(slot, n);
    }

    bool CanReuse(int candidate)
    {
        int st = storageOf[candidate];
        return owned[st] && refs[st] == 1;
    }

    T[] Reuse<T>(int slot, int candidate) where T : unmanaged
    {
        Alias(slot, candidate);
        return (T[])Data[slot]!;
    }

    /// <summary><paramref name="slot"/> holds the same array as <paramref name="source"/> (reshape, tuple, get-tuple-element).</summary>
    public void Alias(int slot, int source)
    {
        Data[slot] = Data[source];
        int st = storageOf[source];
        storageOf[slot] = st;
        refs[st]++;
    }

    /// <summary>An array this run must not write or recycle (a constant, an input that was not donated).</summary>
    /// <summary>Hands <paramref name="slot"/>'s array over to whoever asks (a loop's body, to update it in place), when
    /// this frame owns it and nothing else refers to it: it is then no longer this frame's, so releasing the slot later
    /// returns nothing to the pool.</summary>
    public bool TryTake(int slot)
    {
        int st = storageOf[slot];
        if (Data[slot] == null || !owned[st] || refs[st] != 1) return false;
        owned[st] = false;
        return true;
    }

    public void SetExternal(int slot, Array a) => Define(slot, a, false);

    /// <summary>An array this run owns from now on (a callee's output, a donated input).</summary>
    public void SetOwned(int slot, Array a) => Define(slot, a, true);

    void Define(int slot, Array a, bool isOwned)
    {
        Data[slot] = a;
        storageOf[slot] = slot;
        refs[slot] = 1;
        owned[slot] = isOwned;
    }

    /// <summary>The value in <paramref name="slot"/> is dead; its array goes back to the pool with its last alias.</summary>
    public void Release(int slot)
    {
        var a = Data[slot];
        Data[slot] = null;
        int st = storageOf[slot];
        if (--refs[st] == 0 && owned[st] && a != null) Context.Pool.Return(a);
    }

    /// <summary>Hands the array of a result slot to the caller: the array itself when this run owns it and has not
    /// handed it out yet, otherwise a copy (an input, a constant, or the same array appearing twice in the result).</summary>
    public Array TakeResult(int slot)
    {
        var a = Data[slot]!;
        Data[slot] = null;
        int st = storageOf[slot];
        if (owned[st])
        {
            owned[st] = false;
            return a;
        }
        return CopyFromPool(a);
    }

    /// <summary>Drops every reference after a failed run so the frame can be reused.</summary>
    public void Clear()
    {
        Array.Clear(Data);
        End();
    }

    /// <summary>Switches on the exact array type: CLR array covariance makes a byte[] pass "is sbyte[]".</summary>
    Array CopyFromPool(Array a)
    {
        var t = a.GetType();
        if (t == typeof(float[])) return Copy((float[])a);
        if (t == typeof(double[])) return Copy((double[])a);
        if (t == typeof(int[])) return Copy((int[])a);
        if (t == typeof(long[])) return Copy((long[])a);
        if (t == typeof(bool[])) return Copy((bool[])a);
        if (t == typeof(sbyte[])) return Copy((sbyte[])a);
        if (t == typeof(short[])) return Copy((short[])a);
        if (t == typeof(byte[])) return Copy((byte[])a);
        if (t == typeof(ushort[])) return Copy((ushort[])a);
        if (t == typeof(uint[])) return Copy((uint[])a);
        if (t == typeof(ulong[])) return Copy((ulong[])a);
        return (Array)a.Clone();
    }

    T[] Copy<T>(T[] x) where T : unmanaged
    {
        var c = Context.Pool.Rent<T>(x.Length);
        x.AsSpan().CopyTo(c);
        return c;
    }
}
