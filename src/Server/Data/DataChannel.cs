using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using XlaGen.Backends.Remote;
using XlaGen.Hlo;
using XlaGen.Server.Grpc;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Data;

/// <summary>
/// The bulk data channel (protocol version 2): a plain TCP listener (TLS with the gRPC port's certificate) where
/// clients move tensor bytes without HTTP/2 or protobuf. Each transfer presents a ticket from BeginTransfer; an
/// upload is received straight into the tensor that becomes the device buffer, a download is sent from the buffer's
/// bytes in place. Every problem is an error reply naming it (then the connection closes); nothing a peer sends can
/// take the server down. Framing: <see cref="DataFrames"/>.
/// </summary>
internal sealed class DataChannel : IHostedService, IDisposable
{
    /// <summary>Most bytes handed to one socket read or write.</summary>
    const int IoBytes = 4 << 20;

    /// <summary>The first request with a valid ticket (and the TLS handshake before it) must arrive this soon after
    /// connecting (--data-auth-timeout).</summary>
    TimeSpan FirstRequestTimeout => host.Options.DataAuthTimeout;

    /// <summary>An idle connection between transfers is closed after this long.</summary>
    static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A transfer whose peer neither sends nor takes a byte for this long is abandoned: at most 60 s, and
    /// never longer than a session lease, so a stalled upload cannot keep its session and reservation alive past the
    /// lease its client stopped renewing (the transfer holds a call open, which keeps the lease).</summary>
    TimeSpan StallTimeout => host.Options.SessionLease < TimeSpan.FromSeconds(60) ? host.Options.SessionLease : TimeSpan.FromSeconds(60);

    /// <summary>After an error reply, what an upload still sends is read and dropped for at most this long, so the
    /// client's writes do not fail before it reads the reply.</summary>
    static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Connections open at once; more are closed on arrival.</summary>
    const int MaxConnections = 256;

    /// <summary>Connections that have not yet presented a valid ticket, in all and per peer address
    /// (--data-max-unauthenticated, --data-max-unauthenticated-per-address); more are closed on arrival, so idle or
    /// hostile connections cannot take the places of authenticated transfers.</summary>
    int unauthenticated;
    readonly Dictionary<IPAddress, int> unauthenticatedByAddress = new();

    readonly Socket listener;
    readonly DeviceHost host;
    readonly X509Certificate2? certificate;
    readonly ILogger logger;
    readonly CancellationTokenSource stopping = new();
    readonly object sync = new();
    readonly HashSet<Task> connections = new();
    readonly HashSet<Task> transfers = new();
    Task acceptLoop = Task.CompletedTask;
    long completed;
    long failed;
    int disposed;

    DataChannel(Socket listener, DeviceHost host, X509Certificate2? certificate, ILogger logger)
    {
        this.listener = listener;
        this.host = host;
        this.certificate = certificate;
        this.logger = logger;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
    }

    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    public bool Tls => certificate != null;

    public TransferTickets Tickets => host.Tickets;

    public long Completed => Interlocked.Read(ref completed);

    public long Failed => Interlocked.Read(ref failed);

    /// <summary>Binds the listener (so the port is known before the gRPC service answers a handshake).</summary>
    public static DataChannel Bind(IPEndPoint endPoint, DeviceHost host, X509Certificate2? certificate, ILogger logger)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.Bind(endPoint);
            socket.Listen(128);
            return new DataChannel(socket, host, certificate, logger);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, closes idle connections, and lets running transfers finish (until the host's
    /// shutdown timeout cancels <paramref name="cancellationToken"/>).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        stopping.Cancel();
        listener.Dispose();
        await acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (sync) running = transfers.ToArray();
        try
        {
            await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Task[] open;
        lock (sync) open = connections.ToArray();
        try
        {
            await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.DataConnectionFailed(logger, "accept", e.Message);
                continue;
            }
            lock (sync)
            {
                var address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
                if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
                string? refused = connections.Count >= MaxConnections ? $"{MaxConnections} data connections are open"
                    : unauthenticated >= host.Options.DataMaxUnauthenticated ? $"{unauthenticated} connections have not presented a ticket yet (--data-max-unauthenticated)"
                    : unauthenticatedByAddress.GetValueOrDefault(address) >= host.Options.DataMaxUnauthenticatedPerAddress
                        ? $"{unauthenticatedByAddress[address]} connections from {address} have not presented a ticket yet (--data-max-unauthenticated-per-address)"
                    : null;
                if (refused != null)
                {
                    Interlocked.Increment(ref refusedConnections);
                    Log.DataConnectionFailed(logger, socket.RemoteEndPoint?.ToString() ?? "?", $"refused: {refused}");
                    socket.Dispose();
                    continue;
                }
                unauthenticated++;
                unauthenticatedByAddress[address] = unauthenticatedByAddress.GetValueOrDefault(address) + 1;
                var admission = new Admission(this, address);
                var task = Task.Run(() => ServeAsync(socket, admission));
                connections.Add(task);
                _ = task.ContinueWith(t =>
                {
                    lock (sync) connections.Remove(t);
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Connections closed on arrival by the connection caps.</summary>
    public long RefusedConnections => Interlocked.Read(ref refusedConnections);

    long refusedConnections;

    /// <summary>A connection's place among the unauthenticated ones, given up once (a valid ticket, or the end).</summary>
    sealed class Admission(DataChannel owner, IPAddress address)
    {
        int done;

        public void Authenticated()
        {
            if (Interlocked.Exchange(ref done, 1) != 0) return;
            lock (owner.sync)
            {
                owner.unauthenticated--;
                if (--owner.unauthenticatedByAddress[address] == 0) owner.unauthenticatedByAddress.Remove(address);
            }
        }
    }

    /// <summary>One connection: transfers one after the other until the peer closes it, an error, idleness or shutdown.</summary>
    async Task ServeAsync(Socket socket, Admission admission)
    {
        string peer = socket.RemoteEndPoint?.ToString() ?? "?";
        socket.NoDelay = true;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (certificate != null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
                timeout.CancelAfter(FirstRequestTimeout);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = false,
                    ApplicationProtocols = new List<SslApplicationProtocol> { new("xlagen-data/1") },
                }, timeout.Token).ConfigureAwait(false);
            }
            var request = new byte[DataFrames.RequestBytes];
            var reply = new byte[DataFrames.ReplyHeaderBytes + DataFrames.MaxMessageBytes];
            for (bool first = true; ; first = false)
            {
                int n;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token))
                {
                    wait.CancelAfter(first ? FirstRequestTimeout : IdleTimeout);
                    n = await stream.ReadAtLeastAsync(request, request.Length, throwOnEndOfStream: false, wait.Token).ConfigureAwait(false);
                }
                if (n == 0) return;   // the client closed the connection between transfers
                var problem = n < request.Length ? $"the connection ended after {n} bytes of a {request.Length}-byte request" : DataFrames.ParseRequest(request, out _, out _, out _);
                if (problem != null)
                {
                    CountFailure();
                    Log.DataTransferRefused(logger, peer, "request", StatusCode.InvalidArgument, problem);
                    await ReplyAsync(stream, reply, StatusCode.InvalidArgument, 0, 0, problem).ConfigureAwait(false);
                    return;
                }
                Task<bool> transfer;
                lock (sync)
                {
                    transfer = TransferAsync(stream, request, reply, peer, admission);
                    transfers.Add(transfer);
                }
                bool keep;
                try
                {
                    keep = await transfer.ConfigureAwait(false);
                }
                finally
                {
                    lock (sync) transfers.Remove(transfer);
                }
                if (!keep) return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // The peer went away, sent nothing in time, failed the TLS handshake, or the server stops.
            Log.DataConnectionFailed(logger, peer, e.Message);
        }
        catch (Exception e)
        {
            Log.DataConnectionCrashed(logger, peer, e);
        }
        finally
        {
            admission.Authenticated();
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    void CountFailure()
    {
        Interlocked.Increment(ref failed);
        host.CountFailure();
    }

    /// <summary>One transfer after its request; true when the connection may carry another.</summary>
    async Task<bool> TransferAsync(Stream stream, byte[] request, byte[] reply, string peer, Admission admission)
    {
        await Task.Yield();
        DataFrames.ParseRequest(request, out byte direction, out var ticketBytes, out long bytes);
        bool upload = direction == DataFrames.Upload;
        string what = upload ? "upload" : "download";
        var ticket = Tickets.Take(ticketBytes, out var problem);
        try
        {
            if (ticket == null) throw Errors.PermissionDenied(problem!);
            what = ticket.Describe();
            if (ticket.IsUpload != upload)
                throw Errors.InvalidArgument($"the ticket is for the {ticket.Describe()}, the request is a{(upload ? "n upload" : " download")}");
            if (bytes != ticket.Bytes)
                throw Errors.InvalidArgument($"the request announces {bytes} bytes, the {ticket.Describe()} is {ticket.Bytes} bytes");
            if (stopping.IsCancellationRequested) throw Errors.Unavailable("the server is shutting down");
            admission.Authenticated();
        }
        catch (RpcException e)
        {
            if (ticket is { IsUpload: true }) ticket.Session.Unreserve(ticket.Bytes);
            await RefuseAsync(stream, reply, peer, what, e, drain: upload ? bytes : 0).ConfigureAwait(false);
            return false;
        }
        try
        {
            return upload
                ? await ReceiveAsync(stream, reply, ticket, peer).ConfigureAwait(false)
                : await SendAsync(stream, reply, ticket, peer).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or stalled mid-transfer: nobody is left to tell.
            CountFailure();
            Log.DataTransferRefused(logger, peer, ticket.Describe(), StatusCode.Cancelled, $"the connection broke after the request: {e.Message}");
            throw;
        }
    }

    async Task<bool> ReceiveAsync(Stream stream, byte[] reply, TransferTicket ticket, string peer)
    {
        var session = ticket.Session;
        var clock = Stopwatch.StartNew();
        bool added = false;
        long received = 0;
        try
        {
            Session.CallScope call;
            try
            {
                call = session.BeginCall();
            }
            catch (RpcException e)
            {
                await RefuseAsync(stream, reply, peer, ticket.Describe(), e, drain: ticket.Bytes).ConfigureAwait(false);
                return false;
            }
            using (call)
            {
                var shape = ticket.Shape;
                var dims = shape.ConcreteDims();
                // Not zeroed: every byte is received before the buffer exists (a short stream is refused below).
                var target = host.DeviceAt(ticket.DeviceId);
                var hostTarget = target as IHostMemoryDevice;
                var tensor = hostTarget?.AllocateUninitialized(shape.ElementType, dims) ?? TensorBytes.Allocate(shape.ElementType, dims, zeroed: false);
                long total = ticket.Bytes;
                bool pred = shape.ElementType == ElementType.Pred;
                using var stall = new CancellationTokenSource();
                while (received < total)
                {
                    int want = (int)Math.Min(IoBytes, total - received);
                    var memory = TensorBytes.Slice(tensor, received, want);
                    stall.CancelAfter(StallTimeout);
                    int n = await stream.ReadAsync(memory, stall.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw Errors.InvalidArgument($"the {ticket.Describe()} ended after {received} of its {total} bytes: the stream was truncated");
                    }
                    if (pred)
                    {
                        int bad = memory.Span[..n].IndexOfAnyExcept((byte)0, (byte)1);
                        if (bad >= 0)
                            throw Errors.InvalidArgument($"the {ticket.Describe()}: pred element {received + bad} has byte value {memory.Span[bad]}; pred elements are 0 or 1");
                    }
                    received += n;
                }
                var buffer = hostTarget?.AdoptHostTensor(tensor) ?? target.Upload(tensor);
                var entry = new BufferEntry(session, buffer, total, ticket.DeviceId);
                session.Add(entry);
                added = true;
                Interlocked.Increment(ref completed);
                Log.DataTransferred(logger, session.ShortId, ticket.Describe(), total, clock.ElapsedMilliseconds);
                await ReplyAsync(stream, reply, StatusCode.OK, 0, entry.Handle, "").ConfigureAwait(false);
                return true;
            }
        }
        catch (OutOfMemoryException)
        {
            await RefuseAsync(stream, reply, peer, ticket.Describe(), Errors.ResourceExhausted($"the {ticket.Describe()}: the host ran out of memory"), drain: ticket.Bytes - received).ConfigureAwait(false);
            return false;
        }
        catch (RpcException e)
        {
            // A truncated stream has nothing left to drain; bad pred bytes leave the rest of the upload unread.
            await RefuseAsync(stream, reply, peer, ticket.Describe(), e, drain: ticket.Bytes - received).ConfigureAwait(false);
            return false;
        }
        finally
        {
            if (!added) session.Unreserve(ticket.Bytes);
        }
    }

    async Task<bool> SendAsync(Stream stream, byte[] reply, TransferTicket ticket, string peer)
    {
        var session = ticket.Session;
        var clock = Stopwatch.StartNew();
        BufferEntry entry;
        Session.CallScope call;
        try
        {
            call = session.BeginCall();
            try
            {
                entry = session.Pin<BufferEntry>(ticket.Handle, "download");
            }
            catch
            {
                call.Dispose();
                throw;
            }
        }
        catch (RpcException e)
        {
            await RefuseAsync(stream, reply, peer, ticket.Describe(), e, drain: 0).ConfigureAwait(false);
            return false;
        }
        using (call)
        {
            try
            {
                long total = ticket.Bytes;
                // the buffer's own device (replicas' buffers live on devices other than device 0)
                var hostDevice = entry.Buffer.Device as IHostMemoryDevice;
                Tensor? copy = hostDevice == null ? entry.Buffer.Device.Download(entry.Buffer) : null;
                await ReplyAsync(stream, reply, StatusCode.OK, 0, (ulong)total, "").ConfigureAwait(false);
                using var stall = new CancellationTokenSource();
                for (long offset = 0; offset < total; offset += IoBytes)
                {
                    int n = (int)Math.Min(IoBytes, total - offset);
                    var bytes = copy != null ? TensorBytes.Slice(copy, offset, n) : hostDevice!.PeekBytes(entry.Buffer, offset, n);
                    stall.CancelAfter(StallTimeout);
                    await stream.WriteAsync(bytes, stall.Token).ConfigureAwait(false);
                }
                await stream.FlushAsync().ConfigureAwait(false);
                Interlocked.Increment(ref completed);
                Log.DataTransferred(logger, session.ShortId, ticket.Describe(), total, clock.ElapsedMilliseconds);
                return true;
            }
            finally
            {
                session.Unpin(entry);
            }
        }
    }

    /// <summary>The error reply for a refused transfer; then what the client still sends of an upload is read and
    /// dropped (bounded), so it gets to read the reply instead of a reset connection.</summary>
    async Task RefuseAsync(Stream stream, byte[] reply, string peer, string what, RpcException error, long drain)
    {
        CountFailure();
        Log.DataTransferRefused(logger, peer, what, error.StatusCode, error.Status.Detail);
        uint flags = error.Trailers.GetValue(Errors.ErrorTrailer) == Errors.SessionNotFoundCode ? DataFrames.SessionNotFoundFlag : 0;
        await ReplyAsync(stream, reply, error.StatusCode, flags, 0, error.Status.Detail).ConfigureAwait(false);
        if (drain <= 0) return;
        using var timeout = new CancellationTokenSource(DrainTimeout);
        var scratch = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (drain > 0)
            {
                int n = await stream.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, drain)), timeout.Token).ConfigureAwait(false);
                if (n == 0) break;
                drain -= n;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    static async Task ReplyAsync(Stream stream, byte[] reply, StatusCode status, uint flags, ulong value, string message)
    {
        int n = DataFrames.WriteReply(reply, (int)status, flags, value, message);
        await stream.WriteAsync(reply.AsMemory(0, n)).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Idempotent: the host disposes the channel, and so does the service container that started it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        stopping.Cancel();
        listener.Dispose();
    }
}
