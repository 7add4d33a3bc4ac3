using System.Collections.Concurrent;
using System.Security.Cryptography;
using XlaGen.Server.Grpc;

namespace XlaGen.Server.Sessions;

/// <summary>
/// The open sessions (a concurrent map from id) and a directory of every live handle, which keeps handles unique across
/// sessions. Handles are random 64-bit numbers, so one session learns nothing about another's from its own (no
/// sequence to count), and a handle kept from before a restart is very unlikely to name anything. The directory is
/// never used to tell a client that a handle exists elsewhere: another session's handle is answered exactly as an
/// unknown one.
/// </summary>
internal sealed class SessionTable : IDisposable
{
    readonly ConcurrentDictionary<string, Session> sessions = new(StringComparer.Ordinal);
    readonly int maxSessions;
    int count;

    public SessionTable(int maxSessions, long maxDeviceBytes = 0, int maxHandlesPerSession = DefaultMaxHandlesPerSession, TimeSpan? lease = null)
    {
        this.maxSessions = maxSessions;
        Lease = lease ?? TimeSpan.FromSeconds(60);
        MaxHandlesPerSession = maxHandlesPerSession;
        Budget = new MemoryBudget(maxDeviceBytes);
    }

    public const int DefaultMaxHandlesPerSession = 100_000;

    /// <summary>The session lease (--session-lease); also how long a sequenced execution waits for a missing predecessor.</summary>
    public TimeSpan Lease { get; }

    /// <summary>Most buffers and executables one session may hold at once (--max-handles-per-session).</summary>
    public int MaxHandlesPerSession { get; }

    public ConcurrentDictionary<ulong, HandleEntry> Directory { get; } = new();

    /// <summary>The device bytes every session and running program together may use (--max-device-bytes).</summary>
    public MemoryBudget Budget { get; }

    public int Count => Volatile.Read(ref count);

    public IEnumerable<Session> All => sessions.Values;

    /// <summary>Lists <paramref name="entry"/> under a fresh random handle (never 0, never one that is live) and sets it.</summary>
    public void Register(HandleEntry entry)
    {
        Span<byte> bytes = stackalloc byte[8];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            ulong handle = BitConverter.ToUInt64(bytes) & ~Session.ClientRange;
            if (handle == 0) continue;
            entry.Handle = handle;
            if (Directory.TryAdd(handle, entry)) return;
        }
    }

    public Session Open(string clientName, int protocolVersion)
    {
        if (Interlocked.Increment(ref count) > maxSessions)
        {
            Interlocked.Decrement(ref count);
            throw Errors.ResourceExhausted($"the server already holds its maximum of {maxSessions} sessions (--max-sessions); close unused devices or wait for idle leases to run out");
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var session = new Session(this, id, clientName, protocolVersion);
        sessions[id] = session;
        return session;
    }

    /// <summary>The open session with this id, or NOT_FOUND carrying the session-not-found trailer.</summary>
    public Session Get(string id)
    {
        if (string.IsNullOrEmpty(id)) throw Errors.InvalidArgument("the request names no session: call OpenSession first and pass its session_id");
        if (!sessions.TryGetValue(id, out var s)) throw Errors.SessionNotFound(id);
        return s;
    }

    /// <summary>Closes the session; returns how many handles it released.</summary>
    public int Close(Session session, out long bytes)
    {
        int released = session.Close(out bytes);
        if (sessions.TryRemove(new KeyValuePair<string, Session>(session.Id, session))) Interlocked.Decrement(ref count);
        HeapTrimmer.Released(bytes);
        return released;
    }

    /// <summary>Closes sessions whose lease ran out; returns them with what they released.</summary>
    public List<(Session Session, int Handles, long Bytes)> Expire(TimeSpan lease)
    {
        var expired = new List<(Session, int, long)>();
        long now = Environment.TickCount64;
        foreach (var s in sessions.Values)
        {
            int released = s.TryExpire(now, (long)lease.TotalMilliseconds, out long bytes);
            if (released < 0) continue;
            if (sessions.TryRemove(new KeyValuePair<string, Session>(s.Id, s))) Interlocked.Decrement(ref count);
            expired.Add((s, released, bytes));
        }
        HeapTrimmer.Released(expired.Sum(e => e.Item3));
        return expired;
    }

    public long BytesHeld => sessions.Values.Sum(s => s.BytesHeld);

    public void Dispose()
    {
        foreach (var s in sessions.Values) Close(s, out _);
    }
}
