using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using XlaGen.Device.V1;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Grpc;

/// <summary>
/// The device service (protos/xlagen/device.proto). Handlers validate everything a client sends and report problems
/// as <see cref="RpcException"/>s with a status and a message naming what was wrong; <see cref="GuardInterceptor"/>
/// turns anything unexpected into INTERNAL without taking the server down.
/// </summary>
internal sealed partial class DeviceServiceImpl : DeviceService.DeviceServiceBase
{
    const int DefaultChunkBytes = 1 << 20;

    readonly DeviceHost host;
    readonly ILogger logger;

    public DeviceServiceImpl(DeviceHost host, ILogger<DeviceServiceImpl> logger)
    {
        this.host = host;
        this.logger = logger;
    }

    SessionTable Sessions => host.Sessions;

    IDevice Device => host.Device;

    // ---------------------------------------------------------------- handshake and sessions

    public override Task<GetVersionResponse> GetVersion(GetVersionRequest request, ServerCallContext context)
    {
        var description = Device.Describe();
        var response = new GetVersionResponse
        {
            MinProtocolVersion = host.Options.MinProtocolVersion,
            MaxProtocolVersion = host.Options.MaxProtocolVersion,
            ServerVersion = DeviceHost.ServerVersion,
            Platform = description.Platform,
            PlatformVersion = description.PlatformVersion,
            ServerInstanceId = host.InstanceId,
            SessionLeaseMs = (long)host.Options.SessionLease.TotalMilliseconds,
            MaxMessageBytes = host.Options.MaxMessageBytes,
            MaxSessionBytes = host.Options.MaxSessionBytes,
            DataPort = host.Data?.Port ?? 0,
            PjrtApiVersion = description.ApiVersion ?? "",
            ReplicaDevices = host.MaxReplicas,
        };
        foreach (var (key, value) in description.Attributes) response.PlatformAttributes[key] = value;
        // --devices N: every hosted device, by id (device 0 describes only itself)
        var devices = host.AllDevices.Count == 1 ? description.Devices : host.AllDevices.SelectMany(d => d.Describe().Devices).ToList();
        foreach (var d in devices)
        {
            var device = new DeviceDescription { Id = d.Id, Kind = d.Kind, MemoryBytes = d.BytesLimit ?? 0, ProcessIndex = d.ProcessIndex };
            if (d.BytesInUse is long used) device.BytesInUse = used;
            // older clients read the platform's attributes from the first device
            foreach (var (key, value) in d.Attributes ?? description.Attributes) device.Attributes[key] = value;
            response.Devices.Add(device);
        }
        return Task.FromResult(response);
    }

    public override Task<OpenSessionResponse> OpenSession(OpenSessionRequest request, ServerCallContext context)
    {
        if (request.ProtocolVersion < host.Options.MinProtocolVersion || request.ProtocolVersion > host.Options.MaxProtocolVersion)
        {
            throw Errors.FailedPrecondition(
                $"protocol version {request.ProtocolVersion} is not supported: this server ({DeviceHost.ServerVersion}) speaks {host.Options.MinProtocolVersion}..{host.Options.MaxProtocolVersion}; " +
                "call GetVersion and pick a version both sides speak");
        }
        var name = string.IsNullOrWhiteSpace(request.ClientName) ? context.Peer : Errors.Shorten(request.ClientName);
        var session = Sessions.Open(name, request.ProtocolVersion);
        Log.SessionOpened(logger, session.ShortId, name, request.ProtocolVersion, Sessions.Count);
        return Task.FromResult(new OpenSessionResponse
        {
            SessionId = session.Id,
            SessionLeaseMs = (long)host.Options.SessionLease.TotalMilliseconds,
            ServerInstanceId = host.InstanceId,
        });
    }

    public override Task<KeepAliveResponse> KeepAlive(KeepAliveRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        using var call = session.BeginCall();
        return Task.FromResult(new KeepAliveResponse { SessionLeaseMs = (long)host.Options.SessionLease.TotalMilliseconds, BytesHeld = session.BytesHeld });
    }

    public override Task<CloseSessionResponse> CloseSession(CloseSessionRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        int released = Sessions.Close(session, out long bytes);
        Log.SessionClosed(logger, session.ShortId, released, bytes);
        return Task.FromResult(new CloseSessionResponse { ReleasedHandles = released });
    }

    // ---------------------------------------------------------------- buffers

    public override async Task<UploadResponse> Upload(IAsyncStreamReader<UploadRequest> requestStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct).ConfigureAwait(false))
            throw Errors.InvalidArgument("the upload stream is empty: its first message must be the header (session and shape)");
        var first = requestStream.Current;
        if (first.KindCase != UploadRequest.KindOneofCase.Header)
            throw Errors.InvalidArgument($"the first upload message must be the header (session and shape), got {(first.KindCase == UploadRequest.KindOneofCase.Data ? "data" : "an empty message")}");
        var session = Sessions.Get(first.Header.SessionId);
        using var call = session.BeginCall();
        var shape = FromProto(first.Header.Shape, "upload header");
        int deviceId = first.Header.DeviceId;
        if (deviceId != 0) RequireReplicaProtocol(session, "upload with device_id");
        var target = host.DeviceAt(deviceId);
        var hostTarget = target as IHostMemoryDevice;
        long total = TensorBytes.ByteCount(shape.ElementType, shape.ConcreteDims());
        CheckDeviceMemory(total, $"uploading {shape}");
        session.EnsureRoomForHandles(1, $"uploading {shape}");
        if (!session.TryReserve(total, host.Options.MaxSessionBytes, out long held, $"uploading {shape}"))
        {
            throw Errors.ResourceExhausted(
                $"uploading {shape} ({total} bytes{Session.Counted(total)}) would take the session to {held + Session.Charge(total)} bytes, over its limit of {host.Options.MaxSessionBytes} bytes (--max-session-bytes); release buffers first");
        }
        var clock = Stopwatch.StartNew();
        bool added = false;
        try
        {
            // Not zeroed: every byte is written before the tensor is used (a short stream is refused below).
            var tensor = hostTarget?.AllocateUninitialized(shape.ElementType, shape.ConcreteDims()) ?? TensorBytes.Allocate(shape.ElementType, shape.ConcreteDims(), zeroed: false);
            var sink = new UploadSink(tensor, shape.ToString());
            using (sink.Attach())
            {
                while (await requestStream.MoveNext(ct).ConfigureAwait(false))
                {
                    var message = requestStream.Current;
                    if (ReferenceEquals(message, UploadSink.Consumed)) continue;   // written into the tensor while parsed
                    int index = sink.Messages + 1;
                    if (message.KindCase != UploadRequest.KindOneofCase.Data)
                        throw Errors.InvalidArgument($"upload message {index} of {shape} is {(message.KindCase == UploadRequest.KindOneofCase.Header ? "a second header" : "empty")}; after the header every message carries data");
                    var data = message.Data.Span;
                    if (data.Length > total - sink.Received)
                        throw Errors.InvalidArgument($"upload of {shape} sent more than its {total} bytes (message {index} brings the total to {sink.Received + data.Length})");
                    try
                    {
                        TensorBytes.Write(tensor, sink.Received, data);
                    }
                    catch (ArgumentException e)
                    {
                        throw Errors.InvalidArgument($"upload of {shape}, message {index}: {e.Message}");
                    }
                    sink.Advance(data.Length);
                }
            }
            long received = sink.Received;
            if (received != total)
                throw Errors.InvalidArgument($"upload of {shape} ended after {received} of its {total} bytes: the stream was truncated");
            // A host-memory device takes the staging tensor as the buffer (no second copy).
            var buffer = hostTarget?.AdoptHostTensor(tensor) ?? target.Upload(tensor);
            var entry = new BufferEntry(session, buffer, total, deviceId);
            session.Add(entry);
            added = true;
            Log.Uploaded(logger, session.ShortId, shape.ToString(), total, clock.ElapsedMilliseconds);
            return new UploadResponse { BufferHandle = entry.Handle, BytesReceived = received };
        }
        finally
        {
            if (!added) session.Unreserve(total);
        }
    }

    public override async Task Download(DownloadRequest request, IServerStreamWriter<DownloadResponse> responseStream, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        using var call = session.BeginCall();
        if (request.ChunkBytes < 0) throw Errors.InvalidArgument($"chunk_bytes {request.ChunkBytes} is negative");
        int chunk = (int)Math.Min(request.ChunkBytes == 0 ? DefaultChunkBytes : request.ChunkBytes, host.Options.MaxMessageBytes - 4096);
        var entry = session.Pin<BufferEntry>(request.BufferHandle, "download");
        try
        {
            // A host-memory device's buffer is sent in place (pinned meanwhile, so neither a release nor a donation
            // can take it away); other devices copy it to the host first.
            var hostDevice = entry.Buffer.Device as IHostMemoryDevice;
            Tensor? tensor = hostDevice == null ? entry.Buffer.Device.Download(entry.Buffer) : null;
            long total = TensorBytes.ByteCount(entry.Shape.ElementType, entry.Shape.ConcreteDims());
            var shape = ToProto(entry.Shape);
            long offset = 0;
            do
            {
                int n = (int)Math.Min(chunk, total - offset);
                var bytes = tensor != null ? TensorBytes.Slice(tensor, offset, n) : hostDevice!.PeekBytes(entry.Buffer, offset, n);
                var message = new DownloadResponse { Data = UnsafeByteOperations.UnsafeWrap(bytes) };
                if (offset == 0) message.Shape = shape;
                await responseStream.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
                offset += n;
            }
            while (offset < total);
        }
        finally
        {
            session.Unpin(entry);
        }
    }

    // ---------------------------------------------------------------- bulk data channel

    public override Task<BeginTransferResponse> BeginTransfer(BeginTransferRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        using var call = session.BeginCall();
        if (session.ProtocolVersion < DeviceHost.DataChannelProtocolVersion)
        {
            throw Errors.FailedPrecondition(
                $"BeginTransfer is part of protocol version {DeviceHost.DataChannelProtocolVersion}; this session was opened at version {session.ProtocolVersion} (use Upload and Download)");
        }
        var data = host.Data ?? throw Errors.FailedPrecondition("this server has no bulk data channel (--data-listen off): use Upload and Download");
        if (request.DeviceId != 0)
        {
            RequireReplicaProtocol(session, "BeginTransfer with device_id");
            if (request.KindCase != BeginTransferRequest.KindOneofCase.UploadShape)
                throw Errors.InvalidArgument("BeginTransfer: device_id places an upload; a download reads the buffer where it is (leave device_id 0)");
            host.DeviceAt(request.DeviceId);
        }
        Shape shape;
        long total;
        byte[] ticket;
        switch (request.KindCase)
        {
            case BeginTransferRequest.KindOneofCase.UploadShape:
            {
                shape = FromProto(request.UploadShape, "BeginTransfer upload");
                total = TensorBytes.ByteCount(shape.ElementType, shape.ConcreteDims());
                CheckDeviceMemory(total, $"uploading {shape}");
                session.EnsureRoomForHandles(1, $"uploading {shape}");
                if (!session.TryReserve(total, host.Options.MaxSessionBytes, out long held, $"uploading {shape}"))
                {
                    throw Errors.ResourceExhausted(
                        $"uploading {shape} ({total} bytes{Session.Counted(total)}) would take the session to {held + Session.Charge(total)} bytes, over its limit of {host.Options.MaxSessionBytes} bytes (--max-session-bytes); release buffers first");
                }
                try
                {
                    ticket = host.Tickets.Issue(session, upload: true, shape, total, 0, request.DeviceId);
                }
                catch
                {
                    session.Unreserve(total);
                    throw;
                }
                break;
            }
            case BeginTransferRequest.KindOneofCase.DownloadHandle:
            {
                var entry = session.Pin<BufferEntry>(request.DownloadHandle, "BeginTransfer download");
                session.Unpin(entry);
                shape = entry.Shape;
                total = TensorBytes.ByteCount(shape.ElementType, shape.ConcreteDims());
                ticket = host.Tickets.Issue(session, upload: false, shape, total, entry.Handle);
                break;
            }
            default:
                throw Errors.InvalidArgument("BeginTransfer names no transfer: set upload_shape or download_handle");
        }
        return Task.FromResult(new BeginTransferResponse
        {
            Ticket = UnsafeByteOperations.UnsafeWrap(ticket),
            Shape = ToProto(shape),
            Bytes = total,
            DataPort = data.Port,
            ExpiresMs = (long)host.Tickets.Lifetime.TotalMilliseconds,
        });
    }

    // ---------------------------------------------------------------- execute

    public override Task<ExecuteResponse> Execute(ExecuteRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        if (request.Sequence == 0 && request.ResultHandles.Count == 0)
        {
            using var call = session.BeginCall();
            return Task.FromResult(ExecuteNow(session, request, context));
        }
        if (session.ProtocolVersion < DeviceHost.AsyncDispatchProtocolVersion)
        {
            throw Errors.FailedPrecondition(
                $"execute with {(request.Sequence != 0 ? "sequence" : "result_handles")} is part of protocol version {DeviceHost.AsyncDispatchProtocolVersion}; this session was opened at version {session.ProtocolVersion}");
        }
        return request.Sequence == 0 ? Task.FromResult(ExecuteNamed(session, request, context)) : ExecuteInOrderAsync(session, request, context);
    }

    /// <summary>A sequenced execution (protocol version 4): it waits (holding no thread) until every lower number of
    /// its session has finished, then runs; when it fails, its result handles remember why.</summary>
    async Task<ExecuteResponse> ExecuteInOrderAsync(Session session, ExecuteRequest request, ServerCallContext context)
    {
        using var call = session.BeginCall();
        ulong n = request.Sequence;
        string what = $"execute #{n}";
        session.Order.Arrive(n, what);
        try
        {
            await session.Order.WaitTurnAsync(n, what, context.CancellationToken).ConfigureAwait(false);
            return ExecuteNamed(session, request, context);
        }
        catch (Exception e)
        {
            string program = session.TryDescribeExecutable(request.ExecutableHandle) ?? $"executable {request.ExecutableHandle}";
            string why = e switch
            {
                RpcException r => $"{r.StatusCode}: {r.Status.Detail}",
                OperationCanceledException => "the call was cancelled before it ran",
                _ => e.Message,
            };
            var named = request.ResultHandles.Where(h => (h & Session.ClientRange) != 0).ToList();
            for (int i = 0; i < named.Count; i++)
                session.RecordFailedResults(new[] { named[i] }, $"result {i} of {what} ({program}), which failed: {why}");
            throw;
        }
        finally
        {
            session.Order.Finish(n);
        }
    }

    /// <summary>An execution whose results may be named by the client (protocol version 4).</summary>
    ExecuteResponse ExecuteNamed(Session session, ExecuteRequest request, ServerCallContext context)
    {
        if (request.ResultHandles.Count > 0)
        {
            if (request.InlineResults) throw Errors.InvalidArgument("execute: result_handles name results kept on the server; inline_results returns them instead; set one or the other");
            session.CheckClientHandles(request.ResultHandles, "execute");
        }
        if (session.IsClosed) throw Errors.SessionNotFound(session.Id);
        using var call = session.BeginCall();
        return ExecuteNow(session, request, context);
    }

    ExecuteResponse ExecuteNow(Session session, ExecuteRequest request, ServerCallContext context)
    {
        if (request.ReplicaArguments.Count > 0) RequireReplicaProtocol(session, "execute with replica_arguments");
        ReleaseAll(session, request.ReleaseHandles, unknown: null);
        var pinned = new List<HandleEntry>(request.ArgumentHandles.Count + 1);
        var donating = new List<BufferEntry>(request.DonatedArguments.Count);
        // One list per replica (an ordinary program: one list, device 0).
        DeviceBuffer[][] outputs;
        ExecutableEntry executable;
        long micros;
        try
        {
            executable = session.Pin<ExecutableEntry>(request.ExecutableHandle, "execute");
            pinned.Add(executable);
            var program = executable.Program;
            string name = program.Module.Name;
            int replicas = program.ReplicaCount;
            var lists = ArgumentLists(request, program);
            int donatedDistinct = request.DonatedArguments.Distinct().Count();
            if (request.ResultHandles.Count > 0 && request.ResultHandles.Count != replicas * program.ResultShapes.Length)
            {
                throw Errors.InvalidArgument(
                    $"execute '{name}': {request.ResultHandles.Count} result_handles for its {replicas * program.ResultShapes.Length} results{(replicas > 1 ? $" ({program.ResultShapes.Length} per replica)" : "")}");
            }
            // Donated arguments leave the session before the results join it, so a training step at the limit still runs.
            if (!request.InlineResults)
                session.EnsureRoomForHandles(replicas * (program.ResultShapes.Length - donatedDistinct), $"execute '{name}': keeping its results");
            var args = new BufferEntry[replicas][];
            for (int r = 0; r < replicas; r++)
            {
                string where = replicas > 1 ? $"execute '{name}', replica {r}" : $"execute '{name}'";
                args[r] = new BufferEntry[lists[r].Count];
                for (int i = 0; i < args[r].Length; i++)
                {
                    args[r][i] = session.Pin<BufferEntry>(lists[r][i], $"{where}, argument {i}");
                    pinned.Add(args[r][i]);
                    if (args[r][i].DeviceId != r)
                    {
                        throw Errors.InvalidArgument(replicas > 1
                            ? $"{where}, argument {i}: buffer {args[r][i].Handle} is on device {args[r][i].DeviceId}, but replica {r} runs on device {r}: upload replica {r}'s arguments with device_id {r}"
                            : $"{where}, argument {i}: buffer {args[r][i].Handle} is on device {args[r][i].DeviceId}, but a program compiled for one device runs on device 0");
                    }
                }
                try
                {
                    ExecuteArguments.Check(name, program.ParameterShapes, program.Module.Entry.Parameters.Select(p => p.Name).ToArray(), args[r], a => a.Shape, request.DonatedArguments, a => $"buffer {a.Handle}");
                }
                catch (XlaExecutionException e)
                {
                    throw Errors.InvalidArgument(replicas > 1 ? $"execute, replica {r} of {replicas}: {e.Message}" : $"execute: {e.Message}");
                }
            }
            for (int r = 0; r < replicas; r++)
            {
                foreach (int d in request.DonatedArguments.Distinct())
                {
                    session.BeginDonation(args[r][d], replicas > 1 ? $"execute '{name}', replica {r}, argument {d}" : $"execute '{name}', argument {d}");
                    donating.Add(args[r][d]);
                }
            }
            var clock = Stopwatch.StartNew();
            // The execution stops when the client cancels the call or its deadline passes, or after --max-execution-time.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            var maxTime = host.Options.MaxExecutionTime;
            if (maxTime > TimeSpan.Zero) limit.CancelAfter(maxTime);
            // What the program allocates while it runs counts against the server-wide budget until it ends (each
            // replica's peak: the replicas share the host's memory).
            long peak = SaturatingMultiply(program.PeakMemoryBytes, replicas);
            if (!Sessions.Budget.TryTake(peak))
            {
                throw Errors.ResourceExhausted(
                    $"execute '{name}' needs about {peak} bytes while it runs; the server's buffers and running programs already use {Sessions.Budget.Used} of the {Sessions.Budget.Limit} bytes it may use (--max-device-bytes): release buffers or retry later");
            }
            string donatedNote = request.DonatedArguments.Count > 0 ? "; its donated arguments are consumed" : "";
            var options = new ExecuteOptions { DonatedArguments = request.DonatedArguments.ToArray(), Cancellation = limit.Token };
            using (host.BeginExecution())
            try
            {
                try
                {
                    outputs = program.Replicated is { } replicated
                        ? replicated.ExecuteReplicas(args.Select(list => (IReadOnlyList<DeviceBuffer>)list.Select(a => a.Buffer).ToArray()).ToArray(), options)
                        : [program.Executable.Execute(args[0].Select(a => a.Buffer).ToArray(), options)];
                }
                catch (Exception) when (replicas > 1)
                {
                    // A replicated execution consumes its donated arguments on every replica, whether it succeeded or not
                    // (IReplicaExecutable's contract): the client counts them as gone.
                    foreach (var d in donating)
                    {
                        if (!d.Buffer.IsDeleted) d.Buffer.Dispose();
                    }
                    throw;
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested)
                {
                    throw Stopped(session, name, clock, context, maxTime, donatedNote);
                }
                catch (Exception e) when (e is XlaExecutionException or ArgumentException)
                {
                    throw Errors.InvalidArgument($"execute '{name}': {e.Message}");
                }
                catch (OutOfMemoryException)
                {
                    throw Errors.ResourceExhausted($"execute '{name}': the host ran out of memory");
                }
            }
            catch (OperationCanceledException) when (replicas > 1 && limit.IsCancellationRequested)
            {
                throw Stopped(session, name, clock, context, maxTime, donatedNote);
            }
            catch (Exception e) when (replicas > 1 && e is XlaExecutionException or ArgumentException)
            {
                // One replica's failure (named in the message) is the whole call's.
                throw Errors.InvalidArgument($"execute '{name}' on {replicas} replicas: {e.Message}{donatedNote}");
            }
            catch (OutOfMemoryException) when (replicas > 1)
            {
                throw Errors.ResourceExhausted($"execute '{name}' on {replicas} replicas: the host ran out of memory");
            }
            finally
            {
                Sessions.Budget.Give(peak);
            }
            micros = (long)clock.Elapsed.TotalMicroseconds;
        }
        finally
        {
            foreach (var d in donating) session.EndDonation(d);
            foreach (var p in pinned) session.Unpin(p);
        }

        var response = new ExecuteResponse { ExecuteMicros = micros };
        string module = executable.Program.Module.Name;
        bool replicatedCall = executable.Program.ReplicaCount > 1;
        var all = outputs.SelectMany(o => o).ToArray();
        var results = new List<ExecuteResult>(all.Length);
        if (request.InlineResults)
        {
            try
            {
                long totalBytes = all.Sum(o => ShapeBytes(o.Shape));
                if (totalBytes > host.Options.MaxMessageBytes - 4096)
                    throw Errors.ResourceExhausted($"execute '{module}': inline results of {totalBytes} bytes exceed the message limit of {host.Options.MaxMessageBytes} bytes (--max-message-bytes); keep them on the server and download them");
                foreach (var o in all)
                {
                    var t = o.Device.Download(o);
                    var bytes = new byte[TensorBytes.ByteCount(t)];
                    TensorBytes.Read(t, 0, bytes);
                    results.Add(new ExecuteResult { Shape = ToProto(o.Shape), InlineData = UnsafeByteOperations.UnsafeWrap(bytes) });
                }
            }
            finally
            {
                foreach (var o in all) o.Dispose();
            }
        }
        else
        {
            long totalBytes = all.Sum(o => Session.Charge(ShapeBytes(o.Shape)));
            long held;
            bool reserved;
            try
            {
                reserved = session.TryReserveExact(totalBytes, host.Options.MaxSessionBytes, out held, $"execute '{module}': keeping its results");
            }
            catch
            {
                foreach (var o in all) o.Dispose();
                throw;
            }
            if (!reserved)
            {
                foreach (var o in all) o.Dispose();
                throw Errors.ResourceExhausted(
                    $"execute '{module}': its results ({totalBytes} bytes, each counted as at least {Session.MinimumCharge}) would take the session to {held + totalBytes} bytes, over its limit of {host.Options.MaxSessionBytes} bytes (--max-session-bytes)");
            }
            // Replica r's results live on device r.
            var entries = outputs.SelectMany((list, r) => list.Select(o => new BufferEntry(session, o, ShapeBytes(o.Shape), r))).ToArray();
            // Protocol 4: the handles the client named (checked before the run; AddAll checks again under the lock).
            for (int i = 0; i < request.ResultHandles.Count && i < entries.Length; i++) entries[i].Handle = request.ResultHandles[i];
            try
            {
                session.AddAll(entries); // all or none; on failure every output is freed
            }
            catch
            {
                session.UnreserveExact(totalBytes);
                throw;
            }
            foreach (var entry in entries)
                results.Add(new ExecuteResult { Shape = ToProto(entry.Shape), BufferHandle = entry.Handle });
        }
        if (replicatedCall)
        {
            int per = outputs[0].Length;
            for (int r = 0; r < outputs.Length; r++)
            {
                var list = new ReplicaResults();
                list.Results.AddRange(results.Skip(r * per).Take(per));
                response.ReplicaResults.Add(list);
            }
        }
        else
        {
            response.Results.AddRange(results);
        }
        Log.Executed(logger, session.ShortId, module, micros, all.Length, request.InlineResults);
        return response;
    }

    /// <summary>The request's argument lists, one per replica of the program: argument_handles for a one-device
    /// program, replica_arguments (exactly one list per replica) for a replicated one.</summary>
    static IReadOnlyList<ulong>[] ArgumentLists(ExecuteRequest request, CachedProgram program)
    {
        string name = program.Module.Name;
        int replicas = program.ReplicaCount;
        if (replicas == 1)
        {
            if (request.ReplicaArguments.Count > 0)
                throw Errors.InvalidArgument($"execute '{name}': the executable was compiled for one device, but the request carries {request.ReplicaArguments.Count} replica_arguments lists; pass its arguments in argument_handles (or compile it with replica_count)");
            return [request.ArgumentHandles];
        }
        if (request.ArgumentHandles.Count > 0)
            throw Errors.InvalidArgument($"execute '{name}': the executable was compiled for {replicas} replicas; pass one replica_arguments list per replica, not argument_handles");
        if (request.ReplicaArguments.Count != replicas)
            throw Errors.InvalidArgument($"execute '{name}' runs on {replicas} replicas and needs {replicas} replica_arguments lists (one per replica), got {request.ReplicaArguments.Count}");
        return request.ReplicaArguments.Select(l => (IReadOnlyList<ulong>)l.ArgumentHandles).ToArray();
    }

    RpcException Stopped(Session session, string name, Stopwatch clock, ServerCallContext context, TimeSpan maxTime, string donatedNote)
    {
        host.CountStoppedExecution();
        if (context.CancellationToken.IsCancellationRequested)
        {
            Log.ExecutionStopped(logger, session.ShortId, name, (long)clock.Elapsed.TotalMilliseconds, "the client cancelled the call or its deadline passed");
            return Errors.Cancelled($"execute '{name}' was stopped after {clock.Elapsed.TotalMilliseconds:F0} ms: the call was cancelled or its deadline passed{donatedNote}");
        }
        Log.ExecutionStopped(logger, session.ShortId, name, (long)clock.Elapsed.TotalMilliseconds, "--max-execution-time");
        return Errors.DeadlineExceeded(
            $"execute '{name}' ran longer than this server allows ({maxTime.TotalMilliseconds:F0} ms, --max-execution-time) and was stopped{donatedNote}");
    }

    // ---------------------------------------------------------------- release and stats

    public override Task<ReleaseResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        using var call = session.BeginCall();
        var response = new ReleaseResponse();
        response.Released = ReleaseAll(session, request.Handles, response.UnknownHandles);
        return Task.FromResult(response);
    }

    /// <summary>Releases the session's handles among <paramref name="handles"/>; the others (unknown, released already, or
    /// another session's, which are not told apart) are listed in <paramref name="unknown"/>.</summary>
    static int ReleaseAll(Session session, IReadOnlyList<ulong> handles, ICollection<ulong>? unknown)
    {
        int released = 0;
        foreach (var h in handles)
        {
            if (session.Release(h)) released++;
            else unknown?.Add(h);
        }
        return released;
    }

    public override Task<GetServerStatsResponse> GetServerStats(GetServerStatsRequest request, ServerCallContext context)
    {
        if (request.CollectGarbage)
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            // Aggressive: also decommit the freed regions, so the resident set (not only the heap) shows what is live.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        using var process = Process.GetCurrentProcess();
        // Per session: handles in the client range (protocol 4) are not in the server-wide directory.
        var counts = Sessions.All.Select(s => s.CountHandles()).ToList();
        return Task.FromResult(new GetServerStatsResponse
        {
            Sessions = Sessions.Count,
            BufferHandles = counts.Sum(c => c.Buffers),
            ExecutableHandles = counts.Sum(c => c.Executables),
            CachedPrograms = host.Cache.Count,
            BytesHeld = Sessions.BytesHeld,
            GcHeapBytes = GC.GetTotalMemory(forceFullCollection: false),
            WorkingSetBytes = process.WorkingSet64,
            ExecutionsInFlight = host.ExecutionsInFlight,
            CallsFailed = host.CallsFailed,
            UptimeMs = (long)host.Uptime.TotalMilliseconds,
            OpenTickets = host.Tickets.Count,
            DataTransfers = host.Data?.Completed ?? 0,
            DataTransfersFailed = host.Data?.Failed ?? 0,
            ExecutionsStopped = host.ExecutionsStopped,
            DeviceBytesLimit = Sessions.Budget.Limit,
            DeviceBytesUsed = Sessions.Budget.Used,
        });
    }

    // ---------------------------------------------------------------- wire shapes

    static TensorShape ToProto(Shape shape)
    {
        var s = new TensorShape { ElementType = (int)shape.ElementType };
        s.Dims.AddRange(shape.ConcreteDims());
        return s;
    }

    static Shape FromProto(TensorShape? proto, string where)
    {
        if (proto == null) throw Errors.InvalidArgument($"{where}: no shape");
        var type = (ElementType)proto.ElementType;
        if (!Enum.IsDefined(type) || !TensorBytes.IsSupported(type))
        {
            throw Errors.InvalidArgument(
                $"{where}: element type {proto.ElementType} ({(Enum.IsDefined(type) ? type.ToString() : "not an xla.PrimitiveType")}) cannot be uploaded; use PRED, S8-S64, U8-U64, F16, F32 or F64");
        }
        if (proto.Dims.Count > 64) throw Errors.InvalidArgument($"{where}: rank {proto.Dims.Count} is more than 64 dimensions");
        foreach (var d in proto.Dims)
        {
            if (d < 0) throw Errors.InvalidArgument($"{where}: dimension {d} in [{string.Join(",", proto.Dims)}] is negative");
        }
        try
        {
            TensorBytes.ByteCount(type, proto.Dims);
        }
        catch (OverflowException)
        {
            throw Errors.InvalidArgument($"{where}: shape [{string.Join(",", proto.Dims)}] has more bytes than a 64-bit count holds");
        }
        return Shape.Array(type, proto.Dims);
    }

    void CheckDeviceMemory(long bytes, string what)
    {
        long memory = Device.Info.MemoryBytes;
        if (memory > 0 && bytes > memory)
            throw Errors.ResourceExhausted($"{what}: {bytes} bytes is more than the device's {memory} bytes of memory");
    }
}
