using Grpc.Core;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Backends.Remote;

/// <summary>Conversions between the runtime's types and device.proto messages, and how the client reads statuses.</summary>
internal static class Wire
{
    /// <summary>The trailer the server sets when a call names a session it does not know (restart or expired lease).</summary>
    public const string ErrorTrailer = "xlagen-error";
    public const string SessionNotFound = "session-not-found";

    public static TensorShape ToProto(ElementType elementType, IReadOnlyList<long> dims)
    {
        var s = new TensorShape { ElementType = (int)elementType };
        s.Dims.AddRange(dims);
        return s;
    }

    public static TensorShape ToProto(Shape shape) => ToProto(shape.ElementType, shape.ConcreteDims());

    /// <summary>The array shape a server reported; a protocol violation when it is not one.</summary>
    public static Shape FromProto(TensorShape? proto, string where)
    {
        if (proto == null) throw new InvalidDataException($"{where}: the server sent no shape");
        var type = (ElementType)proto.ElementType;
        if (!TensorBytes.IsSupported(type)) throw new InvalidDataException($"{where}: the server sent element type {proto.ElementType}, which has no host tensor type");
        if (proto.Dims.Any(d => d < 0)) throw new InvalidDataException($"{where}: the server sent negative dims [{string.Join(",", proto.Dims)}]");
        return Shape.Array(type, proto.Dims);
    }

    public static bool IsSessionLost(RpcException e) =>
        e.StatusCode == StatusCode.NotFound && e.Trailers.GetValue(ErrorTrailer) == SessionNotFound;

    /// <summary>The call failed in transport (server gone, connection reset), not because the server refused it.</summary>
    public static bool IsTransportFailure(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable
        || (e.StatusCode is StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled
            && e.Status.DebugException is IOException or HttpRequestException or System.Net.Sockets.SocketException);

    public static string Describe(RpcException e) =>
        string.IsNullOrEmpty(e.Status.Detail) ? e.StatusCode.ToString() : $"{e.StatusCode}: {e.Status.Detail}";
}
