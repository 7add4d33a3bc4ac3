using System.Globalization;
using System.Net.Security;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using XlaGen.Backends.Pjrt;
using XlaGen.Backends.Remote;
using XlaGen.KeyValue.V1;

namespace XlaGen.Distributed;

/// <summary>Where the key-value store is and how to reach it.</summary>
public sealed record KeyValueClientOptions
{
    /// <summary>The coordinator's token (its --token-file); sent as <c>authorization: Bearer</c>.</summary>
    public string? Token { get; init; }

    /// <summary>PEM certificate(s) to trust for a grpcs:// coordinator with a self-signed certificate.</summary>
    public string? TrustedCertificateFile { get; init; }

    /// <summary>How long a call waits for the coordinator to accept a connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an operation keeps retrying while the coordinator is unreachable (it may start after this
    /// process, as hosts of a pod boot in any order).</summary>
    public TimeSpan UnavailableRetry { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Longest wait one Get call asks of the server; a longer timeout is several calls.</summary>
    public TimeSpan MaxWaitPerCall { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The key-value store of a multi-host deployment over gRPC (<c>protos/xlagen/kv.proto</c>, served by the coordinator
/// xlagen-server, <c>--node-id 0</c>): what a non-coordinator server hands to its PJRT client. Synchronous, since PJRT
/// calls the store from its own threads and waits for the answer. Retries while the coordinator is unreachable (up to
/// <see cref="KeyValueClientOptions.UnavailableRetry"/>); every other failure is a <see cref="KeyValueStoreException"/>
/// with the server's status and message.
/// </summary>
public sealed class KeyValueClient : IKeyValueStore, IDisposable
{
    readonly GrpcChannel channel;
    readonly KeyValueStore.KeyValueStoreClient client;
    readonly Metadata? headers;
    readonly KeyValueClientOptions options;

    /// <param name="address">grpc://HOST:PORT (cleartext HTTP/2) or grpcs://HOST:PORT (TLS): the coordinator's --coordinator address.</param>
    /// <param name="options">Token, trusted certificate and retry behaviour; defaults when null.</param>
    public KeyValueClient(string address, KeyValueClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        this.options = options ?? new KeyValueClientOptions();
        Address = address;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "grpc" && uri.Scheme != "grpcs") || uri.Port <= 0 || uri.AbsolutePath != "/")
            throw new ArgumentException($"key-value store address '{address}': use grpc://HOST:PORT or grpcs://HOST:PORT", nameof(address));
        var endpoint = new UriBuilder(uri) { Scheme = uri.Scheme == "grpcs" ? Uri.UriSchemeHttps : Uri.UriSchemeHttp }.Uri;
        if (this.options.Token != null) headers = new Metadata { { "authorization", "Bearer " + this.options.Token } };
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = this.options.ConnectTimeout,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = true,
        };
        if (endpoint.Scheme == Uri.UriSchemeHttps && this.options.TrustedCertificateFile != null)
        {
            var trusted = RemoteConnection.LoadTrusted(this.options.TrustedCertificateFile, address);
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, e) => RemoteConnection.ValidateAgainst(trusted, c, e) };
        }
        channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true, MaxReceiveMessageSize = null, MaxSendMessageSize = null });
        client = new KeyValueStore.KeyValueStoreClient(channel);
    }

    /// <summary>The coordinator's address this client talks to.</summary>
    public string Address { get; }

    /// <inheritdoc/>
    public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "use a non-negative timeout or Timeout.InfiniteTimeSpan");
        var bytes = ByteString.CopyFrom(key);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = timeout == Timeout.InfiniteTimeSpan ? options.MaxWaitPerCall : timeout - started.Elapsed;
            if (left < TimeSpan.Zero) left = TimeSpan.Zero;
            var wait = left < options.MaxWaitPerCall ? left : options.MaxWaitPerCall;
            try
            {
                return Call(k => client.Get(new GetRequest { Key = bytes, TimeoutMs = (long)Math.Ceiling(wait.TotalMilliseconds) }, CallOptions(wait + TimeSpan.FromSeconds(30))).Value.ToByteArray(), key);
            }
            catch (KeyValueStoreException e) when (e.Code == PjrtErrorCode.DeadlineExceeded
                && (timeout == Timeout.InfiniteTimeSpan || started.Elapsed < timeout))
            {
                // The server's wait (ours per call, or its own maximum) ended before the caller's: ask again.
            }
        }
    }

    /// <inheritdoc/>
    public byte[]? TryGet(ReadOnlySpan<byte> key)
    {
        var bytes = ByteString.CopyFrom(key);
        try
        {
            return Call(k => client.TryGet(new TryGetRequest { Key = bytes }, CallOptions(TimeSpan.FromSeconds(30))).Value.ToByteArray(), key);
        }
        catch (KeyValueStoreException e) when (e.Code == PjrtErrorCode.NotFound)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var request = new PutRequest { Key = ByteString.CopyFrom(key), Value = ByteString.CopyFrom(value) };
        Call(k => client.Put(request, CallOptions(TimeSpan.FromSeconds(30))), key);
    }

    CallOptions CallOptions(TimeSpan deadline) => new(headers, DateTime.UtcNow + deadline);

    /// <summary>Runs a call, retrying while the coordinator is unreachable; maps its failure to a KeyValueStoreException.</summary>
    T Call<T>(Func<int, T> call, ReadOnlySpan<byte> key)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return call(attempt);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && started.Elapsed < options.UnavailableRetry)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt, 5))));
            }
            catch (RpcException e)
            {
                string hint = e.StatusCode == StatusCode.Unavailable
                    ? string.Create(CultureInfo.InvariantCulture, $" (still unreachable after {options.UnavailableRetry.TotalSeconds:0}s: is the coordinator, xlagen-server --node-id 0, running with --coordinator at this address?)")
                    : "";
                throw new KeyValueStoreException((PjrtErrorCode)(int)e.StatusCode,
                    $"key-value store {Address}, key {KeyValueStoreException.Describe(key)}: {e.Status.Detail}{hint}", e);
            }
        }
    }

    /// <summary>Closes the gRPC channel.</summary>
    public void Dispose() => channel.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"key-value store at {Address}";
}
