using System.Runtime.InteropServices;
using System.Text;
using XlaGen.Distributed;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// PJRT_Client_Create's key-value callbacks (kv_get, kv_try_get, kv_put) over an <see cref="IKeyValueStore"/>:
/// unmanaged entry points whose <c>user_arg</c> is a GCHandle of the store (<see cref="KeyValueBinding"/>).
/// Per the header (xla/pjrt/c/pjrt_c_api.h): a get blocks up to <c>timeout_in_ms</c>; a value is handed out in memory
/// the callback allocates, with a deleter the plugin calls after copying it (<see cref="FreeValue"/>); a failure is the
/// <c>PJRT_Error*</c> that <c>(*args->callback_error)(code, message, size)</c> makes, returned to the plugin. Nothing
/// escapes into native code: every exception becomes such an error (INTERNAL unless the store gave a code).
/// The callbacks read no <c>struct_size</c>: XLA's own caller of them (CApiKeyValueStore in
/// xla/pjrt/c/pjrt_c_api_wrapper_impl.cc, inside every plugin built on XLA) fills only key, key_size, timeout_in_ms,
/// callback_error and user_arg and leaves struct_size unset, so checking it would refuse real plugins. That caller
/// computes timeout_in_ms as an int from an absl::Duration, so an infinite timeout arrives as a negative number: no limit.
/// </summary>
internal static unsafe class PjrtKeyValueCallbacks
{
    public static delegate* unmanaged<PJRT_KeyValueGetCallback_Args*, void*> Get => &GetCallback;

    public static delegate* unmanaged<PJRT_KeyValueTryGetCallback_Args*, void*> TryGet => &TryGetCallback;

    public static delegate* unmanaged<PJRT_KeyValuePutCallback_Args*, void*> Put => &PutCallback;

    /// <summary>The value deleter every successful get hands out.</summary>
    public static delegate* unmanaged<byte*, void> Deleter => &FreeValue;

    [UnmanagedCallersOnly]
    static void* GetCallback(PJRT_KeyValueGetCallback_Args* args)
    {
        if (args == null) return null;
        try
        {
            var store = StoreOf(args->user_arg);
            var key = Key(args->key, args->key_size);
            var timeout = args->timeout_in_ms < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(args->timeout_in_ms);
            var value = store.Get(key, timeout);
            args->value = Copy(value, out args->value_size);
            args->value_deleter_callback = &FreeValue;
            return null;
        }
        catch (Exception e)
        {
            return Fail(args->callback_error, e);
        }
    }

    [UnmanagedCallersOnly]
    static void* TryGetCallback(PJRT_KeyValueTryGetCallback_Args* args)
    {
        if (args == null) return null;
        try
        {
            var store = StoreOf(args->user_arg);
            var key = Key(args->key, args->key_size);
            var value = store.TryGet(key)
                ?? throw new KeyValueStoreException(PjrtErrorCode.NotFound, $"key {KeyValueStoreException.Describe(key)} is not in the key-value store");
            args->value = Copy(value, out args->value_size);
            args->value_deleter_callback = &FreeValue;
            return null;
        }
        catch (Exception e)
        {
            return Fail(args->callback_error, e);
        }
    }

    [UnmanagedCallersOnly]
    static void* PutCallback(PJRT_KeyValuePutCallback_Args* args)
    {
        if (args == null) return null;
        try
        {
            var store = StoreOf(args->user_arg);
            var key = Key(args->key, args->key_size);
            if (args->value == null && args->value_size != 0)
                throw new KeyValueStoreException(PjrtErrorCode.InvalidArgument, $"kv_put of key {KeyValueStoreException.Describe(key)} with a null value of {args->value_size} bytes");
            store.Put(key, new ReadOnlySpan<byte>(args->value, checked((int)args->value_size)));
            return null;
        }
        catch (Exception e)
        {
            return Fail(args->callback_error, e);
        }
    }

    /// <summary>Frees a value handed out by a get (the plugin calls it once it copied the bytes).</summary>
    [UnmanagedCallersOnly]
    static void FreeValue(byte* value) => NativeMemory.Free(value);

    static IKeyValueStore StoreOf(void* userArg)
    {
        if (userArg == null) throw new KeyValueStoreException(PjrtErrorCode.InvalidArgument, "the key-value callback got no user_arg (the store)");
        return GCHandle.FromIntPtr((nint)userArg).Target as IKeyValueStore
            ?? throw new KeyValueStoreException(PjrtErrorCode.FailedPrecondition, "the key-value callback's store is gone (its PJRT client was disposed)");
    }

    static ReadOnlySpan<byte> Key(byte* key, nuint size)
    {
        if (key == null && size != 0) throw new KeyValueStoreException(PjrtErrorCode.InvalidArgument, $"key-value callback with a null key of {size} bytes");
        return new ReadOnlySpan<byte>(key, checked((int)size));
    }

    /// <summary>The value in memory of its own (at least one byte, so an empty value is not a null pointer).</summary>
    static byte* Copy(byte[] value, out nuint size)
    {
        var p = (byte*)NativeMemory.Alloc((nuint)Math.Max(value.Length, 1));
        value.CopyTo(new Span<byte>(p, value.Length));
        size = (nuint)value.Length;
        return p;
    }

    /// <summary>The plugin's PJRT_Error for <paramref name="e"/>, made by its callback_error function. The header always
    /// passes one; without it no error can be returned, and the callback returns null with no value set.</summary>
    static void* Fail(delegate* unmanaged<int, byte*, nuint, void*>* callbackError, Exception e)
    {
        try
        {
            if (callbackError == null || *callbackError == null) return null;
            var (code, message) = e is KeyValueStoreException k ? (k.Code, k.Message) : (PjrtErrorCode.Internal, $"the key-value store failed: {e.GetType().Name}: {e.Message}");
            if (code == PjrtErrorCode.Ok) code = PjrtErrorCode.Unknown;
            var bytes = Encoding.UTF8.GetBytes(message);
            fixed (byte* m = bytes) return (*callbackError)((int)code, m, (nuint)bytes.Length);
        }
        catch
        {
            return null;
        }
    }
}

/// <summary>An <see cref="IKeyValueStore"/> passed to one PJRT client: its GCHandle is every callback's user_arg and is
/// freed only after the native client is destroyed (PJRT may use the store for as long as the client lives).</summary>
internal sealed unsafe class KeyValueBinding
{
    GCHandle handle;

    public KeyValueBinding(IKeyValueStore store)
    {
        handle = GCHandle.Alloc(store);
    }

    public void* UserArg => (void*)GCHandle.ToIntPtr(handle);

    public void Fill(ref PJRT_Client_Create_Args a)
    {
        a.kv_get_callback = PjrtKeyValueCallbacks.Get;
        a.kv_get_user_arg = UserArg;
        a.kv_try_get_callback = PjrtKeyValueCallbacks.TryGet;
        a.kv_try_get_user_arg = UserArg;
        a.kv_put_callback = PjrtKeyValueCallbacks.Put;
        a.kv_put_user_arg = UserArg;
    }

    public void Free()
    {
        if (handle.IsAllocated) handle.Free();
    }
}
