using System.Globalization;
using System.Net;

namespace XlaGen.Server;

public enum LogFormat
{
    Text,
    Json,
}

/// <summary>The command line of xlagen-server. <see cref="Parse"/> reports every mistake as a <see cref="UsageException"/>.</summary>
public sealed record ServerOptions
{
    public const int DefaultPort = 8470;

    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, DefaultPort);

    public string ListenText { get; init; } = "127.0.0.1:8470";

    /// <summary>--data-listen: null for the default (the --listen address with the next port; a free port when
    /// --listen's port is 0).</summary>
    public IPEndPoint? DataListen { get; init; }

    /// <summary>--data-listen off: no bulk data channel (clients use Upload and Download streams).</summary>
    public bool DataChannelOff { get; init; }

    /// <summary>How long a BeginTransfer ticket stays valid.</summary>
    public TimeSpan TicketLifetime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The data channel's address when --data-listen was not given.</summary>
    public IPEndPoint DefaultDataListen => new(Listen.Address, Listen.Port is 0 or 65535 ? 0 : Listen.Port + 1);

    /// <summary>How soon a data connection must present its first request with a valid ticket.</summary>
    public TimeSpan DataAuthTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Data connections without a valid ticket yet, in all.</summary>
    public int DataMaxUnauthenticated { get; init; } = 64;

    /// <summary>Data connections without a valid ticket yet, from one peer address.</summary>
    public int DataMaxUnauthenticatedPerAddress { get; init; } = 8;

    public string Backend { get; init; } = "cpu";

    /// <summary>The backend <see cref="Backend"/> names, parsed.</summary>
    public DeviceSpec BackendSpec { get; init; } = new(DeviceBackend.Cpu);

    public string? TokenFile { get; init; }

    public string? TlsCertificateFile { get; init; }

    public string? TlsKeyFile { get; init; }

    public long MaxMessageBytes { get; init; } = 64L << 20;

    /// <summary>0: no limit.</summary>
    public long MaxSessionBytes { get; init; }

    public int MaxSessions { get; init; } = 64;

    /// <summary>--devices N: how many devices the server hosts (N > 1: virtual CPU devices, or a PJRT client's devices,
    /// that run replicated programs).</summary>
    public int Devices { get; init; } = 1;

    /// <summary>The most devices --devices accepts.</summary>
    public const int MaxDevices = 256;

    /// <summary>Most buffers and executables one session may hold at once.</summary>
    public int MaxHandlesPerSession { get; init; } = Sessions.SessionTable.DefaultMaxHandlesPerSession;

    /// <summary>Null: the default (80% of the device's memory); 0: no limit.</summary>
    public long? MaxDeviceBytes { get; init; }

    public TimeSpan SessionLease { get; init; } = TimeSpan.FromSeconds(60);

    public int CompileCacheEntries { get; init; } = 64;

    /// <summary>Most estimated bytes of compiled programs kept with no handle referencing them.</summary>
    public long CompileCacheBytes { get; init; } = 256L << 20;

    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Zero: no limit.</summary>
    public TimeSpan MaxExecutionTime { get; init; }

    /// <summary>Most instructions (all computations together) in one compiled module; 0: no limit.</summary>
    public int MaxInstructions { get; init; } = DefaultMaxInstructions;

    public const int DefaultMaxInstructions = 250_000;

    /// <summary>Most operations one run of a program may cost by the compile-time estimate (ProgramCost); 0: no limit.</summary>
    public double MaxProgramCost { get; init; }

    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>The device protocol versions the server advertises and accepts: the ones it implements
    /// (<see cref="Sessions.DeviceHost.MinProtocolVersion"/>..<see cref="Sessions.DeviceHost.MaxProtocolVersion"/>) unless
    /// <see cref="TestProtocolRangeVariable"/> overrides them.</summary>
    public int MinProtocolVersion { get; init; } = Sessions.DeviceHost.MinProtocolVersion;

    public int MaxProtocolVersion { get; init; } = Sessions.DeviceHost.MaxProtocolVersion;

    /// <summary>True when <see cref="TestProtocolRangeVariable"/> set the protocol range.</summary>
    public bool ProtocolRangeOverridden { get; init; }

    /// <summary>
    /// A testing aid, not an option: <c>XLAGEN_SERVER_TEST_PROTOCOL_RANGE=MIN..MAX</c> makes the server advertise (in
    /// GetVersion) and accept (in OpenSession) only those device protocol versions, so that tests can play a server
    /// newer or older than the client against a real client. It changes nothing else: a session opened at a version
    /// the server does not implement still behaves as the highest one it does.
    /// </summary>
    public const string TestProtocolRangeVariable = "XLAGEN_SERVER_TEST_PROTOCOL_RANGE";

    /// <summary>Applies <see cref="TestProtocolRangeVariable"/> (its value, null or empty for none).</summary>
    public ServerOptions WithTestProtocolRange(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return this;
        var parts = value.Trim().Split("..");
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int min)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int max)
            || min > max)
            throw new UsageException($"{TestProtocolRangeVariable}={value}: use MIN..MAX with whole numbers, MIN <= MAX (for example 7..9)");
        return this with { MinProtocolVersion = min, MaxProtocolVersion = max, ProtocolRangeOverridden = true };
    }

    /// <summary>--node-id: this server's index among the --num-nodes servers of a multi-host job (0: the coordinator).</summary>
    public int NodeId { get; init; }

    /// <summary>--num-nodes: how many servers (hosts) the job spans; 1 is a single host.</summary>
    public int NumNodes { get; init; } = 1;

    /// <summary>The most --num-nodes accepts.</summary>
    public const int MaxNodes = 4096;

    /// <summary>--coordinator as given: where node 0 serves the key-value store and the others reach it.</summary>
    public string? Coordinator { get; init; }

    /// <summary>--coordinator parsed, on node 0: the address its store listens on.</summary>
    public IPEndPoint? CoordinatorListen { get; init; }

    public bool MultiNode => NumNodes > 1;

    /// <summary>The coordinator's key-value store limits (--kv-* options, node 0 only).</summary>
    public KeyValue.KeyValueLimits KeyValueLimits { get; init; } = new();

    /// <summary>How long a non-coordinator waits for the coordinator to answer before it gives up starting.</summary>
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public bool Help { get; init; }

    public bool Version { get; init; }

    public bool UsesTls => TlsCertificateFile != null;

    public const string HelpText = """
        xlagen-server: runs compiled XLA (HLO) programs on this host's device for XlaGen clients over gRPC.

        usage: xlagen-server [options]

        Clients connect with Devices.ConnectAsync("grpc://HOST:PORT") (or grpcs:// with TLS), or set
        XLAGEN_DEVICE=grpc://HOST:PORT. The service is protos/xlagen/device.proto (xlagen.device.v1) plus the
        standard gRPC health service (grpc.health.v1.Health).

        options:
          --listen HOST:PORT         Address to listen on (default 127.0.0.1:8470: this machine only). Use
                                     0.0.0.0:8470 or [::]:8470 for every interface, and then also --token-file
                                     and TLS. Port 0 picks a free port. Once listening, the server prints one line
                                     "xlagen-server listening on http://HOST:PORT" to stdout (logs go to stderr).
          --data-listen HOST:PORT|off
                                     The bulk data channel: a second port where clients move large tensors as plain
                                     bytes (TLS when the gRPC port has it) instead of gRPC streams, several times
                                     faster. It takes no token: each transfer needs a single-use ticket that an
                                     authenticated gRPC call hands out (protocol version 2). Default: the --listen
                                     address with the next port (127.0.0.1:8471), a free port when --listen's port is
                                     0 or the next one is taken; clients learn it in the handshake. off: no data
                                     channel (transfers use gRPC streams, as version-1 clients always do).
          --data-ticket-lifetime DURATION
                                     How long a transfer ticket stays valid before its transfer starts (default 10s).
          --data-auth-timeout DURATION
                                     How soon a new data connection must send its first request with a valid ticket
                                     (TLS handshake included) before it is closed (default 5s).
          --data-max-unauthenticated N
                                     Most data connections open at once that have not presented a valid ticket yet
                                     (default 64); more are closed on arrival, so idle or hostile connections cannot
                                     crowd out real transfers (clients then fall back to gRPC streams).
          --data-max-unauthenticated-per-address N
                                     The same, per peer IP address (default 8).
          --backend NAME             The device that runs programs: cpu (the embedded CPU executor; default);
                                     pjrt:PATH (XLA through the PJRT plugin at PATH: libtpu.so on a TPU host,
                                     xla_cuda_plugin.so from jax-cuda12/13-pjrt on NVIDIA); pjrt alone finds the
                                     plugin as Devices.Pjrt() does (XLAGEN_PJRT_PLUGIN, TPU_LIBRARY_PATH, the
                                     python3 site-packages). The server hosts the plugin's first device (N with --devices N).
          --devices N                Host N devices (default 1). With the cpu backend, N virtual CPU devices (ids
                                     0..N-1, one thread per replica) that run replicated programs: a client compiles
                                     for up to N replicas and runs all of them through one Execute call, their
                                     all-reduces meeting on the server (RemoteDevice.Replicated). With the pjrt
                                     backend, N of the plugin's devices, replica r on the device its default
                                     assignment names (device id r of this server); XLA runs the all-reduces.
          --token-file PATH          Require every call (health checks included) to carry the header
                                     "authorization: Bearer TOKEN", TOKEN being this file's contents without
                                     surrounding whitespace. Compared in constant time. Calls without it or with
                                     another token fail UNAUTHENTICATED.
          --tls-cert PATH            Serve TLS (HTTP/2 over TLS) with this PEM certificate (chain); needs --tls-key.
                                     Clients then use grpcs://HOST:PORT.
          --tls-key PATH             The PEM private key of --tls-cert.
          --max-message-bytes SIZE   Largest gRPC message accepted or sent (default 64MiB). Uploads and
                                     downloads are streamed in chunks below it, so buffers may be far larger.
          --max-session-bytes SIZE   Most bytes of device buffers one session may hold (default 0: no limit
                                     beyond the device's memory). Over it, uploads and executions fail
                                     RESOURCE_EXHAUSTED; so does compiling a program whose single values exceed it.
          --max-device-bytes SIZE    Most bytes of device buffers all sessions together may hold, plus what running
                                     executions allocate (each program's estimated peak, reserved while it runs).
                                     Default: 80% of the device's memory (for the CPU backend, the host's), so many
                                     clients together cannot exhaust the host; 0: no limit. Over it, uploads and
                                     executions fail RESOURCE_EXHAUSTED.
          --max-sessions N           Most sessions open at once (default 64); more fail RESOURCE_EXHAUSTED.
          --max-handles-per-session N
                                     Most buffers and executables one session may hold at once (default 100000);
                                     a call that would create more fails RESOURCE_EXHAUSTED.
          --session-lease DURATION   How long a session lives without any call (default 60s). Clients renew it in
                                     the background; when a client vanishes, its buffers and programs are freed
                                     once the lease runs out.
          --compile-cache N          Compiled programs kept after their last handle is released, for the next
                                     client that compiles the same bytes (default 64; programs are keyed by the
                                     SHA-256 of their HloModuleProto).
          --compile-cache-bytes SIZE Most memory those kept programs may take together, estimated from their modules
                                     (bytes, instructions and constants; default 256MiB); the least recently used
                                     are evicted first, and a program larger than this is not kept at all.
          --max-execution-time DURATION
                                     Longest one execution may run before the server stops it and answers
                                     DEADLINE_EXCEEDED (default 0: no limit). A program that never ends (a while loop
                                     whose condition stays true) otherwise holds a core until its client gives up:
                                     executions also stop when the client cancels the call or its deadline passes.
                                     Donated arguments of a stopped execution are consumed.
          --max-program-cost N       Most operations one run of a program may cost, estimated when it is compiled
                                     (a multiply-add of a dot or convolution is 2, each window element a
                                     reduce-window visits is 1, a reducer's call costs its instructions; while
                                     loops count one iteration). A costlier module fails RESOURCE_EXHAUSTED at
                                     compile with its estimate (operations and bytes touched). N is a number with an
                                     optional unit: 5e11, 500G, 2T (K, M, G, T, P: powers of 1000). Default 0: no
                                     limit (--max-execution-time still stops what runs too long).
          --max-instructions N       Most instructions (all computations together) one module may have (default
                                     250000; 0: no limit). Larger modules fail RESOURCE_EXHAUSTED at compile.
          --shutdown-timeout DURATION
                                     On SIGTERM or Ctrl+C the server stops accepting calls and waits this long for
                                     running executions and transfers to finish (default 30s).
          --num-nodes N              Multi-host (a TPU pod slice: one xlagen-server per host): the job spans N
                                     servers (default 1). Needs --node-id and --coordinator. Each server's PJRT
                                     client is created with node_id/num_nodes and key-value callbacks that reach
                                     the store node 0 serves; PJRT sets up its distributed runtime through it.
          --node-id I                This server's index, 0..N-1. Node 0 is the coordinator: it serves the key-value
                                     store (protos/xlagen/kv.proto) on the --coordinator address, with the same token
                                     and TLS as the device service. Every node registers its device address there
                                     under the key xlagen/nodes/I once it serves.
          --coordinator HOST:PORT    The key-value store's address: on node 0 the address to listen on (an IP
                                     address; port 0 picks a free one, printed as "xlagen-server key-value store on
                                     http://HOST:PORT"), on the others where to reach it (a host name or IP; they
                                     wait up to --join-timeout for it, so hosts may start in any order).
          --join-timeout DURATION    How long a node other than 0 waits for the coordinator (default 5m).
          --kv-max-value-bytes SIZE  Node 0: largest value the store takes (default 4MiB).
          --kv-max-bytes SIZE        Node 0: most bytes of keys and values in all (default 256MiB).
          --kv-max-keys N            Node 0: most keys in all (default 100000).
          --kv-max-bytes-per-client SIZE
                                     Node 0: most bytes one client (a peer IP address) may store (default 64MiB).
          --kv-max-keys-per-client N Node 0: most keys one client may store (default 25000).
          --kv-max-waiting-per-client N
                                     Node 0: most gets of one client waiting for a key at once (default 256).
          --log-format text|json     Console log format on stderr (default text; json writes one JSON object per line).
          --log-level LEVEL          trace, debug, information, warning, error or critical (default information).
          --version                  Print the server and protocol versions and exit.
          -h, --help                 Print this help and exit.

        SIZE is a byte count with an optional unit: 1048576, 512KiB, 64MiB, 2GiB (also KB, MB, GB: powers of 1000).
        DURATION is a number with a unit: 500ms, 30s, 5m, 1h (a bare number is seconds).

        Security: the default addresses are loopback only. To serve other machines, set --token-file and TLS, or keep
        loopback and reach the server through an SSH tunnel that forwards both ports
        (ssh -L 8470:127.0.0.1:8470 -L 8471:127.0.0.1:8471 tpu-host).
        """;

    /// <summary>Parses the command line; throws <see cref="UsageException"/> naming the bad option.</summary>
    public static ServerOptions Parse(IReadOnlyList<string> args)
    {
        var o = new ServerOptions();
        bool nodeIdGiven = false;
        var kvGiven = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Value()
            {
                if (inline != null) return inline;
                if (i + 1 >= args.Count) throw new UsageException($"{arg} needs a value");
                return args[++i];
            }
            switch (arg)
            {
                case "-h":
                case "--help":
                    o = o with { Help = true };
                    break;
                case "--version":
                    o = o with { Version = true };
                    break;
                case "--listen":
                {
                    var v = Value();
                    o = o with { Listen = ParseEndpoint(v), ListenText = v };
                    break;
                }
                case "--data-listen":
                {
                    var v = Value();
                    o = v.Equals("off", StringComparison.OrdinalIgnoreCase)
                        ? o with { DataChannelOff = true, DataListen = null }
                        : o with { DataChannelOff = false, DataListen = ParseEndpoint(v, arg) };
                    break;
                }
                case "--data-ticket-lifetime":
                {
                    var v = ParseDuration(arg, Value());
                    if (v < TimeSpan.FromMilliseconds(100)) throw new UsageException($"--data-ticket-lifetime {v.TotalMilliseconds}ms is too short: at least 100ms");
                    o = o with { TicketLifetime = v };
                    break;
                }
                case "--data-auth-timeout":
                {
                    var v = ParseDuration(arg, Value());
                    if (v < TimeSpan.FromMilliseconds(100)) throw new UsageException($"--data-auth-timeout {v.TotalMilliseconds}ms is too short: at least 100ms");
                    o = o with { DataAuthTimeout = v };
                    break;
                }
                case "--data-max-unauthenticated":
                    o = o with { DataMaxUnauthenticated = ParseCount(arg, Value(), 1) };
                    break;
                case "--data-max-unauthenticated-per-address":
                    o = o with { DataMaxUnauthenticatedPerAddress = ParseCount(arg, Value(), 1) };
                    break;
                case "--backend":
                {
                    var v = Value();
                    DeviceSpec spec;
                    try
                    {
                        spec = DeviceSpec.Parse(v);
                    }
                    catch (ArgumentException e)
                    {
                        throw new UsageException(v.StartsWith("pjrt:", StringComparison.OrdinalIgnoreCase)
                            ? $"--backend {v}: {e.Message}"
                            : $"--backend {v}: unknown backend; write cpu, pjrt (searches for a plugin) or pjrt:/path/to/plugin.so");
                    }
                    if (spec.Backend == DeviceBackend.Remote)
                        throw new UsageException($"--backend {v}: a server hosts a device of its own machine (cpu or pjrt[:PATH]), not another server's");
                    o = o with { Backend = spec.ToString(), BackendSpec = spec };
                    break;
                }
                case "--token-file":
                    o = o with { TokenFile = Value() };
                    break;
                case "--tls-cert":
                    o = o with { TlsCertificateFile = Value() };
                    break;
                case "--tls-key":
                    o = o with { TlsKeyFile = Value() };
                    break;
                case "--max-message-bytes":
                {
                    long v = ParseSize(arg, Value());
                    if (v < 64 << 10) throw new UsageException($"--max-message-bytes {v} is too small: at least 64KiB (one chunk of a transfer plus framing)");
                    if (v > int.MaxValue) throw new UsageException($"--max-message-bytes {v} is too large: gRPC messages are at most 2GiB-1; larger buffers are streamed anyway");
                    o = o with { MaxMessageBytes = v };
                    break;
                }
                case "--max-session-bytes":
                    o = o with { MaxSessionBytes = ParseSize(arg, Value()) };
                    break;
                case "--max-device-bytes":
                    o = o with { MaxDeviceBytes = ParseSize(arg, Value()) };
                    break;
                case "--devices":
                {
                    int n = ParseCount(arg, Value(), 1);
                    // one thread per replica per execution
                    if (n > MaxDevices) throw new UsageException($"--devices {n}: at most {MaxDevices}");
                    o = o with { Devices = n };
                    break;
                }
                case "--max-sessions":
                    o = o with { MaxSessions = ParseCount(arg, Value(), 1) };
                    break;
                case "--max-handles-per-session":
                    o = o with { MaxHandlesPerSession = ParseCount(arg, Value(), 1) };
                    break;
                case "--session-lease":
                {
                    var v = ParseDuration(arg, Value());
                    if (v < TimeSpan.FromMilliseconds(200)) throw new UsageException($"--session-lease {v.TotalMilliseconds}ms is too short: at least 200ms");
                    o = o with { SessionLease = v };
                    break;
                }
                case "--compile-cache-bytes":
                    o = o with { CompileCacheBytes = ParseSize(arg, Value()) };
                    break;
                case "--compile-cache":
                    o = o with { CompileCacheEntries = ParseCount(arg, Value(), 0) };
                    break;
                case "--max-execution-time":
                    o = o with { MaxExecutionTime = ParseDuration(arg, Value()) };
                    break;
                case "--max-program-cost":
                    o = o with { MaxProgramCost = ParseOperations(arg, Value()) };
                    break;
                case "--max-instructions":
                    o = o with { MaxInstructions = ParseCount(arg, Value(), 0) };
                    break;
                case "--shutdown-timeout":
                    o = o with { ShutdownTimeout = ParseDuration(arg, Value()) };
                    break;
                case "--node-id":
                    nodeIdGiven = true;
                    o = o with { NodeId = ParseCount(arg, Value(), 0) };
                    break;
                case "--num-nodes":
                {
                    int n = ParseCount(arg, Value(), 1);
                    if (n > MaxNodes) throw new UsageException($"--num-nodes {n}: at most {MaxNodes}");
                    o = o with { NumNodes = n };
                    break;
                }
                case "--coordinator":
                    o = o with { Coordinator = Value() };
                    break;
                case "--join-timeout":
                    o = o with { JoinTimeout = ParseDuration(arg, Value()) };
                    break;
                case "--kv-max-value-bytes":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxValueBytes = ParsePositiveSize(arg, Value()) } };
                    break;
                case "--kv-max-bytes":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxBytes = ParsePositiveSize(arg, Value()) } };
                    break;
                case "--kv-max-keys":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxKeys = ParseCount(arg, Value(), 1) } };
                    break;
                case "--kv-max-bytes-per-client":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxBytesPerClient = ParsePositiveSize(arg, Value()) } };
                    break;
                case "--kv-max-keys-per-client":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxKeysPerClient = ParseCount(arg, Value(), 1) } };
                    break;
                case "--kv-max-waiting-per-client":
                    kvGiven.Add(arg);
                    o = o with { KeyValueLimits = o.KeyValueLimits with { MaxWaitingPerClient = ParseCount(arg, Value(), 1) } };
                    break;
                case "--log-format":
                {
                    var v = Value().ToLowerInvariant();
                    o = o with
                    {
                        LogFormat = v switch
                        {
                            "text" => LogFormat.Text,
                            "json" => LogFormat.Json,
                            _ => throw new UsageException($"--log-format {v}: use text or json"),
                        },
                    };
                    break;
                }
                case "--log-level":
                {
                    var v = Value();
                    if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(v, ignoreCase: true, out var level) || level == Microsoft.Extensions.Logging.LogLevel.None || int.TryParse(v, out _))
                        throw new UsageException($"--log-level {v}: use trace, debug, information, warning, error or critical");
                    o = o with { LogLevel = level };
                    break;
                }
                default:
                    throw new UsageException(arg.StartsWith('-') ? $"unknown option {arg}" : $"unexpected argument '{arg}' (options start with --)");
            }
        }
        if ((o.TlsCertificateFile == null) != (o.TlsKeyFile == null))
            throw new UsageException("--tls-cert and --tls-key go together: pass both PEM files, or neither for cleartext HTTP/2");
        return ValidateNodes(o, nodeIdGiven, kvGiven);
    }

    /// <summary>The multi-host options together: what each combination means is spelled out in the message.</summary>
    static ServerOptions ValidateNodes(ServerOptions o, bool nodeIdGiven, List<string> kvGiven)
    {
        if (!o.MultiNode)
        {
            if (nodeIdGiven && o.NodeId != 0)
                throw new UsageException($"--node-id {o.NodeId} without --num-nodes: a single server is node 0; for a multi-host job give every server --num-nodes N, its --node-id and the --coordinator address");
            if (o.Coordinator != null)
                throw new UsageException("--coordinator is for multi-host jobs: give every server --num-nodes N (N > 1) and its --node-id as well");
            if (kvGiven.Count > 0)
                throw new UsageException($"{kvGiven[0]} configures the multi-host key-value store, which only the coordinator (--num-nodes N --node-id 0) serves");
            return o;
        }
        if (!nodeIdGiven)
            throw new UsageException($"--num-nodes {o.NumNodes} needs --node-id: 0 for the coordinator (it serves the key-value store), 1 to {o.NumNodes - 1} for the others");
        if (o.NodeId >= o.NumNodes)
            throw new UsageException($"--node-id {o.NodeId} with --num-nodes {o.NumNodes}: node ids run from 0 to {o.NumNodes - 1}");
        if (o.Coordinator == null)
            throw new UsageException($"--num-nodes {o.NumNodes} needs --coordinator HOST:PORT: the key-value store's address (node 0 listens there; the others connect to it)");
        if (o.NodeId == 0)
        {
            var listen = ParseEndpoint(o.Coordinator, "--coordinator");
            if (listen.Port != 0 && listen.Port == o.Listen.Port && (listen.Address.Equals(o.Listen.Address) || IsWildcard(listen.Address) || IsWildcard(o.Listen.Address)))
                throw new UsageException($"--coordinator {o.Coordinator} is the --listen address: the key-value store needs a port of its own (for example --listen's port + 6)");
            var data = o.DataChannelOff ? null : o.DataListen ?? (o.Listen.Port == 0 ? null : o.DefaultDataListen);
            if (data != null && listen.Port != 0 && listen.Port == data.Port && (listen.Address.Equals(data.Address) || IsWildcard(listen.Address) || IsWildcard(data.Address)))
                throw new UsageException($"--coordinator {o.Coordinator} is the data channel's address ({data}): the key-value store needs a port of its own");
            var l = o.KeyValueLimits;
            if (l.MaxBytesPerClient > l.MaxBytes)
                throw new UsageException($"--kv-max-bytes-per-client {l.MaxBytesPerClient} is more than --kv-max-bytes {l.MaxBytes}");
            if (l.MaxKeysPerClient > l.MaxKeys)
                throw new UsageException($"--kv-max-keys-per-client {l.MaxKeysPerClient} is more than --kv-max-keys {l.MaxKeys}");
            if (l.MaxValueBytes > l.MaxBytesPerClient)
                throw new UsageException($"--kv-max-value-bytes {l.MaxValueBytes} is more than one client may store (--kv-max-bytes-per-client {l.MaxBytesPerClient})");
            if (l.MaxValueBytes > o.MaxMessageBytes - (64 << 10))
                throw new UsageException($"--kv-max-value-bytes {l.MaxValueBytes} does not fit a gRPC message of --max-message-bytes {o.MaxMessageBytes} (with room for the key)");
            return o with { CoordinatorListen = listen };
        }
        if (kvGiven.Count > 0)
            throw new UsageException($"{kvGiven[0]} only applies to the coordinator (--node-id 0), which serves the key-value store; node {o.NodeId} uses the store at {o.Coordinator}");
        if (!Uri.TryCreate("grpc://" + o.Coordinator, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || uri.Port is <= 0 or > 65535
            || o.Coordinator.EndsWith(":0", StringComparison.Ordinal) || !o.Coordinator.Contains(':', StringComparison.Ordinal))
            throw new UsageException($"--coordinator {o.Coordinator}: use HOST:PORT with the coordinator's real port (the one node 0 listens on), for example 10.0.0.2:8476");
        return o;
    }

    static bool IsWildcard(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);

    /// <summary>The URL the other nodes' key-value clients use: grpcs:// when this node serves TLS (all nodes of a job
    /// share the certificate setup), else grpc://.</summary>
    public string CoordinatorAddress => (UsesTls ? "grpcs://" : "grpc://") + Coordinator;

    static long ParsePositiveSize(string option, string text)
    {
        long v = ParseSize(option, text);
        if (v <= 0) throw new UsageException($"{option} {text}: use a size of at least 1 byte");
        return v;
    }

    public static IPEndPoint ParseEndpoint(string text, string option = "--listen")
    {
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0) throw new UsageException($"{option} {text}: write an IPv6 address as [ADDRESS]:PORT");
            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':') != colon) throw new UsageException($"{option} {text}: use HOST:PORT, for example 127.0.0.1:8470 or 0.0.0.0:8470");
            host = text[..colon];
            portText = text[(colon + 1)..];
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new UsageException($"{option} {text}: '{portText}' is not a port (0-65535)");
        IPAddress address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (host == "*") address = IPAddress.Any;
        else if (!IPAddress.TryParse(host, out address!))
            throw new UsageException($"{option} {text}: '{host}' is not an IP address (use 127.0.0.1, 0.0.0.0, [::] or localhost)");
        return new IPEndPoint(address, port);
    }

    public static long ParseSize(string option, string text)
    {
        var t = text.Trim();
        int split = 0;
        while (split < t.Length && char.IsAsciiDigit(t[split])) split++;
        if (split == 0) throw new UsageException($"{option} {text}: not a size (use bytes or a unit: 512KiB, 64MiB, 2GiB)");
        long multiplier = t[split..].ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "kib" => 1L << 10,
            "mib" => 1L << 20,
            "gib" => 1L << 30,
            "tib" => 1L << 40,
            "kb" => 1000,
            "mb" => 1000_000,
            "gb" => 1000_000_000,
            "tb" => 1000_000_000_000,
            _ => throw new UsageException($"{option} {text}: unknown unit '{t[split..]}' (use KiB, MiB, GiB, TiB, KB, MB, GB or TB)"),
        };
        if (!long.TryParse(t[..split], NumberStyles.None, CultureInfo.InvariantCulture, out long n))
            throw new UsageException($"{option} {text}: the number is too large");
        try
        {
            return checked(n * multiplier);
        }
        catch (OverflowException)
        {
            throw new UsageException($"{option} {text}: the size is too large");
        }
    }

    public static TimeSpan ParseDuration(string option, string text)
    {
        var t = text.Trim().ToLowerInvariant();
        (string number, double scaleMs) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 1.0)
            : t.EndsWith('s') ? (t[..^1], 1000.0)
            : t.EndsWith('m') ? (t[..^1], 60_000.0)
            : t.EndsWith('h') ? (t[..^1], 3_600_000.0)
            : (t, 1000.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || double.IsInfinity(v) || v * scaleMs > int.MaxValue)
            throw new UsageException($"{option} {text}: not a duration (use 500ms, 30s, 5m or 1h)");
        return TimeSpan.FromMilliseconds(v * scaleMs);
    }

    /// <summary>A count of operations: 1000000, 5e11, 500G, 2T (K, M, G, T, P: powers of 1000).</summary>
    public static double ParseOperations(string option, string text)
    {
        var t = text.Trim();
        double unit = t.Length == 0 ? 1 : char.ToUpperInvariant(t[^1]) switch
        {
            'K' => 1e3,
            'M' => 1e6,
            'G' => 1e9,
            'T' => 1e12,
            'P' => 1e15,
            _ => 1,
        };
        if (unit != 1) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double v)
            || double.IsNaN(v) || double.IsInfinity(v * unit) || v < 0)
            throw new UsageException($"{option} {text}: not a number of operations (use 1000000, 5e11, 500G or 2T)");
        return v * unit;
    }

    static int ParseCount(string option, string text, int min)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min)
            throw new UsageException($"{option} {text}: use a whole number of at least {min}");
        return n;
    }
}

/// <summary>A mistake on the command line; the message names the option.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
}
