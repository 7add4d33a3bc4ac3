using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Grpc;

/// <summary>
/// Runs around every gRPC call (the device service and health checks) and maps whatever a handler throws to a
/// status. RpcExceptions pass through (counted and logged); a cancelled call is CANCELLED;
/// a call during shutdown UNAVAILABLE; anything else INTERNAL with the exception's message, logged with its stack,
/// and the server keeps serving.
/// </summary>
internal sealed class GuardInterceptor : Interceptor
{
    readonly DeviceHost host;
    readonly ILogger logger;

    public GuardInterceptor(DeviceHost host, ILogger<GuardInterceptor> logger)
    {
        this.host = host;
        this.logger = logger;
    }

    Exception Map(Exception e, ServerCallContext context)
    {
        host.CountFailure();
        switch (e)
        {
            case RpcException rpc:
                Log.CallRejected(logger, context.Method, rpc.StatusCode, rpc.Status.Detail);
                return rpc;
            case OperationCanceledException or IOException when context.CancellationToken.IsCancellationRequested:
                Log.CallCancelled(logger, context.Method);
                return Errors.Cancelled($"{context.Method} was cancelled by the client");
            case ObjectDisposedException:
                return Errors.Unavailable("the server is shutting down");
            case OutOfMemoryException:
                Log.CallCrashed(logger, context.Method, e);
                return Errors.ResourceExhausted($"{context.Method}: the host ran out of memory");
            default:
                Log.CallCrashed(logger, context.Method, e);
                return Errors.Internal($"{context.Method} failed inside the server ({e.GetType().Name}: {e.Message}); the server keeps running");
        }
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Map(e, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Map(e, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Map(e, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Map(e, context);
        }
    }
}
