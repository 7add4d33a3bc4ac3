using System.Buffers;
using Grpc.Core;
using XlaGen.Device.V1;

namespace XlaGen.Server.Grpc;

/// <summary>
/// Writes upload data straight into the staging tensor while each message is parsed, instead of into a fresh byte
/// array per message that the handler then copies again (for 1 MiB chunks that is a copy and a large-object
/// allocation per message). The Upload handler attaches a sink for the duration of its stream; the request
/// deserializer consumes data messages into it and hands the handler the <see cref="Consumed"/> marker.
/// Anything unusual (no sink, another field layout, more bytes than the shape holds) goes through the ordinary
/// parser, so the handler still reports it.
/// </summary>
internal sealed class UploadSink
{
    static readonly AsyncLocal<UploadSink?> Current = new();

    /// <summary>What the deserializer returns for a data message it already wrote into the tensor.</summary>
    public static readonly UploadRequest Consumed = new() { Data = Google.Protobuf.ByteString.Empty };

    public UploadSink(Tensor tensor, string description)
    {
        Tensor = tensor;
        Description = description;
        Total = TensorBytes.ByteCount(tensor);
    }

    public Tensor Tensor { get; }

    public string Description { get; }

    public long Total { get; }

    /// <summary>Bytes written so far.</summary>
    public long Received { get; private set; }

    /// <summary>Data messages consumed so far.</summary>
    public int Messages { get; private set; }

    public Scope Attach()
    {
        Current.Value = this;
        return new Scope();
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => Current.Value = null;
    }

    /// <summary>Advances past a data message the handler wrote itself (the ordinary parse path).</summary>
    public void Advance(int bytes)
    {
        Received += bytes;
        Messages++;
    }

    /// <summary>The marker when the payload was a data message written into the attached sink; null to parse it normally.</summary>
    public static UploadRequest? TryConsume(DeserializationContext context)
    {
        var sink = Current.Value;
        if (sink == null) return null;
        var reader = new SequenceReader<byte>(context.PayloadAsReadOnlySequence());
        // Exactly one field: tag 0x12 (field 2 'data', length-delimited), its length, and that many bytes.
        if (!reader.TryRead(out byte tag) || tag != 0x12 || !TryReadVarint(ref reader, out ulong length) || length != (ulong)reader.Remaining) return null;
        if ((long)length > sink.Total - sink.Received) return null;
        foreach (var segment in reader.UnreadSequence)
        {
            try
            {
                TensorBytes.Write(sink.Tensor, sink.Received, segment.Span);
            }
            catch (ArgumentException e)
            {
                throw Errors.InvalidArgument($"upload of {sink.Description}, message {sink.Messages + 1}: {e.Message}");
            }
            sink.Received += segment.Length;
        }
        sink.Messages++;
        return Consumed;
    }

    static bool TryReadVarint(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out byte b)) return false;
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
