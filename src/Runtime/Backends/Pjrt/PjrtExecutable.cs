using System.Globalization;
using XlaGen.Hlo;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A module compiled by the plugin (PJRT_Client_Compile of the serialized HloModuleProto, format "hlo", with a
/// CompileOptionsProto) and loaded on one device. Execute passes every argument that is not donated in
/// non_donatable_input_indices, so the plugin reuses only the buffers the caller gave up (and only where the module's
/// input_output_alias lets it); donated buffers are invalid afterwards.
/// </summary>
public sealed unsafe class PjrtExecutable : IExecutable
{
    readonly PjrtDevice device;
    readonly PjrtHandle handle;
    readonly Shape[] parameterShapes;
    readonly string[] parameterNames;
    readonly Shape[] resultShapes;
    readonly bool portable;

    PjrtExecutable(PjrtDevice device, HloModule module, PjrtHandle handle, Shape[] resultShapes, long peak, string peakSource, bool portable)
    {
        this.device = device;
        this.handle = handle;
        this.resultShapes = resultShapes;
        this.portable = portable;
        Module = module;
        parameterShapes = module.Entry.Parameters.Select(p => p.Shape).ToArray();
        parameterNames = module.Entry.Parameters.Select(p => p.Name).ToArray();
        PeakMemoryBytes = peak;
        PeakMemorySource = peakSource;
    }

    /// <summary>The module this executable was compiled from.</summary>
    public HloModule Module { get; }

    /// <summary>PJRT_Executable_GetCompiledMemoryStats' peak_memory_in_bytes; where the plugin does not report it (older
    /// plugins, or a zero peak), argument + output + temp − alias bytes of the same stats; 0 when the call is missing.</summary>
    public long PeakMemoryBytes { get; }

    /// <summary>Where <see cref="PeakMemoryBytes"/> came from.</summary>
    public string PeakMemorySource { get; }

    internal static PjrtExecutable Compile(PjrtDevice device, HloModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var p in module.Entry.Parameters)
        {
            if (!p.Shape.IsArray || !p.Shape.IsStatic)
                throw new XlaCompileException($"module '{module.Name}': parameter {p.Name} has shape {p.Shape}; the PJRT backend takes static array parameters only");
        }
        var root = module.ResultShape;
        var results = root.IsTuple ? root.TupleShapes.ToArray() : new[] { root };
        foreach (var r in results)
        {
            if (!r.IsArray || !r.IsStatic) throw new XlaCompileException($"module '{module.Name}': result shape {root} is not an array or a flat tuple of static arrays");
        }
        var client = device.Client;
        var api = client.Api;
        byte[] code = HloProto.Write(module);
        bool portable = device.Index != 0;
        byte[] options = PjrtCompileOptions.Build(portable);
        void* loaded;
        using (var lease = client.Handle.Use("PJRT client"))
        {
            fixed (byte* c = code)
            fixed (byte* o = options)
            fixed (byte* f = "hlo"u8)
            {
                var program = new PJRT_Program { struct_size = PjrtLayout.Size.Program, code = c, code_size = (nuint)code.Length, format = f, format_size = 3 };
                var a = new PJRT_Client_Compile_Args
                {
                    struct_size = PjrtLayout.Size.Client_Compile_Args,
                    client = lease.Pointer,
                    program = &program,
                    compile_options = o,
                    compile_options_size = (nuint)options.Length,
                };
                try
                {
                    api.Call(PjrtLayout.Api.Client_Compile, "PJRT_Client_Compile", &a, $"module '{module.Name}'");
                }
                catch (PjrtException e)
                {
                    throw new XlaCompileException($"PJRT plugin {client.Plugin.Path} ({client.Platform}) could not compile module '{module.Name}': {e.Message}", e);
                }
                loaded = a.executable;
            }
        }
        var h = PjrtHandle.LoadedExecutable(api, loaded, client.Handle);
        try
        {
            var (outputs, peak, source) = Inspect(api, loaded);
            if (outputs != results.Length)
                throw new XlaCompileException($"PJRT compiled module '{module.Name}' into {outputs} output(s), but its result {root} has {results.Length}");
            return new PjrtExecutable(device, module, h, results, peak, source, portable);
        }
        catch
        {
            h.Dispose();
            throw;
        }
    }

    /// <summary>Output count and compiled memory stats, from the PJRT_Executable behind the loaded one.</summary>
    static (int Outputs, long Peak, string Source) Inspect(PjrtApi api, void* loaded)
    {
        var g = new PJRT_HandleOut_Args { struct_size = PjrtLayout.Size.LoadedExecutable_GetExecutable_Args, handle = loaded };
        api.Call(PjrtLayout.Api.LoadedExecutable_GetExecutable, "PJRT_LoadedExecutable_GetExecutable", &g);
        var executable = g.result;
        try
        {
            var n = new PJRT_Executable_NumOutputs_Args { struct_size = PjrtLayout.Size.Executable_NumOutputs_Args, executable = executable };
            api.Call(PjrtLayout.Api.Executable_NumOutputs, "PJRT_Executable_NumOutputs", &n);
            if (!api.Has(PjrtLayout.Api.Executable_GetCompiledMemoryStats))
                return (checked((int)n.num_outputs), 0, $"not reported: the plugin (API {api.Version}) has no PJRT_Executable_GetCompiledMemoryStats");
            var s = new PJRT_Executable_GetCompiledMemoryStats_Args { struct_size = PjrtLayout.Size.Executable_GetCompiledMemoryStats_Args, executable = executable };
            var f = (delegate* unmanaged<void*, void*>)api.Fn(PjrtLayout.Api.Executable_GetCompiledMemoryStats, "PJRT_Executable_GetCompiledMemoryStats");
            var error = f(&s);
            if (error != null)
            {
                var (code, message) = api.ReadAndDestroy(error);
                return (checked((int)n.num_outputs), 0, $"not reported: PJRT_Executable_GetCompiledMemoryStats failed with {PjrtException.CodeName(code)}: {message}");
            }
            if (s.peak_memory_in_bytes > 0) return (checked((int)n.num_outputs), s.peak_memory_in_bytes, "PJRT_Executable_GetCompiledMemoryStats peak_memory_in_bytes");
            long sum = s.argument_size_in_bytes + s.output_size_in_bytes + s.temp_size_in_bytes - s.alias_size_in_bytes;
            return (checked((int)n.num_outputs), Math.Max(0, sum), "PJRT_Executable_GetCompiledMemoryStats argument + output + temp - alias (the plugin reports no peak_memory_in_bytes)");
        }
        finally
        {
            api.DestroyHandle(PjrtLayout.Api.Executable_Destroy, "PJRT_Executable_Destroy", PjrtLayout.Size.Executable_Destroy_Args, executable);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="arguments"/> is null.</exception>
    /// <exception cref="XlaExecutionException">The plugin reported an error while running the program.</exception>
    public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var donated = ExecuteArguments.Check(Module.Name, parameterShapes, parameterNames, arguments, b => b.Shape, options?.DonatedArguments ?? Array.Empty<int>());
        var buffers = new PjrtBuffer[arguments.Count];
        for (int i = 0; i < arguments.Count; i++)
            buffers[i] = device.Own(arguments[i], string.Create(CultureInfo.InvariantCulture, $"pass argument {i} ({parameterNames[i]}) to '{Module.Name}'"));
        options?.Cancellation.ThrowIfCancellationRequested();
        var api = device.Client.Api;
        var leases = new PjrtHandle.Lease[buffers.Length];
        int leased = 0;
        var outputs = new void*[resultShapes.Length];
        try
        {
            using var exe = handle.Use("executable");
            for (; leased < buffers.Length; leased++) leases[leased] = buffers[leased].Handle.Use("argument buffer");
            var argumentPointers = new void*[buffers.Length];
            for (int i = 0; i < buffers.Length; i++) argumentPointers[i] = leases[i].Pointer;
            var nonDonatable = Enumerable.Range(0, buffers.Length).Where(i => donated == null || !donated[i]).Select(i => (long)i).ToArray();
            fixed (void** args = argumentPointers)
            fixed (void** outs = outputs)
            fixed (long* keep = nonDonatable)
            {
                var argLists = args;
                var outLists = outs;
                var o = new PJRT_ExecuteOptions
                {
                    struct_size = PjrtLayout.Size.ExecuteOptions,
                    non_donatable_input_indices = keep,
                    num_non_donatable_input_indices = (nuint)nonDonatable.Length,
                };
                var a = new PJRT_LoadedExecutable_Execute_Args
                {
                    struct_size = PjrtLayout.Size.LoadedExecutable_Execute_Args,
                    executable = exe.Pointer,
                    options = &o,
                    argument_lists = &argLists,
                    num_devices = 1,
                    num_args = (nuint)buffers.Length,
                    output_lists = &outLists,
                    execute_device = portable ? device.Native : null,
                };
                try
                {
                    api.Call(PjrtLayout.Api.LoadedExecutable_Execute, "PJRT_LoadedExecutable_Execute", &a, $"module '{Module.Name}' on device {device.Index}");
                }
                catch (PjrtException e)
                {
                    throw new XlaExecutionException($"module '{Module.Name}' failed on PJRT device {device.Index} ({device.Kind}): {e.Message}", e);
                }
            }
        }
        finally
        {
            for (int i = 0; i < leased; i++) leases[i].Dispose();
            if (donated != null)
            {
                for (int i = 0; i < buffers.Length; i++)
                {
                    if (donated[i]) buffers[i].MarkDonated();
                }
            }
        }
        var result = new DeviceBuffer[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i] == null)
            {
                for (int j = 0; j < outputs.Length; j++)
                {
                    if (outputs[j] != null) api.DestroyHandle(PjrtLayout.Api.Buffer_Destroy, "PJRT_Buffer_Destroy", PjrtLayout.Size.Buffer_Destroy_Args, outputs[j]);
                }
                throw new XlaExecutionException($"PJRT_LoadedExecutable_Execute of '{Module.Name}' returned no buffer for output {i}");
            }
        }
        for (int i = 0; i < outputs.Length; i++)
            result[i] = new PjrtBuffer(device, resultShapes[i], PjrtHandle.Buffer(api, outputs[i], device.Client.Handle), null);
        return result;
    }

    /// <summary>Releases the native executable (PJRT_LoadedExecutable_Destroy).</summary>
    public void Dispose() => handle.Dispose();

    /// <summary>"pjrt executable 'module name' on (device)".</summary>
    public override string ToString() => $"pjrt executable '{Module.Name}' on {device}";
}
