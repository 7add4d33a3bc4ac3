using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using XlaGen.Backends.Remote;

namespace XlaGen.Server.Tests;

/// <summary>A bulk data-channel connection without the client's care: for requests a RemoteDevice never sends.</summary>
internal sealed class RawDataClient : IDisposable
{
    readonly Socket socket;

    RawDataClient(Socket socket)
    {
        this.socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: false);
    }

    public NetworkStream Stream { get; }

    public static async Task<RawDataClient> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return new RawDataClient(socket);
    }

    public async Task SendRequestAsync(byte direction, ReadOnlyMemory<byte> ticket, long bytes)
    {
        var request = new byte[DataFrames.RequestBytes];
        DataFrames.WriteRequest(request, direction, ticket.Span, bytes);
        await Stream.WriteAsync(request);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes) => Stream.WriteAsync(bytes);

    /// <summary>Sends <paramref name="count"/> bytes of a repeating pattern.</summary>
    public async Task SendPatternAsync(long count, byte value = 1)
    {
        var block = new byte[1 << 16];
        Array.Fill(block, value);
        while (count > 0)
        {
            int n = (int)Math.Min(block.Length, count);
            await Stream.WriteAsync(block.AsMemory(0, n));
            count -= n;
        }
    }

    /// <summary>No more bytes from this side (the server then sees the end of the stream).</summary>
    public void EndSending() => socket.Shutdown(SocketShutdown.Send);

    public sealed record Reply(StatusCode Status, uint Flags, ulong Value, string Message)
    {
        public bool SessionNotFound => (Flags & DataFrames.SessionNotFoundFlag) != 0;
    }

    public async Task<Reply> ReadReplyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var header = new byte[DataFrames.ReplyHeaderBytes];
        await Stream.ReadExactlyAsync(header, timeout.Token);
        var h = DataFrames.ParseReplyHeader(header);
        var message = new byte[h.MessageLength];
        await Stream.ReadExactlyAsync(message, timeout.Token);
        return new Reply((StatusCode)h.Status, h.Flags, h.Value, Encoding.UTF8.GetString(message));
    }

    /// <summary>Reads an error reply and asserts its status and message fragments; then the server closes the connection.</summary>
    public async Task<Reply> ExpectErrorAsync(StatusCode code, params string[] fragments)
    {
        var reply = await ReadReplyAsync();
        Assert.True(reply.Status == code, $"expected {code}, got {reply.Status}: {reply.Message}");
        foreach (var f in fragments) Assert.Contains(f, reply.Message, StringComparison.Ordinal);
        await ExpectClosedAsync();
        return reply;
    }

    /// <summary>The server closed the connection (end of stream or reset), within a few seconds.</summary>
    public async Task ExpectClosedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var scratch = new byte[1 << 16];
        try
        {
            while (await Stream.ReadAsync(scratch, timeout.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // Reset: closed as well.
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        socket.Dispose();
    }
}
