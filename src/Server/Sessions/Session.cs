using Grpc.Core;
using XlaGen.Server.Grpc;

namespace XlaGen.Server.Sessions;

/// <summary>
/// One client's session: its handles, the device bytes they hold, and its lease. One lock guards all of it; the
/// work done under it is dictionary updates and counters, never device calls.
/// </summary>
internal sealed class Session
{
    readonly object sync = new();
    readonly Dictionary<ulong, HandleEntry> handles = new();
    readonly HashSet<string> compiledFingerprints = new(StringComparer.Ordinal);
    readonly SessionTable table;
    long bytesHeld;
    int activeCalls;
    long lastSeenMs;
    bool closed;

    public Session(SessionTable table, string id, string clientName, int protocolVersion)
    {
        this.table = table;
        Order = new ExecutionOrder(table.Lease);
        Id = id;
        ClientName = clientName;
        ProtocolVersion = protocolVersion;
        lastSeenMs = Environment.TickCount64;
    }

    public string Id { get; }

    /// <summary>The order of the session's sequenced executions (protocol version 4).</summary>
    public ExecutionOrder Order { get; }

    /// <summary>The top bit: handles a client names itself (ExecuteRequest.result_handles) have it, handles the server
    /// draws do not, so the two never meet. Client-range handles are private to their session.</summary>
    public const ulong ClientRange = 1UL << 63;

    const int MaxFailedResults = 4096;
    const int MaxFailureText = 1000;
    readonly Dictionary<ulong, string> failedResults = new();
    readonly Queue<ulong> failedOrder = new();

    /// <summary>Remembers why the results <paramref name="handles"/> of a sequenced execution never came to be, so a later
    /// call naming one says so (the most recent <see cref="MaxFailedResults"/> are kept, each reason cut to
    /// <see cref="MaxFailureText"/> characters: at most a few MB a session, whatever a client sends).</summary>
    public void RecordFailedResults(IEnumerable<ulong> handles, string why)
    {
        if (why.Length > MaxFailureText) why = why[..MaxFailureText] + "…";
        lock (sync)
        {
            foreach (var h in handles)
            {
                if (failedResults.TryAdd(h, why)) failedOrder.Enqueue(h);
            }
            while (failedOrder.Count > MaxFailedResults) failedResults.Remove(failedOrder.Dequeue());
        }
    }

    /// <summary>Throws INVALID_ARGUMENT unless <paramref name="handles"/> are distinct client-range handles this session
    /// does not hold.</summary>
    public void CheckClientHandles(IReadOnlyList<ulong> handles, string what)
    {
        lock (sync)
        {
            var seen = new HashSet<ulong>();
            foreach (var h in handles)
            {
                if ((h & ClientRange) == 0)
                    throw Errors.InvalidArgument($"{what}: result handle {h} is not in the client range (the top bit must be set)");
                if (!seen.Add(h)) throw Errors.InvalidArgument($"{what}: result handle {h} is named twice");
                if (handles.Count > 0 && this.handles.ContainsKey(h)) throw Errors.InvalidArgument($"{what}: result handle {h} is already held by this session");
            }
        }
    }

    /// <summary>"executable H ('name')" when the session holds <paramref name="handle"/> as an executable, else null.</summary>
    public string? TryDescribeExecutable(ulong handle)
    {
        lock (sync) return handles.TryGetValue(handle, out var e) && e is ExecutableEntry ? e.Describe() : null;
    }

    /// <summary>Buffer and executable handles the session holds.</summary>
    public (int Buffers, int Executables) CountHandles()
    {
        lock (sync)
        {
            int buffers = 0, executables = 0;
            foreach (var e in handles.Values)
            {
                if (e is BufferEntry) buffers++;
                else if (e is ExecutableEntry) executables++;
            }
            return (buffers, executables);
        }
    }

    /// <summary>A short form of the id for logs and messages.</summary>
    public string ShortId => Id[..8];

    public string ClientName { get; }

    public int ProtocolVersion { get; }

    public long BytesHeld
    {
        get
        {
            lock (sync) return bytesHeld;
        }
    }

    public int HandleCount
    {
        get
        {
            lock (sync) return handles.Count;
        }
    }

    /// <summary>Marks a call running in the session (renewing the lease); dispose the scope when the call ends.</summary>
    public CallScope BeginCall()
    {
        lock (sync)
        {
            if (closed) throw Errors.SessionNotFound(Id);
            activeCalls++;
            lastSeenMs = Environment.TickCount64;
        }
        return new CallScope(this);
    }

    void EndCall()
    {
        lock (sync)
        {
            activeCalls--;
            lastSeenMs = Environment.TickCount64;
        }
    }

    public readonly struct CallScope : IDisposable
    {
        readonly Session session;

        public CallScope(Session session) => this.session = session;

        public void Dispose() => session.EndCall();
    }

    /// <summary>The least a handle counts against the byte budgets, whatever its size: a zero-byte buffer or a tiny
    /// program still costs the server its bookkeeping (entry, handle maps, device buffer object), so handles are
    /// never free (issue 13: 30,000 zero-byte buffers counted 0 bytes).</summary>
    public const long MinimumCharge = 1024;

    /// <summary>What a handle of <paramref name="bytes"/> counts against the byte budgets.</summary>
    public static long Charge(long bytes) => Math.Max(bytes, MinimumCharge);

    /// <summary>For messages: how a handle of <paramref name="bytes"/> is counted when the minimum applies.</summary>
    public static string Counted(long bytes) => bytes >= MinimumCharge ? "" : $", counted as {MinimumCharge} (the least any handle counts)";

    /// <summary>Counts one handle of <paramref name="bytes"/> (at least <see cref="MinimumCharge"/>) against the
    /// session's limit (0: none) before it is allocated: false when over it. Over the server-wide budget
    /// (--max-device-bytes) it throws RESOURCE_EXHAUSTED naming <paramref name="what"/>.</summary>
    public bool TryReserve(long bytes, long limit, out long held, string what) => TryReserveExact(Charge(bytes), limit, out held, what);

    /// <summary>Gives back what <see cref="TryReserve"/> took for one handle of <paramref name="bytes"/>.</summary>
    public void Unreserve(long bytes) => UnreserveExact(Charge(bytes));

    /// <summary>Counts exactly <paramref name="bytes"/> (already charged per handle) against the limits, as <see cref="TryReserve"/>.</summary>
    public bool TryReserveExact(long bytes, long limit, out long held, string what)
    {
        lock (sync)
        {
            held = bytesHeld;
            if (closed) throw Errors.SessionNotFound(Id);
            if (limit > 0 && bytes > limit - bytesHeld) return false;
            if (!table.Budget.TryTake(bytes))
            {
                throw Errors.ResourceExhausted(
                    $"{what} ({bytes} bytes): the server's buffers and running programs already use {table.Budget.Used} of the {table.Budget.Limit} bytes it may use (--max-device-bytes); release buffers or retry later");
            }
            bytesHeld += bytes;
            return true;
        }
    }

    public void UnreserveExact(long bytes)
    {
        lock (sync)
        {
            // A closed session already dropped everything it held.
            if (closed) return;
            bytesHeld -= bytes;
            table.Budget.Give(bytes);
        }
    }

    /// <summary>Transfer tickets issued for this session and not yet used or expired (see TransferTickets).</summary>
    internal int OpenTickets;

    /// <summary>Lists a new entry whose bytes were reserved, under a fresh random handle. A session closed meanwhile,
    /// or one at its handle limit, frees the entry and fails (the caller gives back the reserved bytes).</summary>
    public void Add(HandleEntry entry) => AddAll(new[] { entry });

    /// <summary>Lists new entries all together or none: over the handle limit (or closed) every one is freed.</summary>
    public void AddAll(IReadOnlyList<HandleEntry> entries)
    {
        RpcException problem;
        lock (sync)
        {
            if (closed) problem = Errors.SessionNotFound(Id);
            else if (entries.Count > table.MaxHandlesPerSession - handles.Count) problem = TooManyHandles(entries.Count);
            else
            {
                // Entries named in the client range (protocol 4) keep their handle; it is checked again here, under the lock.
                RpcException? clash = null;
                foreach (var entry in entries)
                {
                    if (entry.Handle != 0 && handles.ContainsKey(entry.Handle))
                    {
                        clash = Errors.InvalidArgument($"result handle {entry.Handle} is already held by this session");
                        break;
                    }
                }
                problem = clash!;
                if (clash == null)
                {
                    foreach (var entry in entries)
                    {
                        if (entry.Handle == 0) table.Register(entry);
                        handles.Add(entry.Handle, entry);
                    }
                    return;
                }
            }
        }
        foreach (var entry in entries) entry.Free();
        throw problem;
    }

    /// <summary>Fails early, before any work, when <paramref name="count"/> more handles would not fit.</summary>
    public void EnsureRoomForHandles(int count, string what)
    {
        lock (sync)
        {
            if (closed) throw Errors.SessionNotFound(Id);
            if (count > 0 && count > table.MaxHandlesPerSession - handles.Count) throw TooManyHandles(count, what);
        }
    }

    RpcException TooManyHandles(int count, string? what = null) => Errors.ResourceExhausted(
        $"{(what == null ? "" : what + ": ")}{count} more handle(s) would take the session over its limit of {table.MaxHandlesPerSession} handles "
        + $"(buffers and executables together; it holds {handles.Count}; --max-handles-per-session); release handles it no longer needs");

    /// <summary>Whether this session compiled these bytes before (and remembers it now). Only this session's own
    /// history may be shown to its client as a cache hit; remembering stops at the handle limit (then: false).</summary>
    public bool CompiledBefore(string fingerprint)
    {
        lock (sync)
        {
            if (compiledFingerprints.Contains(fingerprint)) return true;
            if (compiledFingerprints.Count < table.MaxHandlesPerSession) compiledFingerprints.Add(fingerprint);
            return false;
        }
    }

    /// <summary>
    /// The session's entry for <paramref name="handle"/>, pinned. A handle this session does not hold (unknown, released,
    /// or another session's: the same answer) is NOT_FOUND, an entry of the wrong kind or being donated
    /// INVALID_ARGUMENT / FAILED_PRECONDITION.
    /// </summary>
    public T Pin<T>(ulong handle, string role) where T : HandleEntry
    {
        HandleEntry? entry;
        lock (sync)
        {
            if (closed) throw Errors.SessionNotFound(Id);
            if (handles.TryGetValue(handle, out entry))
            {
                if (entry is not T typed)
                    throw Errors.InvalidArgument($"{role}: handle {handle} is {(entry.Kind == "executable" ? "an" : "a")} {entry.Kind}, not {(typeof(T) == typeof(ExecutableEntry) ? "an executable" : "a buffer")}");
                if (entry.Donating)
                    throw Errors.FailedPrecondition($"{role}: {entry.Describe()} is being donated to a running execution");
                entry.Pins++;
                return typed;
            }
        }
        lock (sync)
        {
            if (failedResults.TryGetValue(handle, out var why))
                throw Errors.FailedPrecondition($"{role}: buffer handle {handle} was to be {why}");
        }
        // Another session's handle gets exactly this answer too: nothing tells a client which handles exist elsewhere.
        string kind = typeof(T) == typeof(ExecutableEntry) ? "executable" : "buffer";
        throw Errors.NotFound($"{role}: {kind} handle {handle} is not held by this session (never created here, released, or donated to an earlier execution)");
    }

    public void Unpin(HandleEntry entry)
    {
        bool free;
        lock (sync)
        {
            entry.Pins--;
            free = entry.Pins == 0 && entry.Released;
        }
        if (free) entry.Free();
    }

    /// <summary>Marks a pinned buffer as consumed by the execution about to run; fails when another call uses it.</summary>
    public void BeginDonation(BufferEntry entry, string role)
    {
        lock (sync)
        {
            if (entry.Pins > 1)
                throw Errors.FailedPrecondition($"{role}: {entry.Describe()} cannot be donated while another call uses it");
            entry.Donating = true;
        }
    }

    /// <summary>After the execution: a consumed buffer leaves the session; one the execution refused stays.</summary>
    public void EndDonation(BufferEntry entry)
    {
        lock (sync)
        {
            entry.Donating = false;
            if (!entry.Buffer.IsDeleted || entry.Released) return;
            entry.Released = true;
            handles.Remove(entry.Handle);
            table.Directory.TryRemove(new KeyValuePair<ulong, HandleEntry>(entry.Handle, entry));
            bytesHeld -= entry.Bytes;
            table.Budget.Give(entry.Bytes);
        }
    }

    /// <summary>Releases one of this session's handles; false when the session holds no such handle (unknown,
    /// released already, or another session's: not told apart).</summary>
    public bool Release(ulong handle)
    {
        HandleEntry? entry;
        bool free;
        lock (sync)
        {
            if (closed) throw Errors.SessionNotFound(Id);
            if (!handles.Remove(handle, out entry)) return false;
            table.Directory.TryRemove(new KeyValuePair<ulong, HandleEntry>(handle, entry));
            entry.Released = true;
            bytesHeld -= entry.Bytes;
            table.Budget.Give(entry.Bytes);
            free = entry.Pins == 0;
        }
        if (free) entry.Free();
        return true;
    }

    /// <summary>Ends the session when no call runs in it and the lease ran out. Returns the released entry count, or -1.</summary>
    public int TryExpire(long nowMs, long leaseMs, out long bytes)
    {
        lock (sync)
        {
            bytes = bytesHeld;
            if (closed || activeCalls > 0 || nowMs - lastSeenMs < leaseMs) return -1;
        }
        return Close(out bytes);
    }

    /// <summary>Ends the session and frees everything it holds (pinned entries when their calls finish).</summary>
    public int Close(out long bytes)
    {
        List<HandleEntry> toFree;
        int count;
        lock (sync)
        {
            bytes = bytesHeld;
            if (closed) return 0;
            closed = true;
            count = handles.Count;
            toFree = new List<HandleEntry>(handles.Count);
            foreach (var entry in handles.Values)
            {
                table.Directory.TryRemove(new KeyValuePair<ulong, HandleEntry>(entry.Handle, entry));
                entry.Released = true;
                if (entry.Pins == 0) toFree.Add(entry);
            }
            handles.Clear();
            table.Budget.Give(bytesHeld);
            bytesHeld = 0;
        }
        foreach (var e in toFree) e.Free();
        return count;
    }

    public bool IsClosed
    {
        get
        {
            lock (sync) return closed;
        }
    }
}
