using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>The device protocol without the RemoteDevice's care: for sending what a well-behaved client never would.</summary>
internal sealed class RawClient : IDisposable
{
    readonly GrpcChannel channel;
    readonly Metadata? headers;

    public RawClient(string address, string? token = null, string? authorization = null)
    {
        var http = address.Replace("grpc://", "http://", StringComparison.Ordinal);
        channel = GrpcChannel.ForAddress(http, new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
        Client = new DeviceService.DeviceServiceClient(channel);
        if (token != null) headers = new Metadata { { "authorization", "Bearer " + token } };
        else if (authorization != null) headers = new Metadata { { "authorization", authorization } };
        Invoker = channel.CreateCallInvoker();
    }

    public DeviceService.DeviceServiceClient Client { get; }

    public CallInvoker Invoker { get; }

    public CallOptions Options(CancellationToken cancellationToken = default) =>
        new(headers, DateTime.UtcNow.AddSeconds(30), cancellationToken);

    /// <summary>A session at protocol version 1 (as the first clients spoke it) unless another is asked for.</summary>
    public async Task<string> OpenSessionAsync(string name = "raw test client", int protocolVersion = 1) =>
        (await Client.OpenSessionAsync(new OpenSessionRequest { ProtocolVersion = protocolVersion, ClientName = name }, Options())).SessionId;

    public Task<BeginTransferResponse> BeginUploadAsync(string session, ElementType type, params long[] dims)
    {
        var shape = new TensorShape { ElementType = (int)type };
        shape.Dims.AddRange(dims);
        return Client.BeginTransferAsync(new BeginTransferRequest { SessionId = session, UploadShape = shape }, Options()).ResponseAsync;
    }

    public Task<BeginTransferResponse> BeginDownloadAsync(string session, ulong handle) =>
        Client.BeginTransferAsync(new BeginTransferRequest { SessionId = session, DownloadHandle = handle }, Options()).ResponseAsync;

    public async Task<long> BytesHeldAsync(string session) =>
        (await Client.KeepAliveAsync(new KeepAliveRequest { SessionId = session }, Options())).BytesHeld;

    public async Task<ulong> CompileAsync(string session, HloModule module) =>
        (await CompileBytesAsync(session, HloProto.Write(module))).ExecutableHandle;

    public Task<CompileResponse> CompileBytesAsync(string session, byte[] bytes) =>
        Client.CompileAsync(new CompileRequest { SessionId = session, HloModuleProto = ByteString.CopyFrom(bytes) }, Options()).ResponseAsync;

    public async Task<ulong> UploadAsync(string session, Tensor tensor, int chunk = 1 << 20, int deviceId = 0)
    {
        using var call = Client.Upload(Options());
        var header = new UploadHeader { SessionId = session, Shape = new TensorShape { ElementType = (int)tensor.ElementType }, DeviceId = deviceId };
        header.Shape.Dims.AddRange(tensor.Shape);
        try
        {
            await call.RequestStream.WriteAsync(new UploadRequest { Header = header });
            long total = TensorBytes.ByteCount(tensor);
            for (long off = 0; off < total; off += chunk)
            {
                int n = (int)Math.Min(chunk, total - off);
                await call.RequestStream.WriteAsync(new UploadRequest { Data = ByteString.CopyFrom(TensorBytes.Slice(tensor, off, n).Span) });
            }
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
            // The server ended the call early; its status comes with the response.
        }
        return (await call.ResponseAsync).BufferHandle;
    }

    public async Task<Tensor> DownloadAsync(string session, ulong handle)
    {
        using var call = Client.Download(new DownloadRequest { SessionId = session, BufferHandle = handle }, Options());
        Tensor? t = null;
        long off = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            var m = call.ResponseStream.Current;
            t ??= TensorBytes.Allocate((ElementType)m.Shape.ElementType, m.Shape.Dims.ToArray());
            TensorBytes.Write(t, off, m.Data.Span);
            off += m.Data.Length;
        }
        return t!;
    }

    public async Task<ulong[]> ExecuteAsync(string session, ulong executable, params ulong[] args)
    {
        var request = new ExecuteRequest { SessionId = session, ExecutableHandle = executable };
        request.ArgumentHandles.AddRange(args);
        var response = await Client.ExecuteAsync(request, Options());
        return response.Results.Select(r => r.BufferHandle).ToArray();
    }

    public async Task<GetServerStatsResponse> StatsAsync(bool collect = false) =>
        await Client.GetServerStatsAsync(new GetServerStatsRequest { CollectGarbage = collect }, Options());

    /// <summary>Calls a device method with raw request bytes (a malformed protobuf, say).</summary>
    public async Task<byte[]> CallRawAsync(string method, byte[] requestBytes)
    {
        var marshaller = Marshallers.Create<byte[]>(b => b, b => b);
        var m = new Method<byte[], byte[]>(MethodType.Unary, "xlagen.device.v1.DeviceService", method, marshaller, marshaller);
        return await Invoker.AsyncUnaryCall(m, null, Options(), requestBytes);
    }

    public void Dispose() => channel.Dispose();
}

internal static class Expect
{
    /// <summary>Runs the call and asserts it fails with <paramref name="code"/> and a message containing every fragment.</summary>
    public static async Task<RpcException> Status(StatusCode code, Func<Task> call, params string[] fragments)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(e.StatusCode == code, $"expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        foreach (var f in fragments) Assert.Contains(f, e.Status.Detail, StringComparison.Ordinal);
        return e;
    }
}
