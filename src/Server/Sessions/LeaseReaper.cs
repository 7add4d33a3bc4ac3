using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace XlaGen.Server.Sessions;

/// <summary>Ends sessions whose lease ran out (a vanished client), freeing their buffers and programs.</summary>
internal sealed class LeaseReaper : BackgroundService
{
    readonly DeviceHost host;
    readonly ILogger logger;

    public LeaseReaper(DeviceHost host, ILogger<LeaseReaper> logger)
    {
        this.host = host;
        this.logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lease = host.Options.SessionLease;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(lease.TotalMilliseconds / 4, 50, 5000));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var (session, handles, bytes) in host.Sessions.Expire(lease))
                    Log.SessionExpired(logger, session.ShortId, session.ClientName, (long)lease.TotalMilliseconds, handles, bytes);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
