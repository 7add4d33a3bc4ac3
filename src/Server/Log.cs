using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace XlaGen.Server;

/// <summary>The server's structured log events (one place, so their names and fields stay stable for log queries).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "xlagen-server {Version} listening on {Address} (backend {Backend}: {DeviceKind}; tls {Tls}; token {TokenRequired}; protocol {MinProtocol}..{MaxProtocol})")]
    public static partial void Listening(ILogger logger, string version, string address, string backend, string deviceKind, bool tls, bool tokenRequired, int minProtocol, int maxProtocol);

    [LoggerMessage(2, LogLevel.Warning, "listening on {Address}, which other machines can reach, without --token-file: anyone who reaches it can run programs on this host")]
    public static partial void ExposedWithoutToken(ILogger logger, string address);

    [LoggerMessage(3, LogLevel.Information, "session {SessionId} opened by '{ClientName}' (protocol {ProtocolVersion}; {Sessions} open)")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string clientName, int protocolVersion, int sessions);

    [LoggerMessage(4, LogLevel.Information, "session {SessionId} closed: released {Handles} handles, {Bytes} bytes")]
    public static partial void SessionClosed(ILogger logger, string sessionId, int handles, long bytes);

    [LoggerMessage(5, LogLevel.Warning, "session {SessionId} of '{ClientName}' expired after {LeaseMs} ms without calls: released {Handles} handles, {Bytes} bytes")]
    public static partial void SessionExpired(ILogger logger, string sessionId, string clientName, long leaseMs, int handles, long bytes);

    [LoggerMessage(6, LogLevel.Information, "session {SessionId} compiled '{Module}' ({Fingerprint}, cache hit {CacheHit}) in {ElapsedMs} ms")]
    public static partial void Compiled(ILogger logger, string sessionId, string module, string fingerprint, bool cacheHit, long elapsedMs);

    [LoggerMessage(7, LogLevel.Debug, "session {SessionId} uploaded {Shape} ({Bytes} bytes) in {ElapsedMs} ms")]
    public static partial void Uploaded(ILogger logger, string sessionId, string shape, long bytes, long elapsedMs);

    [LoggerMessage(8, LogLevel.Debug, "session {SessionId} executed '{Module}' in {Micros} us ({Results} results, inline {Inline})")]
    public static partial void Executed(ILogger logger, string sessionId, string module, long micros, int results, bool inline);

    [LoggerMessage(9, LogLevel.Information, "{Method} failed {StatusCode}: {Detail}")]
    public static partial void CallRejected(ILogger logger, string method, StatusCode statusCode, string detail);

    [LoggerMessage(10, LogLevel.Error, "{Method} failed with an internal error")]
    public static partial void CallCrashed(ILogger logger, string method, Exception exception);

    [LoggerMessage(11, LogLevel.Information, "shutting down: no new calls; waiting up to {TimeoutMs} ms for {Executions} running executions and open transfers")]
    public static partial void ShuttingDown(ILogger logger, long timeoutMs, int executions);

    [LoggerMessage(12, LogLevel.Information, "stopped: closed {Sessions} sessions")]
    public static partial void Stopped(ILogger logger, int sessions);

    [LoggerMessage(13, LogLevel.Debug, "{Method} cancelled by the client")]
    public static partial void CallCancelled(ILogger logger, string method);

    [LoggerMessage(14, LogLevel.Information, "bulk data channel listening on {Address} (tls {Tls}; tickets valid {TicketMs} ms)")]
    public static partial void DataChannelListening(ILogger logger, string address, bool tls, long ticketMs);

    [LoggerMessage(15, LogLevel.Warning, "bulk data channel: {Problem}")]
    public static partial void DataChannelProblem(ILogger logger, string problem);

    [LoggerMessage(16, LogLevel.Information, "data channel {Peer}: {What} failed {StatusCode}: {Detail}")]
    public static partial void DataTransferRefused(ILogger logger, string peer, string what, StatusCode statusCode, string detail);

    [LoggerMessage(17, LogLevel.Debug, "session {SessionId} moved the {What} ({Bytes} bytes) over the data channel in {ElapsedMs} ms")]
    public static partial void DataTransferred(ILogger logger, string sessionId, string what, long bytes, long elapsedMs);

    [LoggerMessage(18, LogLevel.Debug, "data connection {Peer} closed: {Reason}")]
    public static partial void DataConnectionFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(19, LogLevel.Error, "data connection {Peer} failed with an internal error")]
    public static partial void DataConnectionCrashed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(20, LogLevel.Warning, "session {SessionId}: execution of '{Module}' stopped after {ElapsedMs} ms: {Reason}")]
    public static partial void ExecutionStopped(ILogger logger, string sessionId, string module, long elapsedMs, string reason);

    [LoggerMessage(21, LogLevel.Warning, "{Variable} is set: advertising device protocol versions {Min}..{Max} instead of {ImplementedMin}..{ImplementedMax} (a testing aid; unset it for real use)")]
    public static partial void TestProtocolRange(ILogger logger, string variable, int min, int max, int implementedMin, int implementedMax);

    [LoggerMessage(22, LogLevel.Information, "node {NodeId} of {NumNodes}: serving the key-value store on {Address} (limits: values {MaxValueBytes} bytes, {MaxKeys} keys, {MaxBytes} bytes; per client {MaxKeysPerClient} keys, {MaxBytesPerClient} bytes, {MaxWaitingPerClient} waiting gets)")]
    public static partial void KeyValueServing(ILogger logger, int nodeId, int numNodes, string address, long maxValueBytes, int maxKeys, long maxBytes, int maxKeysPerClient, long maxBytesPerClient, int maxWaitingPerClient);

    [LoggerMessage(23, LogLevel.Information, "node {NodeId} of {NumNodes}: joined the key-value store at {Coordinator} as {Key} = {Address}")]
    public static partial void KeyValueJoined(ILogger logger, int nodeId, int numNodes, string coordinator, string key, string address);

    [LoggerMessage(24, LogLevel.Information, "key-value {Method} from {Client} failed {StatusCode}: {Detail}")]
    public static partial void KeyValueRefused(ILogger logger, string method, string client, StatusCode statusCode, string detail);
}
