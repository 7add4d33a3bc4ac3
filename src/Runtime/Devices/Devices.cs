using XlaGen.Backends.Cpu;

namespace XlaGen;

/// <summary>Where programs run.</summary>
public static class Devices
{
    static readonly Lazy<CpuDevice> SharedCpu = new(() => new CpuDevice());

    /// <summary>The embedded CPU executor (one shared instance per process).</summary>
    public static IDevice Cpu() => SharedCpu.Value;
}
