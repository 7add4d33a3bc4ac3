using System.Globalization;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A PJRT client (PJRT_Client_Create) and its addressable devices. Disposing it destroys the native client once every
/// buffer and executable made from it is gone (they hold references on its handle).
/// </summary>
public sealed unsafe class PjrtClient : IDisposable
{
    readonly PjrtDevice[] devices;

    PjrtClient(PjrtPlugin plugin, PjrtHandle handle, string platform, string platformVersion, int processIndex, void** deviceArray, int count)
    {
        Plugin = plugin;
        Handle = handle;
        Platform = platform;
        PlatformVersion = platformVersion;
        ProcessIndex = processIndex;
        devices = new PjrtDevice[count];
        for (int i = 0; i < count; i++) devices[i] = new PjrtDevice(this, i, deviceArray[i]);
    }

    /// <summary>The loaded plugin this client was created from.</summary>
    public PjrtPlugin Plugin { get; }

    internal PjrtHandle Handle { get; }

    internal PjrtApi Api => Plugin.Api;

    /// <summary>PJRT_Client_PlatformName: "cpu", "cuda", "tpu" …</summary>
    public string Platform { get; }

    /// <summary>PJRT_Client_PlatformVersion (e.g. the CUDA or libtpu version).</summary>
    public string PlatformVersion { get; }

    /// <summary>PJRT_Client_ProcessIndex: this process's index among the processes of a multi-host platform (0 on a single host).</summary>
    public int ProcessIndex { get; }

    /// <summary>The client's addressable devices, in the plugin's order.</summary>
    public IReadOnlyList<PjrtDevice> Devices => devices;

    /// <summary>Creates a client of <paramref name="plugin"/>. A plugin that refuses (bad options, no device) gives a
    /// <see cref="PjrtPluginException"/> with the plugin's message.</summary>
    public static PjrtClient Create(PjrtPlugin plugin, PjrtOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var api = plugin.Api;
        options ??= new PjrtOptions();
        var named = options.NamedValues();
        // The store's callbacks: their GCHandle lives until the native client is destroyed (PJRT may use the store at
        // any time, e.g. to exchange collective ids at a first execution).
        var kv = options.KeyValueStore is { } store ? new KeyValueBinding(store) : null;
        void* client;
        try
        {
            using var arena = new NativeArena();
            var a = new PJRT_Client_Create_Args
            {
                struct_size = PjrtLayout.Size.Client_Create_Args,
                create_options = PjrtOptions.Marshal(named, arena),
                num_options = (nuint)named.Count,
            };
            kv?.Fill(ref a);
            try
            {
                api.Call(PjrtLayout.Api.Client_Create, "PJRT_Client_Create", &a);
            }
            catch (PjrtException e)
            {
                string sent = (named.Count == 0 ? "no create options" : "create options " + string.Join(", ", named.Select(n => n.Key)))
                    + (kv != null ? " and the key-value store callbacks" : "");
                throw new PjrtPluginException(plugin.Path,
                    $"PJRT plugin {plugin.Path} could not create a client ({sent}): {e.PluginMessage} [{PjrtException.CodeName(e.Code)}]. Check the options against the plugin, and that the device is present and not held by another process", e);
            }
            client = a.client;
            if (client == null) throw new PjrtPluginException(plugin.Path, $"PJRT plugin {plugin.Path} returned no client from PJRT_Client_Create");
        }
        catch
        {
            kv?.Free();
            throw;
        }
        var handle = PjrtHandle.Client(api, client, kv == null ? null : kv.Free);
        try
        {
            var name = new PJRT_String_Args { struct_size = PjrtLayout.Size.Client_PlatformName_Args, handle = client };
            api.Call(PjrtLayout.Api.Client_PlatformName, "PJRT_Client_PlatformName", &name);
            var version = new PJRT_String_Args { struct_size = PjrtLayout.Size.Client_PlatformVersion_Args, handle = client };
            api.Call(PjrtLayout.Api.Client_PlatformVersion, "PJRT_Client_PlatformVersion", &version);
            var process = new PJRT_Int_Args { struct_size = PjrtLayout.Size.Client_ProcessIndex_Args, handle = client };
            api.Call(PjrtLayout.Api.Client_ProcessIndex, "PJRT_Client_ProcessIndex", &process);
            var d = new PJRT_Client_AddressableDevices_Args { struct_size = PjrtLayout.Size.Client_AddressableDevices_Args, client = client };
            api.Call(PjrtLayout.Api.Client_AddressableDevices, "PJRT_Client_AddressableDevices", &d);
            if (d.num_addressable_devices == 0)
                throw new PjrtPluginException(plugin.Path, $"PJRT plugin {plugin.Path} created a client with no addressable devices");
            return new PjrtClient(plugin, handle, PjrtApi.Utf8(name.text, name.text_size), PjrtApi.Utf8(version.text, version.text_size),
                process.value, d.addressable_devices, checked((int)d.num_addressable_devices));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Platform, version, every device with its memory, the plugin's attributes (and its path as
    /// <c>pjrt_plugin</c>), and the PJRT C API versions of the plugin and of XlaGen's layout table.</summary>
    public PlatformDescription Describe()
    {
        var attributes = new Dictionary<string, string>(Plugin.Attributes, StringComparer.Ordinal) { ["pjrt_plugin"] = Plugin.Path };
        if (Plugin.PreloadedLibraries.Count > 0)
            attributes["cuda_wheel_libraries"] = string.Join(" ", Plugin.PreloadedLibraries.Select(Path.GetFileName));
        return new PlatformDescription(Platform, PlatformVersion, devices.Select(d => d.DescribeDevice()).ToList(), attributes,
            Plugin.ApiVersion, PjrtPlugin.OurApiVersion);
    }

    /// <summary>
    /// PJRT_Client_DefaultDeviceAssignment for <paramref name="replicas"/> replicas of one partition: the id of the
    /// device each replica runs on, as the plugin assigns them (XLA's DeviceAssignment, replica-major). Checked: every id
    /// names one of this client's addressable devices, none twice.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is not between 1 and the device count.</exception>
    /// <exception cref="NotSupportedException">The plugin has no PJRT_Client_DefaultDeviceAssignment.</exception>
    /// <exception cref="PjrtException">The plugin refused, or assigned a device that is not addressable here, or one twice.</exception>
    public int[] DefaultDeviceAssignment(int replicas)
    {
        if (replicas < 1 || replicas > devices.Length)
            throw new ArgumentOutOfRangeException(nameof(replicas), replicas, $"{this} has {devices.Length} device(s): a program runs on 1 to {devices.Length} replicas");
        if (!Api.Has(PjrtLayout.Api.Client_DefaultDeviceAssignment))
            throw new NotSupportedException($"PJRT plugin {Plugin.Path} (API {Plugin.ApiVersion}) has no PJRT_Client_DefaultDeviceAssignment, so it cannot place replicas");
        var ids = new int[replicas];
        using (var lease = Handle.Use("PJRT client"))
        {
            fixed (int* p = ids)
            {
                var a = new PJRT_Client_DefaultDeviceAssignment_Args
                {
                    struct_size = PjrtLayout.Size.Client_DefaultDeviceAssignment_Args,
                    client = lease.Pointer,
                    num_replicas = replicas,
                    num_partitions = 1,
                    default_assignment_size = (nuint)replicas,
                    default_assignment = p,
                };
                Api.Call(PjrtLayout.Api.Client_DefaultDeviceAssignment, "PJRT_Client_DefaultDeviceAssignment", &a, $"{replicas} replica(s), 1 partition");
            }
        }
        var known = devices.Select(d => d.Id).ToHashSet();
        var seen = new HashSet<int>();
        for (int r = 0; r < ids.Length; r++)
        {
            if (!known.Contains(ids[r]) || !seen.Add(ids[r]))
            {
                throw new PjrtException(PjrtErrorCode.Internal, "PJRT_Client_DefaultDeviceAssignment",
                    $"replica {r} was assigned device id {ids[r]}, which is {(known.Contains(ids[r]) ? "assigned twice" : "none of this client's addressable devices (" + string.Join(", ", known) + ")")}",
                    $"{replicas} replica(s)");
            }
        }
        return ids;
    }

    /// <summary>
    /// This client's devices as <paramref name="replicas"/> replicas of one program (data parallelism, like TPUStrategy
    /// over a host's chips): programs compile with num_replicas = N and the plugin's default device assignment, and run
    /// with one argument list per replica; XLA runs the all-reduces over the devices' interconnect. The client stays
    /// this object's (the replicated device does not dispose it).
    /// </summary>
    public ReplicatedDevice Replicated(int replicas) => new(new PjrtReplicaPlatform(this, replicas, ownsClient: false));

    /// <summary>Releases the native client (PJRT_Client_Destroy). Buffers and executables made from it keep it alive until they are disposed too.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>"PJRT client platform version (N device(s), plugin path)".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"PJRT client {Platform} {PlatformVersion} ({devices.Length} device(s), plugin {Plugin.Path})");
}
