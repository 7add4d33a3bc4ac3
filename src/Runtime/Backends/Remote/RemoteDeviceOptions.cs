namespace XlaGen.Backends.Remote;

/// <summary>How a <see cref="RemoteDevice"/> reaches and talks to an xlagen-server.</summary>
public sealed record RemoteDeviceOptions
{
    /// <summary>The server's bearer token (when it runs with <c>--token-file</c>). When neither this nor
    /// <see cref="TokenFile"/> is set, the resolver reads <c>XLAGEN_TOKEN</c>, then the file named by <c>XLAGEN_TOKEN_FILE</c>.</summary>
    public string? Token { get; init; }

    /// <summary>A file holding the bearer token (surrounding whitespace ignored).</summary>
    public string? TokenFile { get; init; }

    /// <summary>A PEM certificate (a private CA or the server's self-signed certificate) to trust for <c>grpcs://</c>
    /// addresses, in addition to the system's roots.</summary>
    public string? TrustedCertificateFile { get; init; }

    /// <summary>How long the handshake may take to reach the server.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A deadline for each call (compile, upload, execute …); null waits as long as the call takes.</summary>
    public TimeSpan? CallTimeout { get; init; }

    /// <summary>Reconnect after the server restarts or the session's lease ran out, restoring programs and buffers
    /// from their host copies. When false, such a call fails with <see cref="DeviceConnectionException"/>.</summary>
    public bool Reconnect { get; init; } = true;

    /// <summary>How long to keep trying to reach a restarting server before giving up.</summary>
    public TimeSpan ReconnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Keep every uploaded or downloaded host tensor (by reference, no copy) with a fingerprint of its contents, so its
    /// buffer can be restored after a server restart. Changing such a tensor afterwards makes that buffer unrecoverable
    /// (the restore fails with an error naming it); upload a clone when you reuse a host tensor. When false, only
    /// programs are restored, and host tensors are not kept alive by their buffers.
    /// </summary>
    public bool KeepHostCopies { get; init; } = true;

    /// <summary>Bytes per upload message (capped below the server's message limit).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Names this client in the server's logs; defaults to the machine and process.</summary>
    public string? ClientName { get; init; }

    internal void Validate()
    {
        if (ChunkBytes < 1024) throw new ArgumentOutOfRangeException(nameof(ChunkBytes), $"chunks of {ChunkBytes} bytes are too small; use at least 1024");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), "the connect timeout must be positive");
        if (CallTimeout is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CallTimeout), "the call timeout must be positive");
        if (ReconnectTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReconnectTimeout), "the reconnect timeout must not be negative");
        if (Token != null && TokenFile != null) throw new ArgumentException("set Token or TokenFile, not both");
    }
}
