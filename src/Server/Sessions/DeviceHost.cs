using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using XlaGen.Server.Data;

namespace XlaGen.Server.Sessions;

/// <summary>The server's state: the backend device, the sessions, the compile cache and counters. A singleton that
/// frees everything when the host shuts down (after Kestrel drained the running calls).</summary>
internal sealed class DeviceHost : IDisposable
{
    public const int MinProtocolVersion = 1;

    /// <summary>2: the bulk data channel (BeginTransfer, GetVersionResponse.data_port). 3: replicas (devices, a
    /// compile's replica count, one Execute with one argument list per replica).</summary>
    public const int MaxProtocolVersion = 4;

    /// <summary>The first version with replicas.</summary>
    public const int ReplicaProtocolVersion = 3;

    /// <summary>The first protocol version with asynchronous dispatch (result_handles, sequence).</summary>
    public const int AsyncDispatchProtocolVersion = 4;

    /// <summary>The first version with the bulk data channel.</summary>
    public const int DataChannelProtocolVersion = 2;

    readonly Stopwatch uptime = Stopwatch.StartNew();
    long callsFailed;
    int executionsInFlight;

    public DeviceHost(ServerOptions options, IDevice device, IReplicaPlatform? replicas = null)
    {
        Options = options;
        Replicas = replicas;
        Device = replicas != null ? replicas.Devices[0] : device;
        AllDevices = replicas != null ? replicas.Devices : new[] { device };
        ownedDevice = device;
        Sessions = new SessionTable(options.MaxSessions, options.MaxDeviceBytes ?? DefaultDeviceBytes(device.Info.MemoryBytes), options.MaxHandlesPerSession, options.SessionLease);
        Cache = new CompileCache(options.CompileCacheEntries, options.CompileCacheBytes);
        Tickets = new TransferTickets(options.TicketLifetime);
        InstanceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    }

    public static string ServerVersion { get; } =
        typeof(DeviceHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(DeviceHost).Assembly.GetName().Version?.ToString() ?? "0";

    public ServerOptions Options { get; }

    /// <summary>Device 0: ordinary (one-replica) programs run here.</summary>
    public IDevice Device { get; }

    /// <summary>Every device the server hosts, by id (--devices N: the replica platform's; else the one device).</summary>
    public IReadOnlyList<IDevice> AllDevices { get; }

    /// <summary>The platform that compiles and runs replicated programs (--devices N > 1); null when the server has one device.</summary>
    public IReplicaPlatform? Replicas { get; }

    /// <summary>The most replicas a program may be compiled for (1 without a replica platform).</summary>
    public int MaxReplicas => Replicas?.Devices.Count ?? 1;

    readonly IDevice ownedDevice;

    /// <summary>Device <paramref name="id"/>; INVALID_ARGUMENT naming the server's devices when there is none.</summary>
    public IDevice DeviceAt(int id)
    {
        if (id < 0 || id >= AllDevices.Count)
        {
            throw Grpc.Errors.InvalidArgument(AllDevices.Count == 1
                ? $"device {id} does not exist: this server hosts one device (id 0); start it with --devices N for more"
                : $"device {id} does not exist: this server hosts {AllDevices.Count} devices (ids 0 to {AllDevices.Count - 1})");
        }
        return AllDevices[id];
    }

    public SessionTable Sessions { get; }

    public CompileCache Cache { get; }

    /// <summary>Tickets for the bulk data channel.</summary>
    public TransferTickets Tickets { get; }

    /// <summary>The bulk data channel, when the server has one.</summary>
    public DataChannel? Data { get; set; }

    /// <summary>Random per process: clients compare it to notice a restart.</summary>
    public string InstanceId { get; }

    public TimeSpan Uptime => uptime.Elapsed;

    public long CallsFailed => Interlocked.Read(ref callsFailed);

    public int ExecutionsInFlight => Volatile.Read(ref executionsInFlight);

    public void CountFailure() => Interlocked.Increment(ref callsFailed);

    long executionsStopped;

    public long ExecutionsStopped => Interlocked.Read(ref executionsStopped);

    public void CountStoppedExecution() => Interlocked.Increment(ref executionsStopped);

    public ExecutionScope BeginExecution()
    {
        Interlocked.Increment(ref executionsInFlight);
        return new ExecutionScope(this);
    }

    public readonly struct ExecutionScope : IDisposable
    {
        readonly DeviceHost host;

        public ExecutionScope(DeviceHost host) => this.host = host;

        public void Dispose() => Interlocked.Decrement(ref host.executionsInFlight);
    }

    /// <summary>--max-device-bytes by default: 80% of the device's memory, leaving the rest to the process itself (its
    /// managed heap, transfer buffers) and, on the CPU backend, to the rest of the host. 0 (no limit) when unknown.</summary>
    public static long DefaultDeviceBytes(long deviceMemory) => deviceMemory > 0 ? deviceMemory / 5 * 4 : 0;

    /// <summary>The most bytes one value or one program's peak may take: the session limit, else the server-wide
    /// budget, else the device's memory (0: unknown).</summary>
    public long LargestValueBytes =>
        Options.MaxSessionBytes > 0 ? Options.MaxSessionBytes : Sessions.Budget.Limit > 0 ? Sessions.Budget.Limit : Device.Info.MemoryBytes;

    /// <summary>What <see cref="LargestValueBytes"/> is, for messages.</summary>
    public string LargestValueLimitName =>
        Options.MaxSessionBytes > 0 ? "this server lets one session hold (--max-session-bytes)"
        : Sessions.Budget.Limit > 0 ? "this server may use for buffers and running programs (--max-device-bytes)"
        : "the device's memory";

    public void Dispose()
    {
        Sessions.Dispose();
        Cache.Dispose();
        // The CPU device is a process-wide shared instance whose Dispose does nothing; a PJRT device owns its client.
        Replicas?.Dispose();
        ownedDevice.Dispose();
    }
}
