using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// PJRT_Event: every event XlaGen receives is destroyed exactly once, either after <see cref="AwaitAndDestroy"/>
/// blocks on it or from <see cref="WhenReady"/>'s completion (PJRT_Event_OnReady). The error an event reports is read
/// and destroyed in the callback, as the header requires.
/// </summary>
internal static unsafe class PjrtEvent
{
    /// <summary>Blocks until the event is ready, destroys it, and throws its error.</summary>
    public static void AwaitAndDestroy(PjrtApi api, void* ev, string function)
    {
        if (ev == null) return;
        void* error;
        try
        {
            var a = new PJRT_Event_Await_Args { struct_size = PjrtLayout.Size.Event_Await_Args, @event = ev };
            error = ((delegate* unmanaged<void*, void*>)api.Fn(PjrtLayout.Api.Event_Await, "PJRT_Event_Await"))(&a);
        }
        finally
        {
            Destroy(api, ev);
        }
        api.Check(error, function);
    }

    public static void Destroy(PjrtApi api, void* ev)
    {
        if (ev == null) return;
        var a = new PJRT_Event_Destroy_Args { struct_size = PjrtLayout.Size.Event_Destroy_Args, @event = ev };
        var error = ((delegate* unmanaged<void*, void*>)api.Fn(PjrtLayout.Api.Event_Destroy, "PJRT_Event_Destroy"))(&a);
        if (error != null) api.Destroy(error);
    }

    /// <summary>
    /// A task that completes when the event is ready (faulted with a <see cref="PjrtException"/> naming
    /// <paramref name="function"/> when the event carries an error). By then the event has been destroyed and
    /// <paramref name="after"/> has run (it releases what the transfer needed, e.g. a pinned array).
    /// <paramref name="keepAlive"/> (the client) is held until then.
    /// </summary>
    public static Task WhenReady(PjrtApi api, void* ev, string function, Action? after, SafeHandle keepAlive)
    {
        if (ev == null)
        {
            after?.Invoke();
            return Task.CompletedTask;
        }
        bool added = false;
        keepAlive.DangerousAddRef(ref added);
        var state = new State(api, (nint)ev, function, after, keepAlive);
        var gc = GCHandle.Alloc(state);
        var a = new PJRT_Event_OnReady_Args
        {
            struct_size = PjrtLayout.Size.Event_OnReady_Args,
            @event = ev,
            callback = &OnReady,
            user_arg = (void*)GCHandle.ToIntPtr(gc),
        };
        void* error;
        try
        {
            error = ((delegate* unmanaged<void*, void*>)api.Fn(PjrtLayout.Api.Event_OnReady, "PJRT_Event_OnReady"))(&a);
        }
        catch
        {
            gc.Free();
            state.Finish(null);
            throw;
        }
        if (error != null)
        {
            // The callback was not registered: finish here.
            gc.Free();
            var failure = api.TakeError(error, "PJRT_Event_OnReady", function);
            state.Finish(failure);
        }
        return state.Completion.Task;
    }

    [UnmanagedCallersOnly]
    static void OnReady(void* error, void* userArg)
    {
        var gc = GCHandle.FromIntPtr((nint)userArg);
        var state = (State)gc.Target!;
        gc.Free();
        PjrtException? failure = null;
        try
        {
            if (error != null) failure = state.Api.TakeError(error, state.Function);
        }
        catch (Exception e)
        {
            failure = new PjrtException(PjrtErrorCode.Internal, state.Function, "reading the event's error failed: " + e.Message);
        }
        // Destroying the event inside its own callback is not allowed everywhere: finish on the thread pool.
        ThreadPool.UnsafeQueueUserWorkItem(s => s.Finish(failure), state, preferLocal: false);
    }

    sealed class State(PjrtApi api, nint ev, string function, Action? after, SafeHandle keepAlive)
    {
        public PjrtApi Api { get; } = api;

        public string Function { get; } = function;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Finish(Exception? failure)
        {
            try
            {
                Destroy(Api, (void*)ev);
                after?.Invoke();
            }
            catch (Exception e)
            {
                failure ??= e;
            }
            finally
            {
                keepAlive.DangerousRelease();
            }
            if (failure != null) Completion.TrySetException(failure);
            else Completion.TrySetResult();
        }
    }
}
