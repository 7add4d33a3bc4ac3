using XlaGen.Backends.Remote;

namespace XlaGen.Tool;

/// <summary>
/// Opens the device a command names (<see cref="DeviceSpec"/>: cpu, pjrt, pjrt:/path/plugin.so, grpc://host:port,
/// grpcs://host:port) with the options a remote device may need: <c>--token-file</c> (else <c>XLAGEN_TOKEN</c> /
/// <c>XLAGEN_TOKEN_FILE</c>, as <see cref="RemoteDeviceOptions"/> reads them) and <c>--ca-cert</c> for a private CA.
/// </summary>
static class DeviceOpener
{
    public static readonly string[] Options = { "--token-file", "--ca-cert" };

    public const string OptionsHelp = """
          --token-file FILE    the server's bearer token, for grpc:// and grpcs:// devices (default: the XLAGEN_TOKEN
                               variable, else the file XLAGEN_TOKEN_FILE names)
          --ca-cert FILE       a PEM certificate to trust for grpcs:// (a private CA or a self-signed server)
        """;

    public static DeviceSpec Parse(string command, string text)
    {
        try
        {
            return DeviceSpec.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{command}: {e.Message}");
        }
    }

    public static IDevice Open(string command, DeviceSpec spec, CommandLine line)
    {
        string? tokenFile = line.Value("--token-file"), caCert = line.Value("--ca-cert");
        if (spec.Backend != DeviceBackend.Remote && (tokenFile != null || caCert != null))
            throw new UsageException($"{command}: --token-file and --ca-cert are for grpc:// and grpcs:// devices, not {spec}");
        if (tokenFile != null && !File.Exists(tokenFile)) throw new BadInputException($"{command}: --token-file {tokenFile}: no such file");
        if (caCert != null && !File.Exists(caCert)) throw new BadInputException($"{command}: --ca-cert {caCert}: no such file");
        try
        {
            return spec.Backend switch
            {
                DeviceBackend.Cpu => Devices.Cpu(),
                DeviceBackend.Pjrt => Devices.Pjrt(spec.PluginPath),
                _ => Devices.ConnectAsync(spec.Address, new RemoteDeviceOptions
                {
                    TokenFile = tokenFile,
                    TrustedCertificateFile = caCert,
                    Reconnect = false,
                    ClientName = "xlagen " + command,
                }).GetAwaiter().GetResult(),
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new NoDeviceException($"{command}: cannot open device {spec}: {e.Message}", e);
        }
    }
}
