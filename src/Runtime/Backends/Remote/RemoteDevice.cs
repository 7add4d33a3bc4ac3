using System.Globalization;
using Grpc.Core;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Backends.Remote;

/// <summary>
/// A device on an xlagen-server, reached over gRPC (<see cref="Devices.ConnectAsync"/>). Programs are compiled and
/// buffers held on the server; execution results stay there until downloaded. The synchronous <see cref="IDevice"/>
/// members wait for the asynchronous ones. After a server restart the device reconnects by itself and restores
/// programs and buffers that have a host copy (see <see cref="RemoteDeviceOptions.KeepHostCopies"/>). Thread-safe.
/// </summary>
public sealed class RemoteDevice : IDevice, IAsyncDisposable
{
    readonly RemoteConnection connection;
    readonly RemoteDevice? root;
    int disposed;

    internal RemoteDevice(RemoteConnection connection) : this(connection, 0, null)
    {
    }

    /// <summary>Device <paramref name="deviceId"/> of the server, sharing <paramref name="root"/>'s connection (a
    /// replica of <see cref="Replicated"/>); only the root owns the connection.</summary>
    RemoteDevice(RemoteConnection connection, int deviceId, RemoteDevice? root)
    {
        this.connection = connection;
        this.root = root;
        DeviceId = deviceId;
        var server = connection.Server;
        var first = server.Devices.FirstOrDefault(d => d.Id == deviceId) ?? server.Devices.FirstOrDefault();
        var attributes = new Dictionary<string, string>(first?.Attributes ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["transport"] = "grpc",
            ["address"] = connection.Address,
            ["protocol_version"] = connection.ProtocolVersion.ToString(CultureInfo.InvariantCulture),
            ["data_port"] = server.DataPort.ToString(CultureInfo.InvariantCulture),
            ["platform_version"] = server.PlatformVersion,
        };
        Info = new DeviceInfo(server.Platform, first?.Kind ?? "unknown", server.ServerVersion, server.Devices.Count, first?.MemoryBytes ?? 0, attributes) { Id = deviceId };
    }

    /// <summary>The server device this object places buffers on (0 unless it is a replica of <see cref="Replicated"/>).</summary>
    public int DeviceId { get; }

    /// <summary>How many replicas a program may run on at this server (<c>xlagen-server --devices N</c>).</summary>
    public int MaxReplicas => ProtocolVersion >= ReplicaProtocolVersion ? connection.Server.ReplicaDevices : 1;

    /// <summary>The first protocol version with replicas.</summary>
    internal const int ReplicaProtocolVersion = 3;

    /// <summary>
    /// The server's first <paramref name="replicas"/> devices as one <see cref="ReplicatedDevice"/> (data parallelism,
    /// as <see cref="Devices.Cpu(int)"/> in-process): buffers are placed on each device, programs compile for the
    /// replica count, and a replicated step runs on the server through one Execute call, its all-reduces meeting
    /// there. It shares this device's session: disposing it leaves this device open (dispose this one to close the
    /// session). <see cref="Devices.ConnectReplicatedAsync"/> opens a connection owned by the replicated device.
    /// </summary>
    public ReplicatedDevice Replicated(int replicas) => new(new RemoteReplicaPlatform(this, replicas, ownsConnection: false));

    internal RemoteDevice ReplicaDevice(int deviceId) => deviceId == DeviceId ? this : new RemoteDevice(connection, deviceId, root ?? this);

    /// <summary>The platform, kind and memory of the server's device; the attributes add the address and protocol.</summary>
    public DeviceInfo Info { get; }

    /// <summary>The server's backend platform and its devices as the server described them in the latest handshake,
    /// with the connection (address, protocol) among the attributes.</summary>
    public PlatformDescription Describe()
    {
        var server = connection.Server;
        var attributes = new Dictionary<string, string>(server.PlatformAttributes, StringComparer.Ordinal)
        {
            ["server"] = $"xlagen-server {server.ServerVersion} at {connection.Address}",
            ["protocol_version"] = connection.ProtocolVersion.ToString(CultureInfo.InvariantCulture),
        };
        var devices = server.Devices.Select(d => new PlatformDescription.Device(d.Id, d.Kind, d.ProcessIndex, d.BytesInUse,
            d.MemoryBytes > 0 ? d.MemoryBytes : null, SameEntries(d.Attributes, server.PlatformAttributes) ? null : d.Attributes)).ToList();
        return new PlatformDescription(server.Platform, server.PlatformVersion, devices, attributes, server.PjrtApiVersion);
    }

    // servers copy the platform's attributes into each device's for older clients; show them once
    static bool SameEntries(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && v == p.Value);

    /// <summary>The address this device was opened with.</summary>
    public string Address => connection.Address;

    /// <summary>What the server said in the latest handshake.</summary>
    public ServerVersionInfo Server => connection.Server;

    /// <summary>The negotiated device protocol version.</summary>
    public int ProtocolVersion => connection.ProtocolVersion;

    /// <summary>The current session on the server (it changes after a reconnect); the server's logs name its first 8 characters.</summary>
    public string SessionId => connection.Session.Id;

    /// <summary>How many times the device replaced a lost session (server restart, expired lease).</summary>
    public int Reconnects => connection.Recoveries;

    /// <summary>How many programs and buffers were restored into a new session after a reconnect.</summary>
    public int RestoredHandles => connection.RestoredHandles;

    /// <summary>Transfers (uploads, downloads, restores) that went over the server's bulk data channel.</summary>
    public long BulkTransfers => connection.BulkTransfers;

    /// <summary>Executions dispatched asynchronously so far (<see cref="RemoteExecutable.Dispatch"/>, Fit's steps; 0 with
    /// <see cref="RemoteDeviceOptions.PipelineDepth"/> 0 or a server older than protocol version 4).</summary>
    public long DispatchedExecutions => connection.DispatchedExecutions;

    /// <summary>Transfers that went over gRPC streams (small ones, or all when the data channel is off or unreachable).</summary>
    public long StreamedTransfers => connection.StreamedTransfers;

    /// <summary>Why large transfers do not use the server's bulk data channel (null while it works or was not needed yet).</summary>
    public string? BulkChannelProblem => connection.BulkChannelProblem;

    internal RemoteConnection Connection => connection;

    // ---------------------------------------------------------------- compile

    /// <summary>Compiles <paramref name="module"/> on the server, blocking; see <see cref="CompileHloAsync(HloModule, CancellationToken)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    /// <exception cref="NotSupportedException">This is a replica device other than 0; compile through the replicated device.</exception>
    /// <exception cref="XlaCompileException">The module cannot be serialized, or the server could not compile it.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public IExecutable CompileHlo(HloModule module) => CompileHloAsync(module).GetAwaiter().GetResult();

    /// <summary>Serializes the module (HloModuleProto) and compiles it on the server (cached there by content).</summary>
    public Task<RemoteExecutable> CompileHloAsync(HloModule module, CancellationToken cancellationToken = default)
    {
        if (DeviceId != 0)
        {
            throw new NotSupportedException(
                $"{this} is replica device {DeviceId}: the server runs one-device programs on device 0; compile through the replicated device (RemoteDevice.Replicated)");
        }
        return CompileHloAsync(module, 1, cancellationToken);
    }

    /// <summary>Compiles for <paramref name="replicas"/> replicas (replica r on server device r); 1 is an ordinary compile.</summary>
    internal async Task<RemoteExecutable> CompileHloAsync(HloModule module, int replicas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(module);
        ThrowIfDisposed();
        byte[] bytes;
        try
        {
            bytes = HloProto.Write(module);
        }
        catch (Exception e) when (e is HloProtoException or ArgumentException or InvalidOperationException)
        {
            throw new XlaCompileException($"module '{module.Name}' cannot be serialized for {Address}: {e.Message}", e);
        }
        var (binding, response) = await connection.RunAsync(
            $"compiling module '{module.Name}'",
            async (s, call) =>
            {
                var r = await connection.CompileAsync(s, bytes, call, replicas).ConfigureAwait(false);
                return (new Binding(s.Generation, r.ExecutableHandle), r);
            },
            e => new XlaCompileException($"xlagen-server at {Address} could not compile module '{module.Name}' ({Wire.Describe(e)})", e),
            cancellationToken).ConfigureAwait(false);
        var results = response.ResultShapes.Select((r, i) => Wire.FromProto(r, $"result {i} of '{module.Name}'")).ToArray();
        if (replicas > 1 && response.ReplicaCount != replicas)
            throw new XlaCompileException($"xlagen-server at {Address} compiled module '{module.Name}' for {response.ReplicaCount} replica(s), not the {replicas} asked for: the server is older than protocol version {ReplicaProtocolVersion}");
        return new RemoteExecutable(this, module, bytes, binding, response.Fingerprint, response.CacheHit, results) { PeakMemoryBytes = response.PeakMemoryBytes, ReplicaCount = replicas };
    }

    // ---------------------------------------------------------------- buffers

    /// <summary>Uploads <paramref name="tensor"/>, blocking; see <see cref="UploadAsync"/>. With host copies on
    /// (<see cref="RemoteDeviceOptions.KeepHostCopies"/>) the buffer keeps a reference to the tensor (not a copy) to restore it
    /// after a server restart; if the tensor is changed afterwards, a restore detects it and the buffer is lost
    /// (<see cref="DeviceStateLostException"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    /// <exception cref="XlaExecutionException">The server refused the upload.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public DeviceBuffer Upload(Tensor tensor) => UploadAsync(tensor).GetAwaiter().GetResult();

    /// <summary>Streams the tensor to the server in chunks. With host copies on, the buffer keeps a copy for restoring.</summary>
    public async Task<RemoteBuffer> UploadAsync(Tensor tensor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ThrowIfDisposed();
        // A large tensor's fingerprint is computed while its bytes travel (it reads the same bytes the upload sends).
        Task<ulong>? fingerprint = !connection.Options.KeepHostCopies ? null
            : TensorBytes.ByteCount(tensor) >= OverlappedFingerprintBytes ? Task.Run(() => TensorBytes.Fingerprint(tensor), CancellationToken.None)
            : Task.FromResult(TensorBytes.Fingerprint(tensor));
        var binding = await connection.RunAsync(
            $"uploading {tensor.ShapeText}",
            async (s, call) => new Binding(s.Generation, await connection.UploadAsync(s, tensor, call, DeviceId).ConfigureAwait(false)),
            e => new XlaExecutionException($"xlagen-server at {Address} refused the upload of {tensor.ShapeText} ({Wire.Describe(e)})", e),
            cancellationToken).ConfigureAwait(false);
        var hostCopy = fingerprint != null ? new HostCopy(tensor, await fingerprint.ConfigureAwait(false), "uploaded") : null;
        return new RemoteBuffer(this, tensor.HloShape, NextBufferId(), "uploaded", binding, hostCopy);
    }

    const long OverlappedFingerprintBytes = 1 << 20;

    /// <summary>Downloads <paramref name="buffer"/>, blocking; see <see cref="DownloadAsync"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> belongs to another device.</exception>
    /// <exception cref="ObjectDisposedException">The device or the buffer was disposed, or the buffer was donated.</exception>
    /// <exception cref="XlaExecutionException">The server could not send the buffer.</exception>
    public Tensor Download(DeviceBuffer buffer) => DownloadAsync(buffer).GetAwaiter().GetResult();

    /// <summary>Streams the buffer from the server. The buffer then has a host copy (it can be restored after a restart).</summary>
    public async Task<Tensor> DownloadAsync(DeviceBuffer buffer, CancellationToken cancellationToken = default)
    {
        var b = Own(buffer, "download it");
        var tensor = await connection.RunAsync(
            $"downloading {b.Name}",
            async (s, call) =>
            {
                var handle = await connection.ResolveAsync(b.Handle, b, s, call).ConfigureAwait(false);
                return await connection.DownloadAsync(s, handle, b.Shape, b.Name, call).ConfigureAwait(false);
            },
            e => new XlaExecutionException($"xlagen-server at {Address} could not send {b.Name} ({b.Shape}) ({Wire.Describe(e)})", e),
            cancellationToken).ConfigureAwait(false);
        if (!tensor.HloShape.Equals(b.Shape)) throw new InvalidDataException($"download of {b.Name}: the server sent {tensor.ShapeText}, the buffer is {b.Shape}");
        if (connection.Options.KeepHostCopies && b.HostCopy == null) b.HostCopy = new HostCopy(tensor, TensorBytes.Fingerprint(tensor), "downloaded");
        return tensor;
    }

    /// <summary>Downloads the buffers that have no host copy yet, so they survive a server restart. Training loops call
    /// this every few steps for their parameters and optimizer state.</summary>
    public void Synchronize(IEnumerable<DeviceBuffer> buffers) => SynchronizeAsync(buffers).GetAwaiter().GetResult();

    /// <summary>Downloads the buffers that have no host copy yet, as <see cref="Synchronize"/>, without blocking.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="buffers"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The device was opened with <see cref="RemoteDeviceOptions.KeepHostCopies"/> off.</exception>
    /// <exception cref="ArgumentException">A buffer belongs to another device.</exception>
    public async Task SynchronizeAsync(IEnumerable<DeviceBuffer> buffers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        if (!connection.Options.KeepHostCopies)
            throw new InvalidOperationException("Synchronize keeps host copies, which this device was opened without (RemoteDeviceOptions.KeepHostCopies = false)");
        foreach (var buffer in buffers)
        {
            var b = Own(buffer, "synchronize it");
            if (b.HostCopy == null) await DownloadAsync(b, cancellationToken).ConfigureAwait(false);
        }
    }

    internal RemoteBuffer Own(DeviceBuffer buffer, string use)
    {
        ThrowIfDisposed();
        return DeviceBuffer.Owned<RemoteBuffer>(buffer, this, use, $"not to the remote device at {Address}");
    }

    internal long NextBufferId() => connection.NextBufferId();

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);

    /// <summary>Releases the session: the server frees every buffer and program this device holds.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Releases the session as <see cref="Dispose"/> does, without blocking. A replica device leaves the shared connection to its root device. Calling it again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        // A replica device shares its root's connection; the root closes it.
        if (root == null) await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>"remote platform at address", or "remote platform device N at address" for a replica device.</summary>
    public override string ToString() => DeviceId == 0 ? $"remote {Info.Platform} at {Address}" : $"remote {Info.Platform} device {DeviceId} at {Address}";
}

/// <summary>
/// The host tensor a buffer was uploaded from or downloaded into, kept by reference (no copy) with a fingerprint of
/// its contents at that moment. A restore checks the fingerprint, so a tensor changed since is never sent as if it
/// were the buffer's contents.
/// </summary>
internal sealed record HostCopy(Tensor Tensor, ulong Fingerprint, string How);

/// <summary>A buffer held by an xlagen-server. <see cref="Name"/> and <see cref="Origin"/> appear in error messages.</summary>
public sealed class RemoteBuffer : DeviceBuffer
{
    readonly RemoteDevice device;
    HostCopy? hostCopy;

    internal RemoteBuffer(RemoteDevice device, Shape shape, long id, string origin, Binding binding, HostCopy? hostCopy) : base(device, shape)
    {
        this.device = device;
        Id = id;
        Origin = origin;
        Handle = new RemoteHandle(binding);
        this.hostCopy = hostCopy;
    }

    /// <summary>A client-side number, unique per device.</summary>
    public long Id { get; }

    /// <summary>"buffer #12".</summary>
    public string Name => "buffer #" + Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>How the buffer came to be: "uploaded", "result 0 of 'train_step'".</summary>
    public string Origin { get; }

    /// <summary>Whether the client holds the contents (the tensor it uploaded or downloaded), so a restart cannot lose it.</summary>
    public bool HasHostCopy => Volatile.Read(ref hostCopy) != null;

    internal HostCopy? HostCopy
    {
        get => Volatile.Read(ref hostCopy);
        set => Volatile.Write(ref hostCopy, value);
    }

    internal RemoteHandle Handle { get; }

    /// <summary>The server device holding the buffer.</summary>
    public int DeviceId => device.DeviceId;

    /// <summary>Consumed by an execution: the server already released it.</summary>
    internal void MarkDonated()
    {
        HostCopy = null;
        IsDeleted = true;
    }

    /// <summary>Marks the buffer deleted, drops its host copy and queues its release on the server: the next execution
    /// carries it, or a Release call sends it within a few milliseconds. Disposing twice is harmless.</summary>
    public override void Dispose()
    {
        if (IsDeleted) return;
        base.Dispose();
        HostCopy = null;
        Handle.Release(device.Connection);
    }

    /// <summary>"name shape on address".</summary>
    public override string ToString() => $"{Name} {Shape} on {device.Address}";
}

/// <summary>A program compiled on an xlagen-server.</summary>
public sealed class RemoteExecutable : IExecutable
{
    readonly RemoteDevice device;
    readonly Shape[] resultShapes;
    int disposed;

    internal RemoteExecutable(RemoteDevice device, HloModule module, byte[] moduleBytes, Binding binding, string fingerprint, bool cacheHit, Shape[] resultShapes)
    {
        this.device = device;
        Module = module;
        ModuleBytes = moduleBytes;
        Handle = new RemoteHandle(binding);
        Fingerprint = fingerprint;
        WasCached = cacheHit;
        this.resultShapes = resultShapes;
    }

    /// <summary>The module this program was compiled from.</summary>
    public HloModule Module { get; }

    /// <summary>The SHA-256 of the module's bytes, the server's cache key.</summary>
    public string Fingerprint { get; }

    /// <summary>Whether the server had the program compiled already (by this or another client).</summary>
    public bool WasCached { get; }

    /// <summary>The server backend's estimate of what one execution allocates at its peak (0: it does not say).</summary>
    public long PeakMemoryBytes { get; init; }

    /// <summary>The shapes of the results an execution returns, one buffer each, as the server reported them.</summary>
    public IReadOnlyList<Shape> ResultShapes => resultShapes;

    /// <summary>The replicas the program runs on (1: an ordinary program on device 0).</summary>
    public int ReplicaCount { get; init; } = 1;

    internal byte[] ModuleBytes { get; }

    internal RemoteHandle Handle { get; }

    /// <inheritdoc/>
    public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null) =>
        ExecuteAsync(arguments, options).GetAwaiter().GetResult();

    /// <summary>The call's token: <paramref name="cancellationToken"/> and <see cref="ExecuteOptions.Cancellation"/> together.</summary>
    static CancellationTokenSource? Link(ExecuteOptions? options, ref CancellationToken cancellationToken)
    {
        var fromOptions = options?.Cancellation ?? default;
        if (!fromOptions.CanBeCanceled) return null;
        if (!cancellationToken.CanBeCanceled)
        {
            cancellationToken = fromOptions;
            return null;
        }
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, fromOptions);
        cancellationToken = linked.Token;
        return linked;
    }

    /// <summary>Runs the program on the server; results stay there as buffers.</summary>
    public async Task<DeviceBuffer[]> ExecuteAsync(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (args, donated) = Check(arguments, options);
        using var linked = Link(options, ref cancellationToken);
        var response = await Run(args, donated, inline: false, cancellationToken).ConfigureAwait(false);
        var results = new DeviceBuffer[response.Results.Count];
        for (int i = 0; i < results.Length; i++)
        {
            var r = response.Results[i];
            var shape = Wire.FromProto(r.Shape, $"result {i} of '{Module.Name}'");
            results[i] = new RemoteBuffer(device, shape, device.NextBufferId(), $"result {i} of '{Module.Name}'", new Binding(response.Generation, r.BufferHandle), null);
        }
        return results;
    }

    /// <summary>
    /// Asynchronous dispatch (protocol version 4; <see cref="RemoteDeviceOptions.PipelineDepth"/>): sends the execution
    /// and returns its result buffers at once, without waiting for the server to run it, so a training loop sends step
    /// k+1 while step k runs. The results' handles are chosen here; the server runs the session's dispatched executions
    /// in the order they were dispatched. Donated arguments are consumed now. A failure surfaces at the next dispatch
    /// (once) and in every later use of the results (a download names the failed program). Waits while
    /// <see cref="RemoteDeviceOptions.PipelineDepth"/> executions are in flight. Without asynchronous dispatch (an older
    /// server, depth 0) this is <see cref="Execute"/>. Fit and Evaluate dispatch their steps this way.
    /// </summary>
    /// <param name="arguments">One buffer per entry parameter, on this device; results of earlier dispatches may be
    /// among them.</param>
    /// <param name="options">Donated arguments (consumed at once) and a cancellation token, which stops the execution
    /// on the server (or before it starts) until it is over.</param>
    /// <returns>The result buffers, valid at once as arguments of later dispatches; a download waits for them.</returns>
    /// <exception cref="XlaExecutionException">An earlier dispatched execution failed (thrown once, here), or the server
    /// refused this one synchronously.</exception>
    /// <exception cref="DeviceStateLostException">An argument was lost with an older session.</exception>
    public DeviceBuffer[] Dispatch(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null)
    {
        var connection = device.Connection;
        if (!connection.CanDispatch || ReplicaCount > 1) return Execute(arguments, options);
        var (args, donated) = Check(arguments, options);
        connection.ThrowIfDispatchFailed();
        connection.EnterPipeline();
        connection.CountDispatch();
        var session = connection.Session;
        var results = new RemoteBuffer[resultShapes.Length];
        var handles = new ulong[results.Length];
        for (int i = 0; i < results.Length; i++)
        {
            handles[i] = RemoteConnection.NewClientHandle();
            results[i] = new RemoteBuffer(device, resultShapes[i], device.NextBufferId(), $"result {i} of '{Module.Name}'", new Binding(session.Generation, handles[i]), null);
        }
        // Everything the execution reads or makes stays listed on the server until it is over.
        var used = new List<RemoteHandle>(args.Length + results.Length + 1) { Handle };
        foreach (var a in args) used.Add(a.Handle);
        foreach (var r in results) used.Add(r.Handle);
        foreach (var h in used) h.AddUse();
        var cancellation = options?.Cancellation ?? default;
        Task run;
        try
        {
            // Built here, in dispatch order: the sequence number orders the executions on the server, and an argument
            // that cannot be resolved (a buffer lost with an older session) fails this call before a number is taken.
            var call = connection.Call(cancellation);
            var request = new ExecuteRequest { SessionId = session.Id };
            request.ExecutableHandle = Resolve(connection, Handle, this, session, call);
            foreach (var a in args) request.ArgumentHandles.Add(Resolve(connection, a.Handle, a, session, call));
            request.DonatedArguments.AddRange(donated);
            request.ResultHandles.AddRange(handles);
            request.Sequence = connection.NextSequence(session);
            connection.TakePendingReleases(session, request.ReleaseHandles);
            run = DispatchAsync(session, request, call, cancellation);
        }
        catch
        {
            foreach (var h in used) h.EndUse(connection);
            connection.LeavePipeline();
            throw;
        }
        foreach (var d in donated) args[d].MarkDonated();
        foreach (var r in results) r.Handle.Producer = run;
        run.ContinueWith(t =>
        {
            foreach (var h in used) h.EndUse(connection);
            connection.LeavePipeline();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return results;
    }

    /// <summary>A handle for a dispatched execution: no wait for a producer (the server orders dispatched executions);
    /// immediate unless it belongs to an older session and must be restored.</summary>
    static ulong Resolve(RemoteConnection connection, RemoteHandle handle, object owner, SessionState session, CallOptions call)
    {
        var resolved = connection.ResolveAsync(handle, owner, session, call, awaitProducer: false);
        return resolved.IsCompletedSuccessfully ? resolved.Result : resolved.AsTask().GetAwaiter().GetResult();
    }

    async Task DispatchAsync(SessionState session, ExecuteRequest request, CallOptions call, CancellationToken cancellationToken)
    {
        var connection = device.Connection;
        try
        {
            await connection.Client.ExecuteAsync(request, call).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            connection.RequeueReleases(session, request.ReleaseHandles);
            Exception failure = e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested
                ? new OperationCanceledException($"executing '{Module.Name}' (dispatched asynchronously) was cancelled", e, cancellationToken)
                : new XlaExecutionException($"xlagen-server at {device.Address} could not execute '{Module.Name}' (dispatched asynchronously; {Wire.Describe(e)})", e);
            // Noted before the task ends, so whoever sees the task fail finds the failure waiting for the next dispatch too.
            connection.DispatchFailed(failure);
            throw failure;
        }
    }

    /// <summary>Runs the program and returns the results' contents in the same round trip (nothing stays on the server).
    /// For small results: metrics, predictions.</summary>
    public async Task<Tensor[]> ExecuteToHostAsync(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (args, donated) = Check(arguments, options);
        using var linked = Link(options, ref cancellationToken);
        var response = await Run(args, donated, inline: true, cancellationToken).ConfigureAwait(false);
        var results = new Tensor[response.Results.Count];
        for (int i = 0; i < results.Length; i++)
        {
            var r = response.Results[i];
            var shape = Wire.FromProto(r.Shape, $"result {i} of '{Module.Name}'");
            var t = TensorBytes.Allocate(shape.ElementType, shape.ConcreteDims());
            if (r.InlineData.Length != TensorBytes.ByteCount(t))
                throw new InvalidDataException($"result {i} of '{Module.Name}': the server sent {r.InlineData.Length} bytes for {t.ShapeText}");
            TensorBytes.Write(t, 0, r.InlineData.Span);
            results[i] = t;
        }
        return results;
    }

    (RemoteBuffer[] Args, int[] Donated) Check(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(arguments);
        if (ReplicaCount > 1)
            throw new XlaExecutionException($"'{Module.Name}' was compiled for {ReplicaCount} replicas: run it on the replicated device it was compiled on (one argument list per replica)");
        var args = new RemoteBuffer[arguments.Count];
        for (int i = 0; i < args.Length; i++)
        {
            if (arguments[i] == null) throw new XlaExecutionException($"argument {i} of '{Module.Name}' is null");
            args[i] = device.Own(arguments[i], $"pass it as argument {i} of '{Module.Name}'");
        }
        return (args, (options?.DonatedArguments ?? Array.Empty<int>()).ToArray());
    }

    sealed record Outcome(int Generation, Google.Protobuf.Collections.RepeatedField<ExecuteResult> Results);

    async Task<Outcome> Run(RemoteBuffer[] args, int[] donated, bool inline, CancellationToken cancellationToken)
    {
        try
        {
            return await RunOnce(args, donated, inline, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (donated.Length > 0 && (e is OperationCanceledException
            || e.InnerException is RpcException { StatusCode: StatusCode.DeadlineExceeded or StatusCode.Cancelled }))
        {
            // The server may have consumed the donated buffers before it stopped the program: they are gone either
            // way (as after a cancelled XLA execution), and releasing handles the server already dropped is harmless.
            foreach (var d in donated) args[d].Dispose();
            throw;
        }
    }

    async Task<Outcome> RunOnce(RemoteBuffer[] args, int[] donated, bool inline, CancellationToken cancellationToken)
    {
        var connection = device.Connection;
        var outcome = await connection.RunAsync(
            $"executing '{Module.Name}'",
            async (s, call) =>
            {
                var request = new ExecuteRequest { SessionId = s.Id, InlineResults = inline };
                request.ExecutableHandle = await connection.ResolveAsync(Handle, this, s, call).ConfigureAwait(false);
                foreach (var a in args) request.ArgumentHandles.Add(await connection.ResolveAsync(a.Handle, a, s, call).ConfigureAwait(false));
                request.DonatedArguments.AddRange(donated);
                connection.TakePendingReleases(s, request.ReleaseHandles);
                try
                {
                    var response = await connection.Client.ExecuteAsync(request, call).ConfigureAwait(false);
                    return new Outcome(s.Generation, response.Results);
                }
                catch (RpcException)
                {
                    connection.RequeueReleases(s, request.ReleaseHandles);
                    throw;
                }
            },
            e => new XlaExecutionException($"xlagen-server at {device.Address} could not execute '{Module.Name}' ({Wire.Describe(e)})", e),
            cancellationToken).ConfigureAwait(false);
        foreach (var d in donated) args[d].MarkDonated();
        return outcome;
    }

    /// <summary>
    /// Runs a program compiled for <see cref="ReplicaCount"/> replicas through one Execute call: list r of
    /// <paramref name="arguments"/> holds replica r's buffers, each on <paramref name="devices"/>[r]; the result lists
    /// come back in replica order, replica r's on devices[r]. Donated arguments are consumed on every replica, whether
    /// the call succeeds or not (<see cref="IReplicaExecutable"/>'s contract; the server does the same).
    /// </summary>
    internal async Task<DeviceBuffer[][]> ExecuteReplicasAsync(IReadOnlyList<RemoteDevice> devices, IReadOnlyList<IReadOnlyList<DeviceBuffer>> arguments, ExecuteOptions? options, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(arguments);
        int n = ReplicaCount;
        if (arguments.Count != n) throw new ArgumentException($"'{Module.Name}' runs on {n} replicas and needs {n} argument lists, got {arguments.Count}", nameof(arguments));
        var args = new RemoteBuffer[n][];
        for (int r = 0; r < n; r++)
        {
            ArgumentNullException.ThrowIfNull(arguments[r]);
            args[r] = new RemoteBuffer[arguments[r].Count];
            for (int i = 0; i < args[r].Length; i++)
            {
                if (arguments[r][i] == null) throw new XlaExecutionException($"replica {r} of {n}: argument {i} of '{Module.Name}' is null");
                args[r][i] = devices[r].Own(arguments[r][i], $"pass it as argument {i} of replica {r} of '{Module.Name}'");
            }
        }
        var donated = (options?.DonatedArguments ?? Array.Empty<int>()).Distinct().ToArray();
        using var linked = Link(options, ref cancellationToken);
        var connection = device.Connection;
        (int Generation, Google.Protobuf.Collections.RepeatedField<ReplicaResults> Lists) outcome;
        try
        {
            outcome = await connection.RunAsync(
                $"executing '{Module.Name}' on {n} replicas",
                async (s, call) =>
                {
                    var request = new ExecuteRequest { SessionId = s.Id };
                    request.ExecutableHandle = await connection.ResolveAsync(Handle, this, s, call).ConfigureAwait(false);
                    foreach (var list in args)
                    {
                        var replica = new ReplicaArguments();
                        foreach (var a in list) replica.ArgumentHandles.Add(await connection.ResolveAsync(a.Handle, a, s, call).ConfigureAwait(false));
                        request.ReplicaArguments.Add(replica);
                    }
                    request.DonatedArguments.AddRange(donated);
                    connection.TakePendingReleases(s, request.ReleaseHandles);
                    try
                    {
                        var response = await connection.Client.ExecuteAsync(request, call).ConfigureAwait(false);
                        return (s.Generation, response.ReplicaResults);
                    }
                    catch (RpcException)
                    {
                        connection.RequeueReleases(s, request.ReleaseHandles);
                        throw;
                    }
                },
                e => new XlaExecutionException($"xlagen-server at {device.Address} could not execute '{Module.Name}' on {n} replicas ({Wire.Describe(e)})", e),
                cancellationToken).ConfigureAwait(false);
        }
        catch when (donated.Length > 0)
        {
            // Gone either way: releasing handles the server already dropped is harmless.
            foreach (var list in args)
            {
                foreach (var d in donated)
                {
                    if (d >= 0 && d < list.Length) list[d].Dispose();
                }
            }
            throw;
        }
        foreach (var list in args)
        {
            foreach (var d in donated) list[d].MarkDonated();
        }
        if (outcome.Lists.Count != n)
            throw new InvalidDataException($"executing '{Module.Name}' on {n} replicas: the server answered with {outcome.Lists.Count} result lists");
        var results = new DeviceBuffer[n][];
        for (int r = 0; r < n; r++)
        {
            var list = outcome.Lists[r].Results;
            results[r] = new DeviceBuffer[list.Count];
            for (int i = 0; i < list.Count; i++)
            {
                string origin = $"result {i} of '{Module.Name}', replica {r}";
                var shape = Wire.FromProto(list[i].Shape, origin);
                results[r][i] = new RemoteBuffer(devices[r], shape, devices[r].NextBufferId(), origin, new Binding(outcome.Generation, list[i].BufferHandle), null);
            }
        }
        return results;
    }

    /// <summary>Queues the program's release on the server (carried by the next execution, or sent by a Release call within a
    /// few milliseconds). Disposing twice is harmless.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        Handle.Release(device.Connection);
    }

    /// <summary>"remote executable 'name' on address" (with the replica count for a replicated program).</summary>
    public override string ToString() => ReplicaCount == 1 ? $"remote executable '{Module.Name}' on {device.Address}" : $"remote executable '{Module.Name}' on {ReplicaCount} replicas at {device.Address}";
}
