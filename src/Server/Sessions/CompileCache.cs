using System.Security.Cryptography;
using XlaGen.Hlo;

namespace XlaGen.Server.Sessions;

/// <summary>A program compiled on the device, shared by every handle (of any session) compiled from the same bytes.</summary>
internal sealed class CachedProgram
{
    readonly IExecutable? executable;

    public CachedProgram(string fingerprint, HloModule module, IExecutable executable, Shape[] parameterShapes, Shape[] resultShapes, long estimatedBytes)
        : this(fingerprint, module, executable, null, parameterShapes, resultShapes, estimatedBytes)
    {
    }

    /// <summary>A program compiled for <see cref="IReplicaExecutable.Replicas"/> replicas (xlagen-server --devices N).</summary>
    public CachedProgram(string fingerprint, HloModule module, IReplicaExecutable replicated, Shape[] parameterShapes, Shape[] resultShapes, long estimatedBytes)
        : this(fingerprint, module, null, replicated, parameterShapes, resultShapes, estimatedBytes)
    {
    }

    CachedProgram(string fingerprint, HloModule module, IExecutable? executable, IReplicaExecutable? replicated, Shape[] parameterShapes, Shape[] resultShapes, long estimatedBytes)
    {
        EstimatedBytes = estimatedBytes;
        Fingerprint = fingerprint;
        Module = module;
        this.executable = executable;
        Replicated = replicated;
        ParameterShapes = parameterShapes;
        ResultShapes = resultShapes;
    }

    public string Fingerprint { get; }

    /// <summary>What the compiled program keeps in memory, estimated: its module bytes, its instructions (IR and
    /// plan; see <see cref="Estimate"/>) and its constants.</summary>
    public long EstimatedBytes { get; }

    /// <summary>Bytes of memory per instruction a compiled program keeps (the HLO IR, the CPU plan's steps and
    /// kernel closures): issue 13 measured about 0.7 GB for a 1,000,000-instruction module; 1 KiB errs high.</summary>
    public const long BytesPerInstruction = 1024;

    public static long Estimate(HloModule module, long moduleBytes)
    {
        long bytes = moduleBytes;
        foreach (var c in module.Computations)
        {
            bytes += c.Instructions.Count * BytesPerInstruction;
            foreach (var ins in c.Instructions)
            {
                if (ins.Opcode == "constant" && ins.Shape.IsArray && ins.Shape.IsStatic)
                    bytes += ins.Shape.ElementCount * Math.Max(1, SafeByteSize(ins.Shape.ElementType));
            }
        }
        return bytes;
    }

    static int SafeByteSize(ElementType t)
    {
        try
        {
            return t.ByteSize();
        }
        catch (ArgumentException)
        {
            return 1;
        }
    }

    public HloModule Module { get; }

    /// <summary>The one-device program (device 0); a replicated program has none.</summary>
    public IExecutable Executable => executable ?? throw new InvalidOperationException($"'{Module.Name}' was compiled for {ReplicaCount} replicas");

    /// <summary>The replicated program, when compiled with a replica count above 1.</summary>
    public IReplicaExecutable? Replicated { get; }

    /// <summary>1 for a one-device program.</summary>
    public int ReplicaCount => Replicated?.Replicas ?? 1;

    /// <summary>One replica's (or the one device's) estimated peak memory while it runs.</summary>
    public long PeakMemoryBytes => Replicated?.PeakMemoryBytes ?? executable!.PeakMemoryBytes;

    /// <summary>What eviction disposes.</summary>
    public IDisposable Compiled => (IDisposable?)Replicated ?? executable!;

    /// <summary>The arguments Execute takes: the entry parameters with tuples flattened to their leaves.</summary>
    public Shape[] ParameterShapes { get; }

    /// <summary>The results Execute returns: the root with tuples flattened to their leaves.</summary>
    public Shape[] ResultShapes { get; }
}

/// <summary>
/// Compiled programs keyed by the SHA-256 of their HloModuleProto bytes. An entry lives while a handle references it,
/// then up to <c>capacity</c> unreferenced ones, of at most <c>maxIdleBytes</c> estimated bytes together
/// (<see cref="CachedProgram.EstimatedBytes"/>), are kept (least recently used evicted) for the next client. Concurrent
/// compiles of the same bytes share one compilation; a failed compilation is not cached. One lock guards the maps.
/// </summary>
internal sealed class CompileCache : IDisposable
{
    sealed class Slot
    {
        public Slot(string fingerprint, Task<CachedProgram> compiled)
        {
            Fingerprint = fingerprint;
            Compiled = compiled;
        }

        public string Fingerprint { get; }

        public Task<CachedProgram> Compiled { get; }

        public int References;

        public LinkedListNode<Slot>? IdleNode;
    }

    readonly object sync = new();
    readonly Dictionary<string, Slot> slots = new(StringComparer.Ordinal);
    readonly Dictionary<CachedProgram, Slot> byProgram = new();
    readonly LinkedList<Slot> idle = new();
    readonly int capacity;
    readonly long maxIdleBytes;
    long idleBytes;
    bool disposed;

    public CompileCache(int capacity, long maxIdleBytes = long.MaxValue)
    {
        this.capacity = capacity;
        this.maxIdleBytes = maxIdleBytes;
    }

    /// <summary>Estimated bytes of the programs kept with no handle referencing them.</summary>
    public long IdleBytes
    {
        get
        {
            lock (sync) return idleBytes;
        }
    }

    public int Count
    {
        get
        {
            lock (sync) return slots.Count;
        }
    }

    public static string Fingerprint(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The program for these bytes, compiled now by <paramref name="compile"/> or taken from the cache, with one
    /// reference the caller gives back through <see cref="Release"/>.</summary>
    public async Task<(CachedProgram Program, bool Hit)> AcquireAsync(string fingerprint, Func<CachedProgram> compile)
    {
        Slot slot;
        bool hit;
        lock (sync)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            hit = slots.TryGetValue(fingerprint, out slot!);
            if (!hit)
            {
                slot = new Slot(fingerprint, Task.Run(compile));
                slots[fingerprint] = slot;
            }
            else if (slot.IdleNode != null)
            {
                idle.Remove(slot.IdleNode);
                slot.IdleNode = null;
                idleBytes -= slot.Compiled.Result.EstimatedBytes;
            }
            slot.References++;
        }
        try
        {
            var program = await slot.Compiled.ConfigureAwait(false);
            lock (sync) byProgram[program] = slot;
            return (program, hit);
        }
        catch
        {
            lock (sync)
            {
                slot.References--;
                if (slots.TryGetValue(fingerprint, out var current) && current == slot) slots.Remove(fingerprint);
            }
            throw;
        }
    }

    public void Release(CachedProgram program)
    {
        var evicted = new List<IDisposable>();
        lock (sync)
        {
            if (!byProgram.TryGetValue(program, out var slot)) return;
            if (--slot.References > 0) return;
            if (disposed || capacity == 0 || program.EstimatedBytes > maxIdleBytes)
            {
                Remove(slot, program);
                evicted.Add(program.Compiled);
            }
            else
            {
                slot.IdleNode = idle.AddLast(slot);
                idleBytes += program.EstimatedBytes;
                while (idle.Count > capacity || idleBytes > maxIdleBytes)
                {
                    var oldest = idle.First!.Value;
                    var oldProgram = oldest.Compiled.Result;
                    Remove(oldest, oldProgram);
                    evicted.Add(oldProgram.Compiled);
                }
            }
        }
        foreach (var e in evicted) e.Dispose();
    }

    void Remove(Slot slot, CachedProgram program)
    {
        if (slot.IdleNode != null)
        {
            idle.Remove(slot.IdleNode);
            slot.IdleNode = null;
            idleBytes -= program.EstimatedBytes;
        }
        slots.Remove(slot.Fingerprint);
        byProgram.Remove(program);
    }

    public void Dispose()
    {
        List<IDisposable> all;
        lock (sync)
        {
            disposed = true;
            all = slots.Values.Where(s => s.Compiled.IsCompletedSuccessfully).Select(s => s.Compiled.Result.Compiled).ToList();
            slots.Clear();
            byProgram.Clear();
            idle.Clear();
            idleBytes = 0;
        }
        foreach (var e in all) e.Dispose();
    }
}
