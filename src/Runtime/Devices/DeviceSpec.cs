namespace XlaGen;

/// <summary>Which backend a device name selects.</summary>
public enum DeviceBackend
{
    /// <summary>The embedded CPU executor.</summary>
    Cpu,

    /// <summary>XLA through a PJRT plugin (libtpu, the CUDA plugin), in this process.</summary>
    Pjrt,

    /// <summary>An xlagen-server reached over gRPC.</summary>
    Remote,
}

/// <summary>
/// A device named the way the command lines and <c>Devices.Open</c> name it — <c>cpu</c>, <c>pjrt</c> (the plugin
/// found as <see cref="Devices.Pjrt"/> finds it), <c>pjrt:/path/to/plugin.so</c>, <c>grpc://host:port</c> or
/// <c>grpcs://host:port</c> — parsed in one place, so the sample, the bench and xlagen-server's <c>--backend</c> agree.
/// </summary>
public sealed record DeviceSpec(DeviceBackend Backend, string? PluginPath = null, string? Address = null)
{
    /// <summary>The accepted forms, for messages.</summary>
    public const string Forms = "cpu, pjrt, pjrt:/path/to/plugin.so, grpc://host:port or grpcs://host:port";

    /// <summary>Parses a device name; an unknown one throws <see cref="ArgumentException"/> listing the accepted forms.</summary>
    public static DeviceSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Equals("cpu", StringComparison.OrdinalIgnoreCase)) return new DeviceSpec(DeviceBackend.Cpu);
        if (t.Equals("pjrt", StringComparison.OrdinalIgnoreCase)) return new DeviceSpec(DeviceBackend.Pjrt);
        if (t.StartsWith("pjrt:", StringComparison.OrdinalIgnoreCase))
        {
            var path = t[5..];
            if (path.Length == 0) throw new ArgumentException($"device '{text}' names no plugin; write pjrt:/path/to/plugin.so, or pjrt alone to search for one");
            return new DeviceSpec(DeviceBackend.Pjrt, PluginPath: path);
        }
        if (t.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase) || t.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase))
            return new DeviceSpec(DeviceBackend.Remote, Address: t);
        throw new ArgumentException($"device '{text}' is not one XlaGen knows: write {Forms}");
    }

    /// <summary>The spec in the form <see cref="Parse"/> reads: "cpu", "pjrt", "pjrt:/path/to/plugin.so" or the grpc:// address.</summary>
    public override string ToString() => Backend switch
    {
        DeviceBackend.Cpu => "cpu",
        DeviceBackend.Pjrt => PluginPath == null ? "pjrt" : "pjrt:" + PluginPath,
        _ => Address ?? "grpc://",
    };
}
