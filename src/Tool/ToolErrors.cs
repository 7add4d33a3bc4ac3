namespace XlaGen.Tool;

/// <summary>The exit codes of xlagen (documented in <see cref="Usage.Main"/> and the README).</summary>
static class ExitCode
{
    /// <summary>The command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>A runtime failure: the program did not compile or run on the device, an output could not be written.</summary>
    public const int Failure = 1;

    /// <summary>A usage error: unknown command or option, a missing or malformed argument.</summary>
    public const int Usage = 2;

    /// <summary>An input file is missing, unreadable, or not what the command reads (malformed, unknown format).</summary>
    public const int BadInput = 3;

    /// <summary>The device could not be opened or reached (no plugin, server down, bad token).</summary>
    public const int NoDevice = 4;
}

/// <summary>A command-line mistake (exit 2); the message names the argument and what was wrong.</summary>
sealed class UsageException(string message) : Exception(message);

/// <summary>An input file that cannot be used (exit 3); the message names the file and the problem.</summary>
sealed class BadInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A device that cannot be opened or reached (exit 4); the message names the device.</summary>
sealed class NoDeviceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A failure while doing the work (exit 1): compile or execution errors, an output that cannot be written.</summary>
sealed class ToolFailureException(string message, Exception? inner = null) : Exception(message, inner);
