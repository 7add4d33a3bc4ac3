using System.Globalization;

namespace XlaGen.Backends.Remote;

/// <summary>What an xlagen-server said about itself in the handshake.</summary>
public sealed record ServerVersionInfo(
    string Address,
    int MinProtocolVersion,
    int MaxProtocolVersion,
    string ServerVersion,
    string Platform,
    string PlatformVersion,
    IReadOnlyList<RemoteDeviceDescription> Devices,
    string InstanceId,
    TimeSpan SessionLease,
    long MaxMessageBytes,
    long MaxSessionBytes)
{
    /// <summary>The port of the server's bulk data channel on the same host (protocol version 2; 0: none).</summary>
    public int DataPort { get; init; }

    /// <summary>The backend platform's attributes (a PJRT plugin's <c>xla_version</c> …); empty from older servers.</summary>
    public IReadOnlyDictionary<string, string> PlatformAttributes { get; init; } = new Dictionary<string, string>();

    /// <summary>The PJRT C API version of the server's plugin; null for the CPU executor and older servers.</summary>
    public string? PjrtApiVersion { get; init; }

    /// <summary>The most replicas one program may run on (xlagen-server --devices N; protocol version 3); 1 for a
    /// one-device server or an older one.</summary>
    public int ReplicaDevices { get; init; } = 1;
}

/// <summary>One device of a server's backend.</summary>
public sealed record RemoteDeviceDescription(int Id, string Kind, long MemoryBytes, IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>The process of a multi-host platform that drives the device.</summary>
    public int ProcessIndex { get; init; }

    /// <summary>Device memory in use when the server answered the handshake, where its backend reports it.</summary>
    public long? BytesInUse { get; init; }
}

/// <summary>
/// Finds and opens the remote device, as TPUClusterResolver does for a TPU: take the address from the argument or the
/// <c>XLAGEN_DEVICE</c> environment variable, check that both sides speak a common protocol version, connect with the
/// token, and open a session ("initialise the system"). Every failure is a <see cref="DeviceConnectionException"/>
/// that names the address and what to change.
/// </summary>
public static class RemoteClusterResolver
{
    /// <summary>The environment variable that names the device when no address is passed: grpc://host:port.</summary>
    public const string AddressVariable = "XLAGEN_DEVICE";

    /// <summary>Environment variables for the token when the options carry none.</summary>
    public const string TokenVariable = "XLAGEN_TOKEN";
    /// <summary>The environment variable naming a file that holds the token, read when neither the options nor <see cref="TokenVariable"/> give one.</summary>
    public const string TokenFileVariable = "XLAGEN_TOKEN_FILE";

    /// <summary>The port xlagen-server listens on by default (the TPU node port).</summary>
    public const int DefaultPort = 8470;

    /// <summary>The device protocol versions this client speaks (protos/xlagen/device.proto).</summary>
    public const int MinProtocolVersion = 1;

    /// <summary>2 adds the bulk data channel (a version-1 server is still spoken to, with gRPC streams for transfers),
    /// 3 replicas, 4 asynchronous dispatch (older servers run every execution synchronously).</summary>
    public const int MaxProtocolVersion = 4;

    /// <summary>The address to use: <paramref name="address"/> when given, else <c>XLAGEN_DEVICE</c>.</summary>
    public static string ResolveAddress(string? address = null)
    {
        if (!string.IsNullOrWhiteSpace(address)) return address.Trim();
        var env = Environment.GetEnvironmentVariable(AddressVariable);
        if (!string.IsNullOrWhiteSpace(env)) return env.Trim();
        throw new DeviceConnectionException("", $"no device address: pass one (grpc://host:{DefaultPort}) or set the {AddressVariable} environment variable");
    }

    /// <summary>
    /// The HTTP endpoint of a device address: <c>grpc://host:port</c> is HTTP/2 cleartext, <c>grpcs://host:port</c> is TLS;
    /// <c>http://</c> and <c>https://</c> are taken as they are, a bare <c>host:port</c> means grpc://. The port defaults to 8470.
    /// </summary>
    public static Uri ParseAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var text = address.Trim();
        string scheme;
        if (text.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase)) { scheme = "http"; text = text["grpc://".Length..]; }
        else if (text.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase)) { scheme = "https"; text = text["grpcs://".Length..]; }
        else if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) { scheme = "http"; text = text["http://".Length..]; }
        else if (text.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) { scheme = "https"; text = text["https://".Length..]; }
        else if (text.Contains("://", StringComparison.Ordinal))
            throw new DeviceConnectionException(address, $"'{address}' is not a device address: the scheme must be grpc:// (cleartext) or grpcs:// (TLS)");
        else scheme = "http";
        text = text.TrimEnd('/');
        if (text.Length == 0 || text.Contains('/', StringComparison.Ordinal))
            throw new DeviceConnectionException(address, $"'{address}' is not a device address: use grpc://host:port, for example grpc://10.0.0.2:{DefaultPort}");
        bool hasPort = text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Count(c => c == ':') == 1;
        if (!hasPort) text += ":" + DefaultPort.ToString(CultureInfo.InvariantCulture);
        if (!Uri.TryCreate($"{scheme}://{text}", UriKind.Absolute, out var uri) || uri.Port <= 0)
            throw new DeviceConnectionException(address, $"'{address}' is not a device address: use grpc://host:port, for example grpc://10.0.0.2:{DefaultPort}");
        return uri;
    }

    /// <summary>The highest protocol version both sides speak, or a clear error saying which side to upgrade.</summary>
    public static int NegotiateProtocolVersion(ServerVersionInfo server)
    {
        ArgumentNullException.ThrowIfNull(server);
        int low = Math.Max(MinProtocolVersion, server.MinProtocolVersion);
        int high = Math.Min(MaxProtocolVersion, server.MaxProtocolVersion);
        if (low <= high) return high;
        string advice = server.MaxProtocolVersion < MinProtocolVersion
            ? "the server is older than this client: upgrade xlagen-server on that host, or use an older XlaGen runtime"
            : "the server is newer than this client: upgrade the XlaGen runtime package, or run an older xlagen-server";
        throw new DeviceConnectionException(server.Address,
            $"xlagen-server {server.ServerVersion} at {server.Address} speaks device protocol versions {server.MinProtocolVersion}..{server.MaxProtocolVersion}, " +
            $"this client speaks {MinProtocolVersion}..{MaxProtocolVersion}; {advice}");
    }

    /// <summary>Resolves the address, performs the handshake and opens a session on the server.</summary>
    public static async Task<RemoteDevice> ConnectAsync(string? address = null, RemoteDeviceOptions? options = null, CancellationToken cancellationToken = default)
    {
        var resolved = ResolveAddress(address);
        options ??= new RemoteDeviceOptions();
        options.Validate();
        var connection = await RemoteConnection.OpenAsync(resolved, options, cancellationToken).ConfigureAwait(false);
        return new RemoteDevice(connection);
    }

    internal static string? ReadToken(RemoteDeviceOptions options, string address)
    {
        if (options.Token != null) return CheckToken(options.Token, "RemoteDeviceOptions.Token", address);
        var file = options.TokenFile;
        string source = "RemoteDeviceOptions.TokenFile";
        if (file == null)
        {
            var env = Environment.GetEnvironmentVariable(TokenVariable);
            if (!string.IsNullOrEmpty(env)) return CheckToken(env, TokenVariable, address);
            file = Environment.GetEnvironmentVariable(TokenFileVariable);
            source = TokenFileVariable;
            if (string.IsNullOrEmpty(file)) return null;
        }
        try
        {
            return CheckToken(File.ReadAllText(file), $"{source} ({file})", address);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeviceConnectionException(address, $"cannot read the token file {file} named by {source}: {e.Message}", e);
        }
    }

    static string CheckToken(string token, string source, string address)
    {
        var t = token.Trim();
        if (t.Length == 0) throw new DeviceConnectionException(address, $"the token from {source} is empty");
        if (t.Any(c => c < 0x21 || c > 0x7e)) throw new DeviceConnectionException(address, $"the token from {source} has spaces or characters outside printable ASCII, which an HTTP header cannot carry");
        return t;
    }
}
