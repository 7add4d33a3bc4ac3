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

    /// <summary>Releases the native client (PJRT_Client_Destroy). Buffers and executables made from it keep it alive until they are disposed too.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>"PJRT client platform version (N device(s), plugin path)".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"PJRT client {Platform} {PlatformVersion} ({devices.Length} device(s), plugin {Plugin.Path})");
}
