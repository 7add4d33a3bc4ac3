using System.Collections.Concurrent;
using System.Security.Cryptography;
using XlaGen.Hlo;
using XlaGen.Server.Grpc;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Data;

/// <summary>One transfer a session asked for in BeginTransfer: its direction, shape and bytes, and until when it may start.</summary>
internal sealed class TransferTicket
{
    public TransferTicket(Session session, bool upload, Shape shape, long bytes, ulong handle, long expiresAtMs, int deviceId = 0)
    {
        DeviceId = deviceId;
        Session = session;
        IsUpload = upload;
        Shape = shape;
        Bytes = bytes;
        Handle = handle;
        ExpiresAtMs = expiresAtMs;
    }

    public Session Session { get; }

    public bool IsUpload { get; }

    public Shape Shape { get; }

    public long Bytes { get; }

    /// <summary>The downloaded buffer's handle (0 for an upload).</summary>
    public ulong Handle { get; }

    public long ExpiresAtMs { get; }

    /// <summary>The device an upload's buffer is placed on.</summary>
    public int DeviceId { get; }

    public string Describe() => IsUpload ? $"upload of {Shape}" : $"download of buffer {Handle} ({Shape})";
}

/// <summary>
/// The tickets BeginTransfer issued: 32 random bytes each, valid for one transfer until they expire. They are kept
/// under the SHA-256 of their bytes, so looking one up reveals nothing about the others through timing. An upload
/// ticket holds its bytes reserved in the session until the transfer uses it or it expires.
/// </summary>
internal sealed class TransferTickets
{
    /// <summary>Unused tickets one session may hold at once (each upload ticket reserves its bytes).</summary>
    public const int MaxPerSession = 64;

    readonly ConcurrentDictionary<string, TransferTicket> tickets = new(StringComparer.Ordinal);
    readonly TimeSpan lifetime;

    public TransferTickets(TimeSpan lifetime)
    {
        this.lifetime = lifetime;
    }

    public TimeSpan Lifetime => lifetime;

    public int Count => tickets.Count;

    static string Key(ReadOnlySpan<byte> ticket) => Convert.ToHexString(SHA256.HashData(ticket));

    /// <summary>A new ticket for the transfer. An upload's bytes must be reserved in the session already; they are
    /// given back when the ticket expires unused.</summary>
    public byte[] Issue(Session session, bool upload, Shape shape, long bytes, ulong handle, int deviceId = 0)
    {
        if (Interlocked.Increment(ref session.OpenTickets) > MaxPerSession)
        {
            Interlocked.Decrement(ref session.OpenTickets);
            throw Errors.ResourceExhausted($"the session already holds {MaxPerSession} unused transfer tickets; use or let them expire ({lifetime.TotalSeconds:0.#} s) first");
        }
        var ticket = RandomNumberGenerator.GetBytes(Backends.Remote.DataFrames.TicketBytes);
        tickets[Key(ticket)] = new TransferTicket(session, upload, shape, bytes, handle, Environment.TickCount64 + (long)lifetime.TotalMilliseconds, deviceId);
        return ticket;
    }

    /// <summary>
    /// Takes the ticket for its one transfer (it is gone afterwards). Null with the reason when it is unknown (never
    /// issued by this process, or used already) or expired.
    /// </summary>
    public TransferTicket? Take(ReadOnlySpan<byte> ticket, out string? problem)
    {
        problem = null;
        if (!tickets.TryRemove(Key(ticket), out var t))
        {
            problem = "the transfer ticket is not valid: this server process never issued it, or it was used already (a ticket is good for one transfer; call BeginTransfer for each)";
            return null;
        }
        Interlocked.Decrement(ref t.Session.OpenTickets);
        long late = Environment.TickCount64 - t.ExpiresAtMs;
        if (late > 0)
        {
            Forget(t);
            problem = $"the transfer ticket for the {t.Describe()} expired {late} ms ago (tickets are valid for {lifetime.TotalSeconds:0.#} s after BeginTransfer; --data-ticket-lifetime)";
            return null;
        }
        return t;
    }

    /// <summary>Drops expired tickets, giving back their reserved bytes; returns how many.</summary>
    public int Expire()
    {
        long now = Environment.TickCount64;
        int n = 0;
        foreach (var (key, t) in tickets)
        {
            if (t.ExpiresAtMs >= now || !tickets.TryRemove(new KeyValuePair<string, TransferTicket>(key, t))) continue;
            Interlocked.Decrement(ref t.Session.OpenTickets);
            Forget(t);
            n++;
        }
        return n;
    }

    /// <summary>An unused ticket's upload reservation goes back to its session.</summary>
    static void Forget(TransferTicket t)
    {
        if (t.IsUpload) t.Session.Unreserve(t.Bytes);
    }
}
