using System.Diagnostics;
using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;

namespace XlaGen.Server.Tests;

/// <summary>A server with few sessions and a short lease.</summary>
public sealed class ShortLeaseServer : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Server = await ServerProcess.StartAsync("--max-sessions", "3", "--session-lease", "1s");

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Session limits and leases: a vanished client's state is freed; a live client keeps its session.</summary>
public class SessionLifecycleTests(ShortLeaseServer fixture) : IClassFixture<ShortLeaseServer>
{
    static async Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        T value;
        while (!done(value = await probe()) && clock.Elapsed < timeout) await Task.Delay(50);
        return value;
    }

    [Fact]
    public async Task SessionsBeyondTheLimitAreRefusedUntilOneCloses()
    {
        using var raw = new RawClient(fixture.Server.Address);
        // Sessions of other tests in this class expire within a second; wait for a clean slate.
        await Eventually(() => raw.StatsAsync(), s => s.Sessions == 0, TimeSpan.FromSeconds(5));
        var sessions = new List<string>();
        for (int i = 0; i < 3; i++) sessions.Add(await raw.OpenSessionAsync());
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.OpenSessionAsync(), "maximum of 3 sessions (--max-sessions)");
        var e = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectAsync(fixture.Server.Address));
        Assert.Contains("cannot open a session", e.Message);
        Assert.Contains("maximum of 3 sessions", e.Message);
        var closed = await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = sessions[0] }, raw.Options());
        Assert.Equal(0, closed.ReleasedHandles);
        sessions[0] = await raw.OpenSessionAsync();
        foreach (var s in sessions) await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, raw.Options());
    }

    [Fact]
    public async Task AVanishedClientsStateIsFreedWhenItsLeaseRunsOut()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync("vanishing client");
        var buffer = await raw.UploadAsync(session, TestModules.Random(1, 256, 1024));   // 1 MiB
        await raw.CompileAsync(session, TestModules.AddVectors(7));
        // The buffer and the compiled program (its estimated size) count against the session.
        Assert.Equal((1 << 20) + TestModules.ProgramCharge(TestModules.AddVectors(7)), (await raw.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = session }, raw.Options())).BytesHeld);

        // No calls from now on: the lease (1 s) runs out and the server frees the session.
        await Task.Delay(1500);
        var e = await Expect.Status(StatusCode.NotFound, () => raw.DownloadAsync(session, buffer), "is not open on this server");
        Assert.Equal("session-not-found", e.Trailers.GetValue("xlagen-error"));
        var stats = await Eventually(() => raw.StatsAsync(), s => s.Sessions == 0, TimeSpan.FromSeconds(5));
        Assert.Equal(0, stats.BytesHeld);
        Assert.Equal(0, stats.BufferHandles);
        Assert.Equal(0, stats.ExecutableHandles);
        Assert.Contains("session " + session[..8] + $" of 'vanishing client' expired after 1000 ms without calls: released 2 handles, {(1 << 20) + TestModules.ProgramCharge(TestModules.AddVectors(7))} bytes", fixture.Server.Log);
    }

    [Fact]
    public async Task ALiveDeviceKeepsItsSessionAcrossManyLeases()
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        var x = await device.UploadAsync(TestModules.Random(1, 4));
        var session = device.SessionId;
        await Task.Delay(2500);   // two and a half leases without a single operation
        using var exe = await device.CompileHloAsync(TestModules.AddVectors(4));
        var y = (await exe.ExecuteAsync(new DeviceBuffer[] { x, x }))[0];
        Assert.Equal(TestModules.Random(1, 4).Data.Select(v => v + v), ((Tensor<float>)await device.DownloadAsync(y)).Data);
        Assert.Equal(session, device.SessionId);
        Assert.Equal(0, device.Reconnects);
    }
}

/// <summary>SIGTERM lets running executions finish and their results reach the client; then the process exits 0.</summary>
public class GracefulShutdownTests
{
    [Fact]
    public async Task RunningExecutionsFinishOnSigterm()
    {
        var server = await ServerProcess.StartAsync("--log-level", "debug");
        try
        {
            await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { Reconnect = false });
            const long size = 96;
            using var exe = await device.CompileHloAsync(TestModules.SlowLoop(size));
            var v0 = TestModules.Random(1, size, size);
            var m = TestModules.Random(2, size, size);
            var args = new List<DeviceBuffer>
            {
                await device.UploadAsync(Tensor<int>.Scalar(1)),
                await device.UploadAsync(v0),
                await device.UploadAsync(m),
            };
            // Calibrate the loop count so one execution takes a few seconds here (the fastest of three trial runs, so
            // a machine busy with other work makes the real run longer, never too short).
            var calibration = await device.UploadAsync(Tensor<int>.Scalar(200));
            double fastest = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                (await exe.ExecuteAsync(new[] { calibration, args[1], args[2] }))[0].Dispose();
                fastest = Math.Min(fastest, clock.Elapsed.TotalMilliseconds);
            }
            int count = (int)Math.Clamp(200 * 2500 / Math.Max(0.5, fastest), 200, 2_000_000);
            args[0] = await device.UploadAsync(Tensor<int>.Scalar(count));

            using var raw = new RawClient(server.Address);
            var running = exe.ExecuteToHostAsync(args);
            var wait = Stopwatch.StartNew();
            while ((await raw.StatsAsync()).ExecutionsInFlight == 0 && wait.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(10);
            Assert.False(running.IsCompleted, "the execution finished before the shutdown began; the calibration is off");

            var terminatedAt = Stopwatch.GetTimestamp();
            var exit = server.TerminateAsync(TimeSpan.FromSeconds(60));
            var result = (Tensor<float>)(await running)[0];
            var finishedAt = Stopwatch.GetTimestamp();
            Assert.Equal(0, await exit);
            Assert.True(finishedAt > terminatedAt);

            var cpu = Devices.Cpu();
            using var local = cpu.CompileHlo(TestModules.SlowLoop(size));
            var expected = (Tensor<float>)cpu.Download(local.Execute(new[] { cpu.Upload(Tensor<int>.Scalar(count)), cpu.Upload(v0), cpu.Upload(m) })[0]);
            Assert.Equal(expected.Data, result.Data);
            Assert.Contains("shutting down: no new calls; waiting up to 30000 ms for", server.Log);
            Assert.Contains("stopped: closed 1 sessions", server.Log);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}

/// <summary>The command line: help that explains every option, and clear errors for bad options.</summary>
public class CommandLineTests
{
    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs the server to its exit (with extra environment variables) and returns its code and output.</summary>
    internal static async Task<(int Code, string Out, string Err)> Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment) info.Environment[name] = value;
        info.ArgumentList.Add(ServerProcess.ServerDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task HelpExplainsEveryOption()
    {
        var (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        foreach (var option in new[]
        {
            "--listen HOST:PORT", "--backend NAME", "--token-file PATH", "--tls-cert PATH", "--tls-key PATH", "--max-message-bytes SIZE",
            "--max-session-bytes SIZE", "--max-sessions N", "--session-lease DURATION", "--compile-cache N", "--shutdown-timeout DURATION",
            "--log-format text|json", "--log-level LEVEL", "--version", "--help", "--data-listen HOST:PORT|off", "--data-ticket-lifetime DURATION",
            "--max-execution-time DURATION", "--max-device-bytes SIZE", "--max-program-cost N", "--max-instructions N",
            "--data-auth-timeout DURATION", "--data-max-unauthenticated N", "--data-max-unauthenticated-per-address N",
            "--compile-cache-bytes SIZE",
        })
        {
            Assert.Contains(option, output);
        }
        Assert.Contains("default 127.0.0.1:8470", output);
        Assert.Contains("xlagen-server listening on http://HOST:PORT", output);
        Assert.Contains("ssh -L 8470:127.0.0.1:8470", output);
    }

    [Theory]
    [InlineData("--frobnicate", "unknown option --frobnicate")]
    [InlineData("--listen", "--listen needs a value")]
    [InlineData("--listen 10.0.0.1", "use HOST:PORT")]
    [InlineData("--listen example.com:80", "'example.com' is not an IP address")]
    [InlineData("--listen 127.0.0.1:70000", "'70000' is not a port")]
    [InlineData("--backend grpc://127.0.0.1:8470", "not another server's")]
    [InlineData("--backend pjrt:", "names no plugin")]
    [InlineData("--backend tpu", "unknown backend")]
    [InlineData("--max-session-bytes 12XB", "unknown unit 'XB'")]
    [InlineData("--max-program-cost lots", "--max-program-cost lots: not a number of operations (use 1000000, 5e11, 500G or 2T)")]
    [InlineData("--max-instructions -1", "--max-instructions -1: use a whole number of at least 0")]
    [InlineData("--max-message-bytes 1KiB", "is too small")]
    [InlineData("--session-lease soon", "not a duration")]
    [InlineData("--session-lease 10ms", "too short")]
    [InlineData("--max-sessions 0", "at least 1")]
    [InlineData("--log-format xml", "use text or json")]
    [InlineData("--tls-cert a.pem", "--tls-cert and --tls-key go together")]
    [InlineData("--token-file /nonexistent/token", "--token-file /nonexistent/token")]
    [InlineData("--data-listen nowhere", "--data-listen nowhere: use HOST:PORT")]
    [InlineData("--data-ticket-lifetime 5ms", "too short")]
    public async Task BadOptionsExitWithCode2AndSayWhy(string args, string message)
    {
        var (code, output, error) = await Run(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task VersionPrintsServerAndProtocol()
    {
        var (code, output, _) = await Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^xlagen-server \S+ \(device protocol 1\.\.4\)", output);
    }

    [Fact]
    public async Task APortInUseIsAClearError()
    {
        await using var first = await ServerProcess.StartAsync();
        var (code, _, error) = await Run("--listen", $"127.0.0.1:{first.Port}");
        Assert.Equal(1, code);
        Assert.Contains($"cannot listen on 127.0.0.1:{first.Port}", error);
    }

    [Fact]
    public async Task ADataPortInUseIsAClearError()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var (code, _, error) = await Run("--listen", "127.0.0.1:0", "--data-listen", $"127.0.0.1:{port}");
        Assert.Equal(1, code);
        Assert.Contains($"cannot listen on 127.0.0.1:{port} (--data-listen)", error);
    }
}

/// <summary>docs/server.md quotes the --help output; it must stay what the server prints.</summary>
public class DocumentationTests
{
    [Fact]
    public async Task ServerDocQuotesTheCurrentHelp()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "XlaGen.sln"))) dir = dir.Parent;
        Assert.SkipWhen(dir == null, "the repository (XlaGen.sln) is not above the test binaries");
        var doc = await File.ReadAllTextAsync(Path.Combine(dir!.FullName, "docs", "server.md"));
        const string heading = "## `xlagen-server --help`";
        int start = doc.IndexOf("```\n", doc.IndexOf(heading, StringComparison.Ordinal), StringComparison.Ordinal) + 4;
        int end = doc.IndexOf("```", start, StringComparison.Ordinal);
        var quoted = doc[start..end].TrimEnd();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(ServerProcess.ServerDll);
        info.ArgumentList.Add("--help");
        using var p = Process.Start(info)!;
        var help = (await p.StandardOutput.ReadToEndAsync()).TrimEnd();
        await p.WaitForExitAsync();
        Assert.Equal(help, quoted);
    }
}
