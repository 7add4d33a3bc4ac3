using Grpc.Core;

namespace XlaGen.Server.Grpc;

/// <summary>Every failure the service reports is one of these statuses with a message naming what was wrong and where.</summary>
internal static class Errors
{
    /// <summary>Trailer that tells a client its session is gone (it opens a new one and restores its state).</summary>
    public const string ErrorTrailer = "xlagen-error";
    public const string SessionNotFoundCode = "session-not-found";

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException PermissionDenied(string message) => new(new Status(StatusCode.PermissionDenied, message));

    public static RpcException ResourceExhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    public static RpcException Unauthenticated(string message) => new(new Status(StatusCode.Unauthenticated, message));

    public static RpcException DeadlineExceeded(string message) => new(new Status(StatusCode.DeadlineExceeded, message));

    public static RpcException Cancelled(string message) => new(new Status(StatusCode.Cancelled, message));

    public static RpcException Internal(string message) => new(new Status(StatusCode.Internal, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException SessionNotFound(string sessionId) => new(
        new Status(StatusCode.NotFound, $"session '{Shorten(sessionId)}' is not open on this server (closed, its lease ran out, or the server restarted); open a new session"),
        new Metadata { { ErrorTrailer, SessionNotFoundCode } });

    /// <summary>Client-supplied text in messages, bounded so a hostile request cannot blow up the reply or the log.</summary>
    public static string Shorten(string text, int max = 80) =>
        text.Length <= max ? text : text[..max] + $"… ({text.Length} characters)";
}
