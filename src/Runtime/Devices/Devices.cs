using XlaGen.Backends.Cpu;
using XlaGen.Backends.Remote;

namespace XlaGen;

/// <summary>Where programs run.</summary>
public static partial class Devices
{
    /// <summary>
    /// Opens the device a name selects (<see cref="DeviceSpec"/>: <c>cpu</c>, <c>pjrt</c>, <c>pjrt:/path/plugin.so</c>,
    /// <c>grpc://host:port</c>): the one place where command lines, the sample and xlagen-server choose a backend.
    /// The caller disposes the device (disposing the shared CPU device does nothing).
    /// </summary>
    public static IDevice Open(string spec) => Open(DeviceSpec.Parse(spec));

    /// <inheritdoc cref="Open(string)"/>
    public static IDevice Open(DeviceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Backend switch
        {
            DeviceBackend.Cpu => Cpu(),
            DeviceBackend.Pjrt => Pjrt(spec.PluginPath),
            _ => ConnectAsync(spec.Address).GetAwaiter().GetResult(),
        };
    }

    static readonly Lazy<CpuDevice> SharedCpu = new(() => new CpuDevice());

    /// <summary>The embedded CPU executor (one shared instance per process).</summary>
    public static IDevice Cpu() => SharedCpu.Value;

    /// <summary>
    /// <paramref name="replicas"/> virtual CPU devices in this process as one replicated device: a model runner on it
    /// splits each global batch across the replicas and all-reduces the gradients (data parallelism, one thread per
    /// replica). The caller disposes it.
    /// </summary>
    public static ReplicatedDevice Cpu(int replicas) => new(new CpuReplicaPlatform(replicas));

    /// <summary>
    /// Opens the device of an xlagen-server: <c>grpc://host:port</c> (HTTP/2 cleartext) or <c>grpcs://host:port</c> (TLS).
    /// Without an address, <c>XLAGEN_DEVICE</c> names it. Checks the protocol version and the token and opens a session;
    /// failures are <see cref="DeviceConnectionException"/> naming the address and what to change.
    /// </summary>
    public static async Task<RemoteDevice> ConnectAsync(string? address = null, RemoteDeviceOptions? options = null, CancellationToken cancellationToken = default) =>
        await RemoteClusterResolver.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Opens an xlagen-server's first <paramref name="replicas"/> devices (the server runs with <c>--devices N</c>,
    /// N ≥ <paramref name="replicas"/>) as one <see cref="ReplicatedDevice"/>, as <see cref="Cpu(int)"/> does in-process:
    /// a model runner on it shards each batch across the server's devices and every replicated step is one Execute
    /// call. Disposing the replicated device closes the session. Fails with <see cref="DeviceConnectionException"/>
    /// when the server has fewer devices.
    /// </summary>
    public static async Task<ReplicatedDevice> ConnectReplicatedAsync(string? address, int replicas, RemoteDeviceOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "a replicated device needs at least one replica");
        var device = await ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
        if (RemoteReplicaPlatform.Problem(device, replicas) is { } problem)
        {
            await device.DisposeAsync().ConfigureAwait(false);
            throw new DeviceConnectionException(device.Address, problem);
        }
        return new ReplicatedDevice(new RemoteReplicaPlatform(device, replicas, ownsConnection: true));
    }
}
