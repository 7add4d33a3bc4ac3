using XlaGen.Backends.Remote;

namespace XlaGen;

/// <summary>Entry points to the available devices.</summary>
public static partial class Devices
{
    public static IDevice Cpu() => throw new NotImplementedException("CPU executor lands with the helper/cpu merge");

    /// <summary>
    /// Opens the device of an xlagen-server: <c>grpc://host:port</c> (HTTP/2 cleartext) or <c>grpcs://host:port</c> (TLS).
    /// Without an address, <c>XLAGEN_DEVICE</c> names it. Checks the protocol version and the token and opens a session;
    /// failures are <see cref="DeviceConnectionException"/> naming the address and what to change.
    /// </summary>
    public static async Task<RemoteDevice> ConnectAsync(string? address = null, RemoteDeviceOptions? options = null, CancellationToken cancellationToken = default) =>
        await RemoteClusterResolver.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
}
