using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Backends.Remote;

/// <summary>The session a call runs in. A new one (next <see cref="Generation"/>) after every reconnect.</summary>
internal sealed record SessionState(int Generation, string Id, string InstanceId, TimeSpan Lease);

/// <summary>A server handle valid in one session generation.</summary>
internal readonly record struct Binding(int Generation, ulong Handle);

/// <summary>The server-side handle of a buffer or executable, restored lazily in a newer session.</summary>
internal sealed class RemoteHandle
{
    Binding binding;

    public RemoteHandle(Binding binding)
    {
        this.binding = binding;
    }

    public Binding Binding
    {
        get => binding;
        set => binding = value;
    }

    public SemaphoreSlim Gate { get; } = new(1, 1);

    // Asynchronous dispatch: executions in flight that use this handle (as an argument, as the program, or that
    // produce it); a release asked for meanwhile waits until the last of them is over, so the server never frees what
    // a queued execution still reads.
    int uses;
    bool releaseWanted;

    /// <summary>The dispatched execution that produces this buffer (null: uploaded, or computed synchronously).</summary>
    public Task? Producer { get; set; }

    public void AddUse()
    {
        lock (this) uses++;
    }

    public void EndUse(RemoteConnection connection)
    {
        lock (this)
        {
            if (--uses > 0 || !releaseWanted) return;
            releaseWanted = false;
        }
        connection.QueueRelease(Binding);
    }

    /// <summary>Releases the handle on the server now, or once the executions in flight that use it are over.</summary>
    public void Release(RemoteConnection connection)
    {
        lock (this)
        {
            if (uses > 0)
            {
                releaseWanted = true;
                return;
            }
        }
        connection.QueueRelease(Binding);
    }

    /// <summary>Set once restoring failed for good (a buffer without a host copy); later uses fail the same way.</summary>
    public string? LostMessage { get; set; }

    public string? LostBuffer { get; set; }
}

/// <summary>
/// The channel to one xlagen-server, the current session, and everything about surviving a server restart — in one
/// place. Every operation runs through <see cref="RunAsync{T}"/>: when a call finds the session gone (the server
/// restarted, or the lease ran out) or the connection broken, the connection waits for the server, checks the
/// version again, opens a new session, and retries. Handles of the old session are restored on first use in the new
/// one (<see cref="ResolveAsync"/>): executables are compiled again from their module bytes, buffers uploaded again
/// from their last synchronised host copy; a buffer without one (computed remotely, never downloaded) fails with an
/// error naming it.
/// </summary>
internal sealed partial class RemoteConnection : IAsyncDisposable
{
    const int MaxRecoveriesPerCall = 3;

    readonly GrpcChannel channel;
    readonly DeviceService.DeviceServiceClient client;
    readonly Metadata? headers;
    readonly BulkChannel bulk;
    long bulkTransfers;
    long streamedTransfers;
    readonly SemaphoreSlim recoverGate = new(1, 1);
    readonly CancellationTokenSource closing = new();
    readonly ConcurrentQueue<Binding> pendingReleases = new();
    Task releaseFlush = Task.CompletedTask;
    int flushing;
    Task keepAlive = Task.CompletedTask;
    SessionState session = null!;
    ServerVersionInfo server = null!;
    int recoveries;
    int restoredHandles;
    int disposed;

    RemoteConnection(string address, Uri endpoint, RemoteDeviceOptions options, string? token)
    {
        Address = address;
        Endpoint = endpoint;
        Options = options;
        if (token != null) headers = new Metadata { { "authorization", "Bearer " + token } };
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            // Downloads stream up to 1 MiB messages; a larger receive window keeps loopback and LAN links busy.
            InitialHttp2StreamWindowSize = 8 << 20,
        };
        RemoteCertificateValidationCallback? validate = null;
        if (endpoint.Scheme == Uri.UriSchemeHttps && options.TrustedCertificateFile != null)
        {
            var trusted = LoadTrusted(options.TrustedCertificateFile, address);
            validate = (_, certificate, _, errors) => ValidateAgainst(trusted, certificate, errors);
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = validate };
        }
        // The data channel trusts exactly what the gRPC channel trusts.
        bulk = new BulkChannel(address, endpoint, validate, options);
        channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        client = new DeviceService.DeviceServiceClient(channel);
    }

    public string Address { get; }

    public Uri Endpoint { get; }

    public RemoteDeviceOptions Options { get; }

    public SessionState Session => Volatile.Read(ref session);

    public ServerVersionInfo Server => Volatile.Read(ref server);

    public int ProtocolVersion { get; private set; }

    /// <summary>How many times a lost session was replaced by a new one.</summary>
    public int Recoveries => Volatile.Read(ref recoveries);

    /// <summary>How many handles were restored in a newer session (recompiled programs, re-uploaded buffers).</summary>
    public int RestoredHandles => Volatile.Read(ref restoredHandles);

    internal DeviceService.DeviceServiceClient Client => client;

    /// <summary>Transfers that went over the bulk data channel, and over gRPC streams.</summary>
    public long BulkTransfers => Interlocked.Read(ref bulkTransfers);

    public long StreamedTransfers => Interlocked.Read(ref streamedTransfers);

    /// <summary>Why large transfers do not use the bulk data channel (null while it works or was not needed yet).</summary>
    public string? BulkChannelProblem => bulk.Problem;

    /// <summary>Handshake (versions, token) and a first session.</summary>
    public static async Task<RemoteConnection> OpenAsync(string address, RemoteDeviceOptions options, CancellationToken cancellationToken)
    {
        var endpoint = RemoteClusterResolver.ParseAddress(address);
        var token = RemoteClusterResolver.ReadToken(options, address);
        var connection = new RemoteConnection(address, endpoint, options, token);
        try
        {
            ServerVersionInfo info;
            try
            {
                info = await connection.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw connection.ConnectError(e);
            }
            connection.ProtocolVersion = RemoteClusterResolver.NegotiateProtocolVersion(info);
            Volatile.Write(ref connection.server, info);
            try
            {
                Volatile.Write(ref connection.session, await connection.OpenSessionAsync(1, cancellationToken).ConfigureAwait(false));
            }
            catch (RpcException e)
            {
                throw connection.ConnectError(e);
            }
            connection.keepAlive = Task.Run(connection.KeepAliveLoopAsync);
            return connection;
        }
        catch
        {
            await connection.DisposeChannelAsync().ConfigureAwait(false);
            throw;
        }
    }

    public CallOptions Call(CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var t = timeout ?? Options.CallTimeout;
        return new CallOptions(headers, t is { } d ? DateTime.UtcNow + d : null, cancellationToken);
    }

    async Task<ServerVersionInfo> HandshakeAsync(CancellationToken cancellationToken)
    {
        var response = await client.GetVersionAsync(
            new GetVersionRequest { MinProtocolVersion = RemoteClusterResolver.MinProtocolVersion, MaxProtocolVersion = RemoteClusterResolver.MaxProtocolVersion },
            Call(cancellationToken, Options.ConnectTimeout)).ConfigureAwait(false);
        return new ServerVersionInfo(
            Address,
            response.MinProtocolVersion,
            response.MaxProtocolVersion,
            response.ServerVersion,
            response.Platform,
            response.PlatformVersion,
            response.Devices.Select(d => new RemoteDeviceDescription(d.Id, d.Kind, d.MemoryBytes, new Dictionary<string, string>(d.Attributes))
            {
                ProcessIndex = d.ProcessIndex,
                BytesInUse = d.HasBytesInUse ? d.BytesInUse : null,
            }).ToList(),
            response.ServerInstanceId,
            TimeSpan.FromMilliseconds(response.SessionLeaseMs),
            response.MaxMessageBytes,
            response.MaxSessionBytes)
        {
            DataPort = response.DataPort,
            PlatformAttributes = new Dictionary<string, string>(response.PlatformAttributes),
            PjrtApiVersion = response.PjrtApiVersion.Length > 0 ? response.PjrtApiVersion : null,
            ReplicaDevices = Math.Max(1, response.ReplicaDevices),
        };
    }

    async Task<SessionState> OpenSessionAsync(int generation, CancellationToken cancellationToken)
    {
        var name = Options.ClientName ?? $"{Environment.MachineName} pid {Environment.ProcessId}";
        var response = await client.OpenSessionAsync(
            new OpenSessionRequest { ProtocolVersion = ProtocolVersion, ClientName = name },
            Call(cancellationToken, Options.ConnectTimeout)).ConfigureAwait(false);
        return new SessionState(generation, response.SessionId, response.ServerInstanceId, TimeSpan.FromMilliseconds(Math.Max(100, response.SessionLeaseMs)));
    }

    /// <summary>A failed handshake or session open, as the user should read it.</summary>
    DeviceConnectionException ConnectError(RpcException e)
    {
        if (FindInChain<System.Security.Authentication.AuthenticationException>(e.Status.DebugException) is { } tls)
        {
            return new DeviceConnectionException(Address,
                $"the TLS handshake with xlagen-server at {Address} failed: {tls.Message} " +
                "If the server uses a self-signed certificate or a private CA, pass it in RemoteDeviceOptions.TrustedCertificateFile.", e);
        }
        return ConnectErrorByStatus(e);
    }

    static T? FindInChain<T>(Exception? e) where T : Exception
    {
        for (; e != null; e = e.InnerException)
        {
            if (e is T found) return found;
        }
        return null;
    }

    DeviceConnectionException ConnectErrorByStatus(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unauthenticated => new DeviceConnectionException(Address,
            $"xlagen-server at {Address} refused the connection: {e.Status.Detail} " +
            $"(pass the server's token in RemoteDeviceOptions.Token or TokenFile, or set {RemoteClusterResolver.TokenVariable})", e),
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => new DeviceConnectionException(Address,
            $"cannot reach xlagen-server at {Address} ({Wire.Describe(e)}): is it running and listening there (xlagen-server --listen host:port)? " +
            (Endpoint.Scheme == Uri.UriSchemeHttps ? "The address is grpcs://: the server must run with --tls-cert and --tls-key." : "For a server with TLS use grpcs://."), e),
        StatusCode.ResourceExhausted => new DeviceConnectionException(Address, $"xlagen-server at {Address} cannot open a session: {e.Status.Detail}", e),
        StatusCode.FailedPrecondition => new DeviceConnectionException(Address, $"xlagen-server at {Address} refused the session: {e.Status.Detail}", e),
        _ => new DeviceConnectionException(Address, $"the handshake with xlagen-server at {Address} failed ({Wire.Describe(e)})", e),
    };

    /// <summary>
    /// Runs one operation in the current session. When it finds the session lost or the connection broken, recovers
    /// (see the class summary) and runs it again; other failures go through <paramref name="mapError"/>.
    /// </summary>
    public async Task<T> RunAsync<T>(string what, Func<SessionState, CallOptions, Task<T>> operation, Func<RpcException, Exception> mapError, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            var s = Session;
            try
            {
                return await operation(s, Call(cancellationToken)).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"{what} was cancelled", e, cancellationToken);
            }
            catch (RpcException e) when (Wire.IsSessionLost(e) || Wire.IsTransportFailure(e))
            {
                if (!Options.Reconnect)
                    throw new DeviceConnectionException(Address, $"{what} failed: the session on {Address} was lost ({Wire.Describe(e)}) and reconnecting is turned off (RemoteDeviceOptions.Reconnect)", e);
                if (attempt >= MaxRecoveriesPerCall)
                    throw new DeviceConnectionException(Address, $"{what} failed: the session on {Address} was lost {attempt + 1} times in a row; last: {Wire.Describe(e)}", e);
                await RecoverAsync(s, e, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                throw new DeviceConnectionException(Address, $"{what} failed: xlagen-server at {Address} no longer accepts the token: {e.Status.Detail}", e);
            }
            catch (RpcException e)
            {
                throw mapError(e);
            }
        }
    }

    /// <summary>Replaces the lost session <paramref name="failed"/> (once, however many calls noticed it).</summary>
    async Task RecoverAsync(SessionState failed, RpcException cause, CancellationToken cancellationToken)
    {
        await recoverGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Session.Generation != failed.Generation) return;
            var clock = Stopwatch.StartNew();
            var delay = TimeSpan.FromMilliseconds(50);
            RpcException last = cause;
            while (true)
            {
                try
                {
                    var info = await HandshakeAsync(cancellationToken).ConfigureAwait(false);
                    if (info.InstanceId == failed.InstanceId && !Wire.IsSessionLost(cause))
                    {
                        // Same server process, a broken connection: the session may have survived.
                        try
                        {
                            await client.KeepAliveAsync(new KeepAliveRequest { SessionId = failed.Id }, Call(cancellationToken, Options.ConnectTimeout)).ConfigureAwait(false);
                            return;
                        }
                        catch (RpcException e) when (Wire.IsSessionLost(e))
                        {
                        }
                    }
                    ProtocolVersion = RemoteClusterResolver.NegotiateProtocolVersion(info);
                    Volatile.Write(ref server, info);
                    Volatile.Write(ref session, await OpenSessionAsync(failed.Generation + 1, cancellationToken).ConfigureAwait(false));
                    Interlocked.Increment(ref recoveries);
                    return;
                }
                catch (RpcException e) when (Wire.IsTransportFailure(e) || e.StatusCode == StatusCode.DeadlineExceeded)
                {
                    last = e;
                }
                catch (RpcException e)
                {
                    throw ConnectError(e);
                }
                if (clock.Elapsed >= Options.ReconnectTimeout)
                {
                    throw new DeviceConnectionException(Address,
                        $"lost the connection to xlagen-server at {Address} and could not reconnect within {Options.ReconnectTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s " +
                        $"(RemoteDeviceOptions.ReconnectTimeout); last error: {Wire.Describe(last)}", last);
                }
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(1000, delay.TotalMilliseconds * 2));
            }
        }
        finally
        {
            recoverGate.Release();
        }
    }

    /// <summary>
    /// The handle of a buffer or executable in session <paramref name="s"/>, restoring it there when it belongs to an
    /// older session: a program is compiled again, a buffer uploaded again from its host copy. A buffer without a host
    /// copy cannot be restored; that is a <see cref="DeviceStateLostException"/> naming the buffer, now and on later use.
    /// </summary>
    public async ValueTask<ulong> ResolveAsync(RemoteHandle handle, object owner, SessionState s, CallOptions call, bool awaitProducer = true)
    {
        if (handle.LostMessage != null) throw new DeviceStateLostException(handle.LostBuffer!, handle.LostMessage);
        // A result of a dispatched execution exists on the server once that execution ran. A dispatched execution
        // needs no wait (the server runs a session's dispatched executions in order); every other call does.
        if (awaitProducer && handle.Producer is { } producer)
        {
            if (!producer.IsCompleted)
            {
                try
                {
                    await producer.WaitAsync(call.CancellationToken).ConfigureAwait(false);
                }
                catch (Exception) when (producer.IsFaulted || producer.IsCanceled)
                {
                    // reported below, as this buffer's failure
                }
            }
            if (producer.IsFaulted || producer.IsCanceled) throw NeverComputed(owner, producer);
        }
        var b = handle.Binding;
        if (b.Generation == s.Generation) return b.Handle;
        await handle.Gate.WaitAsync(call.CancellationToken).ConfigureAwait(false);
        try
        {
            if (handle.LostMessage != null) throw new DeviceStateLostException(handle.LostBuffer!, handle.LostMessage);
            b = handle.Binding;
            if (b.Generation == s.Generation) return b.Handle;
            if (b.Generation > s.Generation)
            {
                // Restored by a call that already runs in a newer session: this call's session is stale.
                throw new RpcException(new Status(StatusCode.NotFound, $"session {s.Id} was replaced"), new Metadata { { Wire.ErrorTrailer, Wire.SessionNotFound } });
            }
            ulong restored = owner switch
            {
                RemoteExecutable e => (await CompileAsync(s, e.ModuleBytes, call, e.ReplicaCount).ConfigureAwait(false)).ExecutableHandle,
                RemoteBuffer { HostCopy: { } copy } rb => TensorBytes.Fingerprint(copy.Tensor) == copy.Fingerprint
                    ? await UploadAsync(s, copy.Tensor, call, rb.DeviceId).ConfigureAwait(false)
                    : throw Lost(handle, rb,
                        $"the host tensor it was {copy.How} {(copy.How == "uploaded" ? "from" : "into")} has been modified since, so it no longer holds the buffer's contents. " +
                        "Upload a copy (TensorBytes.Clone) when you reuse a host tensor, so buffers stay recoverable."),
                RemoteBuffer rb => throw Lost(handle, rb,
                    "the buffer was computed on the server and never downloaded, so there is no host copy to restore it from. " +
                    "Download it (or RemoteDevice.Synchronize) periodically to make it recoverable (ModelRunner.Save does so for a model's state), " +
                    "or compute it again (ModelRunner.Load restores a checkpoint)."),
                _ => throw new InvalidOperationException($"cannot restore a {owner.GetType().Name}"),
            };
            handle.Binding = new Binding(s.Generation, restored);
            Interlocked.Increment(ref restoredHandles);
            return restored;
        }
        finally
        {
            handle.Gate.Release();
        }
    }

    /// <summary>The error for a use of a result whose dispatched execution failed: the execution's own error inside.</summary>
    static XlaExecutionException NeverComputed(object owner, Task producer)
    {
        Exception cause = producer.Exception?.InnerException ?? new OperationCanceledException("the execution was cancelled");
        if (cause is OperationCanceledException) return new XlaExecutionException($"{Describe(owner)} was never computed: its asynchronously dispatched execution was cancelled ({cause.Message})", cause);
        return new XlaExecutionException($"{Describe(owner)} was never computed: its asynchronously dispatched execution failed: {cause.Message}", cause);
    }

    static string Describe(object owner) => owner is RemoteBuffer b ? $"{b.Name} ({b.Shape}, {b.Origin})" : owner.ToString() ?? "the buffer";

    // ---------------------------------------------------------------- asynchronous dispatch (protocol version 4)

    /// <summary>The first protocol version with asynchronous dispatch.</summary>
    public const int DispatchProtocolVersion = 4;

    SemaphoreSlim? dispatchSlots;
    readonly object dispatchSync = new();
    int sequenceGeneration;
    ulong lastSequence;
    Exception? dispatchFailure;

    /// <summary>Whether executions may be dispatched asynchronously (server version 4, <see cref="RemoteDeviceOptions.PipelineDepth"/> &gt; 0).</summary>
    public bool CanDispatch => Options.PipelineDepth > 0 && ProtocolVersion >= DispatchProtocolVersion;

    /// <summary>Waits for a free place in the pipeline (<see cref="RemoteDeviceOptions.PipelineDepth"/>).</summary>
    public void EnterPipeline()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        LazyInitializer.EnsureInitialized(ref dispatchSlots, () => new SemaphoreSlim(Options.PipelineDepth, Options.PipelineDepth)).Wait();
    }

    public void LeavePipeline() => dispatchSlots!.Release();

    long dispatched;

    public long DispatchedExecutions => Interlocked.Read(ref dispatched);

    public void CountDispatch() => Interlocked.Increment(ref dispatched);

    /// <summary>The next sequence number of session <paramref name="s"/> (1, 2, … from each new session).</summary>
    public ulong NextSequence(SessionState s)
    {
        lock (dispatchSync)
        {
            if (sequenceGeneration != s.Generation)
            {
                sequenceGeneration = s.Generation;
                lastSequence = 0;
            }
            return ++lastSequence;
        }
    }

    /// <summary>A fresh handle in the client range (top bit set; the server draws its own below it).</summary>
    public static ulong NewClientHandle()
    {
        Span<byte> bytes = stackalloc byte[8];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes) | (1UL << 63);
    }

    /// <summary>Keeps the first failure of a dispatched execution for the next dispatch to throw.</summary>
    public void DispatchFailed(Exception e)
    {
        lock (dispatchSync) dispatchFailure ??= e;
    }

    /// <summary>Throws (once) the failure of an earlier dispatched execution that no call has reported yet.</summary>
    public void ThrowIfDispatchFailed()
    {
        Exception? e;
        lock (dispatchSync)
        {
            e = dispatchFailure;
            dispatchFailure = null;
        }
        // The dispatch's own exception (it names the program and the server's reason), thrown where the caller is now.
        if (e != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    DeviceStateLostException Lost(RemoteHandle handle, RemoteBuffer buffer, string why)
    {
        handle.LostBuffer = buffer.Name;
        handle.LostMessage =
            $"{buffer.Name} ({buffer.Shape}, {buffer.Origin}) was lost: the session on {Address} ended (the server restarted or the lease ran out) and {why}";
        return new DeviceStateLostException(buffer.Name, handle.LostMessage);
    }

    // ---------------------------------------------------------------- calls in one session (no recovery)

    public async Task<CompileResponse> CompileAsync(SessionState s, byte[] moduleBytes, CallOptions call, int replicas = 1) =>
        await client.CompileAsync(new CompileRequest { SessionId = s.Id, HloModuleProto = UnsafeByteOperations.UnsafeWrap(moduleBytes), ReplicaCount = replicas > 1 ? replicas : 0 }, call).ConfigureAwait(false);

    long nextBufferId;

    /// <summary>Client-side buffer numbers ("buffer #12"), unique across the connection's devices.</summary>
    public long NextBufferId() => Interlocked.Increment(ref nextBufferId);

    // ---------------------------------------------------------------- releases and keep-alive

    /// <summary>
    /// Releases a handle soon: the next execution carries pending releases (ExecuteRequest.release_handles); when none
    /// comes within a few milliseconds, one Release call sends them. Handles of an older session are already gone.
    /// </summary>
    public void QueueRelease(Binding binding)
    {
        if (Volatile.Read(ref disposed) != 0 || binding.Generation != Session.Generation || binding.Handle == 0) return;
        pendingReleases.Enqueue(binding);
        if (Interlocked.CompareExchange(ref flushing, 1, 0) == 0) releaseFlush = FlushReleasesAsync(ReleaseDelay);
    }

    static readonly TimeSpan ReleaseDelay = TimeSpan.FromMilliseconds(5);

    /// <summary>Moves the pending releases of session <paramref name="s"/> into a request of the caller.</summary>
    public void TakePendingReleases(SessionState s, ICollection<ulong> into)
    {
        while (pendingReleases.TryDequeue(out var b))
        {
            if (b.Generation == s.Generation) into.Add(b.Handle);
        }
    }

    /// <summary>Puts releases back after the call carrying them failed (releasing twice is harmless).</summary>
    public void RequeueReleases(SessionState s, IEnumerable<ulong> handles)
    {
        foreach (var h in handles) QueueRelease(new Binding(s.Generation, h));
    }

    async Task FlushReleasesAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        while (true)
        {
            var s = Session;
            var request = new ReleaseRequest { SessionId = s.Id };
            TakePendingReleases(s, request.Handles);
            if (request.Handles.Count > 0)
            {
                try
                {
                    await client.ReleaseAsync(request, Call(closing.Token, Options.ConnectTimeout)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RpcException or OperationCanceledException or ObjectDisposedException)
                {
                    // A lost session released everything anyway; a closing device closes the session.
                }
            }
            Volatile.Write(ref flushing, 0);
            if (pendingReleases.IsEmpty || Interlocked.CompareExchange(ref flushing, 1, 0) != 0) return;
        }
    }

    async Task KeepAliveLoopAsync()
    {
        while (!closing.IsCancellationRequested)
        {
            var s = Session;
            try
            {
                await Task.Delay(s.Lease / 3, closing.Token).ConfigureAwait(false);
                await client.KeepAliveAsync(new KeepAliveRequest { SessionId = Session.Id }, Call(closing.Token, Options.ConnectTimeout)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (RpcException)
            {
                // A lost session is replaced by the next operation that needs it.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        closing.Cancel();
        try
        {
            await keepAlive.ConfigureAwait(false);
            await releaseFlush.ConfigureAwait(false);
            await client.CloseSessionAsync(new CloseSessionRequest { SessionId = Session.Id }, Call(CancellationToken.None, TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // Gone already: the server releases the session when its lease runs out.
        }
        await DisposeChannelAsync().ConfigureAwait(false);
    }

    async Task DisposeChannelAsync()
    {
        await Task.Yield();
        bulk.Dispose();
        channel.Dispose();
        closing.Dispose();
    }

    // ---------------------------------------------------------------- TLS

    internal static X509Certificate2Collection LoadTrusted(string path, string address)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(path);
            if (collection.Count == 0) throw new DeviceConnectionException(address, $"the trusted certificate file {path} holds no PEM certificate");
            return collection;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new DeviceConnectionException(address, $"cannot read the trusted certificate file {path}: {e.Message}", e);
        }
    }

    internal static bool ValidateAgainst(X509Certificate2Collection trusted, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (certificate == null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var cert = new X509Certificate2(certificate);
        return chain.Build(cert);
    }
}
