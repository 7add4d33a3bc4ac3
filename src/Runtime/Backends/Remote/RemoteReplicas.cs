using XlaGen.Hlo;

namespace XlaGen.Backends.Remote;

/// <summary>
/// The devices of one xlagen-server (<c>--devices N</c>) as an <see cref="IReplicaPlatform"/>: replica r places its
/// buffers on server device r, a program compiles on the server for the replica count, and
/// <see cref="IReplicaExecutable.ExecuteReplicas"/> is one Execute call carrying one argument list per replica. The
/// server runs the replicas with its own replica platform (the CPU executor's virtual devices today); nothing here
/// depends on which, so a server backed by a PJRT replica platform would serve the same calls.
/// </summary>
internal sealed class RemoteReplicaPlatform : IReplicaPlatform
{
    readonly RemoteDevice root;
    readonly RemoteDevice[] devices;
    readonly bool ownsConnection;

    public RemoteReplicaPlatform(RemoteDevice root, int replicas, bool ownsConnection)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "a replicated device needs at least one replica");
        if (Problem(root, replicas) is { } problem) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, problem);
        this.root = root.ReplicaDevice(0);
        this.ownsConnection = ownsConnection;
        devices = Enumerable.Range(0, replicas).Select(this.root.ReplicaDevice).ToArray();
    }

    /// <summary>Why the server cannot run <paramref name="replicas"/> replicas, or null.</summary>
    public static string? Problem(RemoteDevice root, int replicas)
    {
        if (replicas <= root.MaxReplicas) return null;
        return root.MaxReplicas > 1
            ? $"xlagen-server at {root.Address} runs programs on at most {root.MaxReplicas} replicas (it was started with --devices {root.MaxReplicas}), not {replicas}"
            : $"xlagen-server at {root.Address} hosts one device{(root.ProtocolVersion < RemoteDevice.ReplicaProtocolVersion ? $" (it speaks protocol version {root.ProtocolVersion}; replicas need {RemoteDevice.ReplicaProtocolVersion})" : "")}: start it with --devices {replicas} to run {replicas} replicas";
    }

    public IReadOnlyList<IDevice> Devices => devices;

    public IReplicaExecutable CompileReplicated(HloModule module) =>
        new RemoteReplicaExecutable(root.CompileHloAsync(module, devices.Length, CancellationToken.None).GetAwaiter().GetResult(), devices);

    public void Dispose()
    {
        if (ownsConnection) root.Dispose();
    }

    public override string ToString() => $"{devices.Length} devices of xlagen-server at {root.Address}";
}

/// <summary>A program compiled on an xlagen-server for N replicas; each call is one Execute request.</summary>
internal sealed class RemoteReplicaExecutable(RemoteExecutable inner, RemoteDevice[] devices) : IReplicaExecutable
{
    public HloModule Module => inner.Module;

    public int Replicas => devices.Length;

    public long PeakMemoryBytes => inner.PeakMemoryBytes;

    /// <summary>The server-side executable (its fingerprint, whether it was cached).</summary>
    public RemoteExecutable Remote => inner;

    public DeviceBuffer[][] ExecuteReplicas(IReadOnlyList<IReadOnlyList<DeviceBuffer>> arguments, ExecuteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (devices.Length > 1) return inner.ExecuteReplicasAsync(devices, arguments, options, CancellationToken.None).GetAwaiter().GetResult();
        // One replica: an ordinary program on device 0.
        if (arguments.Count != 1) throw new ArgumentException($"'{Module.Name}' runs on 1 replica and needs 1 argument list, got {arguments.Count}", nameof(arguments));
        return [inner.Execute(arguments[0], options)];
    }

    public void Dispose() => inner.Dispose();

    public override string ToString() => inner.ToString();
}
