using System.Diagnostics;
using System.Runtime.InteropServices;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A loaded PJRT plugin (libtpu.so, the CUDA plugin …): the shared library, its <c>PJRT_Api</c> table (from the exported
/// <c>GetPjrtApi</c>), its API version and attributes. Loaded and initialized once per path per process (plugins cannot
/// be unloaded, and <c>PJRT_Plugin_Initialize</c> runs once).
/// </summary>
public sealed unsafe class PjrtPlugin
{
    static readonly Dictionary<string, PjrtPlugin> Loaded = new(StringComparer.Ordinal);
    static readonly object Gate = new();

    PjrtPlugin(string path, PjrtApi api, IReadOnlyDictionary<string, string> attributes)
    {
        Path = path;
        Api = api;
        Attributes = attributes;
    }

    /// <summary>The plugin file's full path.</summary>
    public string Path { get; }

    internal PjrtApi Api { get; }

    /// <summary>The PJRT C API version the plugin was built with, "major.minor".</summary>
    public string ApiVersion => Api.Version;

    /// <summary>The PJRT C API version of the header XlaGen's layout table comes from.</summary>
    public static string OurApiVersion => PjrtApi.OurVersion;

    /// <summary>PJRT_Plugin_Attributes: <c>xla_version</c>, <c>stablehlo_current_version</c>, … (empty when the plugin has none).</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; }

    /// <summary>The environment variable naming a plugin file.</summary>
    public const string PluginVariable = "XLAGEN_PJRT_PLUGIN";

    /// <summary>The wheel layouts searched under python3's site-packages, in order.</summary>
    public static IReadOnlyList<string> WheelLayouts { get; } = new[]
    {
        "libtpu/libtpu.so",
        "jax_plugins/xla_cuda13/xla_cuda_plugin.so",
        "jax_plugins/xla_cuda12/xla_cuda_plugin.so",
    };

    /// <summary>Loads (once per process) and initializes the plugin at <paramref name="path"/>.</summary>
    public static PjrtPlugin Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            if (Loaded.TryGetValue(full, out var existing)) return existing;
            var plugin = LoadNew(full);
            Loaded[full] = plugin;
            return plugin;
        }
    }

    static PjrtPlugin LoadNew(string path)
    {
        if (!File.Exists(path))
            throw new PjrtPluginException(path, $"PJRT plugin {path} does not exist: pass the path of a plugin file (libtpu.so, xla_cuda_plugin.so) or set {PluginVariable}");
        var site = CudaWheelLibraries.SitePackagesOf(path);
        var preloaded = site == null ? Array.Empty<string>() : CudaWheelLibraries.Preload(site);
        nint library;
        try
        {
            library = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new PjrtPluginException(path, $"PJRT plugin {path} could not be loaded as a shared library: {e.Message}. Check that it is a plugin for this machine ({RuntimeInformation.ProcessArchitecture}) and that the libraries it needs are on LD_LIBRARY_PATH", e);
        }
        if (!NativeLibrary.TryGetExport(library, "GetPjrtApi", out var getApi))
            throw new PjrtPluginException(path, $"{path} is a shared library but not a PJRT plugin: it exports no GetPjrtApi. Point {PluginVariable} at libtpu.so or xla_cuda_plugin.so");
        var apiPointer = ((delegate* unmanaged<void*>)getApi)();
        if (apiPointer == null) throw new PjrtPluginException(path, $"GetPjrtApi of {path} returned no PJRT_Api table");
        var api = new PjrtApi(apiPointer, path);
        if (api.Major != PjrtLayout.HeaderMajor || api.Minor < PjrtLayout.MinimumMinor)
        {
            throw new PjrtPluginException(path,
                $"PJRT plugin {path} implements PJRT C API {api.Version}; XlaGen supports {PjrtLayout.HeaderMajor}.{PjrtLayout.MinimumMinor} to {PjrtLayout.HeaderMajor}.x (built against {PjrtApi.OurVersion}). Install a plugin from a matching JAX release");
        }
        if (api.StructSize < PjrtLayout.ApiRequiredSize)
        {
            throw new PjrtPluginException(path,
                $"PJRT plugin {path} (API {api.Version}) has a PJRT_Api table of {api.StructSize} bytes, smaller than the {PjrtLayout.ApiRequiredSize} bytes of functions XlaGen calls; the plugin is damaged or too old");
        }
        var init = new PJRT_Plugin_Initialize_Args { struct_size = PjrtLayout.Size.Plugin_Initialize_Args };
        try
        {
            api.Call(PjrtLayout.Api.Plugin_Initialize, "PJRT_Plugin_Initialize", &init);
        }
        catch (PjrtException e)
        {
            throw new PjrtPluginException(path, $"PJRT plugin {path} failed to initialize: {e.Message}", e);
        }
        IReadOnlyDictionary<string, string> attributes = new Dictionary<string, string>();
        if (api.Has(PjrtLayout.Api.Plugin_Attributes))
        {
            var a = new PJRT_Plugin_Attributes_Args { struct_size = PjrtLayout.Size.Plugin_Attributes_Args };
            api.Call(PjrtLayout.Api.Plugin_Attributes, "PJRT_Plugin_Attributes", &a);
            attributes = PjrtApi.ReadNamedValues(a.attributes, a.num_attributes);
        }
        return new PjrtPlugin(path, api, attributes) { PreloadedLibraries = preloaded };
    }

    /// <summary>The CUDA libraries of the nvidia-* wheels loaded before a plugin in the wheel layout (see
    /// <see cref="CudaWheelLibraries"/>); empty for other plugins.</summary>
    public IReadOnlyList<string> PreloadedLibraries { get; private init; } = Array.Empty<string>();

    /// <summary>
    /// The plugin file to use: <paramref name="path"/> when given, else <c>XLAGEN_PJRT_PLUGIN</c>, else
    /// <c>TPU_LIBRARY_PATH</c>, else the first wheel layout found under the site-packages of the <c>python3</c> on PATH.
    /// Throws <see cref="PjrtPluginException"/> listing every place it looked when there is none.
    /// </summary>
    public static string Find(string? path = null) => Find(path, Environment.GetEnvironmentVariable, PythonSitePackages);

    internal static string Find(string? path, Func<string, string?> environment, Func<(IReadOnlyList<string> Dirs, string? Note)> python)
    {
        if (!string.IsNullOrEmpty(path)) return path;
        var looked = new List<string>();
        foreach (var variable in new[] { PluginVariable, "TPU_LIBRARY_PATH" })
        {
            var value = environment(variable);
            if (!string.IsNullOrEmpty(value)) return value;
            looked.Add($"${variable} (not set)");
        }
        var (sitePackages, pythonNote) = python();
        foreach (var dir in sitePackages)
        {
            foreach (var layout in WheelLayouts)
            {
                var candidate = System.IO.Path.Combine(dir, layout);
                if (File.Exists(candidate)) return candidate;
                looked.Add(candidate);
            }
        }
        if (pythonNote != null) looked.Add(pythonNote);
        throw new PjrtPluginException(null,
            "no PJRT plugin found. Looked at:\n  " + string.Join("\n  ", looked) +
            $"\nInstall one (pip install jax[cuda13] for NVIDIA GPUs, or libtpu on a TPU host), or pass its path to Devices.Pjrt(path) or set {PluginVariable}.");
    }

    /// <summary>site.getsitepackages() and the user site of the python3 on PATH (a 10 s limit; none when absent).</summary>
    static (IReadOnlyList<string> Dirs, string? Note) PythonSitePackages()
    {
        try
        {
            var start = new ProcessStartInfo("python3")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import site\nfor p in site.getsitepackages() + [site.getusersitepackages()]: print(p)");
            using var process = Process.Start(start);
            if (process == null) return (Array.Empty<string>(), "python3 could not be started");
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync(); // drained, so a chatty python cannot block on a full pipe
            if (!process.WaitForExit(10_000))
            {
                process.Kill(entireProcessTree: true);
                return (Array.Empty<string>(), "python3 did not answer site.getsitepackages() within 10 s");
            }
            var dirs = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return (dirs, process.ExitCode == 0 ? null : $"python3 exited with {process.ExitCode} when asked for its site-packages");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (Array.Empty<string>(), "python3 is not on PATH (so no pip-installed wheel was searched)");
        }
    }

    /// <summary>"PJRT plugin path (API major.minor)".</summary>
    public override string ToString() => $"PJRT plugin {Path} (API {ApiVersion})";
}
