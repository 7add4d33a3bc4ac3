using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Grpc;

/// <summary>The type gRPC routes device calls to; the handlers live in the singleton <see cref="DeviceServiceImpl"/>.</summary>
internal sealed class DeviceServiceEndpoint
{
}

/// <summary>
/// Binds <see cref="DeviceServiceImpl"/>'s methods with request deserializers that turn a malformed protobuf into
/// INVALID_ARGUMENT naming the method and the parse error. (gRPC's default would be UNKNOWN "Exception was thrown by
/// handler", because a unary request is parsed before any interceptor runs.)
/// </summary>
internal sealed class GuardedMethodProvider : IServiceMethodProvider<DeviceServiceEndpoint>
{
    readonly DeviceServiceImpl implementation;
    readonly DeviceHost host;
    readonly ILogger logger;

    public GuardedMethodProvider(DeviceServiceImpl implementation, DeviceHost host, ILogger<GuardedMethodProvider> logger)
    {
        this.implementation = implementation;
        this.host = host;
        this.logger = logger;
    }

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<DeviceServiceEndpoint> context) =>
        Device.V1.DeviceService.BindService(new Binder(context, this), implementation);

    Method<TRequest, TResponse> Guard<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class
    {
        var inner = method.RequestMarshaller;
        var guarded = new Marshaller<TRequest>(
            inner.ContextualSerializer,
            context =>
            {
                try
                {
                    if (typeof(TRequest) == typeof(Device.V1.UploadRequest) && UploadSink.TryConsume(context) is TRequest consumed) return consumed;
                    return inner.ContextualDeserializer(context);
                }
                catch (InvalidProtocolBufferException e)
                {
                    var error = Errors.InvalidArgument($"{method.Name}: the request is not a valid {typeof(TRequest).Name} message ({context.PayloadLength} bytes): {e.Message}");
                    host.CountFailure();
                    Log.CallRejected(logger, method.FullName, error.StatusCode, error.Status.Detail);
                    throw error;
                }
            });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, guarded, method.ResponseMarshaller);
    }

    sealed class Binder : ServiceBinderBase
    {
        static readonly IList<object> NoMetadata = Array.Empty<object>();
        readonly ServiceMethodProviderContext<DeviceServiceEndpoint> context;
        readonly GuardedMethodProvider provider;

        public Binder(ServiceMethodProviderContext<DeviceServiceEndpoint> context, GuardedMethodProvider provider)
        {
            this.context = context;
            this.provider = provider;
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddUnaryMethod(provider.Guard(method), NoMetadata, (_, request, call) => handler(request, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddClientStreamingMethod(provider.Guard(method), NoMetadata, (_, requests, call) => handler(requests, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddServerStreamingMethod(provider.Guard(method), NoMetadata, (_, request, responses, call) => handler(request, responses, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddDuplexStreamingMethod(provider.Guard(method), NoMetadata, (_, requests, responses, call) => handler(requests, responses, call));
        }
    }
}
