using System.Diagnostics;

namespace XlaGen.Tool.Tests;

/// <summary><c>xlagen devices</c> on the CPU executor and against a real xlagen-server started by <c>xlagen serve</c>
/// on loopback with a token; the exit codes of a device that is not there (4) and a malformed spec (2).</summary>
public class DevicesTests
{
    [Fact]
    public void TheCpuDeviceIsDescribed()
    {
        var r = Xlagen.Run("devices", "cpu");
        Assert.True(r.Code == 0, r.ToString());
        Assert.StartsWith("cpu: cpu (", r.Stdout);
        Assert.Contains("Platform cpu ", r.Stdout);
        Assert.Contains("device 0: ", r.Stdout);
        Assert.Contains($"cores: {Environment.ProcessorCount}", r.Stdout);
        Assert.Matches(@"memory \d+(\.\d)? (GiB|MiB)", r.Stdout);
    }

    [Fact]
    public void AMalformedSpecIsAUsageErrorListingTheForms()
    {
        var r = Xlagen.Run("devices", "tpu://host");
        Assert.Equal(2, r.Code);
        Assert.Contains("device 'tpu://host' is not one XlaGen knows", r.Stderr);
        Assert.Contains("grpc://host:port", r.Stderr);
    }

    [Fact]
    public void AServerThatIsNotThereExitsWithTheDeviceCode()
    {
        int port = FreePort();
        var r = Xlagen.Run("devices", $"grpc://127.0.0.1:{port}");
        Assert.True(r.Code == 4, r.ToString());
        Assert.Contains($"xlagen devices: cannot open device grpc://127.0.0.1:{port}", r.Stderr);
    }

    [Fact]
    public void AMissingTokenFileIsABadInput()
    {
        var r = Xlagen.Run("devices", "grpc://127.0.0.1:1", "--token-file", "/nonexistent/token");
        Assert.Equal(3, r.Code);
        Assert.Contains("--token-file /nonexistent/token: no such file", r.Stderr);
        r = Xlagen.Run("devices", "cpu", "--token-file", "/nonexistent/token");
        Assert.Equal(2, r.Code);
        Assert.Contains("--token-file and --ca-cert are for grpc:// and grpcs:// devices", r.Stderr);
    }

    [Fact]
    public async Task AServerStartedByXlagenServeIsDescribedWithItsToken()
    {
        var dir = Xlagen.TempDir();
        var tokenFile = Path.Combine(dir, "token");
        File.WriteAllText(tokenFile, "tool-test-" + Guid.NewGuid().ToString("N") + "\n");
        using var server = Process.Start(Xlagen.StartInfo(new[] { "serve", "--listen", "127.0.0.1:0", "--token-file", tokenFile }))!;
        var log = new System.Text.StringBuilder();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (log) log.AppendLine(e.Data);
            const string prefix = "xlagen-server listening on ";
            if (e.Data.StartsWith(prefix, StringComparison.Ordinal)) listening.TrySetResult(e.Data[prefix.Length..].Trim());
        };
        server.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null) lock (log) log.AppendLine(e.Data);
        };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            string listeningOn;
            try
            {
                listeningOn = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                throw new Xunit.Sdk.XunitException($"xlagen serve did not print its listening line within 60 s:\n{log}");
            }
            var uri = new Uri(listeningOn);
            string address = $"grpc://127.0.0.1:{uri.Port}";

            var r = Xlagen.Run("devices", address, "--token-file", tokenFile);
            Assert.True(r.Code == 0, r.ToString() + "\nserver log:\n" + log);
            Assert.StartsWith($"{address}: cpu (", r.Stdout);
            Assert.Contains("Platform cpu ", r.Stdout);
            Assert.Contains("device 0: ", r.Stdout);

            var refused = Xlagen.Run("devices", address);
            Assert.True(refused.Code == 4, refused.ToString());
            Assert.Contains($"xlagen devices: cannot open device {address}", refused.Stderr);
            Assert.Contains("token", refused.Stderr, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.WaitForExit(10_000);
            Directory.Delete(dir, recursive: true);
        }
    }

    static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
