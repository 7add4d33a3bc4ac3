namespace XlaGen.Backends.Pjrt;

/// <summary>PJRT_Error_Code (absl status codes).</summary>
public enum PjrtErrorCode
{
    /// <summary>Success; never carried by an exception.</summary>
    Ok = 0,
    /// <summary>The operation was cancelled.</summary>
    Cancelled = 1,
    /// <summary>An error the plugin could not classify.</summary>
    Unknown = 2,
    /// <summary>The caller passed something invalid (a bad program, option or buffer).</summary>
    InvalidArgument = 3,
    /// <summary>The operation did not finish in time.</summary>
    DeadlineExceeded = 4,
    /// <summary>Something named (a device, a file, an option) does not exist.</summary>
    NotFound = 5,
    /// <summary>Something to be created exists already.</summary>
    AlreadyExists = 6,
    /// <summary>The caller may not do this.</summary>
    PermissionDenied = 7,
    /// <summary>Out of a resource, usually device memory.</summary>
    ResourceExhausted = 8,
    /// <summary>The system is not in a state where the operation can run.</summary>
    FailedPrecondition = 9,
    /// <summary>The operation was aborted, typically by a concurrency conflict.</summary>
    Aborted = 10,
    /// <summary>A value was past the valid range.</summary>
    OutOfRange = 11,
    /// <summary>The plugin does not implement this operation or option.</summary>
    Unimplemented = 12,
    /// <summary>An internal error of the plugin or XLA.</summary>
    Internal = 13,
    /// <summary>The service or device is (transiently) unavailable.</summary>
    Unavailable = 14,
    /// <summary>Unrecoverable data loss or corruption.</summary>
    DataLoss = 15,
    /// <summary>The caller has no valid credentials.</summary>
    Unauthenticated = 16,
}

/// <summary>A PJRT C API call returned an error: <see cref="Function"/> is the C function (e.g.
/// <c>PJRT_Client_Compile</c>), <see cref="Code"/> and <see cref="PluginMessage"/> what the plugin said. The native
/// PJRT_Error was destroyed when this exception was made.</summary>
public sealed class PjrtException : Exception
{
    /// <summary>An error from a PJRT C API call; the message is "function failed: CODE: plugin message (context)".</summary>
    /// <param name="code">The error code the plugin returned.</param>
    /// <param name="function">The C function that failed, such as <c>PJRT_Client_Compile</c>.</param>
    /// <param name="pluginMessage">The plugin's own message.</param>
    /// <param name="context">What XlaGen was doing, appended in parentheses; null for nothing.</param>
    public PjrtException(PjrtErrorCode code, string function, string pluginMessage, string? context = null)
        : base($"{function} failed: {CodeName(code)}: {pluginMessage}{(context == null ? "" : $" ({context})")}")
    {
        Code = code;
        Function = function;
        PluginMessage = pluginMessage;
    }

    /// <summary>The error code the plugin returned (<see cref="PjrtErrorCode.ResourceExhausted"/> for out of device memory …).</summary>
    public PjrtErrorCode Code { get; }

    /// <summary>The PJRT C function that returned the error.</summary>
    public string Function { get; }

    /// <summary>The plugin's message, unchanged.</summary>
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
    /// <summary>An error about the plugin at <paramref name="path"/> (null when none was found).</summary>
    /// <param name="path">The plugin file involved, or null.</param>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="inner">The exception that caused it (a failed native load); null for none.</param>
    public PjrtPluginException(string? path, string message, Exception? inner = null) : base(message, inner)
    {
        Path = path;
    }

    /// <summary>The plugin file involved (null when none was found).</summary>
    public string? Path { get; }
}
