namespace XlaGen.Server.Sessions;

/// <summary>
/// The device bytes the whole server may use at once (--max-device-bytes): buffers held by every session plus what
/// running executions allocate. Each session's own limit is checked first; this keeps many sessions together from
/// exhausting the host, which on the CPU backend ends the process rather than failing a call.
/// </summary>
internal sealed class MemoryBudget(long limit)
{
    long used;

    /// <summary>0: no limit.</summary>
    public long Limit { get; } = limit;

    public long Used => Interlocked.Read(ref used);

    public bool TryTake(long bytes)
    {
        if (Limit <= 0)
        {
            Interlocked.Add(ref used, bytes);
            return true;
        }
        while (true)
        {
            long now = Interlocked.Read(ref used);
            if (bytes > Limit - now) return false;
            if (Interlocked.CompareExchange(ref used, now + bytes, now) == now) return true;
        }
    }

    public void Give(long bytes) => Interlocked.Add(ref used, -bytes);
}
