using XlaGen.Hlo;

namespace XlaGen.Server.Sessions;

/// <summary>
/// Something a session holds under a handle. Calls pin an entry while they use it; releasing a pinned entry only
/// unlists it, and the last unpin frees it, so a Release racing an Execute never frees memory the execution reads.
/// Pins, <see cref="Released"/> and <see cref="Donating"/> change only under the owning session's lock.
/// </summary>
internal abstract class HandleEntry
{
    int freed;

    protected HandleEntry(Session owner, long bytes)
    {
        Owner = owner;
        Bytes = Session.Charge(bytes);
    }

    public Session Owner { get; }

    /// <summary>Random, unique among the live handles of every session; 0 until the session lists the entry
    /// (<see cref="Session.Add"/>, which draws it).</summary>
    public ulong Handle { get; internal set; }

    /// <summary>Bytes counted against the session's limit and the server's budget: the buffer's bytes or the program's
    /// estimated size, at least <see cref="Session.MinimumCharge"/>.</summary>
    public long Bytes { get; }

    /// <summary>"buffer" or "executable", for messages.</summary>
    public abstract string Kind { get; }

    internal int Pins { get; set; }

    internal bool Released { get; set; }

    /// <summary>Handed to a running execution that consumes it; no other call may pin it meanwhile.</summary>
    internal bool Donating { get; set; }

    public abstract string Describe();

    /// <summary>Frees the device resource, once.</summary>
    public void Free()
    {
        if (Interlocked.Exchange(ref freed, 1) == 0) FreeCore();
    }

    protected abstract void FreeCore();
}

internal sealed class BufferEntry : HandleEntry
{
    public BufferEntry(Session owner, DeviceBuffer buffer, long bytes, int deviceId = 0) : base(owner, bytes)
    {
        Buffer = buffer;
        DeviceId = deviceId;
    }

    public DeviceBuffer Buffer { get; }

    /// <summary>The server device holding the buffer (its index in <see cref="DeviceHost.Devices"/>).</summary>
    public int DeviceId { get; }

    public Shape Shape => Buffer.Shape;

    public override string Kind => "buffer";

    public override string Describe() => DeviceId == 0 ? $"buffer {Handle} ({Buffer.Shape})" : $"buffer {Handle} ({Buffer.Shape} on device {DeviceId})";

    protected override void FreeCore() => Buffer.Dispose();
}

internal sealed class ExecutableEntry : HandleEntry
{
    readonly CompileCache cache;

    public ExecutableEntry(Session owner, CachedProgram program, CompileCache cache) : base(owner, program.EstimatedBytes)
    {
        Program = program;
        this.cache = cache;
    }

    public CachedProgram Program { get; }

    public override string Kind => "executable";

    public override string Describe() => $"executable {Handle} ('{Program.Module.Name}')";

    protected override void FreeCore() => cache.Release(Program);
}
