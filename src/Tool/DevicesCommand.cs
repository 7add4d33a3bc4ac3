namespace XlaGen.Tool;

/// <summary><c>xlagen devices [SPEC]</c>: the platform, its versions and every device with kind and memory.</summary>
static class DevicesCommand
{
    public const string Help = """
        xlagen devices: what a device is: platform and version, every device with its kind and memory, the platform's
        attributes (a PJRT plugin's xla_version …) and API versions

        usage: xlagen devices [SPEC] [--token-file FILE] [--ca-cert FILE]

        SPEC: cpu (the embedded CPU executor), pjrt (the plugin found as Devices.Pjrt() finds it: XLAGEN_PJRT_PLUGIN,
        TPU_LIBRARY_PATH, the pip wheel layouts), pjrt:/path/to/plugin.so, grpc://host:port or grpcs://host:port
        (an xlagen-server). Default: XLAGEN_DEVICE when set, else cpu.
        """ + DeviceOpener.OptionsHelp;

    const string Command = "xlagen devices";

    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var line = new CommandLine(Command, args, DeviceOpener.Options);
        if (line.Help)
        {
            output.WriteLine(Help);
            return ExitCode.Ok;
        }
        if (line.Positional.Count > 1) throw new UsageException($"{Command}: one device at a time; got {string.Join(", ", line.Positional)}");
        var text = line.Positional.Count == 1 ? line.Positional[0] : Environment.GetEnvironmentVariable("XLAGEN_DEVICE") is { Length: > 0 } env ? env : "cpu";
        var spec = DeviceOpener.Parse(Command, text);
        using var device = DeviceOpener.Open(Command, spec, line);
        PlatformDescription description;
        try
        {
            description = device.Describe();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ToolFailureException($"{Command}: {spec} opened, but describing it failed: {e.Message}", e);
        }
        output.WriteLine($"{spec}: {device.Info.Platform} ({device.Info.DeviceKind})");
        output.WriteLine(description.ToString());
        return ExitCode.Ok;
    }
}
