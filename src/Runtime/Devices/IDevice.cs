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
    IExecutable CompileHlo(HloModule module);

    /// <summary>Copies a host tensor to the device. It returns once the device no longer reads the tensor (the caller may
    /// change or reuse it at once); on an asynchronous device (PJRT) the copy into device memory may still be under way,
    /// which the buffer's <see cref="DeviceBuffer.Ready"/> tells.</summary>
    DeviceBuffer Upload(Tensor tensor);

    /// <summary>Copies a device buffer to the host, waiting for the computation that produces it.</summary>
    Tensor Download(DeviceBuffer buffer);

    /// <summary>Copies a device buffer to the host without blocking the caller while the device works, so a download can
    /// overlap the next upload or step. Devices that complete synchronously return a completed task.</summary>
    Task<Tensor> DownloadAsync(DeviceBuffer buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Download(buffer));
    }

    /// <summary>What this device's platform is and holds ("is there a TPU, and which version"): platform name and
    /// version, every device with its kind and memory, the platform's attributes and API versions.</summary>
    PlatformDescription Describe() => PlatformDescription.FromInfo(Info);
}

/// <summary>A compiled program on one device.</summary>
public interface IExecutable : IDisposable
{
    /// <summary>The module this executable was compiled from.</summary>
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

/// <summary>Options of one <see cref="IExecutable.Execute"/> call; null there means the defaults (no donation, no cancellation).</summary>
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
    /// <summary>Initialises a buffer of <paramref name="shape"/> owned by <paramref name="device"/> (for backends).</summary>
    protected DeviceBuffer(IDevice device, Shape shape)
    {
        Device = device;
        Shape = shape;
    }

    /// <summary>The device that holds the buffer; only that device's executables take it as an argument.</summary>
    public IDevice Device { get; }

    /// <summary>The array shape (element type and dims) of the buffer's contents.</summary>
    public Shape Shape { get; }

    /// <summary>Whether the buffer was disposed or donated to an execution; such a buffer may not be used again (see <see cref="EnsureAlive"/>).</summary>
    public bool IsDeleted { get; protected set; }

    /// <summary>Completes when the buffer's contents exist on the device (its upload ended, or the execution that
    /// produces it finished); faults with the device's error when that failed. Synchronous devices (the CPU executor)
    /// return a completed task. Waiting is never needed for correctness: executions and downloads order themselves
    /// after their inputs; it is for overlapping host work with device work.</summary>
    public virtual Task Ready => Task.CompletedTask;

    /// <summary>Releases the device memory and marks the buffer deleted. Disposing twice is harmless.</summary>
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

    /// <summary>The one ownership check of every backend: <paramref name="buffer"/> as the backend's buffer type
    /// <typeparamref name="T"/>, on <paramref name="device"/> and alive. Otherwise an ArgumentException "cannot USE: the
    /// SHAPE buffer belongs to WHERE, <paramref name="notHere"/>" (the backend names itself there), or the disposal error.</summary>
    internal static T Owned<T>(DeviceBuffer buffer, IDevice device, string use, string notHere) where T : DeviceBuffer
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer is not T b || !ReferenceEquals(b.Device, device))
            throw new ArgumentException($"cannot {use}: the {buffer.Shape} buffer belongs to {buffer.Device.Info.Platform} ({buffer.Device.Info.DeviceKind}), {notHere}");
        b.EnsureAlive(use);
        return b;
    }

    /// <summary>"f32[128,784] on cpu": the shape and the device's platform.</summary>
    public override string ToString() => $"{Shape} on {Device.Info.Platform}";
}

/// <summary>One device, in brief: its platform ("cpu", "cuda", "tpu", or the backing platform of a remote server), kind,
/// the platform's version, how many devices the platform has, this device's memory and <see cref="Id"/> among them.</summary>
public sealed record DeviceInfo(
    string Platform,
    string DeviceKind,
    string Version,
    int DeviceCount = 1,
    long MemoryBytes = 0,
    IReadOnlyDictionary<string, string>? Attributes = null)
{
    /// <summary>This device's id on its platform (PJRT's device id; 0 for the CPU executor).</summary>
    public int Id { get; init; }
}

/// <summary>A program could not be compiled for a device: an unsupported op, a bad shape, a malformed module.</summary>
public sealed class XlaCompileException : Exception
{
    /// <summary>A compile error with <paramref name="message"/> and, optionally, the exception that caused it.</summary>
    public XlaCompileException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A program failed while running (bad arguments, a device fault).</summary>
public sealed class XlaExecutionException : Exception
{
    /// <summary>An execution error with <paramref name="message"/> and, optionally, the exception that caused it.</summary>
    public XlaExecutionException(string message, Exception? inner = null) : base(message, inner) { }
}
