namespace XlaGen;

public static partial class Devices
{
    /// <summary>Device 0 of a new PJRT client (TPU through libtpu, GPU through the CUDA plugin): the plugin at <paramref name="path"/>,
    /// else XLAGEN_PJRT_PLUGIN, TPU_LIBRARY_PATH, or the wheel layouts under python3's site-packages. Disposing the device disposes
    /// its client. Failures are <see cref="Backends.Pjrt.PjrtPluginException"/> naming the path and what to do.</summary>
    public static Backends.Pjrt.PjrtDevice Pjrt(string? path = null, Backends.Pjrt.PjrtOptions? options = null) =>
        Backends.Pjrt.PjrtDevice.Open(path, options);
}
