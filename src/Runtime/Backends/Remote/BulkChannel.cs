using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Grpc.Core;
using XlaGen.Hlo;

namespace XlaGen.Backends.Remote;

/// <summary>One connection to a server's data port; it carries one transfer at a time and may be reused.</summary>
internal sealed class DataConnection : IDisposable
{
    public DataConnection(Socket socket, Stream stream, int port)
    {
        Socket = socket;
        Stream = stream;
        Port = port;
        LastUsedMs = Environment.TickCount64;
    }

    public Socket Socket { get; }

    public Stream Stream { get; }

    public int Port { get; }

    public long LastUsedMs { get; set; }

    /// <summary>Request and reply headers.</summary>
    public byte[] Scratch { get; } = new byte[DataFrames.ReplyHeaderBytes + DataFrames.MaxMessageBytes];

    /// <summary>Idle and still open: nothing to read (a server that closed the connection makes it readable).</summary>
    public bool IsReusable(int port, TimeSpan maxIdle)
    {
        if (port != Port || Environment.TickCount64 - LastUsedMs > maxIdle.TotalMilliseconds) return false;
        try
        {
            return Socket.Connected && !Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Breaks off whatever runs on the connection (cancellation, deadline).</summary>
    public void Abort()
    {
        try
        {
            Socket.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        Socket.Dispose();
    }
}

/// <summary>
/// The client side of the bulk data channel (protocol version 2; framing in <see cref="DataFrames"/>): connections to
/// the server's data port (TLS when the gRPC channel has it, validated the same way), reused between transfers, and
/// the transfers themselves, which read and write tensor bytes in place. Failures come out as
/// <see cref="RpcException"/>s with the statuses the gRPC calls would have, so <see cref="RemoteConnection.RunAsync{T}"/>
/// treats both paths alike (a broken connection is UNAVAILABLE: it reconnects and retries). When the data port cannot
/// be reached at all, the channel is marked unavailable for that server process and transfers use gRPC streams.
/// </summary>
internal sealed class BulkChannel : IDisposable
{
    /// <summary>Most bytes handed to one socket read or write.</summary>
    const int IoBytes = 4 << 20;

    const int MaxIdleConnections = 4;

    /// <summary>Idle connections older than this are not reused (the server closes them after a minute).</summary>
    static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(30);

    static readonly SslApplicationProtocol Alpn = new("xlagen-data/1");

    readonly string address;
    readonly string host;
    readonly bool tls;
    readonly RemoteCertificateValidationCallback? validate;
    readonly RemoteDeviceOptions options;
    readonly ConcurrentStack<DataConnection> idle = new();
    string? unavailableInstance;
    string? problem;
    int disposed;

    public BulkChannel(string address, Uri endpoint, RemoteCertificateValidationCallback? validate, RemoteDeviceOptions options)
    {
        this.address = address;
        host = endpoint.IdnHost;
        tls = endpoint.Scheme == Uri.UriSchemeHttps;
        this.validate = validate;
        this.options = options;
    }

    /// <summary>Why transfers do not use the data channel (null while it works or was never needed).</summary>
    public string? Problem => Volatile.Read(ref problem);

    /// <summary>Whether transfers to this server process should try the data channel (not while it is resting after
    /// repeated broken connections).</summary>
    public bool IsAvailable(ServerVersionInfo server) =>
        server.DataPort > 0 && Volatile.Read(ref unavailableInstance) != server.InstanceId && Environment.TickCount64 >= Volatile.Read(ref restUntilMs);

    /// <summary>Transfers in a row whose data connection broke; at <see cref="FailuresBeforeRest"/> the channel rests.</summary>
    int brokenInARow;
    long restUntilMs;

    const int FailuresBeforeRest = 2;

    /// <summary>How long transfers stream over gRPC after repeated broken data connections before trying the port again.</summary>
    static readonly TimeSpan Rest = TimeSpan.FromSeconds(30);

    /// <summary>True for the error a data-channel transfer raises when its connection broke (not a server's reply).</summary>
    public static bool IsBrokenConnection(RpcException e) => e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is IOException;

    /// <summary>A transfer over the data channel worked.</summary>
    public void Succeeded() => Volatile.Write(ref brokenInARow, 0);

    /// <summary>A transfer's data connection broke and the transfer falls back to a gRPC stream; after a few in a row
    /// transfers stream for a while (said once per episode).</summary>
    public void Failed(ServerVersionInfo server, RpcException e)
    {
        if (Interlocked.Increment(ref brokenInARow) < FailuresBeforeRest) return;
        Volatile.Write(ref brokenInARow, 0);
        Volatile.Write(ref restUntilMs, Environment.TickCount64 + (long)Rest.TotalMilliseconds);
        var text = $"xlagen-server at {address}: its bulk data channel on port {server.DataPort} dropped {FailuresBeforeRest} transfers in a row ({e.Status.Detail}); " +
            $"transfers use gRPC streams for the next {(int)Rest.TotalSeconds} s, then try the data channel again.";
        Volatile.Write(ref problem, text);
        Say(text);
    }

    /// <summary>An open connection to the server's data port, or null (said once) when it cannot be reached.</summary>
    public async Task<DataConnection?> RentAsync(ServerVersionInfo server, CancellationToken cancellationToken)
    {
        while (idle.TryPop(out var c))
        {
            if (c.IsReusable(server.DataPort, MaxIdle)) return c;
            c.Dispose();
        }
        try
        {
            return await ConnectAsync(server.DataPort, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            string why = e is OperationCanceledException ? "the connection timed out" : e.Message;
            var text = $"xlagen-server at {address}: cannot use its bulk data channel on port {server.DataPort} ({why}); transfers use gRPC streams instead, which are slower. " +
                "If the server is reached through an SSH tunnel, forward the data port as well (ssh -L PORT:127.0.0.1:PORT for GetVersion's data_port).";
            Volatile.Write(ref unavailableInstance, server.InstanceId);
            if (Interlocked.Exchange(ref problem, text) != text) Say(text);
            return null;
        }
    }

    void Say(string text)
    {
        if (options.Log != null) options.Log(text);
        else Trace.TraceWarning(text);
    }

    /// <summary>A new connection to <paramref name="port"/> (TCP, then TLS when the gRPC channel uses it).</summary>
    public async Task<DataConnection> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout < TimeSpan.FromSeconds(5) ? options.ConnectTimeout : TimeSpan.FromSeconds(5));
        Socket socket = IPAddress.TryParse(host, out var ip)
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
        try
        {
            socket.NoDelay = true;
            if (ip != null) await socket.ConnectAsync(new IPEndPoint(ip, port), timeout.Token).ConfigureAwait(false);
            else await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    RemoteCertificateValidationCallback = validate,
                    ApplicationProtocols = new List<SslApplicationProtocol> { Alpn },
                }, timeout.Token).ConfigureAwait(false);
            }
            return new DataConnection(socket, stream, port);
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A connection to the port a ticket names, when it differs from the one announced in the handshake; a
    /// failure is UNAVAILABLE (the client checks the server again and retries).</summary>
    public async Task<DataConnection> ReconnectAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            return await ConnectAsync(port, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"cannot connect to the data port {port} of {address}: {e.Message}", e as IOException ?? new IOException(e.Message, e)));
        }
    }

    /// <summary>Keeps an idle connection for a later transfer (a few at most).</summary>
    public void Return(DataConnection c)
    {
        c.LastUsedMs = Environment.TickCount64;
        if (Volatile.Read(ref disposed) != 0 || idle.Count >= MaxIdleConnections) c.Dispose();
        else idle.Push(c);
    }

    // ---------------------------------------------------------------- transfers

    /// <summary>Sends the tensor's bytes under the ticket; returns the new buffer handle.</summary>
    public async Task<ulong> UploadAsync(DataConnection c, ReadOnlyMemory<byte> ticket, Tensor tensor, long total, CallOptions call)
    {
        bool reusable = false;
        using var guard = new Guard(c, call);
        try
        {
            DataFrames.WriteRequest(c.Scratch, DataFrames.Upload, ticket.Span, total);
            await c.Stream.WriteAsync(c.Scratch.AsMemory(0, DataFrames.RequestBytes)).ConfigureAwait(false);
            for (long offset = 0; offset < total; offset += IoBytes)
                await c.Stream.WriteAsync(TensorBytes.Slice(tensor, offset, (int)Math.Min(IoBytes, total - offset))).ConfigureAwait(false);
            await c.Stream.FlushAsync().ConfigureAwait(false);
            var reply = await ReadReplyAsync(c).ConfigureAwait(false);
            reusable = true;
            return reply;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            throw guard.Broken(e, $"uploading {tensor.ShapeText} over the data channel of {address}");
        }
        finally
        {
            if (reusable) Return(c);
            else c.Dispose();
        }
    }

    /// <summary>Receives the buffer's bytes under the ticket into a new host tensor.</summary>
    public async Task<Tensor> DownloadAsync(DataConnection c, ReadOnlyMemory<byte> ticket, Shape shape, long total, string what, CallOptions call)
    {
        bool reusable = false;
        using var guard = new Guard(c, call);
        try
        {
            DataFrames.WriteRequest(c.Scratch, DataFrames.Download, ticket.Span, total);
            await c.Stream.WriteAsync(c.Scratch.AsMemory(0, DataFrames.RequestBytes)).ConfigureAwait(false);
            await c.Stream.FlushAsync().ConfigureAwait(false);
            ulong announced = await ReadReplyAsync(c).ConfigureAwait(false);
            if (announced != (ulong)total)
                throw new InvalidDataException($"download of {what}: the data channel announced {announced} bytes for {shape} ({total} bytes)");
            var tensor = TensorBytes.Allocate(shape.ElementType, shape.ConcreteDims(), zeroed: false);
            bool pred = shape.ElementType == ElementType.Pred;
            long received = 0;
            while (received < total)
            {
                var memory = TensorBytes.Slice(tensor, received, (int)Math.Min(IoBytes, total - received));
                int n = await c.Stream.ReadAsync(memory).ConfigureAwait(false);
                if (n == 0) throw new IOException($"the data connection ended after {received} of {total} bytes");
                if (pred && memory.Span[..n].IndexOfAnyExcept((byte)0, (byte)1) is int bad and >= 0)
                    throw new InvalidDataException($"download of {what}: pred element {received + bad} has byte value {memory.Span[bad]}");
                received += n;
            }
            reusable = true;
            return tensor;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            throw guard.Broken(e, $"downloading {what} over the data channel of {address}");
        }
        finally
        {
            if (reusable) Return(c);
            else c.Dispose();
        }
    }

    /// <summary>The reply's value, or its error as the RpcException the gRPC call would have raised.</summary>
    static async Task<ulong> ReadReplyAsync(DataConnection c)
    {
        await c.Stream.ReadExactlyAsync(c.Scratch.AsMemory(0, DataFrames.ReplyHeaderBytes)).ConfigureAwait(false);
        var header = DataFrames.ParseReplyHeader(c.Scratch);
        string message = "";
        if (header.MessageLength > 0)
        {
            await c.Stream.ReadExactlyAsync(c.Scratch.AsMemory(DataFrames.ReplyHeaderBytes, header.MessageLength)).ConfigureAwait(false);
            message = Encoding.UTF8.GetString(c.Scratch, DataFrames.ReplyHeaderBytes, header.MessageLength);
        }
        if (header.Status == (int)StatusCode.OK) return header.Value;
        var trailers = new Metadata();
        if ((header.Flags & DataFrames.SessionNotFoundFlag) != 0) trailers.Add(Wire.ErrorTrailer, Wire.SessionNotFound);
        throw new RpcException(new Status((StatusCode)header.Status, message), trailers);
    }

    /// <summary>Aborts the connection when the call is cancelled or its deadline passes, and names what happened.</summary>
    readonly struct Guard : IDisposable
    {
        readonly CancellationTokenRegistration registration;
        readonly CancellationTokenSource? deadline;
        readonly CancellationToken cancellation;

        public Guard(DataConnection c, CallOptions call)
        {
            cancellation = call.CancellationToken;
            registration = cancellation.CanBeCanceled ? cancellation.Register(c.Abort) : default;
            deadline = null;
            if (call.Deadline is { } d && d != DateTime.MaxValue)
            {
                var left = d.ToUniversalTime() - DateTime.UtcNow;
                deadline = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero);
                deadline.Token.Register(c.Abort);
            }
        }

        public RpcException Broken(Exception e, string what)
        {
            if (cancellation.IsCancellationRequested) return new RpcException(new Status(StatusCode.Cancelled, $"{what} was cancelled", e));
            if (deadline?.IsCancellationRequested == true) return new RpcException(new Status(StatusCode.DeadlineExceeded, $"{what} ran past its deadline", e));
            var io = e as IOException ?? new IOException(e.Message, e);
            return new RpcException(new Status(StatusCode.Unavailable, $"{what}: the connection broke ({e.Message})", io));
        }

        public void Dispose()
        {
            registration.Dispose();
            deadline?.Dispose();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        while (idle.TryPop(out var c)) c.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"bulk channel to {host} ({idle.Count} idle)");
}
