namespace XlaGen.DeviceCheck;

/// <summary>Opens a device from its spec with <see cref="Devices.Open(string)"/> ("cpu", "pjrt", "pjrt:/path/plugin.so",
/// "grpc://host:port"); a malformed spec is a usage error naming the accepted forms.</summary>
static class DeviceResolver
{
    public static IDevice Open(string spec)
    {
        DeviceSpec parsed;
        try
        {
            parsed = DeviceSpec.Parse(spec);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        return Devices.Open(parsed);
    }

    /// <summary>The device's description (<see cref="IDevice.Describe"/>) as text.</summary>
    public static string Describe(IDevice device) => device.Describe().ToString();
}
