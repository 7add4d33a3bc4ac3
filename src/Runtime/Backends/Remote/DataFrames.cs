using System.Buffers.Binary;
using System.Text;

namespace XlaGen.Backends.Remote;

/// <summary>
/// The framing of the bulk data channel (protos/xlagen/device.proto, protocol version 2), shared by the client and
/// xlagen-server (which compiles this file too). A request is 48 bytes: magic "XGD1", the direction, three zero bytes,
/// the 32-byte ticket and the byte count (uint64 LE); an upload's bytes follow it. A reply is magic "XGR1", a gRPC
/// status code, flags, a value (an upload's buffer handle, a download's byte count) and a UTF-8 message of at most
/// 4096 bytes; a successful download's bytes follow it.
/// </summary>
internal static class DataFrames
{
    public const int RequestBytes = 48;
    public const int ReplyHeaderBytes = 24;
    public const int TicketBytes = 32;
    public const int MaxMessageBytes = 4096;

    public const byte Upload = 1;
    public const byte Download = 2;

    /// <summary>Reply flag: the ticket's session is not open (the client reconnects, as for the session-not-found trailer).</summary>
    public const uint SessionNotFoundFlag = 1;

    public static ReadOnlySpan<byte> RequestMagic => "XGD1"u8;

    public static ReadOnlySpan<byte> ReplyMagic => "XGR1"u8;

    public static void WriteRequest(Span<byte> destination, byte direction, ReadOnlySpan<byte> ticket, long bytes)
    {
        if (ticket.Length != TicketBytes) throw new ArgumentException($"a ticket is {TicketBytes} bytes, not {ticket.Length}", nameof(ticket));
        var d = destination[..RequestBytes];
        d.Clear();
        RequestMagic.CopyTo(d);
        d[4] = direction;
        ticket.CopyTo(d[8..]);
        BinaryPrimitives.WriteInt64LittleEndian(d[40..], bytes);
    }

    /// <summary>Null when <paramref name="request"/> is a well-formed request, else what is wrong with it.</summary>
    public static string? ParseRequest(ReadOnlySpan<byte> request, out byte direction, out ReadOnlySpan<byte> ticket, out long bytes)
    {
        direction = 0;
        ticket = default;
        bytes = 0;
        if (request.Length < RequestBytes) return $"the request has {request.Length} bytes, a data-channel request has {RequestBytes}";
        if (!request[..4].SequenceEqual(RequestMagic)) return "this is not an xlagen data-channel request (it must start with \"XGD1\"; the gRPC service is on the other port)";
        direction = request[4];
        if (direction is not (Upload or Download)) return $"the direction byte is {direction}: 1 is an upload, 2 a download";
        if (request[5] != 0 || request[6] != 0 || request[7] != 0) return "bytes 5..7 of the request must be zero";
        ticket = request.Slice(8, TicketBytes);
        bytes = BinaryPrimitives.ReadInt64LittleEndian(request[40..]);
        return bytes < 0 ? $"the byte count {bytes} is negative" : null;
    }

    /// <summary>Writes a reply into <paramref name="destination"/> (at least <see cref="ReplyHeaderBytes"/> +
    /// <see cref="MaxMessageBytes"/> bytes); returns its length. Longer messages are cut.</summary>
    public static int WriteReply(Span<byte> destination, int status, uint flags, ulong value, string message)
    {
        ReplyMagic.CopyTo(destination);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], status);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[12..], value);
        var text = destination.Slice(ReplyHeaderBytes, MaxMessageBytes);
        int n;
        if (!Encoding.UTF8.TryGetBytes(message, text, out n))
        {
            // Too long: cut at a character boundary that fits.
            int chars = Math.Min(message.Length, MaxMessageBytes / 4);
            if (chars > 0 && char.IsHighSurrogate(message[chars - 1])) chars--;
            n = Encoding.UTF8.GetBytes(message.AsSpan(0, chars), text);
        }
        BinaryPrimitives.WriteInt32LittleEndian(destination[20..], n);
        return ReplyHeaderBytes + n;
    }

    public readonly record struct ReplyHeader(int Status, uint Flags, ulong Value, int MessageLength);

    /// <summary>The fixed part of a reply; <see cref="InvalidDataException"/> when it is not one.</summary>
    public static ReplyHeader ParseReplyHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < ReplyHeaderBytes || !header[..4].SequenceEqual(ReplyMagic))
            throw new InvalidDataException("the data channel's reply does not start with \"XGR1\": the port is not an xlagen-server data channel");
        int status = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(header[12..]);
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        if (length < 0 || length > MaxMessageBytes) throw new InvalidDataException($"the data channel's reply announces a message of {length} bytes (at most {MaxMessageBytes})");
        return new ReplyHeader(status, flags, value, length);
    }
}
