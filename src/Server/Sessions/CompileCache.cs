using System.Security.Cryptography;
using XlaGen.Hlo;

namespace XlaGen.Server.Sessions;

/// <summary>A program compiled on the device, shared by every handle (of any session) compiled from the same bytes.</summary>
internal sealed class CachedProgram
{
    public CachedProgram(string fingerprint, HloModule module, IExecutable executable, Shape[] parameterShapes, Shape[] resultShapes)
    {
        Fingerprint = fingerprint;
        Module = module;
        Executable = executable;
        ParameterShapes = parameterShapes;
        ResultShapes = resultShapes;
    }

    public string Fingerprint { get; }

    public HloModule Module { get; }

    public IExecutable Executable { get; }

    /// <summary>The arguments Execute takes: the entry parameters with tuples flattened to their leaves.</summary>
    public Shape[] ParameterShapes { get; }

    /// <summary>The results Execute returns: the root with tuples flattened to their leaves.</summary>
    public Shape[] ResultShapes { get; }
}

/// <summary>
/// Compiled programs keyed by the SHA-256 of their HloModuleProto bytes. An entry lives while a handle references it,
/// then up to <c>capacity</c> unreferenced ones are kept (least recently used evicted) for the next client. Concurrent
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
    bool disposed;

    public CompileCache(int capacity)
    {
        this.capacity = capacity;
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
        IExecutable? evicted = null;
        lock (sync)
        {
            if (!byProgram.TryGetValue(program, out var slot)) return;
            if (--slot.References > 0) return;
            if (disposed || capacity == 0)
            {
                Remove(slot, program);
                evicted = program.Executable;
            }
            else
            {
                slot.IdleNode = idle.AddLast(slot);
                if (idle.Count > capacity)
                {
                    var oldest = idle.First!.Value;
                    var oldProgram = oldest.Compiled.Result;
                    Remove(oldest, oldProgram);
                    evicted = oldProgram.Executable;
                }
            }
        }
        evicted?.Dispose();
    }

    void Remove(Slot slot, CachedProgram program)
    {
        if (slot.IdleNode != null)
        {
            idle.Remove(slot.IdleNode);
            slot.IdleNode = null;
        }
        slots.Remove(slot.Fingerprint);
        byProgram.Remove(program);
    }

    public void Dispose()
    {
        List<IExecutable> all;
        lock (sync)
        {
            disposed = true;
            all = slots.Values.Where(s => s.Compiled.IsCompletedSuccessfully).Select(s => s.Compiled.Result.Executable).ToList();
            slots.Clear();
            byProgram.Clear();
            idle.Clear();
        }
        foreach (var e in all) e.Dispose();
    }
}
