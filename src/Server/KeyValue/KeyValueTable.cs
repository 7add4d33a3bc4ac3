using System.Globalization;
using System.Text;
using XlaGen.Backends.Pjrt;
using XlaGen.Distributed;

namespace XlaGen.Server.KeyValue;

/// <summary>The coordinator's key-value store limits (--kv-* options).</summary>
public sealed record KeyValueLimits
{
    /// <summary>Longest key; PJRT's keys are short names (topology, collective ids).</summary>
    public const int MaxKeyBytes = 4096;

    /// <summary>Bytes an entry costs beyond its key and value (dictionary slot, object headers).</summary>
    public const int EntryOverhead = 64;

    public long MaxValueBytes { get; init; } = 4L << 20;

    /// <summary>Every entry's key, value and overhead together.</summary>
    public long MaxBytes { get; init; } = 256L << 20;

    public int MaxKeys { get; init; } = 100_000;

    public long MaxBytesPerClient { get; init; } = 64L << 20;

    public int MaxKeysPerClient { get; init; } = 25_000;

    /// <summary>Gets waiting for a key, one client's.</summary>
    public int MaxWaitingPerClient { get; init; } = 256;

    /// <summary>Gets waiting for a key, all clients'.</summary>
    public int MaxWaiting { get; init; } = 4096;

    /// <summary>Longest one Get call waits (a client wanting longer calls again).</summary>
    public TimeSpan MaxWaitPerCall { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The coordinator's in-memory key-value store. Keys are written once (putting the same value again is accepted, a
/// different one is ALREADY_EXISTS); Get waits for a key without polling. Bounded in every dimension a client controls:
/// key and value size, keys and bytes in all and per client, waiting gets in all and per client, and how long one get
/// waits, so one client (a peer address) cannot exhaust the coordinator's memory or crowd out the others. Failures are
/// <see cref="KeyValueStoreException"/>s whose code is the gRPC status to answer with.
/// </summary>
internal sealed class KeyValueTable
{
    readonly object gate = new();
    readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<TaskCompletionSource<byte[]>>> waiters = new(StringComparer.Ordinal);
    readonly Dictionary<string, Usage> clients = new(StringComparer.Ordinal);
    long bytes;
    int waiting;

    public KeyValueTable(KeyValueLimits limits)
    {
        Limits = limits;
    }

    public KeyValueLimits Limits { get; }

    sealed record Entry(byte[] Value, string Owner, long Cost);

    sealed class Usage
    {
        public long Bytes;
        public int Keys;
        public int Waiting;

        public bool Idle => Bytes == 0 && Keys == 0 && Waiting == 0;
    }

    public int Count
    {
        get
        {
            lock (gate) return entries.Count;
        }
    }

    public long Bytes
    {
        get
        {
            lock (gate) return bytes;
        }
    }

    public int Waiting
    {
        get
        {
            lock (gate) return waiting;
        }
    }

    /// <summary>Keys as dictionary strings: Latin-1 maps every byte to one char and back, so nothing is lost.</summary>
    static string Name(ReadOnlySpan<byte> key) => Encoding.Latin1.GetString(key);

    static KeyValueStoreException Error(PjrtErrorCode code, string message) => new(code, message);

    void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length == 0) throw Error(PjrtErrorCode.InvalidArgument, "the key is empty");
        if (key.Length > KeyValueLimits.MaxKeyBytes)
            throw Error(PjrtErrorCode.InvalidArgument, string.Create(CultureInfo.InvariantCulture, $"key {KeyValueStoreException.Describe(key)} has {key.Length} bytes; keys have at most {KeyValueLimits.MaxKeyBytes}"));
    }

    Usage UsageOf(string client)
    {
        if (!clients.TryGetValue(client, out var usage)) clients[client] = usage = new Usage();
        return usage;
    }

    void Forget(string client, Usage usage)
    {
        if (usage.Idle) clients.Remove(client);
    }

    /// <summary>Stores the value; true when the key is new, false when it already held exactly these bytes.</summary>
    public bool Put(string client, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckKey(key);
        if (value.Length > Limits.MaxValueBytes)
            throw Error(PjrtErrorCode.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                $"the value of key {KeyValueStoreException.Describe(key)} has {value.Length} bytes; this store takes values of at most {Limits.MaxValueBytes} (--kv-max-value-bytes)"));
        string name = Name(key);
        long cost = (long)key.Length + value.Length + KeyValueLimits.EntryOverhead;
        List<TaskCompletionSource<byte[]>>? woken;
        byte[] stored;
        lock (gate)
        {
            if (entries.TryGetValue(name, out var existing))
            {
                if (value.SequenceEqual(existing.Value)) return false;
                throw Error(PjrtErrorCode.AlreadyExists, string.Create(CultureInfo.InvariantCulture,
                    $"key {KeyValueStoreException.Describe(key)} already holds a different value ({existing.Value.Length} bytes); keys are written once"));
            }
            var usage = UsageOf(client);
            try
            {
                if (entries.Count >= Limits.MaxKeys)
                    throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture, $"the store holds its maximum of {Limits.MaxKeys} keys (--kv-max-keys)"));
                if (bytes + cost > Limits.MaxBytes)
                    throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                        $"key {KeyValueStoreException.Describe(key)} ({cost} bytes with its value) would take the store over its {Limits.MaxBytes} bytes (--kv-max-bytes; {bytes} in use)"));
                if (usage.Keys >= Limits.MaxKeysPerClient)
                    throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                        $"client {client} already stored {usage.Keys} keys, its maximum (--kv-max-keys-per-client)"));
                if (usage.Bytes + cost > Limits.MaxBytesPerClient)
                    throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                        $"key {KeyValueStoreException.Describe(key)} ({cost} bytes with its value) would take client {client} over its {Limits.MaxBytesPerClient} bytes (--kv-max-bytes-per-client; {usage.Bytes} in use)"));
            }
            catch
            {
                Forget(client, usage);
                throw;
            }
            stored = value.ToArray();
            entries[name] = new Entry(stored, client, cost);
            bytes += cost;
            usage.Bytes += cost;
            usage.Keys++;
            waiters.Remove(name, out woken);
        }
        if (woken != null)
            foreach (var w in woken) w.TrySetResult(stored);
        return true;
    }

    /// <summary>The value now, or null.</summary>
    public byte[]? TryGet(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        lock (gate) return entries.TryGetValue(Name(key), out var e) ? e.Value : null;
    }

    /// <summary>The value, waiting up to <paramref name="timeout"/> (capped at <see cref="KeyValueLimits.MaxWaitPerCall"/>)
    /// or until <paramref name="cancellationToken"/> fires; DEADLINE_EXCEEDED when the key did not appear.</summary>
    public async Task<byte[]> GetAsync(string client, byte[] key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        CheckKey(key);
        if (timeout < TimeSpan.Zero) throw Error(PjrtErrorCode.InvalidArgument, "the timeout is negative");
        if (timeout > Limits.MaxWaitPerCall) timeout = Limits.MaxWaitPerCall;
        string name = Name(key);
        TaskCompletionSource<byte[]> waiter;
        Usage usage;
        lock (gate)
        {
            if (entries.TryGetValue(name, out var e)) return e.Value;
            if (timeout == TimeSpan.Zero) throw NotThereIn(key, timeout);
            usage = UsageOf(client);
            if (usage.Waiting >= Limits.MaxWaitingPerClient)
            {
                Forget(client, usage);
                throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                    $"client {client} already has {usage.Waiting} gets waiting, its maximum (--kv-max-waiting-per-client)"));
            }
            if (waiting >= Limits.MaxWaiting)
            {
                Forget(client, usage);
                throw Error(PjrtErrorCode.ResourceExhausted, string.Create(CultureInfo.InvariantCulture, $"the store has {waiting} gets waiting, its maximum"));
            }
            waiter = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!waiters.TryGetValue(name, out var list)) waiters[name] = list = new List<TaskCompletionSource<byte[]>>(1);
            list.Add(waiter);
            usage.Waiting++;
            waiting++;
        }
        try
        {
            return await waiter.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw NotThereIn(key, timeout);
        }
        finally
        {
            lock (gate)
            {
                if (waiters.TryGetValue(name, out var list) && list.Remove(waiter) && list.Count == 0) waiters.Remove(name);
                usage.Waiting--;
                waiting--;
                Forget(client, usage);
            }
        }
    }

    static KeyValueStoreException NotThereIn(ReadOnlySpan<byte> key, TimeSpan timeout) =>
        Error(PjrtErrorCode.DeadlineExceeded, string.Create(CultureInfo.InvariantCulture,
            $"key {KeyValueStoreException.Describe(key)} did not appear within {(long)timeout.TotalMilliseconds} ms"));
}

/// <summary>The coordinator's own view of its store (its PJRT client's callbacks), as the client "local".</summary>
internal sealed class LocalKeyValueStore : IKeyValueStore
{
    public const string ClientName = "local";
    readonly KeyValueTable table;

    public LocalKeyValueStore(KeyValueTable table)
    {
        this.table = table;
    }

    public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout)
    {
        var k = key.ToArray();
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = timeout == Timeout.InfiniteTimeSpan ? table.Limits.MaxWaitPerCall : timeout - started.Elapsed;
            try
            {
                return table.GetAsync(ClientName, k, left < TimeSpan.Zero ? TimeSpan.Zero : left, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (KeyValueStoreException e) when (e.Code == PjrtErrorCode.DeadlineExceeded && (timeout == Timeout.InfiniteTimeSpan || started.Elapsed < timeout))
            {
                // The store's per-call cap ended the wait before the caller's timeout.
            }
        }
    }

    public byte[]? TryGet(ReadOnlySpan<byte> key) => table.TryGet(key);

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => table.Put(ClientName, key, value);
}

/// <summary>A store whose keys all start with a prefix: the PJRT client's keys ("pjrt:…") stay apart from the servers'
/// own ("xlagen/…"), as the header asks of whoever provides the callbacks.</summary>
internal sealed class PrefixedKeyValueStore : IKeyValueStore
{
    readonly IKeyValueStore inner;
    readonly byte[] prefix;

    public PrefixedKeyValueStore(IKeyValueStore inner, string prefix)
    {
        this.inner = inner;
        this.prefix = Encoding.UTF8.GetBytes(prefix);
    }

    byte[] Key(ReadOnlySpan<byte> key)
    {
        var k = new byte[prefix.Length + key.Length];
        prefix.CopyTo(k, 0);
        key.CopyTo(k.AsSpan(prefix.Length));
        return k;
    }

    public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout) => inner.Get(Key(key), timeout);

    public byte[]? TryGet(ReadOnlySpan<byte> key) => inner.TryGet(Key(key));

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => inner.Put(Key(key), value);
}
