namespace XlaGen.Server.Tests;

/// <summary>One xlagen-server for the tests that only need a healthy, default server (an assembly fixture).</summary>
public sealed class SharedServer : IAsyncLifetime
{
    ServerProcess? server;

    public ServerProcess Server => server ?? throw new InvalidOperationException("the shared server is not started");

    public string Address => Server.Address;

    public async ValueTask InitializeAsync()
    {
        server = await ServerProcess.StartAsync("--session-lease", "20s", "--max-session-bytes", "1GiB");
    }

    public async ValueTask DisposeAsync()
    {
        if (server != null) await server.DisposeAsync();
    }
}
