namespace XlaGen.DeviceCheck;

/// <summary>Opens a device from its spec ("cpu", "pjrt", "pjrt:/path/plugin.so"). Until the device contract's
/// Devices.Open is on this branch only "cpu" opens here; any other spec is refused with that reason.</summary>
static class DeviceResolver
{
    public static IDevice Open(string spec)
    {
        if (spec == "cpu") return Devices.Cpu();
        throw new UsageException($"device '{spec}': this build opens only 'cpu' (Devices.Open with pjrt is not merged into this branch yet)");
    }

    /// <summary>The device's description as text.</summary>
    public static string Describe(IDevice device)
    {
        var i = device.Info;
        var lines = new List<string>
        {
            $"platform: {i.Platform}",
            $"device kind: {i.DeviceKind}",
            $"version: {i.Version}",
            $"devices: {i.DeviceCount}",
            $"memory bytes: {i.MemoryBytes}",
        };
        if (i.Attributes != null) lines.AddRange(i.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}: {a.Value}"));
        return string.Join('\n', lines);
    }
}
