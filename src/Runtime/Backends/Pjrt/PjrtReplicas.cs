using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A PJRT client's devices hosting N replicas (<see cref="PjrtClient.Replicated"/>): replica r runs on the device the
/// plugin's default assignment gives it (PJRT_Client_DefaultDeviceAssignment), a program compiles once with
/// num_replicas = N and that device_assignment, and PJRT_LoadedExecutable_Execute takes one argument list per
/// replica, in assignment order. The collectives (all-reduce) are XLA's, over the devices' interconnect.
/// </summary>
public sealed class PjrtReplicaPlatform : IReplicaPlatform
{
    readonly PjrtClient client;
    readonly PjrtDevice[] devices;
    readonly int[] ids;
    readonly bool ownsClient;

    /// <summary><paramref name="replicas"/> of <paramref name="client"/>'s devices, placed by its default assignment;
    /// the client stays the caller's (an xlagen-server's PJRT backend hosts its devices this way).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is not between 1 and the client's device count.</exception>
    public PjrtReplicaPlatform(PjrtClient client, int replicas) : this(client, replicas, ownsClient: false)
    {
    }

    internal PjrtReplicaPlatform(PjrtClient client, int replicas, bool ownsClient)
    {
        this.client = client ?? throw new ArgumentNullException(nameof(client));
        ids = client.DefaultDeviceAssignment(replicas);
        devices = ids.Select(id => client.Devices.First(d => d.Id == id)).ToArray();
        this.ownsClient = ownsClient;
    }

    /// <summary>The replicas' devices: replica r runs on Devices[r].</summary>
    public IReadOnlyList<IDevice> Devices => devices;

    /// <summary>The device id of each replica, as the plugin assigned them.</summary>
    public IReadOnlyList<int> DeviceAssignment => ids;

    /// <summary>Compiles <paramref name="module"/> for the N replicas (num_replicas = N, the device assignment).</summary>
    /// <exception cref="XlaCompileException">The module is not one the PJRT backend takes, or the plugin refused it.</exception>
    public IReplicaExecutable CompileReplicated(HloModule module) => CompileReplicated(module, devices.Length);

    /// <summary>Compiles for the first <paramref name="replicas"/> replicas (replica r on Devices[r], the assignment's
    /// first ids), for a host serving programs of several replica counts (xlagen-server --devices N).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is not between 1 and the replica count.</exception>
    public IReplicaExecutable CompileReplicated(HloModule module, int replicas)
    {
        if (replicas < 1 || replicas > devices.Length)
            throw new ArgumentOutOfRangeException(nameof(replicas), replicas, $"{this} runs 1 to {devices.Length} replicas, not {replicas}");
        var (handle, results, peak, _) = PjrtExecutable.CompileLoaded(client, module, PjrtCompileOptions.BuildReplicated(ids[..replicas]));
        return new PjrtReplicaExecutable(module, devices[..replicas], handle, results, peak);
    }

    /// <summary>Releases the client when this platform opened it.</summary>
    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }

    /// <summary>"N replicas on PJRT client …".</summary>
    public override string ToString() => $"{devices.Length} replica(s) on {client} (device ids {string.Join(", ", ids)})";
}

/// <summary>A program compiled for N replicas on a PJRT client: one Execute call runs them all.</summary>
internal sealed class PjrtReplicaExecutable(HloModule module, PjrtDevice[] devices, PjrtHandle handle, Shape[] results, long peak) : IReplicaExecutable
{
    readonly Shape[] parameterShapes = module.Entry.Parameters.Select(p => p.Shape).ToArray();
    readonly string[] parameterNames = module.Entry.Parameters.Select(p => p.Name).ToArray();

    public HloModule Module { get; } = module;

    public int Replicas => devices.Length;

    public long PeakMemoryBytes => peak;

    public unsafe DeviceBuffer[][] ExecuteReplicas(IReadOnlyList<IReadOnlyList<DeviceBuffer>> arguments, ExecuteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        int n = devices.Length;
        if (arguments.Count != n) throw new ArgumentException($"'{Module.Name}' runs on {n} replicas and needs {n} argument lists, got {arguments.Count}", nameof(arguments));
        bool[]? donated = null;
        var buffers = new PjrtBuffer[n][];
        for (int r = 0; r < n; r++)
        {
            try
            {
                donated = ExecuteArguments.Check(Module.Name, parameterShapes, parameterNames, arguments[r], b => b.Shape, options?.DonatedArguments ?? Array.Empty<int>());
                buffers[r] = new PjrtBuffer[arguments[r].Count];
                for (int i = 0; i < buffers[r].Length; i++)
                    buffers[r][i] = devices[r].Own(arguments[r][i], $"pass argument {i} ({parameterNames[i]}) of replica {r} to '{Module.Name}'");
            }
            catch (Exception e) when (e is XlaExecutionException or ArgumentException or InvalidOperationException)
            {
                throw new XlaExecutionException($"replica {r} of {n}: {e.Message}", e);
            }
        }
        options?.Cancellation.ThrowIfCancellationRequested();
        return PjrtExecutable.Run(handle, Module.Name, devices, buffers, donated, null, results);
    }

    public void Dispose() => handle.Dispose();

    public override string ToString() => $"pjrt executable '{Module.Name}' on {devices.Length} replicas";
}
