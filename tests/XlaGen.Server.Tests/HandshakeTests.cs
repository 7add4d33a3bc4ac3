using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;

namespace XlaGen.Server.Tests;

/// <summary>The handshake: versions, device info, address resolution and the errors a user meets first.</summary>
public class HandshakeTests(SharedServer shared)
{
    [Fact]
    public async Task ConnectReportsTheServersDevice()
    {
        await using var device = await Devices.ConnectAsync(shared.Address);
        var local = Devices.Cpu().Info;
        Assert.Equal("cpu", device.Info.Platform);
        Assert.Equal(local.DeviceKind, device.Info.DeviceKind);
        Assert.Equal(1, device.Info.DeviceCount);
        Assert.True(device.Info.MemoryBytes > 0);
        Assert.Equal(shared.Address, device.Info.Attributes!["address"]);
        Assert.Equal("grpc", device.Info.Attributes["transport"]);
        Assert.Equal(4, device.ProtocolVersion);
        Assert.Equal(1, device.Server.MinProtocolVersion);
        Assert.Equal(4, device.Server.MaxProtocolVersion);
        Assert.True(device.Server.DataPort > 0);
        Assert.Equal(device.Server.DataPort.ToString(System.Globalization.CultureInfo.InvariantCulture), device.Info.Attributes["data_port"]);
        Assert.Equal(TimeSpan.FromSeconds(20), device.Server.SessionLease);
        Assert.Equal(1L << 30, device.Server.MaxSessionBytes);
        Assert.Equal(64L << 20, device.Server.MaxMessageBytes);
        Assert.Matches("^[0-9a-f]{16}$", device.Server.InstanceId);
        Assert.Matches("^[0-9a-f]{32}$", device.SessionId);
        Assert.Equal(0, device.Reconnects);
    }

    [Fact]
    public async Task DescribeShowsTheServersPlatformAndDevices()
    {
        await using var device = await Devices.ConnectAsync(shared.Address);
        var local = Devices.Cpu().Describe();
        var d = device.Describe();
        Assert.Equal("cpu", d.Platform);
        Assert.Equal(local.PlatformVersion, d.PlatformVersion);
        var only = Assert.Single(d.Devices);
        Assert.Equal(local.Devices[0].Kind, only.Kind);
        Assert.Equal(local.Devices[0].BytesLimit, only.BytesLimit);
        Assert.Null(only.Attributes);   // the platform's attributes are shown once, not per device
        Assert.Equal(local.Attributes["cores"], d.Attributes["cores"]);
        Assert.Equal("4", d.Attributes["protocol_version"]);
        Assert.Contains(shared.Address, d.Attributes["server"]);
        Assert.Contains($"  device 0: {local.Devices[0].Kind}", d.ToString());
    }

    [Fact]
    public async Task GetVersionNeedsNoSessionAndDescribesTheBackend()
    {
        using var raw = new RawClient(shared.Address);
        var v = await raw.Client.GetVersionAsync(new GetVersionRequest { MinProtocolVersion = 1, MaxProtocolVersion = 1 }, raw.Options());
        Assert.Equal("cpu", v.Platform);
        Assert.False(string.IsNullOrEmpty(v.ServerVersion));
        Assert.False(string.IsNullOrEmpty(v.PlatformVersion));
        var d = Assert.Single(v.Devices);
        Assert.Equal(0, d.Id);
        Assert.True(d.MemoryBytes > 0);
        Assert.Equal(Devices.Cpu().Info.Attributes!["cores"], d.Attributes["cores"]);
    }

    [Fact]
    public async Task ServerRefusesAProtocolVersionItDoesNotSpeak()
    {
        using var raw = new RawClient(shared.Address);
        await Expect.Status(StatusCode.FailedPrecondition,
            () => raw.Client.OpenSessionAsync(new OpenSessionRequest { ProtocolVersion = 99 }, raw.Options()).ResponseAsync,
            "protocol version 99 is not supported", "speaks 1..4");
    }

    [Fact]
    public void VersionMismatchSaysWhichSideToUpgrade()
    {
        ServerVersionInfo Server(int min, int max) => new("grpc://tpu-7:8470", min, max, "9.9.9", "tpu", "libtpu", Array.Empty<RemoteDeviceDescription>(), "0", TimeSpan.FromSeconds(60), 0, 0);

        var newer = Assert.Throws<DeviceConnectionException>(() => RemoteClusterResolver.NegotiateProtocolVersion(Server(7, 9)));
        Assert.Equal("grpc://tpu-7:8470", newer.Address);
        Assert.Contains("xlagen-server 9.9.9 at grpc://tpu-7:8470 speaks device protocol versions 7..9, this client speaks 1..4", newer.Message);
        Assert.Contains("upgrade the XlaGen runtime package", newer.Message);

        var older = Assert.Throws<DeviceConnectionException>(() => RemoteClusterResolver.NegotiateProtocolVersion(Server(0, 0)));
        Assert.Contains("upgrade xlagen-server on that host", older.Message);

        Assert.Equal(4, RemoteClusterResolver.NegotiateProtocolVersion(Server(0, 5)));
        // A version-1 server (before the bulk data channel) is still spoken to, at version 1.
        Assert.Equal(1, RemoteClusterResolver.NegotiateProtocolVersion(Server(1, 1)));
    }

    [Fact]
    public async Task HealthServiceReportsServing()
    {
        using var channel = GrpcChannel.ForAddress(shared.Server.HttpAddress);
        var health = new Health.HealthClient(channel);
        var response = await health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Theory]
    [InlineData("ftp://host:1", "the scheme must be grpc://")]
    [InlineData("grpc://", "is not a device address")]
    [InlineData("grpc://host:1/path", "is not a device address")]
    [InlineData("grpc://host:notaport", "is not a device address")]
    public void MalformedAddressesAreNamed(string address, string fragment)
    {
        var e = Assert.Throws<DeviceConnectionException>(() => RemoteClusterResolver.ParseAddress(address));
        Assert.Contains(address, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Theory]
    [InlineData("grpc://10.0.0.2:9000", "http://10.0.0.2:9000/")]
    [InlineData("grpcs://tpu.example:443", "https://tpu.example/")]
    [InlineData("10.0.0.2", "http://10.0.0.2:8470/")]
    [InlineData("grpc://[::1]", "http://[::1]:8470/")]
    [InlineData("tpu-host:1234", "http://tpu-host:1234/")]
    public void AddressesMapToEndpoints(string address, string endpoint) =>
        Assert.Equal(endpoint, RemoteClusterResolver.ParseAddress(address).ToString());

    [Fact]
    public async Task ResolverTakesTheAddressFromXlagenDevice()
    {
        var saved = Environment.GetEnvironmentVariable(RemoteClusterResolver.AddressVariable);
        try
        {
            Environment.SetEnvironmentVariable(RemoteClusterResolver.AddressVariable, null);
            var missing = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync());
            Assert.Contains("no device address", missing.Message);
            Assert.Contains("XLAGEN_DEVICE", missing.Message);

            Environment.SetEnvironmentVariable(RemoteClusterResolver.AddressVariable, shared.Address);
            Assert.Equal(shared.Address, RemoteClusterResolver.ResolveAddress());
            Assert.Equal("grpc://elsewhere:1", RemoteClusterResolver.ResolveAddress("grpc://elsewhere:1"));
            await using var device = await Devices.ConnectAsync();
            Assert.Equal(shared.Address, device.Address);
        }
        finally
        {
            Environment.SetEnvironmentVariable(RemoteClusterResolver.AddressVariable, saved);
        }
    }

    [Fact]
    public async Task UnreachableServerIsAClearError()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var address = $"grpc://127.0.0.1:{port}";
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(address, new RemoteDeviceOptions { ConnectTimeout = TimeSpan.FromSeconds(3) }));
        Assert.Contains($"cannot reach xlagen-server at {address}", e.Message);
        Assert.Contains("is it running", e.Message);
        Assert.Equal(address, e.Address);
    }
}

/// <summary>Real servers that speak other protocol versions than this client (XLAGEN_SERVER_TEST_PROTOCOL_RANGE):
/// Devices.ConnectAsync names the server, both ranges and which side to upgrade; a server whose range overlaps the
/// client's only at version 1 is spoken to at version 1.</summary>
public class ProtocolRangeTests
{
    static Task<ServerProcess> StartSpeaking(string range) =>
        ServerProcess.StartAsync(new Dictionary<string, string> { ["XLAGEN_SERVER_TEST_PROTOCOL_RANGE"] = range });

    static async Task<string> ServerVersionOf(ServerProcess server)
    {
        using var raw = new RawClient(server.Address);
        return (await raw.Client.GetVersionAsync(new GetVersionRequest(), raw.Options())).ServerVersion;
    }

    [Fact]
    public async Task ANewerServerTellsTheUserToUpgradeTheRuntime()
    {
        await using var server = await StartSpeaking("7..9");
        var version = await ServerVersionOf(server);
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(server.Address));
        Assert.Equal(server.Address, e.Address);
        Assert.Equal(
            $"xlagen-server {version} at {server.Address} speaks device protocol versions 7..9, this client speaks 1..4; " +
            "the server is newer than this client: upgrade the XlaGen runtime package, or run an older xlagen-server",
            e.Message);
        Assert.Contains("advertising device protocol versions 7..9 instead of 1..4", server.Log);

        // The server holds to its range: a client that ignores GetVersion cannot open a session at its own version.
        using var raw = new RawClient(server.Address);
        await Expect.Status(StatusCode.FailedPrecondition,
            () => raw.Client.OpenSessionAsync(new OpenSessionRequest { ProtocolVersion = 2 }, raw.Options()).ResponseAsync,
            "protocol version 2 is not supported", "speaks 7..9");
    }

    [Fact]
    public async Task AnOlderServerTellsTheUserToUpgradeTheServer()
    {
        await using var server = await StartSpeaking("0..0");
        var version = await ServerVersionOf(server);
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(server.Address));
        Assert.Equal(server.Address, e.Address);
        Assert.Equal(
            $"xlagen-server {version} at {server.Address} speaks device protocol versions 0..0, this client speaks 1..4; " +
            "the server is older than this client: upgrade xlagen-server on that host, or use an older XlaGen runtime",
            e.Message);
    }

    [Fact]
    public async Task AVersionOneServerIsSpokenToAtVersionOneWithoutTheDataChannel()
    {
        await using var server = await StartSpeaking("1..1");
        var notices = new List<string>();
        await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { Log = notices.Add });
        Assert.Equal(1, device.ProtocolVersion);
        Assert.Equal((1, 1), (device.Server.MinProtocolVersion, device.Server.MaxProtocolVersion));
        var source = BulkTransferTests.RandomTensor(XlaGen.Hlo.ElementType.F32, 1 << 18, 3);   // 1 MiB: bulk at version 2
        using var buffer = await device.UploadAsync(source);
        Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
        Assert.Equal((0L, 2L), (device.BulkTransfers, device.StreamedTransfers));
        Assert.Empty(notices);
    }

    [Theory]
    [InlineData("7")]
    [InlineData("9..7")]
    [InlineData("a..b")]
    [InlineData("-1..2")]
    public async Task AMalformedRangeStopsTheServerWithAUsageError(string range)
    {
        var (code, output, error) = await CommandLineTests.Run(new Dictionary<string, string> { ["XLAGEN_SERVER_TEST_PROTOCOL_RANGE"] = range });
        Assert.Equal(2, code);
        Assert.Contains($"XLAGEN_SERVER_TEST_PROTOCOL_RANGE={range}: use MIN..MAX", error);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task VersionPrintsTheAdvertisedRange()
    {
        var (code, output, _) = await CommandLineTests.Run(new Dictionary<string, string> { ["XLAGEN_SERVER_TEST_PROTOCOL_RANGE"] = "7..9" }, "--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^xlagen-server \S+ \(device protocol 7\.\.9\)", output);
    }
}
