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
        lock (gate)
        {
            ThrowIfAborted(replica, where, cancellation);
            ThrowIfFinished(replica, where);
            long g = generation;
            if (++arrived == count)
            {
                arrived = 0;
                generation++;
                Monitor.PulseAll(gate);
                return;
            }
            while (generation == g)
            {
                Monitor.Wait(gate);
                if (generation != g) return;
                ThrowIfAborted(replica, where, cancellation);
                ThrowIfFinished(replica, where);
            }
        }
    }

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
