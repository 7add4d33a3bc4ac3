namespace XlaGen.Server.Sessions;

/// <summary>
/// Gives memory back to the OS after a session that held a lot closes (issue 13 finding 2: after large sessions the
/// GC heap went back but the process kept its pages). A full collection frees the objects; only an aggressive one also
/// decommits the freed regions, so the resident set follows. It blocks every thread for the collection, so it runs
/// at most once per <see cref="MinInterval"/> and only when a close released at least <see cref="Threshold"/> bytes:
/// a client opening and closing sessions cannot turn it into a steady stall.
/// </summary>
internal static class HeapTrimmer
{
    public const long Threshold = 32L << 20;

    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(5);

    static long lastRun = long.MinValue / 2;
    static int scheduled;

    /// <summary>Called with what a closed or expired session released.</summary>
    public static void Released(long bytes)
    {
        if (bytes < Threshold) return;
        if (Interlocked.CompareExchange(ref scheduled, 1, 0) != 0) return;   // one pending trim covers every close before it
        long wait = Math.Max(0, Interlocked.Read(ref lastRun) + (long)MinInterval.TotalMilliseconds - Environment.TickCount64);
        _ = Task.Run(async () =>
        {
            try
            {
                if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait)).ConfigureAwait(false);
                Volatile.Write(ref scheduled, 0);
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Interlocked.Exchange(ref lastRun, Environment.TickCount64);
            }
            catch
            {
                Volatile.Write(ref scheduled, 0);   // never fatal: the memory stays with the process until the next trim
            }
        });
    }
}
