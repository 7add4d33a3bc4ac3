using System.Diagnostics;
using System.Runtime.InteropServices;
using XlaGen.Backends.Pjrt;

namespace XlaGen.Tests.Pjrt;

/// <summary>A plugin in the pip wheel layout gets the nvidia-* wheels' CUDA libraries loaded first, as JAX does, so
/// the plugin's own dlopen by soname finds them without LD_LIBRARY_PATH.</summary>
[Collection(TestPluginCollection.Name)]
public class CudaWheelLibrariesTests
{
    [Theory]
    [InlineData("/venv/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so", "/venv/lib/python3.12/site-packages")]
    [InlineData("/venv/lib/python3.12/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so", "/venv/lib/python3.12/site-packages")]
    [InlineData("/venv/lib/python3.12/site-packages/libtpu/libtpu.so", null)]
    [InlineData("/opt/xla/xla_cuda_plugin.so", null)]
    [InlineData("/x/other/xla_cuda13/xla_cuda_plugin.so", null)]
    public void OnlyTheWheelLayoutHasSitePackages(string plugin, string? site) => Assert.Equal(site, CudaWheelLibraries.SitePackagesOf(plugin));

    [Fact]
    public void WheelLibrariesAreLoadedBeforeThePluginAndFoundBySoname()
    {
        const string soname = "libcudart.so.13";
        Assert.SkipWhen(NativeLibrary.TryLoad(soname, out _), $"{soname} is already loadable on this machine, so the preload cannot be observed");
        var plugin = TestPluginBuild.Require();
        var site = Path.Combine(Path.GetTempPath(), $"xlagen-wheel-{Environment.ProcessId}-{Guid.NewGuid():N}", "site-packages");
        try
        {
            var pluginDir = Directory.CreateDirectory(Path.Combine(site, "jax_plugins", "xla_cuda13")).FullName;
            var libDir = Directory.CreateDirectory(Path.Combine(site, "nvidia", "cu13", "lib")).FullName;
            var pluginCopy = Path.Combine(pluginDir, "xla_cuda_plugin.so");
            File.Copy(plugin, pluginCopy);
            var source = Path.Combine(libDir, "fake_cudart.c");
            File.WriteAllText(source, "int xlagen_fake_cudart(void) { return 13; }\n");
            var library = Path.Combine(libDir, soname);
            using (var gcc = Process.Start("gcc", new[] { "-shared", "-fPIC", $"-Wl,-soname,{soname}", source, "-o", library }))
            {
                gcc.WaitForExit();
                Assert.Equal(0, gcc.ExitCode);
            }

            using var device = Devices.Pjrt(pluginCopy);
            Assert.Equal(new[] { library }, device.Client.Plugin.PreloadedLibraries);
            Assert.Equal(soname, device.Describe().Attributes["cuda_wheel_libraries"]);
            // what the plugin's dlopen("libcudart.so.13") now finds: the wheel's copy, already loaded
            Assert.True(NativeLibrary.TryLoad(soname, out var handle));
            Assert.True(NativeLibrary.TryGetExport(handle, "xlagen_fake_cudart", out _));
        }
        finally
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(site)!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
