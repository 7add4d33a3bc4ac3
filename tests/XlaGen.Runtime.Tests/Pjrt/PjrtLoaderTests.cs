using System.Diagnostics;
using XlaGen.Backends.Pjrt;

namespace XlaGen.Tests.Pjrt;

/// <summary>The loader's errors: each names the path and what to do.</summary>
[Collection(TestPluginCollection.Name)]
public class PjrtLoaderTests
{
    [Fact]
    public void MissingFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-xlagen", "libtpu.so");
        var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("XLAGEN_PJRT_PLUGIN", e.Message);
        Assert.Contains(path, Assert.Throws<PjrtPluginException>(() => Devices.Pjrt(path)).Message);
    }

    [Fact]
    public void LibraryWithoutGetPjrtApi()
    {
        // A real shared library that is not a plugin: one built here (and libc where it is at the usual place).
        var plugin = TestPluginBuild.Require(); // proves gcc works (skips/fails like the other plugin tests without it)
        var source = Path.Combine(Path.GetDirectoryName(plugin)!, "not_a_plugin.c");
        File.WriteAllText(source, "int xlagen_not_a_plugin(void) { return 42; }\n");
        var library = Path.Combine(Path.GetDirectoryName(plugin)!, "libnot_a_plugin.so");
        using (var gcc = Process.Start("gcc", new[] { "-shared", "-fPIC", source, "-o", library })) gcc.WaitForExit();
        foreach (var path in new[] { library, "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6" }.Where(File.Exists))
        {
            var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("exports no GetPjrtApi", e.Message);
        }
    }

    [Fact]
    public void NotASharedLibrary()
    {
        var path = Path.Combine(Path.GetTempPath(), $"xlagen-not-elf-{Environment.ProcessId}.so");
        File.WriteAllText(path, "this is text, not ELF");
        try
        {
            var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("could not be loaded as a shared library", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnsupportedMajor()
    {
        var path = TestPluginBuild.Require("TEST_MAJOR=1");
        var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("implements PJRT C API 1.94", e.Message);
        Assert.Contains("supports 0.57 to 0.x", e.Message);
    }

    [Fact]
    public void MinorOlderThanTheTableRearrangement()
    {
        var path = TestPluginBuild.Require("TEST_MINOR=40");
        Assert.Contains("implements PJRT C API 0.40", Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path)).Message);
    }

    [Fact]
    public void ApiTableTooSmall()
    {
        var path = TestPluginBuild.Require("TEST_API_SIZE=200");
        var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Load(path));
        Assert.Contains("PJRT_Api table of 200 bytes, smaller than the 624 bytes", e.Message);
    }

    [Fact]
    public unsafe void FunctionsBeyondThePluginsTableAreRefusedByName()
    {
        // A plugin whose PJRT_Api ends before PJRT_Executable_GetCompiledMemoryStats (at byte 808): everything else works,
        // the peak-memory estimate says why it is missing, and calling the function directly names it and both versions.
        var path = TestPluginBuild.Require("TEST_API_SIZE=700");
        var plugin = PjrtPlugin.Load(path);
        using (var device = PjrtDevice.Open(path))
        {
            var b = new XlaGen.Hlo.HloBuilder("one");
            var x = b.Parameter(XlaGen.Hlo.ElementType.F32, new XlaGen.Hlo.Dim[] { 2 }, "x");
            using var exe = (PjrtExecutable)device.CompileHlo(b.BuildModule(x));
            Assert.Equal(0, exe.PeakMemoryBytes);
            Assert.Equal("not reported: the plugin (API 0.94) has no PJRT_Executable_GetCompiledMemoryStats", exe.PeakMemorySource);
        }
        var e = Assert.Throws<PjrtException>(() => { plugin.Api.Fn(PjrtLayout.Api.Executable_GetCompiledMemoryStats, "PJRT_Executable_GetCompiledMemoryStats"); });
        Assert.Equal(PjrtErrorCode.Unimplemented, e.Code);
        Assert.Contains($"the plugin {path} (PJRT API 0.94, PJRT_Api of 700 bytes) predates PJRT_Executable_GetCompiledMemoryStats (at byte 808 of PJRT_Api in our header 0.94)", e.Message);
        // a slot inside the table that the plugin leaves null (the test double has no PJRT_Event_Error, at 96)
        Assert.Contains("leaves PJRT_Event_Error unset", Assert.Throws<PjrtException>(() => { plugin.Api.Fn(96, "PJRT_Event_Error"); }).Message);
        Assert.Equal(0, TestPluginBuild.Counter(path, "live_buffers") + TestPluginBuild.Counter(path, "live_loaded_executables") + TestPluginBuild.Counter(path, "live_clients"));
    }

    [Fact]
    public void StructSizeMismatchGivesThePluginsMessage()
    {
        // A plugin built against a header whose PJRT_Client_Create_Args is larger than ours.
        var path = TestPluginBuild.Require("TEST_CREATE_SIZE=96");
        var plugin = PjrtPlugin.Load(path);
        var e = Assert.Throws<PjrtPluginException>(() => PjrtClient.Create(plugin));
        Assert.Contains(path, e.Message);
        Assert.Contains("Unexpected PJRT_Client_Create_Args size: expected 96, got 88", e.Message);
        var inner = Assert.IsType<PjrtException>(e.InnerException);
        Assert.Equal(PjrtErrorCode.InvalidArgument, inner.Code);
        Assert.Equal("PJRT_Client_Create", inner.Function);
        Assert.Equal(0, TestPluginBuild.Counter(path, "live_errors"));
    }

    [Fact]
    public void NoPluginFoundListsWhereItLooked()
    {
        var e = Assert.Throws<PjrtPluginException>(() => PjrtPlugin.Find(null, _ => null,
            () => (new[] { "/nonexistent/site-packages" }, "python3 is not on PATH (so no pip-installed wheel was searched)")));
        Assert.Null(e.Path);
        Assert.Contains("no PJRT plugin found", e.Message);
        Assert.Contains("$XLAGEN_PJRT_PLUGIN (not set)", e.Message);
        Assert.Contains("$TPU_LIBRARY_PATH (not set)", e.Message);
        Assert.Contains("/nonexistent/site-packages/libtpu/libtpu.so", e.Message);
        Assert.Contains("/nonexistent/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so", e.Message);
        Assert.Contains("/nonexistent/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so", e.Message);
        Assert.Contains("python3 is not on PATH", e.Message);
    }

    [Fact]
    public void SearchOrder()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"xlagen-site-{Environment.ProcessId}");
        try
        {
            var cuda12 = Path.Combine(dir, "jax_plugins", "xla_cuda12", "xla_cuda_plugin.so");
            Directory.CreateDirectory(Path.GetDirectoryName(cuda12)!);
            File.WriteAllText(cuda12, "");
            (IReadOnlyList<string>, string?) Site() => (new[] { dir }, null);
            Assert.Equal("/explicit.so", PjrtPlugin.Find("/explicit.so", _ => "/env.so", Site));
            Assert.Equal("/a.so", PjrtPlugin.Find(null, v => v == "XLAGEN_PJRT_PLUGIN" ? "/a.so" : "/tpu.so", Site));
            Assert.Equal("/tpu.so", PjrtPlugin.Find(null, v => v == "TPU_LIBRARY_PATH" ? "/tpu.so" : null, Site));
            Assert.Equal(cuda12, PjrtPlugin.Find(null, _ => null, Site));
            var cuda13 = Path.Combine(dir, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so");
            Directory.CreateDirectory(Path.GetDirectoryName(cuda13)!);
            File.WriteAllText(cuda13, "");
            Assert.Equal(cuda13, PjrtPlugin.Find(null, _ => null, Site));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
