using System.Net;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using XlaGen.Distributed;
using XlaGen.KeyValue.V1;
using XlaGen.Server.Grpc;

namespace XlaGen.Server.KeyValue;

/// <summary>
/// xlagen.kv.v1.KeyValueStore over <see cref="KeyValueTable"/>. The client a call counts against is its peer IP
/// address. Every failure is a status with a message (the store's <see cref="KeyValueStoreException"/> code; INTERNAL,
/// logged, for anything unexpected), never an unhandled exception.
/// </summary>
internal sealed class KeyValueService : KeyValueStore.KeyValueStoreBase
{
    readonly KeyValueTable table;
    readonly ILogger logger;

    public KeyValueService(KeyValueTable table, ILogger<KeyValueService> logger)
    {
        this.table = table;
        this.logger = logger;
    }

    static string ClientOf(ServerCallContext context)
    {
        var address = context.GetHttpContext().Connection.RemoteIpAddress;
        if (address == null) return "unknown";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return address.ToString();
    }

    async Task<T> Run<T>(ServerCallContext context, Func<Task<T>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (KeyValueStoreException e)
        {
            var status = new Status((StatusCode)(int)e.Code, e.Message);
            Log.KeyValueRefused(logger, context.Method, ClientOf(context), status.StatusCode, e.Message);
            throw new RpcException(status);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw Errors.Cancelled($"{context.Method} was cancelled by the client (or its deadline passed)");
        }
        catch (Exception e) when (e is not RpcException)
        {
            Log.CallCrashed(logger, context.Method, e);
            throw Errors.Internal($"{context.Method} failed inside the coordinator ({e.GetType().Name}: {e.Message}); the store keeps running");
        }
    }

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) =>
        Run(context, () => Task.FromResult(new PutResponse { Created = table.Put(ClientOf(context), request.Key.Span, request.Value.Span) }));

    public override Task<GetResponse> Get(GetRequest request, ServerCallContext context) =>
        Run(context, async () =>
        {
            if (request.TimeoutMs < 0) throw new KeyValueStoreException(Backends.Pjrt.PjrtErrorCode.InvalidArgument, $"timeout_ms {request.TimeoutMs} is negative");
            var timeout = TimeSpan.FromMilliseconds(Math.Min(request.TimeoutMs, (long)table.Limits.MaxWaitPerCall.TotalMilliseconds));
            var value = await table.GetAsync(ClientOf(context), request.Key.ToByteArray(), timeout, context.CancellationToken).ConfigureAwait(false);
            return new GetResponse { Value = UnsafeByteOperations.UnsafeWrap(value) };
        });

    public override Task<GetResponse> TryGet(TryGetRequest request, ServerCallContext context) =>
        Run(context, () =>
        {
            var value = table.TryGet(request.Key.Span)
                ?? throw new KeyValueStoreException(Backends.Pjrt.PjrtErrorCode.NotFound, $"key {KeyValueStoreException.Describe(request.Key.Span)} is not in the store");
            return Task.FromResult(new GetResponse { Value = UnsafeByteOperations.UnsafeWrap(value) });
        });
}

/// <summary>The type gRPC routes key-value calls to (without the generated base's binding attribute, so only
/// <see cref="KeyValueMethodProvider"/> binds them); the handlers live in the singleton <see cref="KeyValueService"/>.</summary>
internal sealed class KeyValueEndpoint
{
}

/// <summary>Binds <see cref="KeyValueService"/> with request parsers that turn a malformed message into
/// INVALID_ARGUMENT (gRPC's default would be an opaque UNKNOWN), as <see cref="GuardedMethodProvider"/> does for the
/// device service.</summary>
internal sealed class KeyValueMethodProvider : IServiceMethodProvider<KeyValueEndpoint>
{
    readonly KeyValueService implementation;

    public KeyValueMethodProvider(KeyValueService implementation)
    {
        this.implementation = implementation;
    }

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<KeyValueEndpoint> context) =>
        KeyValueStore.BindService(new Binder(context), implementation);

    static Method<TRequest, TResponse> Guard<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class
    {
        var inner = method.RequestMarshaller;
        var guarded = new Marshaller<TRequest>(inner.ContextualSerializer, context =>
        {
            try
            {
                return inner.ContextualDeserializer(context);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw Errors.InvalidArgument($"{method.Name}: the request is not a valid {typeof(TRequest).Name} message ({context.PayloadLength} bytes): {e.Message}");
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, guarded, method.ResponseMarshaller);
    }

    sealed class Binder(ServiceMethodProviderContext<KeyValueEndpoint> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddUnaryMethod(Guard(method), Array.Empty<object>(), (_, request, call) => handler(request, call));
        }
    }
}
