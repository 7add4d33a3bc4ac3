using System.Runtime.InteropServices;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// One native PJRT object (client, buffer, loaded executable) in a SafeHandle: destroyed exactly once, by its
/// destroy function, when disposed or finalized. A child object (a buffer, an executable) holds a reference on its
/// client's handle, so the client is destroyed only after everything made from it.
/// </summary>
internal sealed unsafe class PjrtHandle : SafeHandle
{
    readonly PjrtApi api;
    readonly int destroyOffset;
    readonly string destroyName;
    readonly int destroyArgsSize;
    readonly SafeHandle? parent;
    readonly Action? afterDestroy;

    PjrtHandle(PjrtApi api, void* pointer, int destroyOffset, string destroyName, int destroyArgsSize, SafeHandle? parent, Action? afterDestroy = null)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        this.afterDestroy = afterDestroy;
        this.api = api;
        this.destroyOffset = destroyOffset;
        this.destroyName = destroyName;
        this.destroyArgsSize = destroyArgsSize;
        if (parent != null)
        {
            bool added = false;
            parent.DangerousAddRef(ref added);
            this.parent = parent;
        }
        SetHandle((nint)pointer);
    }

    /// <summary>A client; <paramref name="afterDestroy"/> runs once the native client is destroyed (it frees what the
    /// client's callbacks use).</summary>
    public static PjrtHandle Client(PjrtApi api, void* client, Action? afterDestroy = null) =>
        new(api, client, PjrtLayout.Api.Client_Destroy, "PJRT_Client_Destroy", PjrtLayout.Size.Client_Destroy_Args, null, afterDestroy);

    public static PjrtHandle Buffer(PjrtApi api, void* buffer, SafeHandle client) =>
        new(api, buffer, PjrtLayout.Api.Buffer_Destroy, "PJRT_Buffer_Destroy", PjrtLayout.Size.Buffer_Destroy_Args, client);

    public static PjrtHandle LoadedExecutable(PjrtApi api, void* executable, SafeHandle client) =>
        new(api, executable, PjrtLayout.Api.LoadedExecutable_Destroy, "PJRT_LoadedExecutable_Destroy", PjrtLayout.Size.LoadedExecutable_Destroy_Args, client);

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The native pointer while a <see cref="Lease"/> keeps it from being destroyed.</summary>
    public Lease Use(string what)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException(what, $"cannot use the {what}: it was disposed");
        }
        return new Lease(this);
    }

    protected override bool ReleaseHandle()
    {
        try
        {
            return api.DestroyHandle(destroyOffset, destroyName, destroyArgsSize, (void*)handle);
        }
        finally
        {
            parent?.DangerousRelease();
            afterDestroy?.Invoke();
        }
    }

    public readonly struct Lease : IDisposable
    {
        readonly PjrtHandle owner;

        public Lease(PjrtHandle owner) => this.owner = owner;

        public void* Pointer => (void*)owner.DangerousGetHandle();

        public void Dispose() => owner.DangerousRelease();
    }
}
