namespace XlaGen;

/// <summary>
/// A device buffer's contents were lost with the session that held them (the remote server restarted, or the session's
/// lease ran out) and cannot be restored: the buffer was computed on the device and never downloaded, or the host
/// tensor it came from has changed since. The message names the buffer and how it came to be. Recover by reloading
/// state from a checkpoint (<c>ModelRunner.Load</c>) or by computing the buffer again; downloading state every few
/// steps (a checkpoint does) keeps it recoverable.
/// </summary>
public sealed class DeviceStateLostException : Exception
{
    /// <summary>An error for the lost buffer <paramref name="bufferName"/>, with <paramref name="message"/> saying how it came to be.</summary>
    public DeviceStateLostException(string bufferName, string message) : base(message)
    {
        BufferName = bufferName;
    }

    /// <summary>The lost buffer, as messages name it ("buffer #17").</summary>
    public string BufferName { get; }
}
