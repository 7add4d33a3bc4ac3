namespace XlaGen.Tests.Conformance;

/// <summary>
/// The backends the conformance suite runs on, by name (like GoMLX's backendtest.RunAll or the Regex tests'
/// RegexEngine theory data). A backend that is not available in this environment opens as null with a reason, and
/// its cases skip. To add PJRT or the remote server, add one entry here.
/// </summary>
public static class ConformanceBackends
{
    public sealed record Backend(string Name, Func<IDevice?> Open, string UnavailableReason);

    public static IReadOnlyList<Backend> All { get; } = new[]
    {
        new Backend("cpu", () => Devices.Cpu(), "the CPU executor is always available"),
        // the CPU executor splitting work across cores at sizes a thousand times smaller than it normally would,
        // so the multi-core paths of every kernel meet every case
        new Backend("cpu-split", () => new SplitCpuDevice(), "the CPU executor is always available"),
        // XLA itself through a PJRT plugin (the CUDA plugin, libtpu) when XLAGEN_PJRT_PLUGIN names one; reported as
        // skipped, case by case, otherwise
        new Backend("pjrt", () => Environment.GetEnvironmentVariable("XLAGEN_PJRT_PLUGIN") is { Length: > 0 } plugin ? Devices.Pjrt(plugin) : null,
            "XLAGEN_PJRT_PLUGIN names no PJRT plugin (set it to xla_cuda_plugin.so or libtpu.so to run the suite on XLA)"),
        // new Backend("remote", RemoteBackend.TryOpen, "no xlagen-server: set XLAGEN_REMOTE"),
    };

    static readonly Dictionary<string, Lazy<IDevice?>> Opened = All.ToDictionary(b => b.Name, b => new Lazy<IDevice?>(b.Open));

    public static IDevice? Open(string name) => Opened[name].Value;

    public static string Reason(string name) => All.First(b => b.Name == name).UnavailableReason;
}

/// <summary>The CPU device with its multi-core thresholds scaled down during Execute.</summary>
sealed class SplitCpuDevice : IDevice
{
    readonly IDevice cpu = Devices.Cpu();

    public DeviceInfo Info => cpu.Info;

    public IExecutable CompileHlo(XlaGen.Hlo.HloModule module) => new Executable(cpu.CompileHlo(module));

    public DeviceBuffer Upload(Tensor tensor) => cpu.Upload(tensor);

    public Tensor Download(DeviceBuffer buffer) => cpu.Download(buffer);

    public void Dispose()
    {
    }

    sealed class Executable(IExecutable inner) : IExecutable
    {
        public XlaGen.Hlo.HloModule Module => inner.Module;

        public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null)
        {
            using (XlaGen.Backends.Cpu.Kernels.Par.ScaleGrainsForTesting(12)) return inner.Execute(arguments, options);
        }

        public void Dispose() => inner.Dispose();
    }
}
