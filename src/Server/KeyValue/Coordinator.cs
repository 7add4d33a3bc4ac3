using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using System.Security.Cryptography.X509Certificates;
using XlaGen.Server.Grpc;

namespace XlaGen.Server.KeyValue;

/// <summary>
/// Node 0's key-value store server: its own small gRPC app on the --coordinator address, started before the device is
/// opened (a multi-process PJRT client blocks in PJRT_Client_Create until every process has published its topology
/// through the store, the coordinator's own client included) and stopped after the device service. It has the device
/// service's token (checked before a byte of the request is read) and TLS certificate.
/// </summary>
internal sealed class Coordinator : IAsyncDisposable
{
    readonly WebApplication app;

    Coordinator(WebApplication app, KeyValueTable table, string address)
    {
        this.app = app;
        Table = table;
        Address = address;
    }

    public KeyValueTable Table { get; }

    /// <summary>http(s)://HOST:PORT as bound (a port 0 resolved).</summary>
    public string Address { get; }

    /// <exception cref="IOException">The address cannot be bound.</exception>
    public static async Task<Coordinator> StartAsync(ServerOptions options, string? token, X509Certificate2? certificate)
    {
        var table = new KeyValueTable(options.KeyValueLimits);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>(), ContentRootPath = AppContext.BaseDirectory });
        ServerMain.ConfigureLogging(builder, options);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Bounded: a hostile client cannot open unlimited streams or send huge messages (the gRPC limit below).
            kestrel.Limits.Http2.MaxStreamsPerConnection = 512;
            kestrel.Limits.MaxConcurrentConnections = 4096;
            kestrel.Listen(options.CoordinatorListen!, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate != null) listen.UseHttps(certificate);
            });
        });
        builder.Services.AddSingleton(table);
        builder.Services.AddSingleton(new TokenPolicy(token));
        builder.Services.AddSingleton<KeyValueService>();
        builder.Services.AddSingleton<KeyValueEndpoint>();
        builder.Services.AddSingleton<global::Grpc.AspNetCore.Server.Model.IServiceMethodProvider<KeyValueEndpoint>, KeyValueMethodProvider>();
        builder.Services.AddGrpc(o =>
        {
            // A value, its key and framing.
            o.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, options.KeyValueLimits.MaxValueBytes + KeyValueLimits.MaxKeyBytes + 1024);
            o.MaxSendMessageSize = (int)Math.Min(int.MaxValue, options.KeyValueLimits.MaxValueBytes + 1024);
            o.EnableDetailedErrors = false;
        });
        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("XlaGen.Server.KeyValue");
        if (token != null)
        {
            var tokens = app.Services.GetRequiredService<TokenPolicy>();
            app.Use((context, next) =>
            {
                var problem = tokens.Check(context.Request.Headers.Authorization.ToString());
                if (problem == null) return next(context);
                Log.KeyValueRefused(logger, context.Request.Path.Value ?? "", context.Connection.RemoteIpAddress?.ToString() ?? "unknown", global::Grpc.Core.StatusCode.Unauthenticated, problem);
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = ((int)global::Grpc.Core.StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.Headers["grpc-message"] = Uri.EscapeDataString(problem);
                return Task.CompletedTask;
            });
        }
        app.MapGrpcService<KeyValueEndpoint>();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var l = options.KeyValueLimits;
        Log.KeyValueServing(logger, options.NodeId, options.NumNodes, address, l.MaxValueBytes, l.MaxKeys, l.MaxBytes, l.MaxKeysPerClient, l.MaxBytesPerClient, l.MaxWaitingPerClient);
        return new Coordinator(app, table, address);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await app.StopAsync();
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
