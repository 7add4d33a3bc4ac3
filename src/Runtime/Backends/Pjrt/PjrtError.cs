namespace XlaGen.Backends.Pjrt;

/// <summary>PJRT_Error_Code (absl status codes).</summary>
public enum PjrtErrorCode
{
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>A PJRT C API call returned an error: <see cref="Function"/> is the C function (e.g.
/// <c>PJRT_Client_Compile</c>), <see cref="Code"/> and <see cref="PluginMessage"/> what the plugin said. The native
/// PJRT_Error was destroyed when this exception was made.</summary>
public sealed class PjrtException : Exception
{
    public PjrtException(PjrtErrorCode code, string function, string pluginMessage, string? context = null)
        : base($"{function} failed: {CodeName(code)}: {pluginMessage}{(context == null ? "" : $" ({context})")}")
    {
        Code = code;
        Function = function;
        PluginMessage = pluginMessage;
    }

    public PjrtErrorCode Code { get; }

    public string Function { get; }

    public string PluginMessage { get; }

    internal static string CodeName(PjrtErrorCode code) => code switch
    {
        PjrtErrorCode.InvalidArgument => "INVALID_ARGUMENT",
        PjrtErrorCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        PjrtErrorCode.NotFound => "NOT_FOUND",
        PjrtErrorCode.AlreadyExists => "ALREADY_EXISTS",
        PjrtErrorCode.PermissionDenied => "PERMISSION_DENIED",
        PjrtErrorCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        PjrtErrorCode.FailedPrecondition => "FAILED_PRECONDITION",
        PjrtErrorCode.OutOfRange => "OUT_OF_RANGE",
        PjrtErrorCode.DataLoss => "DATA_LOSS",
        _ => code.ToString().ToUpperInvariant(),
    };
}

/// <summary>A PJRT plugin could not be found, loaded or started: the message names the path and what to do.</summary>
public sealed class PjrtPluginException : Exception
{
    public PjrtPluginException(string? path, string message, Exception? inner = null) : base(message, inner)
    {
        Path = path;
    }

    /// <summary>The plugin file involved (null when none was found).</summary>
    public string? Path { get; }
}
