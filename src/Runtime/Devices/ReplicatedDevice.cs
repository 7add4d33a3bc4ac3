using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// A program compiled for N replicas of one platform, run in PJRT's shape: one argument list per replica in,
/// one result list per replica out (<c>PJRT_LoadedExecutable_Execute</c>'s argument_lists[num_devices][num_args]).
/// Collectives (all-reduce) in the program meet across the replicas of one call.
/// </summary>
public interface IReplicaExecutable : IDisposable
{
    /// <summary>The module this executable was compiled from (the program of one replica).</summary>
    HloModule Module { get; }

    /// <summary>How many replicas each call runs.</summary>
    int Replicas { get; }

    /// <summary>Peak memory of one replica's execution (see <see cref="IExecutable.PeakMemoryBytes"/>).</summary>
    long PeakMemoryBytes => 0;

    /// <summary>Runs every replica. <paramref name="arguments"/>[r] are replica r's arguments, each on replica r's
    /// device. A replica that fails fails the whole call with its error (no replica is left waiting); donated
    /// arguments count as consumed on every replica afterwards, whether the call succeeded or not.</summary>
    DeviceBuffer[][] ExecuteReplicas(IReadOnlyList<IReadOnlyList<DeviceBuffer>> arguments, ExecuteOptions? options = null);
}

/// <summary>What a platform provides to host replicas: its devices (replica r runs on Devices[r]) and a compiler for
/// N replicas. The CPU executor's virtual devices implement it; a PJRT client would compile with num_replicas = N
/// and a device assignment, and execute with one argument list per device.</summary>
public interface IReplicaPlatform : IDisposable
{
    /// <summary>The platform's devices; replica r runs on Devices[r].</summary>
    IReadOnlyList<IDevice> Devices { get; }

    /// <summary>Compiles <paramref name="module"/> to run as one replica on each of <see cref="Devices"/>.</summary>
    /// <exception cref="XlaCompileException">The module cannot be compiled for the platform.</exception>
    IReplicaExecutable CompileReplicated(HloModule module);

    /// <summary>Compiles for the first <paramref name="replicas"/> devices (replica r on Devices[r]), for a host that
    /// serves programs of several replica counts from one platform (xlagen-server --devices N). A platform that only
    /// runs on all its devices refuses other counts.</summary>
    IReplicaExecutable CompileReplicated(HloModule module, int replicas) =>
        replicas == Devices.Count ? CompileReplicated(module)
        : throw new NotSupportedException($"{this} compiles for all its {Devices.Count} devices, not for {replicas}");
}

/// <summary>
/// N replicas of one platform seen as one <see cref="IDevice"/> (data parallelism, like TPUStrategy): a buffer is a
/// <see cref="ReplicatedBuffer"/> holding one buffer per replica, <see cref="Upload"/> copies a tensor to every
/// replica, <see cref="UploadShards"/> puts a different tensor on each, and a compiled program runs on all replicas
/// at once with the collectives meeting across them. A model runner given one shards its batches and all-reduces its
/// gradients; any other code that uses <see cref="IDevice"/> sees replicated values (downloads read replica 0).
/// </summary>
public sealed class ReplicatedDevice : IDevice
{
    readonly IReplicaPlatform platform;

    /// <summary>The replicas of <paramref name="platform"/>'s devices seen as one device; disposing it disposes the platform.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="platform"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="platform"/> has no devices.</exception>
    public ReplicatedDevice(IReplicaPlatform platform)
    {
        this.platform = platform ?? throw new ArgumentNullException(nameof(platform));
        if (platform.Devices.Count == 0) throw new ArgumentException("a replicated device needs at least one device", nameof(platform));
        var first = platform.Devices[0].Info;
        var attributes = new Dictionary<string, string>(first.Attributes ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["replicas"] = Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        Info = first with { DeviceCount = Replicas, Attributes = attributes };
    }

    /// <summary>Replica 0's device info, with <see cref="DeviceInfo.DeviceCount"/> the replica count and a "replicas" attribute.</summary>
    public DeviceInfo Info { get; }

    /// <summary>How many replicas run each program.</summary>
    public int Replicas => platform.Devices.Count;

    /// <summary>The replicas' devices: replica r runs on Devices[r].</summary>
    public IReadOnlyList<IDevice> Devices => platform.Devices;

    /// <summary>Compiles <paramref name="module"/> for every replica; its <see cref="IExecutable.Execute"/> takes <see cref="ReplicatedBuffer"/>s and runs all replicas at once.</summary>
    /// <exception cref="XlaCompileException">The module cannot be compiled for the platform.</exception>
    public IExecutable CompileHlo(HloModule module) => new ReplicatedExecutable(this, platform.CompileReplicated(module));

    /// <summary>Copies <paramref name="tensor"/> to every replica.</summary>
    public DeviceBuffer Upload(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new ReplicatedBuffer(this, tensor.HloShape, platform.Devices.Select(d => d.Upload(tensor)).ToArray());
    }

    /// <summary>Puts shards[r] on replica r (one slice of a global batch each). The shards must have one shape.</summary>
    public ReplicatedBuffer UploadShards(IReadOnlyList<Tensor> shards)
    {
        ArgumentNullException.ThrowIfNull(shards);
        if (shards.Count != Replicas) throw new ArgumentException($"{Replicas} replicas need {Replicas} shards, got {shards.Count}", nameof(shards));
        var shape = shards[0].HloShape;
        for (int r = 1; r < shards.Count; r++)
        {
            if (!shards[r].HloShape.Equals(shape))
                throw new ArgumentException($"shard {r} is {shards[r].HloShape} but shard 0 is {shape}: every replica runs the same program on the same shapes", nameof(shards));
        }
        var buffers = new DeviceBuffer[Replicas];
        for (int r = 0; r < Replicas; r++) buffers[r] = platform.Devices[r].Upload(shards[r]);
        return new ReplicatedBuffer(this, shape, buffers);
    }

    /// <summary>One replicated value from buffers already on the replicas (buffer r on replica r's device, all of one
    /// shape), which it takes over.</summary>
    internal ReplicatedBuffer AdoptShards(DeviceBuffer[] buffers)
    {
        if (buffers.Length != Replicas) throw new ArgumentException($"{Replicas} replicas need {Replicas} buffers, got {buffers.Length}", nameof(buffers));
        for (int r = 0; r < buffers.Length; r++)
        {
            if (!ReferenceEquals(buffers[r].Device, platform.Devices[r])) throw new ArgumentException($"buffer {r} is not on replica {r}'s device", nameof(buffers));
            if (!buffers[r].Shape.Equals(buffers[0].Shape)) throw new ArgumentException($"buffer {r} is {buffers[r].Shape} but buffer 0 is {buffers[0].Shape}", nameof(buffers));
        }
        return new ReplicatedBuffer(this, buffers[0].Shape, buffers);
    }

    /// <summary>Replica 0's value (after an all-reduce every replica holds the same).</summary>
    public Tensor Download(DeviceBuffer buffer) => Own(buffer, "download it").Download(0);

    /// <summary>Replica 0's value, without blocking the caller (see <see cref="IDevice.DownloadAsync"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is not a buffer of this device.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="buffer"/> was disposed or donated.</exception>
    public Task<Tensor> DownloadAsync(DeviceBuffer buffer, CancellationToken cancellationToken = default)
    {
        var b = Own(buffer, "download it");
        return platform.Devices[0].DownloadAsync(b.Replica(0), cancellationToken);
    }

    /// <summary>Every replica's value, in replica order.</summary>
    public Tensor[] DownloadReplicas(DeviceBuffer buffer)
    {
        var b = Own(buffer, "download it");
        return Enumerable.Range(0, Replicas).Select(b.Download).ToArray();
    }

    internal ReplicatedBuffer Own(DeviceBuffer buffer, string use) =>
        DeviceBuffer.Owned<ReplicatedBuffer>(buffer, this, use, $"not on this replicated device ({Replicas} replicas); upload it here first");

    /// <summary>Disposes the platform and with it every replica's device.</summary>
    public void Dispose() => platform.Dispose();

    /// <summary>"N replicas of (replica 0's device)".</summary>
    public override string ToString() => $"{Replicas} replicas of {platform.Devices[0]}";
}

/// <summary>One value on each replica of a <see cref="ReplicatedDevice"/>: the same value (parameters, optimizer
/// state) or one shard each (a batch). <see cref="DeviceBuffer.Shape"/> is one replica's shape.</summary>
public sealed class ReplicatedBuffer : DeviceBuffer
{
    readonly DeviceBuffer[] replicas;

    internal ReplicatedBuffer(ReplicatedDevice device, Shape shape, DeviceBuffer[] replicas) : base(device, shape)
    {
        this.replicas = replicas;
    }

    /// <summary>Replica <paramref name="r"/>'s buffer.</summary>
    public DeviceBuffer Replica(int r)
    {
        EnsureAlive("read a replica");
        return replicas[r];
    }

    internal Tensor Download(int r) => ((ReplicatedDevice)Device).Devices[r].Download(Replica(r));

    /// <summary>Completes when every replica's buffer is ready.</summary>
    public override Task Ready => Task.WhenAll(replicas.Select(b => b.Ready));

    /// <summary>The replicas' buffers were consumed by an execution (donation); any a replica did not consume is freed.</summary>
    internal void MarkConsumed()
    {
        foreach (var b in replicas)
        {
            if (!b.IsDeleted) b.Dispose();
        }
        IsDeleted = true;
    }

    /// <summary>Releases every replica's buffer (unless already consumed) and marks this buffer deleted.</summary>
    public override void Dispose()
    {
        if (!IsDeleted)
        {
            foreach (var b in replicas) b.Dispose();
        }
        base.Dispose();
    }
}

/// <summary>A replicated program as one <see cref="IExecutable"/> on <see cref="ReplicatedBuffer"/>s.</summary>
internal sealed class ReplicatedExecutable(ReplicatedDevice device, IReplicaExecutable inner) : IExecutable
{
    public HloModule Module => inner.Module;

    public long PeakMemoryBytes => inner.PeakMemoryBytes;

    public IReplicaExecutable Inner => inner;

    public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var args = new ReplicatedBuffer[arguments.Count];
        for (int i = 0; i < args.Length; i++) args[i] = device.Own(arguments[i], $"pass argument {i} to '{Module.Name}'");
        var lists = new DeviceBuffer[device.Replicas][];
        for (int r = 0; r < lists.Length; r++) lists[r] = args.Select(a => a.Replica(r)).ToArray();
        try
        {
            var results = inner.ExecuteReplicas(lists, options);
            var outputs = new DeviceBuffer[results[0].Length];
            for (int o = 0; o < outputs.Length; o++)
                outputs[o] = new ReplicatedBuffer(device, results[0][o].Shape, results.Select(r => r[o]).ToArray());
            return outputs;
        }
        finally
        {
            // A donated argument is gone once any replica consumed its part (the call got past checking its arguments).
            foreach (var d in options?.DonatedArguments ?? Array.Empty<int>())
            {
                if (d >= 0 && d < args.Length && !args[d].IsDeleted && lists.Any(l => l[d].IsDeleted)) args[d].MarkConsumed();
            }
        }
    }

    public void Dispose() => inner.Dispose();

    public override string ToString() => $"{Module.Name} on {device}";
}
