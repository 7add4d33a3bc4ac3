using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// A device that runs HLO programs: the embedded CPU executor, a PJRT plugin (TPU/GPU), or a remote
/// xlagen-server. Programs are compiled once and executed many times on device-resident buffers.
/// </summary>
public interface IDevice : IDisposable
{
    /// <summary>What the device is: platform, kind, versions, memory.</summary>
    DeviceInfo Info { get; }

    /// <summary>Verifies and compiles a module. Unsupported ops or bad shapes throw <see cref="XlaCompileException"/>.</summary>
    IExecutable Compile(HloModule module);

    /// <summary>Copies a host tensor to the device.</summary>
    DeviceBuffer Upload(Tensor tensor);

    /// <summary>Copies a device buffer to the host.</summary>
    Tensor Download(DeviceBuffer buffer);
}

/// <summary>A compiled program on one device.</summary>
public interface IExecutable : IDisposable
{
    HloModule Module { get; }

    /// <summary>Runs the program. Arguments must match the entry parameters in shape and element type.
    /// A tuple result is returned as one buffer per element (as PJRT untuples results).
    /// Buffers named in <see cref="ExecuteOptions.DonatedArguments"/> are consumed and must not be used again.</summary>
    DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null);

    /// <summary>About how many bytes of device memory one execution allocates at its peak (the largest set of values
    /// alive at once, results included, arguments not), as PJRT's compiled memory stats report it; 0 when the device
    /// does not say. A server refuses programs that could never fit before running them.</summary>
    long PeakMemoryBytes => 0;
}

public sealed record ExecuteOptions
{
    /// <summary>Argument indices whose buffers the program may reuse for its outputs (donation).</summary>
    public IReadOnlyList<int> DonatedArguments { get; init; } = Array.Empty<int>();

    /// <summary>Stops the execution early: the CPU executor checks it before every instruction and every loop
    /// iteration and then throws <see cref="OperationCanceledException"/>; a remote device cancels the call, and the
    /// server stops the program. Donated arguments count as consumed after a cancelled execution.</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>An array resident on a device. Dispose releases it; using it after donation or disposal throws.</summary>
public abstract class DeviceBuffer : IDisposable
{
    protected DeviceBuffer(IDevice device, Shape shape)
    {
        Device = device;
        Shape = shape;
    }

    public IDevice Device { get; }

    public Shape Shape { get; }

    public bool IsDeleted { get; protected set; }

    public virtual void Dispose()
    {
        IsDeleted = true;
        GC.SuppressFinalize(this);
    }

    /// <summary>Throws a clear error when the buffer was donated or disposed.</summary>
    public void EnsureAlive(string use)
    {
        if (IsDeleted) throw new ObjectDisposedException(nameof(DeviceBuffer), $"cannot {use}: the {Shape} buffer was disposed or donated to an earlier execution");
    }

    public override string ToString() => $"{Shape} on {Device.Info.Platform}";
}

public sealed record DeviceInfo(
    string Platform,
    string DeviceKind,
    string Version,
    int DeviceCount = 1,
    long MemoryBytes = 0,
    IReadOnlyDictionary<string, string>? Attributes = null);

/// <summary>A program could not be compiled for a device: an unsupported op, a bad shape, a malformed module.</summary>
public sealed class XlaCompileException : Exception
{
    public XlaCompileException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A program failed while running (bad arguments, a device fault).</summary>
public sealed class XlaExecutionException : Exception
{
    public XlaExecutionException(string message, Exception? inner = null) : base(message, inner) { }
}
