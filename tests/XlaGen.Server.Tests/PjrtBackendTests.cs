using XlaGen.Hlo;
using XlaGen.Tests.Pjrt;

namespace XlaGen.Server.Tests;

/// <summary>
/// xlagen-server with <c>--backend pjrt:PATH</c>: a missing plugin is a clear start-up error, and a plugin's client is
/// hosted behind the same protocol. The plugin here is the C test double of the PJRT C API (identity programs only, it
/// computes nothing); what it shows is that the server drives a PJRT client end to end: handshake and Describe from
/// the plugin, uploads and downloads over gRPC and the bulk channel, compile, execute with donation, the memory budget
/// from the plugin's memory numbers.
/// </summary>
public class PjrtBackendTests
{
    [Fact]
    public async Task AMissingPluginStopsTheServerWithTheReason()
    {
        var (code, output, error) = await CommandLineTests.Run(new Dictionary<string, string>(), "--backend", "pjrt:/nonexistent/libtpu.so");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("--backend pjrt:/nonexistent/libtpu.so: PJRT plugin /nonexistent/libtpu.so does not exist", error);
    }

    [Fact]
    public async Task ALibraryThatIsNoPluginStopsTheServerWithTheReason()
    {
        var libc = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(libc == null, "no libc.so.6 at the usual Debian paths");
        var (code, _, error) = await CommandLineTests.Run(new Dictionary<string, string>(), "--backend", "pjrt:" + libc);
        Assert.Equal(2, code);
        Assert.Contains("exports no GetPjrtApi", error);
    }

    [Fact]
    public async Task TheServerHostsAPjrtClient()
    {
        string plugin = TestPluginBuild.Require();
        await using var server = await ServerProcess.StartAsync("--backend", "pjrt:" + plugin);
        await using var device = await Devices.ConnectAsync(server.Address);

        Assert.Equal("testpjrt", device.Info.Platform);
        Assert.Equal(1L << 30, device.Info.MemoryBytes);
        var d = device.Describe();
        Assert.Equal(("testpjrt", "test double 1", "0.94"), (d.Platform, d.PlatformVersion, d.ApiVersion));
        Assert.Equal(new[] { 10, 11 }, d.Devices.Select(x => x.Id));
        Assert.Equal("2", d.Attributes["xla_version"]);
        Assert.Contains("Platform testpjrt test double 1, 2 device(s)", d.ToString());

        // identity program (c, a) <- (a, c) with a aliased to output 1; a large argument goes over the bulk channel
        var b = new HloBuilder("identity");
        var a = b.Parameter(ElementType.F32, new Dim[] { 200_000 }, "a");
        var c = b.Parameter(ElementType.S32, new Dim[] { 2 }, "c");
        var module = b.BuildModule(b.Tuple(c, a));
        module.InputOutputAliases.Add(new InputOutputAlias(new long[] { 1 }, 0, Array.Empty<long>()));
        var big = Enumerable.Range(0, 200_000).Select(i => i * 0.5f).ToArray();

        using var exe = device.CompileHlo(module);
        var argA = device.Upload(new Tensor<float>(new long[] { 200_000 }, big));
        var argC = device.Upload(new Tensor<int>(new long[] { 2 }, new[] { 7, 8 }));
        Assert.True(device.BulkTransfers >= 1, "the 800 KB upload should use the bulk data channel");
        var outputs = exe.Execute(new[] { argA, argC }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.True(argA.IsDeleted);
        Assert.Equal(new[] { 7, 8 }, ((Tensor<int>)device.Download(outputs[0])).Data);
        Assert.Equal(big, ((Tensor<float>)device.Download(outputs[1])).Data);

        // the server checks arguments with the shared check before the plugin sees them
        var e = Assert.ThrowsAny<Exception>(() => exe.Execute(new[] { argC, argC }));
        Assert.Contains("argument 0 (a): expected f32[200000], got s32[2]", e.Message);
        foreach (var o in outputs) o.Dispose();
        argC.Dispose();
    }
}
