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
        bool portable = device.Index != 0;
        var (h, results, peak, source) = CompileLoaded(device.Client, module, PjrtCompileOptions.Build(portable));
        return new PjrtExecutable(device, module, h, results, peak, source, portable);
    }

    /// <summary>Checks that <paramref name="module"/> has static array parameters and a static array or flat tuple
    /// result, compiles it with <paramref name="options"/> (a serialized CompileOptionsProto) and inspects the loaded
    /// executable: its handle, result leaves and peak memory.</summary>
    internal static (PjrtHandle Handle, Shape[] Results, long Peak, string Source) CompileLoaded(PjrtClient client, HloModule module, byte[] options)
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
        var api = client.Api;
        byte[] code = HloProto.Write(module);
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
            return (h, results, peak, source);
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
        var outputs = Run(handle, Module.Name, new[] { device }, new[] { buffers }, donated, portable ? device.Native : null, resultShapes);
        return outputs[0];
    }

    /// <summary>
    /// PJRT_LoadedExecutable_Execute with one argument list per device (<paramref name="devices"/>[d] runs list d;
    /// one list and <paramref name="executeDevice"/> for a portable executable): every argument that is not donated goes
    /// in non_donatable_input_indices, the plugin fills one output list per device, and donated buffers are marked
    /// consumed whether the call succeeded or not.
    /// </summary>
    internal static DeviceBuffer[][] Run(PjrtHandle handle, string moduleName, PjrtDevice[] devices, PjrtBuffer[][] buffers, bool[]? donated, void* executeDevice, Shape[] resultShapes)
    {
        var client = devices[0].Client;
        var api = client.Api;
        int lists = buffers.Length, count = buffers[0].Length;
        var leases = new List<PjrtHandle.Lease>(lists * count);
        var outputs = new void*[lists][];
        for (int d = 0; d < lists; d++) outputs[d] = new void*[resultShapes.Length];
        var argumentPointers = new void*[lists][];
        var nonDonatable = Enumerable.Range(0, count).Where(i => donated == null || !donated[i]).Select(i => (long)i).ToArray();
        var pins = new List<System.Runtime.InteropServices.GCHandle>();
        try
        {
            using var exe = handle.Use("executable");
            for (int d = 0; d < lists; d++)
            {
                argumentPointers[d] = new void*[count];
                for (int i = 0; i < count; i++)
                {
                    var lease = buffers[d][i].Handle.Use("argument buffer");
                    leases.Add(lease);
                    argumentPointers[d][i] = lease.Pointer;
                }
            }
            // [num_devices] pointers to each list: the lists are pinned for the call
            var argumentLists = stackalloc void**[lists];
            var outputLists = stackalloc void**[lists];
            for (int d = 0; d < lists; d++)
            {
                var a = System.Runtime.InteropServices.GCHandle.Alloc(argumentPointers[d], System.Runtime.InteropServices.GCHandleType.Pinned);
                pins.Add(a);
                argumentLists[d] = (void**)a.AddrOfPinnedObject();
                var o = System.Runtime.InteropServices.GCHandle.Alloc(outputs[d], System.Runtime.InteropServices.GCHandleType.Pinned);
                pins.Add(o);
                outputLists[d] = (void**)o.AddrOfPinnedObject();
            }
            fixed (long* keep = nonDonatable)
            {
                var options = new PJRT_ExecuteOptions
                {
                    struct_size = PjrtLayout.Size.ExecuteOptions,
                    non_donatable_input_indices = keep,
                    num_non_donatable_input_indices = (nuint)nonDonatable.Length,
                };
                var a = new PJRT_LoadedExecutable_Execute_Args
                {
                    struct_size = PjrtLayout.Size.LoadedExecutable_Execute_Args,
                    executable = exe.Pointer,
                    options = &options,
                    argument_lists = argumentLists,
                    num_devices = (nuint)lists,
                    num_args = (nuint)count,
                    output_lists = outputLists,
                    execute_device = executeDevice,
                };
                string where = lists == 1 ? $"PJRT device {devices[0].Index} ({devices[0].Kind})" : $"{lists} PJRT devices ({string.Join(", ", devices.Select(x => x.Index))})";
                try
                {
                    api.Call(PjrtLayout.Api.LoadedExecutable_Execute, "PJRT_LoadedExecutable_Execute", &a,
                        lists == 1 ? $"module '{moduleName}' on device {devices[0].Index}" : $"module '{moduleName}' on {where}");
                }
                catch (PjrtException e)
                {
                    throw new XlaExecutionException($"module '{moduleName}' failed on {where}: {e.Message}", e);
                }
            }
        }
        finally
        {
            foreach (var p in pins) p.Free();
            foreach (var l in leases) l.Dispose();
            if (donated != null)
            {
                foreach (var list in buffers)
                {
                    for (int i = 0; i < list.Length; i++)
                    {
                        if (donated[i]) list[i].MarkDonated();
                    }
                }
            }
        }
        int missingList = -1, missing = -1;
        for (int d = 0; d < lists && missingList < 0; d++)
        {
            for (int i = 0; i < resultShapes.Length; i++)
            {
                if (outputs[d][i] != null) continue;
                missingList = d;
                missing = i;
                break;
            }
        }
        if (missingList >= 0)
        {
            for (int d = 0; d < lists; d++)
            {
                for (int i = 0; i < resultShapes.Length; i++)
                {
                    if (outputs[d][i] != null) api.DestroyHandle(PjrtLayout.Api.Buffer_Destroy, "PJRT_Buffer_Destroy", PjrtLayout.Size.Buffer_Destroy_Args, outputs[d][i]);
                }
            }
            throw new XlaExecutionException(lists == 1
                ? $"PJRT_LoadedExecutable_Execute of '{moduleName}' returned no buffer for output {missing}"
                : $"PJRT_LoadedExecutable_Execute of '{moduleName}' returned no buffer for output {missing} of replica {missingList}");
        }
        var result = new DeviceBuffer[lists][];
        for (int d = 0; d < lists; d++)
        {
            result[d] = new DeviceBuffer[resultShapes.Length];
            for (int i = 0; i < resultShapes.Length; i++)
                result[d][i] = new PjrtBuffer(devices[d], resultShapes[i], PjrtHandle.Buffer(api, outputs[d][i], client.Handle), null);
        }
        return result;
    }

    /// <summary>Releases the native executable (PJRT_LoadedExecutable_Destroy).</summary>
    public void Dispose() => handle.Dispose();

    /// <summary>"pjrt executable 'module name' on (device)".</summary>
    public override string ToString() => $"pjrt executable '{Module.Name}' on {device}";
}
