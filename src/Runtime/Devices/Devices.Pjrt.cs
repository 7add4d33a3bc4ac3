namespace XlaGen;

public static partial class Devices
{
    /// <summary>Device 0 of a new PJRT client (TPU through libtpu, GPU through the CUDA plugin): the plugin at <paramref name="path"/>,
    /// else XLAGEN_PJRT_PLUGIN, TPU_LIBRARY_PATH, or the wheel layouts under python3's site-packages. Disposing the device disposes
    /// its client. Failures are <see cref="Backends.Pjrt.PjrtPluginException"/> naming the path and what to do.</summary>
    public static Backends.Pjrt.PjrtDevice Pjrt(string? path = null, Backends.Pjrt.PjrtOptions? options = null) =>
        Backends.Pjrt.PjrtDevice.Open(path, options);

    /// <summary><paramref name="replicas"/> devices of a new PJRT client as one <see cref="ReplicatedDevice"/> (data
    /// parallelism over a host's chips, like TPUStrategy): replica r on the device the plugin's default assignment gives
    /// it, programs compiled with num_replicas = N, XLA's all-reduce between them. The plugin is found as for
    /// <see cref="Pjrt"/>; disposing the replicated device disposes the client.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is not between 1 and the client's device count.</exception>
    public static ReplicatedDevice PjrtReplicated(int replicas, string? path = null, Backends.Pjrt.PjrtOptions? options = null)
    {
        var client = Backends.Pjrt.PjrtClient.Create(Backends.Pjrt.PjrtPlugin.Load(Backends.Pjrt.PjrtPlugin.Find(path)), options);
        try
        {
            return new ReplicatedDevice(new Backends.Pjrt.PjrtReplicaPlatform(client, replicas, ownsClient: true));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
