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

    /// <summary>
    /// Asynchronous dispatch (protocol version 4, as JAX and PJRT dispatch): how many executions a training loop
    /// (<see cref="ModelRunner.Fit"/>, <see cref="ModelRunner.Evaluate"/>) may have in flight at once. Such an
    /// execution returns its result buffers before the server has run it (their handles are chosen by the client), so
    /// the next step is sent while this one runs and the server never waits for a round trip between steps; a failure
    /// surfaces at the next dispatch or when a result is downloaded, naming the program. 0 runs every execution to
    /// completion before returning (also what servers older than version 4 get). <see cref="RemoteExecutable.Execute"/>
    /// itself always waits for its execution.
    /// </summary>
    public int PipelineDepth { get; init; } = 2;

    /// <summary>Bytes per upload message (capped below the server's message limit).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Move large tensors over the server's bulk data channel (a plain TCP or TLS connection to a second port, each
    /// transfer authorized by a ticket from an authenticated call) instead of gRPC streams, which cost several times
    /// the CPU per byte. Needs a server speaking protocol version 2; when its data port cannot be reached, transfers
    /// fall back to gRPC streams (said once through <see cref="Log"/>).
    /// </summary>
    public bool BulkTransfers { get; init; } = true;

    /// <summary>Transfers of at least this many bytes use the bulk data channel (smaller ones ride on gRPC, where a
    /// transfer costs one call instead of two).</summary>
    public long BulkThresholdBytes { get; init; } = 256 << 10;

    /// <summary>Receives the device's notices (such as falling back to gRPC streams because the data port cannot be
    /// reached). Default: <see cref="System.Diagnostics.Trace"/> warnings.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Names this client in the server's logs; defaults to the machine and process.</summary>
    public string? ClientName { get; init; }

    internal void Validate()
    {
        if (BulkThresholdBytes < 0) throw new ArgumentOutOfRangeException(nameof(BulkThresholdBytes), "the bulk threshold must not be negative");
        if (ChunkBytes < 1024) throw new ArgumentOutOfRangeException(nameof(ChunkBytes), $"chunks of {ChunkBytes} bytes are too small; use at least 1024");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), "the connect timeout must be positive");
        if (PipelineDepth < 0) throw new ArgumentOutOfRangeException(nameof(PipelineDepth), PipelineDepth, "the pipeline depth must be 0 (no asynchronous dispatch) or more");
        if (CallTimeout is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CallTimeout), "the call timeout must be positive");
        if (ReconnectTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReconnectTimeout), "the reconnect timeout must not be negative");
        if (Token != null && TokenFile != null) throw new ArgumentException("set Token or TokenFile, not both");
    }
}
