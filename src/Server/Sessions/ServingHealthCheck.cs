using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace XlaGen.Server.Sessions;

/// <summary>Healthy while the server accepts work; unhealthy once shutdown began.</summary>
internal sealed class ServingHealthCheck : IHealthCheck
{
    readonly IHostApplicationLifetime lifetime;

    public ServingHealthCheck(IHostApplicationLifetime lifetime) => this.lifetime = lifetime;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the server is shutting down")
            : HealthCheckResult.Healthy("serving"));
}
