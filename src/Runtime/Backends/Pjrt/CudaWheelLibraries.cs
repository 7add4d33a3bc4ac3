using System.Runtime.InteropServices;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// The CUDA libraries that pip installs beside the CUDA plugin (<c>site-packages/nvidia/&lt;package&gt;/lib</c>, for
/// CUDA 13 all in <c>nvidia/cu13/lib</c>), loaded by full path before the plugin, as JAX's plugin initializer does.
/// The plugin then opens them by soname and finds these copies, so a pip-installed JAX GPU stack works without
/// <c>LD_LIBRARY_PATH</c>. A library that is absent or fails to load is skipped: the plugin's own error (or the system
/// copy on <c>LD_LIBRARY_PATH</c>) decides then.
/// </summary>
internal static class CudaWheelLibraries
{
    /// <summary>(package folder under site-packages/nvidia, file), in load order: dependencies first. The names are
    /// those of the nvidia-* wheels JAX depends on (jax_plugins/cuda/__init__.py).</summary>
    public static IReadOnlyList<(string Package, string File)> Order { get; } = new[]
    {
        ("cuda_runtime", "libcudart.so.12"), ("cu13", "libcudart.so.13"),
        ("cuda_nvrtc", "libnvrtc.so.12"), ("cu13", "libnvrtc.so.13"),
        ("cublas", "libcublas.so.12"), ("cublas", "libcublasLt.so.12"), ("cu13", "libcublas.so.13"), ("cu13", "libcublasLt.so.13"),
        ("nccl", "libnccl.so.2"),
        ("cuda_cupti", "libcupti.so.12"), ("cu13", "libcupti.so.13"),
        ("cusparse", "libcusparse.so.12"), ("cu13", "libcusparse.so.12"),
        ("cusolver", "libcusolver.so.11"), ("cu13", "libcusolver.so.12"),
        ("cufft", "libcufft.so.11"), ("cu13", "libcufft.so.12"),
        ("nvshmem", "libnvshmem_host.so.3"),
        ("cudnn", "libcudnn.so.9"),
    };

    /// <summary>The site-packages folder of a plugin in the wheel layout (<c>…/jax_plugins/xla_cudaNN/xla_cuda_plugin.so</c>), else null.</summary>
    public static string? SitePackagesOf(string pluginPath)
    {
        var pluginDir = Path.GetDirectoryName(Path.GetFullPath(pluginPath));
        var jaxPlugins = pluginDir == null ? null : Path.GetDirectoryName(pluginDir);
        if (pluginDir == null || jaxPlugins == null) return null;
        if (!Path.GetFileName(pluginDir).StartsWith("xla_cuda", StringComparison.Ordinal) || Path.GetFileName(jaxPlugins) != "jax_plugins") return null;
        return Path.GetDirectoryName(jaxPlugins);
    }

    /// <summary>Loads the wheel libraries found under <paramref name="sitePackages"/> and returns the paths loaded.</summary>
    public static IReadOnlyList<string> Preload(string sitePackages)
    {
        var loaded = new List<string>();
        foreach (var (package, file) in Order)
        {
            var path = Path.Combine(sitePackages, "nvidia", package, "lib", file);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out _)) loaded.Add(path);
        }
        return loaded;
    }
}
