using System.Diagnostics;
using XlaGen.Tests;
using XlaGen.Tests.Pjrt;

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
    public void APjrtPluginIsDescribedWithItsDevicesAndApiVersions()
    {
        // The C test double of the PJRT C API (two devices of 1 GiB, API 0.94), loaded by path.
        var plugin = TestPluginBuild.Require();
        var r = Xlagen.Run("devices", "pjrt:" + plugin);
        Assert.True(r.Code == 0, r.ToString());
        Assert.StartsWith($"pjrt:{plugin}: testpjrt (XlaGen PJRT test double)", r.Stdout);
        Assert.Contains("Platform testpjrt test double 1, 2 device(s)", r.Stdout);
        Assert.Contains("PJRT C API 0.94 (plugin), 0.94 (XlaGen)", r.Stdout);
        Assert.Contains("device 10: XlaGen PJRT test double, memory 1.0 GiB", r.Stdout);
        Assert.Contains("device 11: XlaGen PJRT test double, memory 1.0 GiB", r.Stdout);
        Assert.Contains($"pjrt_plugin: {plugin}", r.Stdout);
    }

    [Fact]
    public void AMissingPluginExitsWithTheDeviceCodeNamingThePath()
    {
        var r = Xlagen.Run("devices", "pjrt:/nonexistent/libpjrt_nothing.so");
        Assert.True(r.Code == 4, r.ToString());
        Assert.Contains("xlagen devices: cannot open device pjrt:/nonexistent/libpjrt_nothing.so: ", r.Stderr);
        // The loader's own reason names the path too.
        const string lead = "libpjrt_nothing.so: ";
        Assert.Contains("/nonexistent/libpjrt_nothing.so", r.Stderr[(r.Stderr.IndexOf(lead, StringComparison.Ordinal) + lead.Length)..]);
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

            // hlo run on the served device: the corpus module's stated result (x = {{1,2},{3,4}}, y = ones -> dot/2).
            if (Corpus.Available)
            {
                XlaGen.Data.Npy.Write(Path.Combine(dir, "x.npy"), Tensor<float>.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2));
                XlaGen.Data.Npy.Write(Path.Combine(dir, "y.npy"), Tensor<float>.FromArray(new float[] { 1, 1, 1, 1 }, 2, 2));
                var run = Xlagen.Run("hlo", "run", Path.Combine(Corpus.Root!, "pb", "xla-rs-fn_hlo.pb"), "--input", $"0={dir}/x.npy", "--input", $"1={dir}/y.npy",
                    "--device", address, "--token-file", tokenFile, "--out", Path.Combine(dir, "out"));
                Assert.True(run.Code == 0, run.ToString() + "\nserver log:\n" + log);
                Assert.Contains($"on cpu ({address})", run.Stdout);
                Assert.Equal(new float[] { 1.5f, 1.5f, 3.5f, 3.5f }, XlaGen.Data.Npy.Read<float>(Path.Combine(dir, "out", "output-0.npy")).Data);
            }

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
