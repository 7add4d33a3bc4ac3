using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Console;
using System.Security.Cryptography.X509Certificates;
using XlaGen;
using XlaGen.Server.Data;
using XlaGen.Distributed;
using XlaGen.Server.Grpc;
using XlaGen.Server.KeyValue;
using XlaGen.Server.Sessions;

namespace XlaGen.Server;

/// <summary>
/// xlagen-server's entry point, callable from another program: <c>xlagen serve</c> runs the server through it with the
/// same options (<see cref="ServerOptions"/>), messages and exit codes (0 stopped normally, 1 cannot listen, 2 usage).
/// </summary>
public static class ServerMain
{
    public const string ProgramName = "xlagen-server";

    /// <summary>What the PJRT client's own keys start with in the shared store (the header asks whoever provides the
    /// callbacks to keep different users' keys apart).</summary>
    public const string PjrtKeyPrefix = "pjrt:";

    /// <summary>The key under which node <paramref name="nodeId"/> publishes its device address.</summary>
    public static string NodeKey(int nodeId) => "xlagen/nodes/" + nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    static async Task StopAsync(Coordinator? coordinator, IKeyValueStore? store)
    {
        (store as IDisposable)?.Dispose();
        if (coordinator != null) await coordinator.DisposeAsync();
    }

    /// <summary>Parses <paramref name="args"/> as xlagen-server's command line and runs the server until it is stopped
    /// (Ctrl+C, SIGTERM). <paramref name="name"/> is how messages and --help name the program.</summary>
    public static async Task<int> RunAsync(string[] args, string name = ProgramName)
    {
        ServerOptions options;
        try
        {
            options = ServerOptions.Parse(args).WithTestProtocolRange(Environment.GetEnvironmentVariable(ServerOptions.TestProtocolRangeVariable));
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"{name}: {e.Message}");
            Console.Error.WriteLine($"run {name} --help for the options");
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(name == ProgramName ? ServerOptions.HelpText : ServerOptions.HelpText.Replace("usage: " + ProgramName, "usage: " + name, StringComparison.Ordinal));
            return 0;
        }
        if (options.Version)
        {
            Console.WriteLine($"{ProgramName} {DeviceHost.ServerVersion} (device protocol {options.MinProtocolVersion}..{options.MaxProtocolVersion})");
            return 0;
        }

        string? token;
        X509Certificate2? certificate;
        try
        {
            token = ReadToken(options.TokenFile);
            certificate = options.UsesTls ? LoadCertificate(options.TlsCertificateFile!, options.TlsKeyFile!) : null;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"{name}: {e.Message}");
            return 2;
        }

        // Multi-host: node 0 serves the key-value store before anything else (the other nodes' PJRT clients wait for it
        // while they are created, and so does its own); the others reach it over gRPC.
        Coordinator? coordinator = null;
        IKeyValueStore? store = null;
        if (options.MultiNode)
        {
            if (options.NodeId == 0)
            {
                try
                {
                    coordinator = await Coordinator.StartAsync(options, token, certificate);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"{name}: cannot listen on {options.Coordinator} (--coordinator): {e.Message}");
                    return 1;
                }
                Console.Out.WriteLine($"xlagen-server key-value store on {coordinator.Address}");
                Console.Out.Flush();
                store = new LocalKeyValueStore(coordinator.Table);
            }
            else
            {
                store = new KeyValueClient(options.CoordinatorAddress, new KeyValueClientOptions
                {
                    Token = token,
                    TrustedCertificateFile = options.TlsCertificateFile,
                    UnavailableRetry = options.JoinTimeout,
                });
            }
        }

        IDevice device;
        try
        {
            device = options.BackendSpec.Backend == DeviceBackend.Pjrt && options.MultiNode
                ? Devices.Pjrt(options.BackendSpec.PluginPath, new XlaGen.Backends.Pjrt.PjrtOptions
                {
                    NodeId = options.NodeId,
                    NumNodes = options.NumNodes,
                    KeyValueStore = new PrefixedKeyValueStore(store!, PjrtKeyPrefix),
                })
                : Devices.Open(options.BackendSpec);
        }
        catch (Exception e) when (options.BackendSpec.Backend == DeviceBackend.Pjrt && e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"{name}: --backend {options.Backend}: {e.Message}");
            await StopAsync(coordinator, store);
            return 2;
        }

        IReplicaPlatform? replicas = null;
        if (options.Devices > 1)
        {
            try
            {
                // cpu: N virtual devices; pjrt: N of the client's devices, placed by the plugin's default assignment
                replicas = device is XlaGen.Backends.Pjrt.PjrtDevice pjrt
                    ? new XlaGen.Backends.Pjrt.PjrtReplicaPlatform(pjrt.Client, options.Devices)
                    : new XlaGen.Backends.Cpu.CpuReplicaPlatform(options.Devices);
            }
            catch (Exception e) when (e is ArgumentOutOfRangeException or NotSupportedException or XlaGen.Backends.Pjrt.PjrtException)
            {
                Console.Error.WriteLine($"{name}: --devices {options.Devices}: {(e is ArgumentOutOfRangeException a ? a.Message.Split(" (Parameter")[0] : e.Message)}");
                device.Dispose();
                await StopAsync(coordinator, store);
                return 2;
            }
        }

        // Executions keep thread-pool threads busy (a kernel's Parallel.For chunks run on them). The timers and socket
        // completions that stop an execution (--max-execution-time, a client's cancel or deadline) also need a pool thread:
        // with only one per core, they waited for the pool to grow (seconds) while every thread computed. Keep spare threads.
        ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
        ThreadPool.SetMinThreads(Math.Max(minWorkers, 4 * Environment.ProcessorCount + 8), minIo);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>(), ContentRootPath = AppContext.BaseDirectory });
        ConfigureLogging(builder, options);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            // Large flow-control windows so a single upload stream is not throttled by acknowledgements.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 32 << 20;
            kestrel.Limits.Http2.InitialStreamWindowSize = 16 << 20;
            kestrel.Limits.Http2.MaxFrameSize = 1 << 20;
            kestrel.Listen(options.Listen, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate != null) listen.UseHttps(certificate);
            });
        });

        var host = new DeviceHost(options, device, replicas);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(host);
        builder.Services.AddSingleton(new TokenPolicy(token));
        builder.Services.AddSingleton<DeviceServiceImpl>();
        builder.Services.AddSingleton<DeviceServiceEndpoint>();
        builder.Services.AddSingleton<global::Grpc.AspNetCore.Server.Model.IServiceMethodProvider<DeviceServiceEndpoint>, GuardedMethodProvider>();
        builder.Services.AddSingleton<GuardInterceptor>();
        builder.Services.AddHostedService<LeaseReaper>();
        // The bulk data channel is bound below, after the logger exists and before anything starts.
        builder.Services.AddSingleton<IHostedService>(sp => (IHostedService?)sp.GetRequiredService<DeviceHost>().Data ?? new NoDataChannel());
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = (int)options.MaxMessageBytes;
            o.MaxSendMessageSize = (int)options.MaxMessageBytes;
            o.EnableDetailedErrors = false;
            o.Interceptors.Add<GuardInterceptor>();
        });
        // SERVING while the server takes calls, NOT_SERVING once shutdown began (load balancers stop sending work).
        builder.Services.AddGrpcHealthChecks()
            .AddCheck<ServingHealthCheck>("device");

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("XlaGen.Server");
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() =>
            XlaGen.Server.Log.ShuttingDown(logger, (long)options.ShutdownTimeout.TotalMilliseconds, host.ExecutionsInFlight));

        if (!options.DataChannelOff)
        {
            var endPoint = options.DataListen ?? options.DefaultDataListen;
            try
            {
                host.Data = DataChannel.Bind(endPoint, host, certificate, logger);
            }
            catch (System.Net.Sockets.SocketException e) when (options.DataListen == null && endPoint.Port != 0)
            {
                // The default port (--listen's + 1) is taken: a free one still serves clients that reach this host directly.
                XlaGen.Server.Log.DataChannelProblem(logger, $"cannot listen on {endPoint} (the default, --listen's port + 1): {e.Message}; using a free port instead (set --data-listen to choose one)");
                host.Data = DataChannel.Bind(new IPEndPoint(endPoint.Address, 0), host, certificate, logger);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                Console.Error.WriteLine($"{name}: cannot listen on {endPoint} (--data-listen): {e.Message}");
                host.Dispose();
                await StopAsync(coordinator, store);
                return 1;
            }
        }

        if (token != null) app.UseMiddleware<TokenMiddleware>();
        app.MapGrpcService<DeviceServiceEndpoint>();
        app.MapGrpcHealthChecksService();

        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"{name}: cannot listen on {options.ListenText}: {e.Message}");
            host.Data?.Dispose();
            host.Dispose();
            await StopAsync(coordinator, store);
            return 1;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        if (store != null)
        {
            // Every node publishes its device address (xlagen/nodes/I) once it serves, so a client of the job (or an
            // operator) finds all of them from the coordinator; a node that cannot reach the store does not start.
            string key = NodeKey(options.NodeId);
            string deviceAddress = address.Replace("https://", "grpcs://", StringComparison.Ordinal).Replace("http://", "grpc://", StringComparison.Ordinal);
            try
            {
                await Task.Run(() => store.Put(System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(deviceAddress)));
            }
            catch (KeyValueStoreException e)
            {
                Console.Error.WriteLine($"{name}: node {options.NodeId}: cannot register in the key-value store at {options.Coordinator}: {e.Message}");
                await app.StopAsync();
                host.Data?.Dispose();
                host.Dispose();
                await StopAsync(coordinator, store);
                return 1;
            }
            XlaGen.Server.Log.KeyValueJoined(logger, options.NodeId, options.NumNodes, coordinator?.Address ?? options.Coordinator!, key, deviceAddress);
        }
        Console.Out.WriteLine($"xlagen-server listening on {address}");
        Console.Out.Flush();
        XlaGen.Server.Log.Listening(logger, DeviceHost.ServerVersion, address, options.Backend, device.Info.DeviceKind, certificate != null, token != null,
            options.MinProtocolVersion, options.MaxProtocolVersion);
        if (options.ProtocolRangeOverridden)
            XlaGen.Server.Log.TestProtocolRange(logger, ServerOptions.TestProtocolRangeVariable, options.MinProtocolVersion, options.MaxProtocolVersion,
                DeviceHost.MinProtocolVersion, DeviceHost.MaxProtocolVersion);
        if (host.Data != null) XlaGen.Server.Log.DataChannelListening(logger, host.Data.EndPoint.ToString(), host.Data.Tls, (long)options.TicketLifetime.TotalMilliseconds);
        if (!IPAddress.IsLoopback(options.Listen.Address) && token == null) XlaGen.Server.Log.ExposedWithoutToken(logger, address);

        await app.WaitForShutdownAsync();
        int sessions = host.Sessions.Count;
        host.Data?.Dispose();
        host.Dispose();
        XlaGen.Server.Log.Stopped(logger, sessions);
        await app.DisposeAsync();
        await StopAsync(coordinator, store);
        return 0;
    }

    /// <summary>The console log of a server app (the device service's, and the coordinator's key-value store's).</summary>
    internal static void ConfigureLogging(WebApplicationBuilder builder, ServerOptions options)
    {
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // Kestrel and routing chatter stays out of the log unless asked for.
        builder.Logging.AddFilter("Microsoft", options.LogLevel <= LogLevel.Debug ? options.LogLevel : LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", options.LogLevel <= LogLevel.Debug ? options.LogLevel : LogLevel.Warning);
        if (options.LogFormat == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        // stdout carries only the "listening on" lines; every log line goes to stderr.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
    }

    static string? ReadToken(string? path)
    {
        if (path == null) return null;
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--token-file {path}: {e.Message}");
        }
        if (text.Length == 0) throw new UsageException($"--token-file {path} is empty");
        if (text.Any(c => c < 0x21 || c > 0x7e)) throw new UsageException($"--token-file {path}: the token has spaces or characters outside printable ASCII, which an HTTP header cannot carry");
        return text;
    }

    static X509Certificate2 LoadCertificate(string certificatePath, string keyPath)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new UsageException($"--tls-cert {certificatePath} / --tls-key {keyPath}: cannot load the certificate and key: {e.Message}");
        }
    }
}

/// <summary>Stands in for the data channel when the server runs without one (--data-listen off).</summary>
sealed class NoDataChannel : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
