namespace XlaGen.Backends.Cpu.Plan;

/// <summary>Which replica an execution is, of how many, and the rendezvous it shares with the others.</summary>
internal sealed class ReplicaContext(int id, int count, ReplicaRendezvous rendezvous)
{
    public int Id { get; } = id;

    public int Count { get; } = count;

    public ReplicaRendezvous Rendezvous { get; } = rendezvous;
}

/// <summary>
/// The meeting point of one replicated execution: a reusable barrier for its N replica threads, one slot per
/// replica for what a collective publishes, and the step's failure. A replica that fails aborts the rendezvous, so
/// no replica waits for it forever; a replica that finishes while others wait at a collective (the replicas ran
/// different collectives) aborts it too. Waiting never times out by itself: the caller's cancellation aborts it.
/// </summary>
internal sealed class ReplicaRendezvous
{
    readonly object gate = new();
    readonly int count;
    int arrived;
    long generation;
    int finished;
    Exception? abort;
    int failedReplica = -1;
    Exception? failure;

    public ReplicaRendezvous(int count)
    {
        this.count = count;
        Slots = new object?[count];
    }

    /// <summary>What each replica publishes at the collective it is in; read only between the two rendezvous of a collective.</summary>
    public object?[] Slots { get; }

    /// <summary>The first replica that failed and its error (null while none has).</summary>
    public (int Replica, Exception Error)? Failure
    {
        get
        {
            lock (gate) return failure == null ? null : (failedReplica, failure);
        }
    }

    /// <summary>Waits until all replicas have arrived at this point. Throws when the execution was aborted (another
    /// replica failed, the step was cancelled) or when a replica finished the program instead of arriving.</summary>
    public void Arrive(int replica, string where, CancellationToken cancellation)
    {
        long g;
        lock (gate)
        {
            ThrowIfAborted(replica, where, cancellation);
            ThrowIfFinished(replica, where);
            g = generation;
            if (++arrived == count)
            {
                arrived = 0;
                Volatile.Write(ref generation, g + 1);
                Monitor.PulseAll(gate);
                return;
            }
        }
        // The others usually arrive within microseconds, and a blocked thread's wake-up costs tens of microseconds on a
        // VM, several times per step: spin briefly first, when every replica has a core to itself (spinning beside a
        // replica that still computes on the same core would only delay it).
        if (count <= Environment.ProcessorCount)
            Kernels.Spin.Until((Rendezvous: this, Generation: g), static s => s.Rendezvous.Moved(s.Generation), SpinTicks);
        lock (gate)
        {
            while (generation == g)
            {
                ThrowIfAborted(replica, where, cancellation);
                ThrowIfFinished(replica, where);
                Monitor.Wait(gate);
            }
        }
    }

    /// <summary>Generation <paramref name="g"/> is over, or the execution was aborted or a replica finished: a waiter
    /// has something to act on (read without the lock, for spinning).</summary>
    bool Moved(long g) => Volatile.Read(ref generation) != g || Volatile.Read(ref abort) != null || Volatile.Read(ref finished) != 0;

    /// <summary>How long a replica spins at a rendezvous before it blocks: 50 µs.</summary>
    static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

    /// <summary>A replica that finished can never arrive: whoever waits (or is about to) would wait forever.</summary>
    void ThrowIfFinished(int replica, string where)
    {
        if (finished > 0)
            throw new XlaExecutionException($"replica {replica} waits at {where}, but {finished} replica(s) finished the program without reaching it: the replicas ran different collectives");
    }

    void ThrowIfAborted(int replica, string where, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        if (abort != null) throw new ReplicaAbortedException($"replica {replica} stopped at {where}: {abort.Message}", abort);
    }

    /// <summary>A replica ran its program to the end.</summary>
    public void Finish()
    {
        lock (gate)
        {
            finished++;
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>A replica failed: the first failure is the step's error; every waiting replica is released.
    /// Returns true when this was the first.</summary>
    public bool Fail(int replica, Exception error)
    {
        lock (gate)
        {
            bool first = failure == null;
            if (first)
            {
                failure = error;
                failedReplica = replica;
            }
            abort ??= error;
            Monitor.PulseAll(gate);
            return first;
        }
    }

    /// <summary>Releases every waiting replica (the step's cancellation).</summary>
    public void Abort(Exception reason)
    {
        lock (gate)
        {
            abort ??= reason;
            Monitor.PulseAll(gate);
        }
    }
}

/// <summary>A replica stopped because another replica failed or the step was cancelled; never the step's own error.</summary>
internal sealed class ReplicaAbortedException(string message, Exception inner) : Exception(message, inner);
