using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A PJRT_Buffer in a device's memory. Destroyed (PJRT_Buffer_Destroy) exactly once: by <see cref="Dispose"/>, by an
/// execution it was donated to, or by the finalizer.
/// </summary>
public sealed unsafe class PjrtBuffer : DeviceBuffer
{
    readonly object gate = new();
    Task? ready;

    internal PjrtBuffer(PjrtDevice device, Shape shape, PjrtHandle handle, Task? hostReleased) : base(device, shape)
    {
        Handle = handle;
        HostReleased = hostReleased ?? Task.CompletedTask;
    }

    internal PjrtHandle Handle { get; }

    /// <summary>The PJRT device that holds the buffer.</summary>
    public new PjrtDevice Device => (PjrtDevice)base.Device;

    /// <summary>Completes when the plugin no longer reads the uploaded host array (done_with_host_buffer); already
    /// complete for execution results.</summary>
    public Task HostReleased { get; }

    /// <summary>Completes when the buffer's contents exist on the device (PJRT_Buffer_ReadyEvent); faults with the
    /// device's error (a failed transfer or execution).</summary>
    public override Task Ready
    {
        get
        {
            lock (gate)
            {
                if (ready != null) return ready;
                EnsureAlive("wait for it");
                var api = Device.Client.Api;
                using var lease = Handle.Use("buffer");
                var a = new PJRT_HandleOut_Args { struct_size = PjrtLayout.Size.Buffer_ReadyEvent_Args, handle = lease.Pointer };
                api.Call(PjrtLayout.Api.Buffer_ReadyEvent, "PJRT_Buffer_ReadyEvent", &a);
                ready = PjrtEvent.WhenReady(api, a.result, "PJRT_Buffer_ReadyEvent", null, Device.Client.Handle);
                return ready;
            }
        }
    }

    /// <summary>The buffer went to an execution as a donated argument: invalid on our side, native handle destroyed.</summary>
    internal void MarkDonated()
    {
        IsDeleted = true;
        Handle.Dispose();
    }

    /// <summary>Destroys the native buffer (PJRT_Buffer_Destroy, once) and marks this buffer deleted.</summary>
    public override void Dispose()
    {
        Handle.Dispose();
        base.Dispose();
    }
}
