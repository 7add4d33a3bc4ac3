using System.Runtime.InteropServices;
using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// One addressable device of a PJRT client, as an <see cref="IDevice"/>: compiles HLO modules with the plugin's XLA,
/// holds buffers in device memory and runs executables there. <see cref="Dispose"/> disposes the client when this
/// device owns it (<see cref="XlaGen.Devices.Pjrt"/> returns such a device).
/// </summary>
public sealed unsafe class PjrtDevice : IDevice
{
    readonly void* device;
    readonly Lazy<DeviceInfo> info;
    bool ownsClient;

    internal PjrtDevice(PjrtClient client, int index, void* device)
    {
        Client = client;
        Index = index;
        this.device = device;
        var descriptionArgs = new PJRT_Device_GetDescription_Args { struct_size = PjrtLayout.Size.Device_GetDescription_Args, device = device };
        client.Api.Call(PjrtLayout.Api.Device_GetDescription, "PJRT_Device_GetDescription", &descriptionArgs);
        Description = descriptionArgs.device_description;
        var kind = new PJRT_String_Args { struct_size = PjrtLayout.Size.DeviceDescription_Kind_Args, handle = Description };
        client.Api.Call(PjrtLayout.Api.DeviceDescription_Kind, "PJRT_DeviceDescription_Kind", &kind);
        Kind = PjrtApi.Utf8(kind.text, kind.text_size);
        var id = new PJRT_Int_Args { struct_size = PjrtLayout.Size.DeviceDescription_Id_Args, handle = Description };
        client.Api.Call(PjrtLayout.Api.DeviceDescription_Id, "PJRT_DeviceDescription_Id", &id);
        Id = id.value;
        info = new Lazy<DeviceInfo>(() => new DeviceInfo(Client.Platform, Kind, Client.PlatformVersion, Client.Devices.Count,
            MemoryLimitOrZero(), new Dictionary<string, string>(Client.Plugin.Attributes) { ["pjrt_api_version"] = Client.Plugin.ApiVersion })
        {
            Id = Id,
        });
    }

    /// <summary>Opens device 0 of a new client of the plugin found by <c>PjrtPlugin.Find</c>; the device owns the client.</summary>
    public static PjrtDevice Open(string? path = null, PjrtOptions? options = null)
    {
        var plugin = PjrtPlugin.Load(PjrtPlugin.Find(path));
        var client = PjrtClient.Create(plugin, options);
        var d = client.Devices[0];
        d.ownsClient = true;
        return d;
    }

    /// <summary>The client this device belongs to.</summary>
    public PjrtClient Client { get; }

    /// <summary>Index among the client's addressable devices.</summary>
    public int Index { get; }

    /// <summary>PJRT_DeviceDescription_Id (unique among the platform's devices).</summary>
    public int Id { get; }

    /// <summary>PJRT_DeviceDescription_Kind, e.g. "NVIDIA H100 80GB HBM3" or "TPU v5 lite".</summary>
    public string Kind { get; }

    internal void* Native => device;

    internal void* Description { get; }

    /// <summary>The device in brief: the client's platform and version, <see cref="Kind"/>, the client's device count, the memory limit where the plugin reports one, and <see cref="Id"/>.</summary>
    public DeviceInfo Info => info.Value;

    /// <summary>PJRT_Device_MemoryStats: bytes in use and the limit, null where the plugin does not report them
    /// (including plugins that do not implement the call).</summary>
    public (long? InUse, long? Limit) MemoryStats()
    {
        if (!Client.Api.Has(PjrtLayout.Api.Device_MemoryStats)) return (null, null);
        using var lease = Client.Handle.Use("PJRT client");
        var a = new PJRT_Device_MemoryStats_Args { struct_size = PjrtLayout.Size.Device_MemoryStats_Args, device = device };
        var f = (delegate* unmanaged<void*, void*>)Client.Api.Fn(PjrtLayout.Api.Device_MemoryStats, "PJRT_Device_MemoryStats");
        var error = f(&a);
        if (error != null)
        {
            var (code, message) = Client.Api.ReadAndDestroy(error);
            if (code == PjrtErrorCode.Unimplemented) return (null, null);
            throw new PjrtException(code, "PJRT_Device_MemoryStats", message, $"device {Index} ({Kind})");
        }
        return (a.bytes_in_use, a.bytes_limit_is_set != 0 ? a.bytes_limit : null);
    }

    long MemoryLimitOrZero()
    {
        try
        {
            return MemoryStats().Limit ?? 0;
        }
        catch (PjrtException)
        {
            return 0; // Info is a summary: a failing memory query reads as "not reported" (Describe shows the error)
        }
    }

    internal PlatformDescription.Device DescribeDevice()
    {
        var process = new PJRT_Int_Args { struct_size = PjrtLayout.Size.DeviceDescription_ProcessIndex_Args, handle = Description };
        Client.Api.Call(PjrtLayout.Api.DeviceDescription_ProcessIndex, "PJRT_DeviceDescription_ProcessIndex", &process);
        var attrs = new PJRT_DeviceDescription_Attributes_Args { struct_size = PjrtLayout.Size.DeviceDescription_Attributes_Args, device_description = Description };
        Client.Api.Call(PjrtLayout.Api.DeviceDescription_Attributes, "PJRT_DeviceDescription_Attributes", &attrs);
        var (inUse, limit) = MemoryStats();
        return new PlatformDescription.Device(Id, Kind, process.value, inUse, limit, PjrtApi.ReadNamedValues(attrs.attributes, attrs.num_attributes));
    }

    /// <summary>The whole client's description (this device among its devices).</summary>
    public PlatformDescription Describe() => Client.Describe();

    /// <summary>Compiles <paramref name="module"/> with the plugin for this device. The entry's parameters must be static
    /// arrays, and its result a static array or a flat tuple of them.</summary>
    /// <exception cref="XlaCompileException">The module has a parameter or result the PJRT backend does not take, or the plugin could not compile it (its message is included).</exception>
    public IExecutable CompileHlo(HloModule module) => PjrtExecutable.Compile(this, module);

    /// <summary>Copies the tensor to the device and returns once the plugin no longer reads the tensor's array
    /// (done_with_host_buffer), so the caller may change or reuse the tensor at once, as with every device (data
    /// pipelines refill pooled batch arrays). The device-side copy may still be completing: <see cref="DeviceBuffer.Ready"/>.
    /// To overlap the host-side transfer with other host work, use <see cref="StartUpload"/>.</summary>
    public DeviceBuffer Upload(Tensor tensor)
    {
        var (handle, done, pin) = BeginUpload(tensor);
        try
        {
            // blocks in PJRT_Event_Await (not on a thread-pool continuation), then destroys the event
            PjrtEvent.AwaitAndDestroy(Client.Api, (void*)done, "PJRT_Client_BufferFromHostBuffer (done_with_host_buffer)");
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        finally
        {
            pin.Free();
        }
        return new PjrtBuffer(this, tensor.HloShape, handle, null);
    }

    /// <summary>Starts copying the tensor to the device (PJRT_Client_BufferFromHostBuffer, ImmutableUntilTransferCompletes)
    /// and returns at once: the tensor's array stays pinned, and must not change, until the plugin is done with it
    /// (<see cref="PjrtBuffer.HostReleased"/>, from done_with_host_buffer through PJRT_Event_OnReady);
    /// <see cref="DeviceBuffer.Ready"/> completes when the data is on the device.</summary>
    public PjrtBuffer StartUpload(Tensor tensor)
    {
        var (handle, done, pin) = BeginUpload(tensor);
        var released = PjrtEvent.WhenReady(Client.Api, (void*)done, "PJRT_Client_BufferFromHostBuffer (done_with_host_buffer)", pin.Free, Client.Handle);
        return new PjrtBuffer(this, tensor.HloShape, handle, released);
    }

    /// <summary>PJRT_Client_BufferFromHostBuffer from the pinned tensor array: the buffer, its done_with_host_buffer
    /// event and the pin, which the caller frees once that event fired.</summary>
    (PjrtHandle Buffer, nint Done, GCHandle Pin) BeginUpload(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var api = Client.Api;
        var type = (int)PjrtBufferTypes.FromElementType(tensor.ElementType);
        var dims = tensor.Shape.ToArray();
        var pin = GCHandle.Alloc(tensor.Data, GCHandleType.Pinned);
        try
        {
            using var lease = Client.Handle.Use("PJRT client");
            fixed (long* d = dims)
            {
                var a = new PJRT_Client_BufferFromHostBuffer_Args
                {
                    struct_size = PjrtLayout.Size.Client_BufferFromHostBuffer_Args,
                    client = lease.Pointer,
                    data = (void*)pin.AddrOfPinnedObject(),
                    type = type,
                    dims = d,
                    num_dims = (nuint)dims.Length,
                    host_buffer_semantics = PjrtLayout.ImmutableUntilTransferCompletes,
                    device = device,
                };
                api.Call(PjrtLayout.Api.Client_BufferFromHostBuffer, "PJRT_Client_BufferFromHostBuffer", &a, $"uploading {tensor.ShapeText} to device {Index} ({Kind})");
                return (PjrtHandle.Buffer(api, a.buffer, Client.Handle), (nint)a.done_with_host_buffer, pin);
            }
        }
        catch
        {
            pin.Free();
            throw;
        }
    }

    /// <summary>Copies the buffer to a new host tensor, waiting for the execution that produces it.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="buffer"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> belongs to another device.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="buffer"/> was disposed or donated.</exception>
    public Tensor Download(DeviceBuffer buffer)
    {
        var b = Own(buffer, "download it");
        var (tensor, pin, ev) = StartDownload(b);
        try
        {
            PjrtEvent.AwaitAndDestroy(Client.Api, (void*)ev, "PJRT_Buffer_ToHostBuffer");
        }
        finally
        {
            pin.Free();
        }
        return tensor;
    }

    /// <summary>The download as a task: completes when the plugin has written the tensor (PJRT_Event_OnReady).</summary>
    public Task<Tensor> DownloadAsync(DeviceBuffer buffer, CancellationToken cancellationToken = default)
    {
        var b = Own(buffer, "download it");
        var (tensor, pin, ev) = StartDownload(b);
        var written = PjrtEvent.WhenReady(Client.Api, (void*)ev, "PJRT_Buffer_ToHostBuffer", pin.Free, Client.Handle);
        return written.WaitAsync(cancellationToken).ContinueWith(t =>
        {
            t.GetAwaiter().GetResult();
            return tensor;
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>PJRT_Buffer_ToHostBuffer straight into a new tensor's array (pinned; row-major host layout).</summary>
    (Tensor Tensor, GCHandle Pin, nint Event) StartDownload(PjrtBuffer b)
    {
        var shape = b.Shape;
        var dims = shape.ConcreteDims();
        var tensor = TensorBytes.Allocate(shape.ElementType, dims, zeroed: false);
        long bytes = TensorBytes.ByteCount(tensor);
        var pin = GCHandle.Alloc(tensor.Data, GCHandleType.Pinned);
        try
        {
            using var lease = b.Handle.Use("buffer");
            var minorToMajor = stackalloc long[Math.Max(1, dims.Length)];
            for (int i = 0; i < dims.Length; i++) minorToMajor[i] = dims.Length - 1 - i;
            var layout = new PJRT_Buffer_MemoryLayout
            {
                struct_size = PjrtLayout.Size.Buffer_MemoryLayout,
                type = PjrtLayout.MemoryLayoutTiled,
                tiled = new PJRT_Buffer_MemoryLayout_Tiled
                {
                    struct_size = PjrtLayout.Size.Buffer_MemoryLayout_Tiled,
                    minor_to_major = minorToMajor,
                    minor_to_major_size = (nuint)dims.Length,
                },
            };
            // dst = NULL asks the plugin how many bytes it will write: it must be exactly the tensor's.
            var query = new PJRT_Buffer_ToHostBuffer_Args { struct_size = PjrtLayout.Size.Buffer_ToHostBuffer_Args, src = lease.Pointer, host_layout = &layout };
            Client.Api.Call(PjrtLayout.Api.Buffer_ToHostBuffer, "PJRT_Buffer_ToHostBuffer", &query, $"asking the host size of {shape}");
            if (query.dst_size != (nuint)bytes)
            {
                throw new PjrtException(PjrtErrorCode.FailedPrecondition, "PJRT_Buffer_ToHostBuffer",
                    $"the plugin writes {query.dst_size} bytes for {shape} in row-major order, but the tensor holds {bytes}", $"device {Index} ({Kind})");
            }
            var a = new PJRT_Buffer_ToHostBuffer_Args
            {
                struct_size = PjrtLayout.Size.Buffer_ToHostBuffer_Args,
                src = lease.Pointer,
                host_layout = &layout,
                dst = (void*)pin.AddrOfPinnedObject(),
                dst_size = (nuint)bytes,
            };
            Client.Api.Call(PjrtLayout.Api.Buffer_ToHostBuffer, "PJRT_Buffer_ToHostBuffer", &a, $"downloading {shape} from device {Index} ({Kind})");
            return (tensor, pin, (nint)a.@event);
        }
        catch
        {
            pin.Free();
            throw;
        }
    }

    internal PjrtBuffer Own(DeviceBuffer buffer, string use) =>
        DeviceBuffer.Owned<PjrtBuffer>(buffer, this, use, $"not to PJRT device {Index} ({Kind}) of {Client.Platform}");

    /// <summary>Disposes the client when this device created it (<see cref="Open"/>); a device taken from a client's
    /// <see cref="PjrtClient.Devices"/> leaves the client to its owner.</summary>
    public void Dispose()
    {
        if (ownsClient) Client.Dispose();
    }

    /// <summary>"pjrt platform device index (kind)".</summary>
    public override string ToString() => $"pjrt {Client.Platform} device {Index} ({Kind})";
}
