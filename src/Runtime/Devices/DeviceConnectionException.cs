namespace XlaGen;

/// <summary>A remote device could not be reached or used: a bad address, the server is down, the token was refused,
/// the protocol versions do not overlap, or the connection was lost and could not be restored. The message names the
/// address and what to do.</summary>
public sealed class DeviceConnectionException : Exception
{
    public DeviceConnectionException(string address, string message, Exception? inner = null) : base(message, inner)
    {
        Address = address;
    }

    /// <summary>The device address the client tried (grpc://host:port).</summary>
    public string Address { get; }
}
