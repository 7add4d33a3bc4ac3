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

/// <summary>Transfers: the bulk data channel for large tensors (falling back to gRPC streams when its connection
/// breaks), gRPC streams for the rest.</summary>
internal sealed partial class RemoteConnection
{
    /// <summary>Whether a transfer of <paramref name="bytes"/> goes over the bulk data channel.</summary>
    bool UsesBulk(long bytes) =>
        Options.BulkTransfers && bytes >= Options.BulkThresholdBytes && ProtocolVersion >= BulkProtocolVersion && bulk.IsAvailable(Server);

    /// <summary>The first protocol version with the bulk data channel.</summary>
    const int BulkProtocolVersion = 2;

    /// <summary>Copies the tensor to the server (the bulk data channel for large ones, else a gRPC stream); returns the buffer handle.</summary>
    public async Task<ulong> UploadAsync(SessionState s, Tensor tensor, CallOptions call, int deviceId = 0)
    {
        long total = TensorBytes.ByteCount(tensor);
        if (UsesBulk(total) && await bulk.RentAsync(Server, call.CancellationToken).ConfigureAwait(false) is { } c)
        {
            BeginTransferResponse ticket;
            try
            {
                var request = new BeginTransferRequest { SessionId = s.Id, UploadShape = Wire.ToProto(tensor.ElementType, tensor.Shape), DeviceId = deviceId };
                ticket = await client.BeginTransferAsync(request, call).ConfigureAwait(false);
                if (ticket.Bytes != total) throw new InvalidDataException($"upload of {tensor.ShapeText}: the server's ticket is for {ticket.Bytes} bytes, the tensor has {total}");
            }
            catch
            {
                bulk.Return(c);   // unused: good for the next transfer
                throw;
            }
            ulong handle;
            try
            {
                if (ticket.DataPort != c.Port)
                {
                    c.Dispose();
                    c = await bulk.ReconnectAsync(ticket.DataPort, call.CancellationToken).ConfigureAwait(false);
                }
                handle = await bulk.UploadAsync(c, ticket.Ticket.Memory, tensor, total, call).ConfigureAwait(false);
            }
            catch (RpcException e) when (BulkChannel.IsBrokenConnection(e) && !call.CancellationToken.IsCancellationRequested)
            {
                // The data port accepted and then dropped the connection (a server at its connection caps, a proxy):
                // the gRPC channel still works, so this transfer streams instead. The unused ticket expires on the
                // server and gives its reservation back.
                bulk.Failed(Server, e);
                return await StreamUploadAsync(s, tensor, total, call, deviceId).ConfigureAwait(false);
            }
            bulk.Succeeded();
            Interlocked.Increment(ref bulkTransfers);
            return handle;
        }
        return await StreamUploadAsync(s, tensor, total, call, deviceId).ConfigureAwait(false);
    }

    /// <summary>Streams the tensor in chunks over gRPC; returns the buffer handle.</summary>
    async Task<ulong> StreamUploadAsync(SessionState s, Tensor tensor, long total, CallOptions call, int deviceId)
    {
        int chunk = ChunkBytes;
        using var stream = client.Upload(call);
        try
        {
            await stream.RequestStream.WriteAsync(new UploadRequest { Header = new UploadHeader { SessionId = s.Id, Shape = Wire.ToProto(tensor.ElementType, tensor.Shape), DeviceId = deviceId } }).ConfigureAwait(false);
            for (long offset = 0; offset < total; offset += chunk)
            {
                int n = (int)Math.Min(chunk, total - offset);
                await stream.RequestStream.WriteAsync(new UploadRequest { Data = UnsafeByteOperations.UnsafeWrap(TensorBytes.Slice(tensor, offset, n)) }).ConfigureAwait(false);
            }
            await stream.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException && !call.CancellationToken.IsCancellationRequested)
        {
            // The server ended the call early (a limit, a lost session); its status follows from the response.
        }
        var response = await stream.ResponseAsync.ConfigureAwait(false);
        if (response.BytesReceived != total)
            throw new InvalidDataException($"upload of {tensor.ShapeText}: the server acknowledged {response.BytesReceived} of {total} bytes");
        Interlocked.Increment(ref streamedTransfers);
        return response.BufferHandle;
    }

    /// <summary>Copies a buffer of <paramref name="shape"/> from the server (the bulk data channel for large ones, else a gRPC stream).</summary>
    public async Task<Tensor> DownloadAsync(SessionState s, ulong handle, Shape shape, string what, CallOptions call)
    {
        long total = TensorBytes.ByteCount(shape.ElementType, shape.ConcreteDims());
        if (UsesBulk(total) && await bulk.RentAsync(Server, call.CancellationToken).ConfigureAwait(false) is { } c)
        {
            BeginTransferResponse ticket;
            Shape sent;
            try
            {
                ticket = await client.BeginTransferAsync(new BeginTransferRequest { SessionId = s.Id, DownloadHandle = handle }, call).ConfigureAwait(false);
                sent = Wire.FromProto(ticket.Shape, $"download of {what}");
                if (ticket.Bytes != TensorBytes.ByteCount(sent.ElementType, sent.ConcreteDims()))
                    throw new InvalidDataException($"download of {what}: the server's ticket is for {ticket.Bytes} bytes of {sent}");
            }
            catch
            {
                bulk.Return(c);   // unused: good for the next transfer
                throw;
            }
            Tensor tensor;
            try
            {
                if (ticket.DataPort != c.Port)
                {
                    c.Dispose();
                    c = await bulk.ReconnectAsync(ticket.DataPort, call.CancellationToken).ConfigureAwait(false);
                }
                tensor = await bulk.DownloadAsync(c, ticket.Ticket.Memory, sent, ticket.Bytes, what, call).ConfigureAwait(false);
            }
            catch (RpcException e) when (BulkChannel.IsBrokenConnection(e) && !call.CancellationToken.IsCancellationRequested)
            {
                bulk.Failed(Server, e);   // as for uploads: the gRPC stream carries this one
                return await StreamDownloadAsync(s, handle, what, call).ConfigureAwait(false);
            }
            bulk.Succeeded();
            Interlocked.Increment(ref bulkTransfers);
            return tensor;
        }
        return await StreamDownloadAsync(s, handle, what, call).ConfigureAwait(false);
    }

    async Task<Tensor> StreamDownloadAsync(SessionState s, ulong handle, string what, CallOptions call)
    {
        using var stream = client.Download(new DownloadRequest { SessionId = s.Id, BufferHandle = handle }, call);
        Tensor? tensor = null;
        long offset = 0, total = 0;
        while (await stream.ResponseStream.MoveNext(call.CancellationToken).ConfigureAwait(false))
        {
            var message = stream.ResponseStream.Current;
            if (tensor == null)
            {
                var shape = Wire.FromProto(message.Shape, $"download of {what}");
                tensor = TensorBytes.Allocate(shape.ElementType, shape.ConcreteDims(), zeroed: false);
                total = TensorBytes.ByteCount(tensor);
            }
            if (message.Data.Length > total - offset)
                throw new InvalidDataException($"download of {what}: the server sent more than the {total} bytes of {tensor.ShapeText}");
            TensorBytes.Write(tensor, offset, message.Data.Span);
            offset += message.Data.Length;
        }
        if (tensor == null || offset != total)
            throw new InvalidDataException($"download of {what}: the stream ended after {offset} of {total} bytes");
        Interlocked.Increment(ref streamedTransfers);
        return tensor;
    }

    int ChunkBytes
    {
        get
        {
            long limit = Server.MaxMessageBytes;
            return limit > 0 ? (int)Math.Min(Options.ChunkBytes, Math.Max(1024, limit - 4096)) : Options.ChunkBytes;
        }
    }
}
