namespace XlaGen.Server.Tests;

/// <summary>One xlagen-server for the tests that only need a healthy, default server (an assembly fixture).</summary>
public sealed class SharedServer : IAsyncLifetime
{
    ServerProcess? server;
    Backends.Remote.RemoteDevice? device;

    public ServerProcess Server => server ?? throw new InvalidOperationException("the shared server is not started");

    public string Address => Server.Address;

    /// <summary>A device connected to the shared server, for tests that need no session of their own.</summary>
    public Backends.Remote.RemoteDevice Device => device ?? throw new InvalidOperationException("the shared server is not started");

    public async ValueTask InitializeAsync()
    {
        server = await ServerProcess.StartAsync("--session-lease", "20s", "--max-session-bytes", "1GiB");
        device = await Devices.ConnectAsync(server.Address, new Backends.Remote.RemoteDeviceOptions { ClientName = "shared test device" });
    }

    public async ValueTask DisposeAsync()
    {
        if (device != null) await device.DisposeAsync();
        if (server != null) await server.DisposeAsync();
    }
}
