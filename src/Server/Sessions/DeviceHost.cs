using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;

namespace XlaGen.Server.Sessions;

/// <summary>The server's state: the backend device, the sessions, the compile cache and counters. A singleton that
/// frees everything when the host shuts down (after Kestrel drained the running calls).</summary>
internal sealed class DeviceHost : IDisposable
{
    public const int MinProtocolVersion = 1;
    public const int MaxProtocolVersion = 1;

    readonly Stopwatch uptime = Stopwatch.StartNew();
    long callsFailed;
    int executionsInFlight;

    public DeviceHost(ServerOptions options, IDevice device)
    {
        Options = options;
        Device = device;
        Sessions = new SessionTable(options.MaxSessions);
        Cache = new CompileCache(options.CompileCacheEntries);
        InstanceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    }

    public static string ServerVersion { get; } =
        typeof(DeviceHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(DeviceHost).Assembly.GetName().Version?.ToString() ?? "0";

    public ServerOptions Options { get; }

    public IDevice Device { get; }

    public SessionTable Sessions { get; }

    public CompileCache Cache { get; }

    /// <summary>Random per process: clients compare it to notice a restart.</summary>
    public string InstanceId { get; }

    public TimeSpan Uptime => uptime.Elapsed;

    public long CallsFailed => Interlocked.Read(ref callsFailed);

    public int ExecutionsInFlight => Volatile.Read(ref executionsInFlight);

    public void CountFailure() => Interlocked.Increment(ref callsFailed);

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

    /// <summary>The most bytes one value may take: the session limit, else the device's memory (0: unknown).</summary>
    public long LargestValueBytes => Options.MaxSessionBytes > 0 ? Options.MaxSessionBytes : Device.Info.MemoryBytes;

    public void Dispose()
    {
        Sessions.Dispose();
        Cache.Dispose();
        // The CPU device is a process-wide shared instance (Devices.Cpu()); a PJRT client would be disposed here.
    }
}
