using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;

namespace XlaGen.Server.Tests;

/// <summary>A server started with --token-file (and JSON logs) refuses every call without the right token.</summary>
public sealed class TokenServer : IAsyncLifetime
{
    public const string Token = "s3cret-Token_for.tests";
    readonly string directory = Directory.CreateTempSubdirectory("xlagen-token-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public string TokenFile => Path.Combine(directory, "token");

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(TokenFile, Token + "\n");
        Server = await ServerProcess.StartAsync("--token-file", TokenFile, "--log-format", "json");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }
}

public class TokenTests(TokenServer fixture) : IClassFixture<TokenServer>
{
    string Address => fixture.Server.Address;

    [Fact]
    public async Task MissingTokenIsRefusedWithAClearMessage()
    {
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(Address));
        Assert.Contains($"xlagen-server at {Address} refused the connection", e.Message);
        Assert.Contains("requires a bearer token", e.Message);
        Assert.Contains("RemoteDeviceOptions.Token", e.Message);
        Assert.Equal(StatusCode.Unauthenticated, Assert.IsType<RpcException>(e.InnerException).StatusCode);
    }

    [Fact]
    public async Task WrongTokenIsRefused()
    {
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(Address, new RemoteDeviceOptions { Token = "s3cret-Token_for.test" }));
        Assert.Contains("the bearer token is wrong", e.Message);
    }

    [Fact]
    public async Task RightTokenWorksFromOptionsOrFile()
    {
        await using var byValue = await Devices.ConnectAsync(Address, new RemoteDeviceOptions { Token = TokenServer.Token });
        await using var byFile = await Devices.ConnectAsync(Address, new RemoteDeviceOptions { TokenFile = fixture.TokenFile });
        foreach (var device in new[] { byValue, byFile })
        {
            using var exe = device.CompileHlo(TestModules.AddVectors(2));
            var x = device.Upload(new Tensor<float>(new long[] { 2 }, new[] { 1f, 2f }));
            var y = exe.Execute(new[] { x, x })[0];
            Assert.Equal(new[] { 2f, 4f }, ((Tensor<float>)device.Download(y)).Data);
        }
    }

    [Fact]
    public async Task EveryCallNeedsTheTokenHealthChecksAndStreamsIncluded()
    {
        using var anonymous = new RawClient(Address);
        await Expect.Status(StatusCode.Unauthenticated, () => anonymous.Client.GetVersionAsync(new GetVersionRequest(), anonymous.Options()).ResponseAsync, "requires a bearer token");
        await Expect.Status(StatusCode.Unauthenticated, () => anonymous.Client.GetServerStatsAsync(new GetServerStatsRequest(), anonymous.Options()).ResponseAsync);
        await Expect.Status(StatusCode.Unauthenticated, () => anonymous.UploadAsync("no-session", TestModules.Random(1, 1000)), "requires a bearer token");
        await Expect.Status(StatusCode.Unauthenticated, () => anonymous.CallRawAsync("Compile", new byte[] { 0xff, 0xff, 0xff }), "requires a bearer token");

        using var channel = GrpcChannel.ForAddress(fixture.Server.HttpAddress);
        var health = new Health.HealthClient(channel);
        await Expect.Status(StatusCode.Unauthenticated, () => health.CheckAsync(new HealthCheckRequest()).ResponseAsync);
        var ok = await health.CheckAsync(new HealthCheckRequest(), new Metadata { { "authorization", "Bearer " + TokenServer.Token } });
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, ok.Status);

        using var basic = new RawClient(Address, authorization: "Basic " + TokenServer.Token);
        await Expect.Status(StatusCode.Unauthenticated, () => basic.Client.GetVersionAsync(new GetVersionRequest(), basic.Options()).ResponseAsync, "must be 'Bearer <token>'");
        using var authorized = new RawClient(Address, token: TokenServer.Token);
        Assert.Equal("cpu", (await authorized.Client.GetVersionAsync(new GetVersionRequest(), authorized.Options())).Platform);
    }

    [Fact]
    public async Task BulkTransfersNeedATicketFromAnAuthenticatedCall()
    {
        using var anonymous = new RawClient(Address);
        await Expect.Status(StatusCode.Unauthenticated, () => anonymous.BeginUploadAsync("no-session", Hlo.ElementType.U8, 1 << 20), "requires a bearer token");
        await using var device = await Devices.ConnectAsync(Address, new RemoteDeviceOptions { Token = TokenServer.Token });
        var source = BulkTransferTests.RandomTensor(Hlo.ElementType.F32, 1 << 18, 11);
        using var buffer = await device.UploadAsync(source);
        Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
        Assert.Equal(2, device.BulkTransfers);
        // The data port itself takes no token: without a ticket from an authenticated call it moves nothing.
        using var data = await RawDataClient.ConnectAsync(device.Server.DataPort);
        await data.SendRequestAsync(DataFrames.Upload, new byte[DataFrames.TicketBytes], 8);
        await data.SendPatternAsync(8);
        await data.ExpectErrorAsync(StatusCode.PermissionDenied, "never issued");
    }

    [Fact]
    public async Task LogsAreOneJsonObjectPerLineAndNeverContainTheToken()
    {
        await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(Address, new RemoteDeviceOptions { Token = "wrong-token" }));
        await using (var device = await Devices.ConnectAsync(Address, new RemoteDeviceOptions { Token = TokenServer.Token, ClientName = "json log test" }))
        {
            device.CompileHlo(TestModules.AddVectors(3)).Dispose();
        }
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!fixture.Server.Log.Contains("\"EventId\":4,", StringComparison.Ordinal) && DateTime.UtcNow < deadline) await Task.Delay(20);
        var lines = fixture.Server.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("xlagen-server listening on", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(lines);
        var events = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(events, e => e.GetProperty("EventId").GetInt32() == 3 && e.GetProperty("State").GetProperty("ClientName").GetString() == "json log test");
        Assert.Contains(events, e => e.GetProperty("EventId").GetInt32() == 6 && e.GetProperty("State").GetProperty("Module").GetString() == "add_vectors");
        Assert.Contains(events, e => e.GetProperty("EventId").GetInt32() == 9 && e.GetProperty("State").GetProperty("Detail").GetString() == "the bearer token is wrong");
        Assert.DoesNotContain(TokenServer.Token, fixture.Server.Log);
        Assert.DoesNotContain("wrong-token", fixture.Server.Log);
    }
}

/// <summary>A server with TLS from PEM files: clients trusting its certificate connect over grpcs://.</summary>
public sealed class TlsServer : IAsyncLifetime
{
    readonly string directory = Directory.CreateTempSubdirectory("xlagen-tls-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public string CertificateFile => Path.Combine(directory, "server.crt");

    public async ValueTask InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=xlagen-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllTextAsync(CertificateFile, certificate.ExportCertificatePem());
        var keyFile = Path.Combine(directory, "server.key");
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        Server = await ServerProcess.StartAsync("--tls-cert", CertificateFile, "--tls-key", keyFile);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }
}

public class TlsTests(TlsServer fixture) : IClassFixture<TlsServer>
{
    [Fact]
    public async Task ClientTrustingTheCertificateConnectsOverTls()
    {
        Assert.StartsWith("grpcs://127.0.0.1:", fixture.Server.Address);
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { TrustedCertificateFile = fixture.CertificateFile });
        using var exe = device.CompileHlo(TestModules.AddVectors(2));
        var x = device.Upload(new Tensor<float>(new long[] { 2 }, new[] { 3f, 4f }));
        Assert.Equal(new[] { 6f, 8f }, ((Tensor<float>)device.Download(exe.Execute(new[] { x, x })[0])).Data);
    }

    [Fact]
    public async Task BulkTransfersUseTlsOnTheDataPort()
    {
        var notices = new List<string>();
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { TrustedCertificateFile = fixture.CertificateFile, Log = notices.Add });
        var source = BulkTransferTests.RandomTensor(Hlo.ElementType.F64, 100_000, 12);
        using var buffer = await device.UploadAsync(source);
        Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
        Assert.Equal(2, device.BulkTransfers);
        Assert.Empty(notices);
        Assert.Null(device.BulkChannelProblem);

        // Cleartext on the TLS data port gets nowhere (the TLS handshake fails), and the server keeps serving.
        using (var plain = await RawDataClient.ConnectAsync(device.Server.DataPort))
        {
            var request = new byte[DataFrames.RequestBytes];
            DataFrames.WriteRequest(request, DataFrames.Download, new byte[DataFrames.TicketBytes], 8);
            await plain.SendAsync(request);
            await plain.ExpectClosedAsync();
        }
        // ... and this client's transfers go on over TLS (a pooled connection).
        using var again = await device.UploadAsync(source);
        Assert.Equal(3, device.BulkTransfers);
    }

    [Fact]
    public async Task UntrustedCertificateOrCleartextIsRefused()
    {
        var untrusted = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { ConnectTimeout = TimeSpan.FromSeconds(5) }));
        Assert.Contains($"the TLS handshake with xlagen-server at {fixture.Server.Address} failed", untrusted.Message);
        Assert.Contains("TrustedCertificateFile", untrusted.Message);

        var cleartext = fixture.Server.Address.Replace("grpcs://", "grpc://", StringComparison.Ordinal);
        var plain = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(cleartext, new RemoteDeviceOptions { ConnectTimeout = TimeSpan.FromSeconds(5) }));
        Assert.Contains(cleartext, plain.Message);
        Assert.Contains("For a server with TLS use grpcs://", plain.Message);
    }
}
