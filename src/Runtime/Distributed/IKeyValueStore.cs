using System.Globalization;
using XlaGen.Backends.Pjrt;

namespace XlaGen.Distributed;

/// <summary>
/// The key-value store a multi-process PJRT client uses to set up its distributed runtime (PJRT_Client_Create's
/// kv_get / kv_try_get / kv_put callbacks): each process publishes its local topology and reads the others'. Every
/// member may be called from any thread, at once. Failures are <see cref="KeyValueStoreException"/>s, whose
/// <see cref="KeyValueStoreException.Code"/> the PJRT callbacks hand to the plugin.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>The value of <paramref name="key"/>, waiting up to <paramref name="timeout"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: no limit) for someone to put it; <see cref="PjrtErrorCode.DeadlineExceeded"/>
    /// when it did not appear in time.</summary>
    byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout);

    /// <summary>The value of <paramref name="key"/> now, or null when the store does not hold it.</summary>
    byte[]? TryGet(ReadOnlySpan<byte> key);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>.</summary>
    void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);
}

/// <summary>A key-value store refused or failed an operation; <see cref="Code"/> says how (the gRPC and PJRT codes are
/// the same numbers).</summary>
public sealed class KeyValueStoreException : Exception
{
    /// <summary>A failure with its status <paramref name="code"/>, a message naming the key and what went wrong, and the
    /// underlying exception (a gRPC error) when there is one.</summary>
    public KeyValueStoreException(PjrtErrorCode code, string message, Exception? inner = null) : base(message, inner)
    {
        Code = code;
    }

    /// <summary>How the operation failed: <c>NotFound</c> (try-get of a missing key), <c>DeadlineExceeded</c> (a get
    /// that timed out), <c>AlreadyExists</c> (a different value for a written key), <c>ResourceExhausted</c> (a limit),
    /// <c>Unavailable</c> (the store cannot be reached), and so on.</summary>
    public PjrtErrorCode Code { get; }

    /// <summary>A key for messages: its UTF-8 text when it is printable, else hex; at most 80 characters.</summary>
    public static string Describe(ReadOnlySpan<byte> key)
    {
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(key);
            if (text.Any(char.IsControl)) text = "0x" + Convert.ToHexString(key);
        }
        catch (System.Text.DecoderFallbackException)
        {
            text = "0x" + Convert.ToHexString(key);
        }
        return text.Length <= 80 ? "'" + text + "'" : string.Create(CultureInfo.InvariantCulture, $"'{text[..80]}…' ({key.Length} bytes)");
    }
}
