using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Grpc;

/// <summary>The token the server requires (from --token-file), or none.</summary>
internal sealed class TokenPolicy
{
    readonly byte[]? tokenHash;

    public TokenPolicy(string? token)
    {
        tokenHash = token == null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public bool Required => tokenHash != null;

    /// <summary>Null when the call may proceed, else why not. Comparing fixed-size hashes in constant time leaks
    /// neither the token's content nor its length through timing.</summary>
    public string? Check(string? authorization)
    {
        if (tokenHash == null) return null;
        if (string.IsNullOrEmpty(authorization))
            return "this server requires a bearer token: send the header 'authorization: Bearer <token>' (RemoteDeviceOptions.Token, or XLAGEN_TOKEN)";
        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return "the authorization header must be 'Bearer <token>'";
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(presented, tokenHash) ? null : "the bearer token is wrong";
    }
}


/// <summary>
/// Refuses every request without the right token before gRPC reads a byte of it (so an unauthenticated client cannot
/// make the server parse or buffer anything): a trailers-only gRPC response with status UNAUTHENTICATED.
/// </summary>
internal sealed class TokenMiddleware
{
    readonly RequestDelegate next;
    readonly TokenPolicy tokens;
    readonly DeviceHost host;
    readonly ILogger logger;

    public TokenMiddleware(RequestDelegate next, TokenPolicy tokens, DeviceHost host, ILogger<TokenMiddleware> logger)
    {
        this.next = next;
        this.tokens = tokens;
        this.host = host;
        this.logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var problem = tokens.Check(context.Request.Headers.Authorization.ToString());
        if (problem == null) return next(context);
        host.CountFailure();
        Log.CallRejected(logger, context.Request.Path.Value ?? "", global::Grpc.Core.StatusCode.Unauthenticated, problem);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)global::Grpc.Core.StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(problem);
        return Task.CompletedTask;
    }
}
