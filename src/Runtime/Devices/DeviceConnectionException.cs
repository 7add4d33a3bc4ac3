namespace XlaGen;

/// <summary>A remote device could not be reached or used: a bad address, the server is down, the token was refused,
/// the protocol versions do not overlap, or the connection was lost and could not be restored. The message names the
/// address and what to do.</summary>
public sealed class DeviceConnectionException : Exception
{
    /// <summary>A connection error for the device at <paramref name="address"/>.</summary>
    /// <param name="address">The device address tried (grpc://host:port).</param>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="inner">The underlying error (a gRPC or I/O exception); null for none.</param>
    public DeviceConnectionException(string address, string message, Exception? inner = null) : base(message, inner)
    {
        Address = address;
    }

    /// <summary>The device address the client tried (grpc://host:port).</summary>
    public string Address { get; }
}
