using System.Globalization;

namespace XlaGen.Backends.Pjrt;

/// <summary>The CUDA plugin's allocator (<c>allocator</c> create option).</summary>
public enum PjrtAllocator
{
    /// <summary>The plugin's default allocator ("default").</summary>
    Default,
    /// <summary>Allocate and free through the platform directly, with no pooling ("platform"); slow, but returns memory at once.</summary>
    Platform,
    /// <summary>XLA's best-fit-with-coalescing pool ("bfc").</summary>
    Bfc,
    /// <summary>CUDA's stream-ordered allocator, cudaMallocAsync ("cuda_async").</summary>
    CudaAsync,
}

/// <summary>
/// Options for <c>PJRT_Client_Create</c>, sent as PJRT_NamedValue. The typed ones are the CUDA plugin's
/// (<c>memory_fraction</c>, <c>preallocate</c>, <c>allocator</c>, <c>visible_devices</c>, <c>platform_name</c>); a plugin
/// rejects options it does not know (libtpu takes none), and that error names the option. <see cref="Extra"/> passes
/// any other option: string, bool, int/long, float/double (sent as float) or an int/long list.
/// </summary>
public sealed record PjrtOptions
{
    /// <summary>Fraction of device memory the allocator may take (CUDA: <c>memory_fraction</c>).</summary>
    public float? MemoryFraction { get; init; }

    /// <summary>Allocate that memory at start-up (CUDA: <c>preallocate</c>).</summary>
    public bool? Preallocate { get; init; }

    /// <summary>The allocator (CUDA: <c>allocator</c>); null leaves the plugin's choice.</summary>
    public PjrtAllocator? Allocator { get; init; }

    /// <summary>Device ordinals the client may use (CUDA: <c>visible_devices</c>).</summary>
    public IReadOnlyList<int>? VisibleDevices { get; init; }

    /// <summary>The platform the plugin should serve (CUDA: <c>platform_name</c>, such as "cuda" or "rocm"); null leaves the plugin's default.</summary>
    public string? PlatformName { get; init; }

    /// <summary>This process's index among <see cref="NumNodes"/> processes of one multi-host job (create option
    /// <c>node_id</c>, int64; the CUDA plugin's name). Sent only when set.</summary>
    public int? NodeId { get; init; }

    /// <summary>How many processes (hosts) the job spans (create option <c>num_nodes</c>, int64). Sent only when set.</summary>
    public int? NumNodes { get; init; }

    /// <summary>The store behind PJRT_Client_Create's kv_get / kv_try_get / kv_put callbacks, which a multi-process client
    /// uses to set up its distributed runtime (topology exchange, global device ids). Null: no callbacks (a single
    /// process). The client keeps it until it is destroyed.</summary>
    public XlaGen.Distributed.IKeyValueStore? KeyValueStore { get; init; }

    /// <summary>Any other create options by name: values may be string, bool, int or long, float or double (sent as float),
    /// or an int or long list; any other type makes client creation throw <see cref="ArgumentException"/>. Null for none.</summary>
    public IDictionary<string, object>? Extra { get; init; }

    internal static string AllocatorName(PjrtAllocator a) => a switch
    {
        PjrtAllocator.Default => "default",
        PjrtAllocator.Platform => "platform",
        PjrtAllocator.Bfc => "bfc",
        PjrtAllocator.CudaAsync => "cuda_async",
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "unknown allocator"),
    };

    /// <summary>The options as (name, value) pairs in a fixed order; values are string, bool, long, float or long[].</summary>
    internal IReadOnlyList<KeyValuePair<string, object>> NamedValues()
    {
        var list = new List<KeyValuePair<string, object>>();
        if (PlatformName != null) list.Add(new("platform_name", PlatformName));
        if (Allocator is { } a) list.Add(new("allocator", AllocatorName(a)));
        if (MemoryFraction is { } f)
        {
            if (!(f > 0 && f <= 1)) throw new ArgumentOutOfRangeException(nameof(MemoryFraction), f, "MemoryFraction must be in (0, 1]");
            list.Add(new("memory_fraction", f));
        }
        if (Preallocate is { } p) list.Add(new("preallocate", p));
        if (VisibleDevices != null) list.Add(new("visible_devices", VisibleDevices.Select(d => (long)d).ToArray()));
        if (NumNodes is { } nodes)
        {
            if (nodes < 1) throw new ArgumentOutOfRangeException(nameof(NumNodes), nodes, "NumNodes must be at least 1");
            if (nodes > 1 && KeyValueStore == null)
                throw new ArgumentException($"NumNodes {nodes}: a multi-process PJRT client needs a KeyValueStore (the processes exchange their topology through it)");
        }
        if (NodeId is { } node)
        {
            if (NumNodes is not { } n) throw new ArgumentException($"NodeId {node} needs NumNodes (how many processes there are)");
            if (node < 0 || node >= n) throw new ArgumentOutOfRangeException(nameof(NodeId), node, $"NodeId must be in [0, NumNodes) = [0, {n})");
            list.Add(new("node_id", (long)node));
        }
        if (NumNodes is { } count) list.Add(new("num_nodes", (long)count));
        if (Extra != null)
        {
            foreach (var (name, value) in Extra.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                if (list.Any(e => e.Key == name)) throw new ArgumentException($"PJRT create option '{name}' is set both typed and in Extra");
                list.Add(new(name, value switch
                {
                    string s => s,
                    bool b => b,
                    int i => (long)i,
                    long l => l,
                    float x => x,
                    double d => (float)d,
                    int[] ints => ints.Select(i => (long)i).ToArray(),
                    long[] longs => longs,
                    IEnumerable<int> ints => ints.Select(i => (long)i).ToArray(),
                    IEnumerable<long> longs => longs.ToArray(),
                    _ => throw new ArgumentException($"PJRT create option '{name}' has a value of type {value?.GetType().Name ?? "null"}; use string, bool, int, long, float, double or an int/long list"),
                }));
            }
        }
        return list;
    }

    internal static unsafe PJRT_NamedValue* Marshal(IReadOnlyList<KeyValuePair<string, object>> values, NativeArena arena)
    {
        if (values.Count == 0) return null;
        var array = (PJRT_NamedValue*)arena.Alloc((nuint)(sizeof(PJRT_NamedValue) * values.Count));
        for (int i = 0; i < values.Count; i++)
        {
            var v = array + i;
            v->struct_size = PjrtLayout.Size.NamedValue;
            v->name = arena.Utf8(values[i].Key, out v->name_size);
            switch (values[i].Value)
            {
                case string s:
                    v->type = PjrtLayout.NamedString;
                    v->string_value = arena.Utf8(s, out v->value_size);
                    break;
                case bool b:
                    v->type = PjrtLayout.NamedBool;
                    v->bool_value = b ? (byte)1 : (byte)0;
                    v->value_size = 1;
                    break;
                case long l:
                    v->type = PjrtLayout.NamedInt64;
                    v->int64_value = l;
                    v->value_size = 1;
                    break;
                case float f:
                    v->type = PjrtLayout.NamedFloat;
                    v->float_value = f;
                    v->value_size = 1;
                    break;
                case long[] list:
                    v->type = PjrtLayout.NamedInt64List;
                    v->int64_array_value = (long*)arena.Alloc((nuint)(8 * list.Length));
                    list.CopyTo(new Span<long>(v->int64_array_value, list.Length));
                    v->value_size = (nuint)list.Length;
                    break;
                default:
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"PJRT create option '{values[i].Key}' has an unsupported value"));
            }
        }
        return array;
    }
}
