using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using XlaGen.Backends.Pjrt;
using XlaGen.Distributed;

namespace XlaGen.Tests.Pjrt;

/// <summary>
/// PJRT_Client_Create's key-value callbacks without a plugin: the tests play the plugin, calling the function pointers
/// that <see cref="KeyValueBinding"/> puts into PJRT_Client_Create_Args with argument structs laid out as in
/// xla/pjrt/c/pjrt_c_api.h (offsets asserted in <see cref="PjrtLayoutTests"/>), and a callback_error function of their
/// own that records the code and message and returns a marker pointer, as the plugin's would return its PJRT_Error.
/// </summary>
public sealed unsafe partial class PjrtKeyValueCallbackTests : IDisposable
{
    readonly MemoryStore store = new();
    readonly KeyValueBinding binding;
    readonly PJRT_Client_Create_Args create;

    public PjrtKeyValueCallbackTests()
    {
        binding = new KeyValueBinding(store);
        var a = new PJRT_Client_Create_Args { struct_size = PjrtLayout.Size.Client_Create_Args };
        binding.Fill(ref a);
        create = a;
    }

    public void Dispose() => binding.Free();

    /// <summary>An in-memory store with a blocking get, recording the timeouts it was asked for.</summary>
    sealed class MemoryStore : IKeyValueStore
    {
        readonly ConcurrentDictionary<string, byte[]> values = new();
        public readonly ConcurrentQueue<TimeSpan> Timeouts = new();
        public Exception? Fault;

        static string K(ReadOnlySpan<byte> key) => Convert.ToHexString(key);

        public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout)
        {
            Timeouts.Enqueue(timeout);
            if (Fault != null) throw Fault;
            string k = K(key);
            var until = timeout == Timeout.InfiniteTimeSpan ? DateTime.MaxValue : DateTime.UtcNow + timeout;
            lock (values)
            {
                while (true)
                {
                    if (values.TryGetValue(k, out var v)) return v;
                    var left = until - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new KeyValueStoreException(PjrtErrorCode.DeadlineExceeded, $"key {KeyValueStoreException.Describe(key)} did not appear within {timeout.TotalMilliseconds} ms");
                    Monitor.Wait(values, left > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left);
                }
            }
        }

        public byte[]? TryGet(ReadOnlySpan<byte> key) => Fault != null ? throw Fault : values.TryGetValue(K(key), out var v) ? v : null;

        public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            if (Fault != null) throw Fault;
            string k = K(key);
            var copy = value.ToArray();
            lock (values)
            {
                values[k] = copy;
                Monitor.PulseAll(values);
            }
        }
    }

    // ---- the plugin's side: PJRT_CallbackError and what it made

    [ThreadStatic] static int lastCode;
    [ThreadStatic] static string? lastMessage;
    static readonly void* ErrorMarker = (void*)0x5EED;
    static readonly nint Marker = 0x5EED;

    [UnmanagedCallersOnly]
    static void* RecordError(int code, byte* message, nuint size)
    {
        lastCode = code;
        lastMessage = Encoding.UTF8.GetString(message, (int)size);
        return ErrorMarker;
    }

    static readonly delegate* unmanaged<int, byte*, nuint, void*> RecordErrorPointer = &RecordError;

    static delegate* unmanaged<int, byte*, nuint, void*>* CallbackError()
    {
        var slot = (delegate* unmanaged<int, byte*, nuint, void*>*)NativeMemory.Alloc((nuint)sizeof(nint));
        *slot = RecordErrorPointer;
        return slot;
    }

    static (int Code, string Message) TakeError()
    {
        var e = (lastCode, lastMessage ?? "");
        lastCode = 0;
        lastMessage = null;
        return e;
    }

    void* Put(string key, byte[] value)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var error = CallbackError();
        try
        {
            fixed (byte* kp = k)
            fixed (byte* vp = value)
            {
                var a = new PJRT_KeyValuePutCallback_Args
                {
                    struct_size = PjrtLayout.Size.KeyValuePutCallback_Args,
                    key = kp, key_size = (nuint)k.Length,
                    value = vp, value_size = (nuint)value.Length,
                    callback_error = error, user_arg = create.kv_put_user_arg,
                };
                return ((delegate* unmanaged<PJRT_KeyValuePutCallback_Args*, void*>)create.kv_put_callback)(&a);
            }
        }
        finally
        {
            NativeMemory.Free(error);
        }
    }

    /// <summary>Calls kv_get; on success copies the value and frees it with the deleter the callback handed out, as the
    /// plugin does.</summary>
    (nint Error, byte[]? Value) Get(string key, int timeoutMs, void* userArg = null, bool useUserArg = true)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var error = CallbackError();
        try
        {
            fixed (byte* kp = k)
            {
                var a = new PJRT_KeyValueGetCallback_Args
                {
                    struct_size = PjrtLayout.Size.KeyValueGetCallback_Args,
                    key = kp, key_size = (nuint)k.Length, timeout_in_ms = timeoutMs,
                    callback_error = error, user_arg = useUserArg ? create.kv_get_user_arg : userArg,
                };
                var result = ((delegate* unmanaged<PJRT_KeyValueGetCallback_Args*, void*>)create.kv_get_callback)(&a);
                if (result != null)
                {
                    Assert.True(a.value == null && a.value_deleter_callback == null, "a failed get handed out a value");
                    return ((nint)result, null);
                }
                Assert.True(a.value != null, "a successful get returned a null value pointer");
                Assert.True((nint)a.value_deleter_callback == (nint)PjrtKeyValueCallbacks.Deleter, "the value's deleter is not the runtime's");
                var copy = new ReadOnlySpan<byte>(a.value, checked((int)a.value_size)).ToArray();
                a.value_deleter_callback(a.value);
                return (0, copy);
            }
        }
        finally
        {
            NativeMemory.Free(error);
        }
    }

    (nint Error, byte[]? Value) TryGet(string key)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var error = CallbackError();
        try
        {
            fixed (byte* kp = k)
            {
                var a = new PJRT_KeyValueTryGetCallback_Args
                {
                    struct_size = PjrtLayout.Size.KeyValueTryGetCallback_Args,
                    key = kp, key_size = (nuint)k.Length,
                    callback_error = error, user_arg = create.kv_try_get_user_arg,
                };
                var result = ((delegate* unmanaged<PJRT_KeyValueTryGetCallback_Args*, void*>)create.kv_try_get_callback)(&a);
                if (result != null) return ((nint)result, null);
                Assert.True((nint)a.value_deleter_callback == (nint)PjrtKeyValueCallbacks.Deleter);
                var copy = new ReadOnlySpan<byte>(a.value, checked((int)a.value_size)).ToArray();
                a.value_deleter_callback(a.value);
                return (0, copy);
            }
        }
        finally
        {
            NativeMemory.Free(error);
        }
    }

    [Fact]
    public void FillSetsAllThreeCallbacksWithTheStoreAsUserArg()
    {
        Assert.True(create.kv_get_callback != null && create.kv_put_callback != null && create.kv_try_get_callback != null,
            "PJRT ignores the store unless all three callbacks are set");
        Assert.True(create.kv_get_user_arg != null);
        Assert.True(create.kv_get_user_arg == create.kv_put_user_arg && create.kv_put_user_arg == create.kv_try_get_user_arg);
        Assert.Same(store, GCHandle.FromIntPtr((nint)create.kv_get_user_arg).Target);
        Assert.True(create.client == null && create.create_options == null);
    }

    [Fact]
    public void PutThenGetAndTryGetReturnTheExactBytesWithTheDeleter()
    {
        var value = new byte[] { 0, 1, 2, 0, 255, 0, 7 }; // embedded zeros: sizes, not C strings
        Assert.True(Put("gpu:local_topology/0", value) == null);
        var (error, got) = Get("gpu:local_topology/0", 1000);
        Assert.True(error == 0);
        Assert.Equal(value, got);
        var (tryError, tried) = TryGet("gpu:local_topology/0");
        Assert.True(tryError == 0);
        Assert.Equal(value, tried);
    }

    [Fact]
    public void AnEmptyValueIsANonNullPointerOfSizeZero()
    {
        Assert.True(Put("empty", Array.Empty<byte>()) == null);
        var (error, got) = Get("empty", 1000);
        Assert.True(error == 0);
        Assert.Empty(got!);
    }

    [Fact]
    public void AMegabyteValueRoundTrips()
    {
        var value = new byte[1 << 20];
        new Random(7).NextBytes(value);
        Assert.True(Put("big", value) == null);
        Assert.Equal(value, Get("big", 1000).Value);
    }

    bool PutOk(string key, byte[] value) => Put(key, value) == null;

    /// <summary>kv_get's value, or null when it failed (a signature without pointers, for the async test).</summary>
    byte[]? GetValue(string key, int timeoutMs)
    {
        var (error, value) = Get(key, timeoutMs);
        return error == 0 ? value : null;
    }

    [Fact]
    public void GetTimeoutBecomesThePluginsErrorWithDeadlineExceeded()
    {
        var (error, value) = Get("never", 50);
        Assert.True(error == Marker, "the callback must return the PJRT_Error that callback_error made");
        Assert.Null(value);
        var (code, message) = TakeError();
        Assert.Equal((int)PjrtErrorCode.DeadlineExceeded, code);
        Assert.Contains("'never' did not appear within 50 ms", message);
    }

    [Fact]
    public void ANegativeTimeoutMeansNoLimit()
    {
        Assert.True(Put("k", "v"u8.ToArray()) == null);
        Assert.True(Get("k", -1).Error == 0);
        Assert.Contains(Timeout.InfiniteTimeSpan, store.Timeouts);
    }

    [Fact]
    public void TryGetOfAMissingKeyIsNotFound()
    {
        var (error, _) = TryGet("missing/key");
        Assert.True(error == Marker);
        var (code, message) = TakeError();
        Assert.Equal((int)PjrtErrorCode.NotFound, code);
        Assert.Contains("'missing/key' is not in the key-value store", message);
    }

    [Fact]
    public void StoreFailuresKeepTheirCodeAndOthersBecomeInternal()
    {
        store.Fault = new KeyValueStoreException(PjrtErrorCode.ResourceExhausted, "the store is full");
        Assert.True(Put("a", "b"u8.ToArray()) == ErrorMarker);
        var (code, message) = TakeError();
        Assert.Equal((int)PjrtErrorCode.ResourceExhausted, code);
        Assert.Equal("the store is full", message);

        store.Fault = new InvalidOperationException("boom");
        Assert.True(Get("a", 10).Error == Marker);
        (code, message) = TakeError();
        Assert.Equal((int)PjrtErrorCode.Internal, code);
        Assert.Contains("InvalidOperationException: boom", message);
    }

    [Fact]
    public void ANullUserArgIsAnErrorNotACrash()
    {
        var (error, _) = Get("k", 10, userArg: null, useUserArg: false);
        Assert.True(error == Marker);
        var (code, message) = TakeError();
        Assert.Equal((int)PjrtErrorCode.InvalidArgument, code);
        Assert.Contains("no user_arg", message);
    }

    [Fact]
    public void ArgsAsXlasOwnCallerFillsThemWork()
    {
        // CApiKeyValueStore (pjrt_c_api_wrapper_impl.cc) leaves struct_size, extension_start and the out fields unset
        // and passes an infinite timeout as a negative int: garbage there must not matter.
        Assert.True(PutOk("xla-caller", "v"u8.ToArray()));
        var k = "xla-caller"u8.ToArray();
        var error = CallbackError();
        try
        {
            fixed (byte* kp = k)
            {
                var a = new PJRT_KeyValueGetCallback_Args
                {
                    struct_size = unchecked((nuint)0xCCCCCCCCCCCCCCCC), extension_start = (void*)0xCCCC,
                    key = kp, key_size = (nuint)k.Length, timeout_in_ms = unchecked((int)0xFFFFFFFF),
                    callback_error = error, user_arg = create.kv_get_user_arg,
                    value = (byte*)0xCCCC, value_size = 12345,
                };
                Assert.True(((delegate* unmanaged<PJRT_KeyValueGetCallback_Args*, void*>)create.kv_get_callback)(&a) == null);
                Assert.Equal("v"u8.ToArray(), new ReadOnlySpan<byte>(a.value, (int)a.value_size).ToArray());
                a.value_deleter_callback(a.value);
            }
        }
        finally
        {
            NativeMemory.Free(error);
        }
        Assert.Contains(Timeout.InfiniteTimeSpan, store.Timeouts);
    }

    [Fact]
    public void NodeOptionsAreSentAsInt64CreateOptions()
    {
        var named = new PjrtOptions { NodeId = 2, NumNodes = 4, KeyValueStore = store }.NamedValues();
        Assert.Contains(new KeyValuePair<string, object>("node_id", 2L), named);
        Assert.Contains(new KeyValuePair<string, object>("num_nodes", 4L), named);
        Assert.Empty(new PjrtOptions { KeyValueStore = store }.NamedValues());
    }

    [Fact]
    public void NodeOptionsAreChecked()
    {
        Assert.Contains("needs a KeyValueStore", Assert.Throws<ArgumentException>(() => new PjrtOptions { NodeId = 0, NumNodes = 2 }.NamedValues()).Message);
        Assert.Contains("needs NumNodes", Assert.Throws<ArgumentException>(() => new PjrtOptions { NodeId = 1, KeyValueStore = store }.NamedValues()).Message);
        Assert.Contains("[0, 2)", Assert.Throws<ArgumentOutOfRangeException>(() => new PjrtOptions { NodeId = 2, NumNodes = 2, KeyValueStore = store }.NamedValues()).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PjrtOptions { NumNodes = 0 }.NamedValues());
    }
}

/// <summary>The test that awaits (an unsafe context cannot).</summary>
public sealed partial class PjrtKeyValueCallbackTests
{
    [Fact]
    public async Task GetBlocksUntilAnotherThreadPuts()
    {
        var getter = Task.Run(() => GetValue("late", 20_000));
        await Task.Delay(300);
        Assert.False(getter.IsCompleted, "the get returned before the key was put");
        Assert.True(PutOk("late", "here"u8.ToArray()));
        Assert.Equal("here"u8.ToArray(), await getter.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains(TimeSpan.FromMilliseconds(20_000), store.Timeouts);
    }
}
