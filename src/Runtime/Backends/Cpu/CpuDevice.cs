using System.Reflection;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu;

/// <summary>
/// The embedded CPU executor: compiles HLO modules into execution plans of precomputed kernel closures and runs
/// them on host arrays. Buffers are host arrays owned by the device (uploads and downloads copy). Thread-safe.
/// </summary>
public sealed class CpuDevice : IHostMemoryDevice
{
    /// <summary>The opcodes this executor has a kernel for.</summary>
    public static IReadOnlyCollection<string> SupportedOpcodes => KernelRegistry.Opcodes;

    /// <summary>A CPU executor device (id 0). <see cref="Devices.Cpu()"/> returns a shared one; a new instance has its own buffer pool.</summary>
    public CpuDevice() : this(0)
    {
    }

    /// <summary>A virtual CPU device with id <paramref name="id"/> (a replica of <see cref="CpuReplicaPlatform"/>).</summary>
    internal CpuDevice(int id)
    {
        Info = new DeviceInfo(
            Platform: "cpu",
            DeviceKind: CpuModel(),
            Version: typeof(CpuDevice).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? typeof(CpuDevice).Assembly.GetName().Version?.ToString() ?? "0",
            DeviceCount: 1,
            MemoryBytes: GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Attributes: new Dictionary<string, string>
            {
                ["cores"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["simd"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "avx512"
                    : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "avx2" : "sse",
            })
        {
            Id = id,
        };
    }

    /// <summary>Platform "cpu", the processor model as kind, XlaGen's version, the memory available to the process, and
    /// the attributes "cores" (logical processors) and "simd" (avx512, avx2 or sse).</summary>
    public DeviceInfo Info { get; }

    /// <summary>Whether compiled programs get the executor's loop fusion (on unless <c>XLAGEN_CPU_FUSION=0</c>); tests and
    /// benchmarks compare both on one device type.</summary>
    internal bool Fusion { get; init; } = LoopFusion.EnabledByDefault;

    /// <summary>Arrays of disposed buffers, reused for the results of later executions.</summary>
    internal SharedBufferPool Pool { get; } = new();

    static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal))
                    {
                        int colon = line.IndexOf(':');
                        if (colon >= 0) return line[(colon + 1)..].Trim();
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
    }

    /// <summary>Verifies the module and builds its plan. Unsupported opcodes or element types, symbolic shapes and
    /// verifier problems throw <see cref="XlaCompileException"/> naming the instruction.</summary>
    public IExecutable CompileHlo(HloModule module)
    {
        var plan = CpuCompiler.CompileModule(module, Fusion);
        return new CpuExecutable(this, module, plan);
    }

    /// <summary>Copies <paramref name="tensor"/>'s elements into a new buffer (the tensor may be changed afterwards).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    public DeviceBuffer Upload(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new CpuBuffer(this, tensor.HloShape, CopyOf(tensor.Data));
    }

    /// <summary>A copy of <paramref name="data"/> in an array recycled from disposed buffers when one of its size is free:
    /// a fresh large array costs page faults on first touch, which at batch 128 took longer than the copy itself.</summary>
    Array CopyOf(Array data)
    {
        if (Pool.TryRentLike(data) is not { } copy) return (Array)data.Clone();
        Array.Copy(data, copy, data.Length);
        return copy;
    }

    /// <summary>A copy of the buffer's elements as a host tensor.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="buffer"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> belongs to another device.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="buffer"/> was disposed or donated.</exception>
    public Tensor Download(DeviceBuffer buffer)
    {
        var b = Own(buffer, "download it");
        var data = (Array)b.RawData.Clone();   // not from the pool: the tensor leaves for the caller's heap
        return HostArrays.Wrap(b.Shape.ElementType, b.Shape.ConcreteDims(), data);
    }

    /// <inheritdoc/>
    public Tensor AllocateUninitialized(ElementType elementType, long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long n = 1;
        foreach (var d in dims) n = checked(n * d);
        if (n > 0 && n <= int.MaxValue)
        {
            Array? recycled = elementType switch
            {
                ElementType.F32 => Pool.TryRent<float>((int)n),
                ElementType.F64 => Pool.TryRent<double>((int)n),
                ElementType.S32 => Pool.TryRent<int>((int)n),
                ElementType.S64 => Pool.TryRent<long>((int)n),
                ElementType.Pred => Pool.TryRent<bool>((int)n),
                ElementType.S8 => Pool.TryRent<sbyte>((int)n),
                ElementType.S16 => Pool.TryRent<short>((int)n),
                ElementType.U8 => Pool.TryRent<byte>((int)n),
                ElementType.U16 => Pool.TryRent<ushort>((int)n),
                ElementType.U32 => Pool.TryRent<uint>((int)n),
                ElementType.U64 => Pool.TryRent<ulong>((int)n),
                ElementType.F16 => Pool.TryRent<Half>((int)n),
                _ => null,
            };
            if (recycled != null) return HostArrays.Wrap(elementType, dims, recycled);
        }
        return TensorBytes.Allocate(elementType, dims, zeroed: false);
    }

    /// <inheritdoc/>
    public DeviceBuffer AdoptHostTensor(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new CpuBuffer(this, tensor.HloShape, tensor.Data);
    }

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> PeekBytes(DeviceBuffer buffer, long byteOffset, int length)
    {
        var b = Own(buffer, "read its bytes");
        return TensorBytes.ArrayBytes(b.RawData, b.Shape.ElementType, byteOffset, length);
    }

    /// <summary>A buffer that takes over <paramref name="tensor"/>'s array (as <see cref="AdoptHostTensor"/>) before its
    /// elements are written: <paramref name="fill"/> writes them on the thread that first reads the buffer (see
    /// <see cref="CpuBuffer.RawData"/>). A replica's execution reads its arguments on the replica's own thread, so each
    /// replica gathers its own slice of a batch there, in parallel with the others.</summary>
    internal CpuBuffer AdoptDeferred(Tensor tensor, Action<Array> fill) => new(this, tensor.HloShape, tensor.Data) { Fill = fill };

    /// <summary>Wraps an array the device takes ownership of (no copy).</summary>
    internal CpuBuffer Wrap(Shape shape, Array data) => new(this, shape, data);

    /// <summary>A handle that reads <paramref name="tensor"/>'s own array (no copy) for as long as the caller keeps the
    /// tensor unchanged: for arguments that are not donated (the executor never writes those). The array is the
    /// caller's: never recycled. See <see cref="CpuBuffer.TryLend"/>.</summary>
    internal CpuBuffer Lend(Tensor tensor) => new(this, tensor.HloShape, tensor.Data) { Lent = true, Exposed = true };

    internal CpuBuffer Own(DeviceBuffer buffer, string use) => DeviceBuffer.Owned<CpuBuffer>(buffer, this, use, "not to this CPU device");

    /// <summary>Does nothing: the device holds no native resources, and buffers release their arrays when disposed.</summary>
    public void Dispose()
    {
    }

    /// <summary>"cpu (processor model)".</summary>
    public override string ToString() => $"cpu ({Info.DeviceKind})";
}

/// <summary>A CPU device buffer: a typed host array (float[] for f32, bool[] for pred …) in row-major order.
/// Disposing it lets the device reuse its array for a later result, unless <see cref="Data"/> was read.</summary>
internal sealed class CpuBuffer : DeviceBuffer
{
    Array? data;
    bool exposed;
    Action<Array>? fill;
    System.Runtime.ExceptionServices.ExceptionDispatchInfo? fillFailure;

    internal CpuBuffer(CpuDevice device, Shape shape, Array data) : base(device, shape)
    {
        this.data = data;
    }

    /// <summary>Set for lent handles: their arrays belong to the host tensor, so the device never recycles them.</summary>
    internal bool Exposed
    {
        init => exposed = value;
    }

    /// <summary>The elements, without a copy (prefer <see cref="IDevice.Download"/>). The array then belongs to the
    /// caller too, so the device never recycles it. Throws <see cref="ObjectDisposedException"/> once the buffer was
    /// disposed or donated.</summary>
    public Array Data
    {
        get
        {
            var a = RawData;
            exposed = true;
            return a;
        }
    }

    /// <summary>The array, for the device's own use (not marked as exposed). A deferred buffer
    /// (<see cref="CpuDevice.AdoptDeferred"/>) is filled by the first reader; when that fill failed, every read throws
    /// its error.</summary>
    internal Array RawData
    {
        get
        {
            EnsureAlive("read its data");
            if (Volatile.Read(ref fill) != null || fillFailure != null) RunFill();
            return data!;
        }
    }

    /// <summary>Writes the elements of a deferred buffer on the thread that first reads it (once).</summary>
    internal Action<Array>? Fill
    {
        init => fill = value;
    }

    void RunFill()
    {
        lock (this)
        {
            if (fill is { } f)
            {
                try
                {
                    f(data!);
                }
                catch (Exception e)
                {
                    fillFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                }
                Volatile.Write(ref fill, null);
            }
            fillFailure?.Throw();
        }
    }

    /// <summary>The buffer now holds <paramref name="value"/>, an execution's result for the donated argument it was
    /// (same shape): the handle lives on with the new value.</summary>
    internal void Rebind(Array value)
    {
        data = value;
        exposed = false;
    }

    /// <summary>A handle made by <see cref="CpuDevice.Lend"/>: it reads a host tensor's array in place.</summary>
    internal bool Lent { get; init; }

    /// <summary>Points this lent handle at <paramref name="tensor"/>'s array when the shapes are equal (false otherwise,
    /// or when the handle was donated or disposed).</summary>
    internal bool TryLend(Tensor tensor)
    {
        if (!Lent || IsDeleted || !Shape.Equals(tensor.HloShape)) return false;
        data = tensor.Data;
        exposed = true;
        return true;
    }

    /// <summary>The buffer's array was handed to an execution that may overwrite it.</summary>
    internal void MarkDonated()
    {
        data = null;
        IsDeleted = true;
    }

    public override void Dispose()
    {
        var a = data;
        data = null;
        if (a != null && !exposed && !IsDeleted) ((CpuDevice)Device).Pool.Return(a);
        base.Dispose();
    }
}
