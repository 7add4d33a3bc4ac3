using System.Collections.Concurrent;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu;

/// <summary>A module compiled for the CPU executor. Execute is safe to call from many threads at once: each call
/// takes its own run context (buffer pool) and frames.</summary>
internal sealed class CpuExecutable : IExecutable, IInPlaceExecutable
{
    readonly CpuDevice device;
    readonly CompiledComputation entry;
    readonly ConcurrentBag<RunContext> contexts = new();
    bool disposed;

    public CpuExecutable(CpuDevice device, HloModule module, CompiledComputation entry)
    {
        this.device = device;
        Module = module;
        this.entry = entry;
    }

    public HloModule Module { get; }

    internal CompiledComputation Plan => entry;

    public long PeakMemoryBytes => entry.PeakBytes;

    public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null) => Execute(arguments, options, null);

    /// <summary>Runs the program as one replica of a replicated execution (<paramref name="replica"/>), or alone (null).</summary>
    internal DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options, ReplicaContext? replica)
    {
        var result = new DeviceBuffer[entry.ResultSlots.Length];
        Run(arguments, options, replica, result, inPlace: false);
        return result;
    }

    /// <summary>
    /// The train step's form (<see cref="IInPlaceExecutable"/>): the results go into <paramref name="results"/>, and a
    /// result the module aliases to a donated argument (<c>input_output_alias</c>) comes back in that argument's own
    /// handle, rebound to the new value, instead of a new handle with the argument deleted. A step whose every output
    /// updates its donated input in place (parameters, optimizer slots, step, accumulators) allocates no handle and
    /// no array on this path.
    /// </summary>
    public void ExecuteInPlace(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions options, DeviceBuffer[] results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Length != entry.ResultSlots.Length)
            throw new ArgumentException($"module '{Module.Name}' returns {entry.ResultSlots.Length} array(s); the results array holds {results.Length}", nameof(results));
        Run(arguments, options, null, results, inPlace: true);
    }

    /// <summary>Per result leaf, the argument leaf the module aliases it to (input_output_alias between array leaves),
    /// or −1.</summary>
    int[] Aliases => aliases ??= ComputeAliases();

    int[]? aliases;

    int[] ComputeAliases()
    {
        var a = Enumerable.Repeat(-1, entry.ResultSlots.Length).ToArray();
        var ps = Module.Entry.Parameters;
        bool arrayParameters = ps.All(p => p.Shape.IsArray) && ps.Count == entry.ParameterLeafShapes.Length;
        bool tupleOfArrays = Module.Entry.Root.Shape.IsTuple && entry.ResultSlots.Length == Module.Entry.Root.Shape.TupleShapes.Count;
        if (!arrayParameters) return a;
        foreach (var alias in Module.InputOutputAliases)
        {
            if (alias.ParameterIndex.Length != 0 || alias.ParameterNumber < 0 || alias.ParameterNumber >= ps.Count) continue;
            int leaf = alias.OutputIndex.Length == 0 && !Module.Entry.Root.Shape.IsTuple ? 0
                : alias.OutputIndex.Length == 1 && tupleOfArrays ? (int)alias.OutputIndex[0] : -1;
            if (leaf >= 0 && leaf < a.Length && entry.ResultLeafShapes[leaf].Equals(entry.ParameterLeafShapes[alias.ParameterNumber])) a[leaf] = (int)alias.ParameterNumber;
        }
        return a;
    }

    void Run(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options, ReplicaContext? replica, DeviceBuffer[] result, bool inPlace)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(arguments);
        var context = contexts.TryTake(out var c) ? c : new RunContext(device.Pool);
        var buffers = context.Buffers(arguments.Count);
        var inputs = context.Arguments(arguments.Count);
        var outputs = context.Results(entry.ResultSlots.Length);
        var cancellation = options?.Cancellation ?? default;
        bool[]? owned = null;
        bool started = false;
        try
        {
            owned = ExecuteArguments.Check(Module.Name, entry.ParameterLeafShapes, entry.ParameterLeafNames, arguments, b => b.Shape, options?.DonatedArguments,
                null, context.Owned(arguments.Count));
            for (int i = 0; i < arguments.Count; i++)
            {
                buffers[i] = OwnArgument(arguments[i], i);
                inputs[i] = buffers[i].RawData;
            }
            context.Cancellation = cancellation;
            context.Replica = replica;
            started = true;
            try
            {
                // Kernels poll the token inside their loops (KernelCancellation), not only between steps.
                using var scope = Kernels.KernelCancellation.Enter(cancellation);
                entry.Run(context, inputs, owned, outputs);
            }
            catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
            {
                throw new OperationCanceledException($"module '{Module.Name}' was cancelled on the CPU executor", e, cancellation);
            }
            catch (Exception e) when (e is not XlaExecutionException)
            {
                throw new XlaExecutionException($"module '{Module.Name}' failed on the CPU executor: {e.Message}", e);
            }
            var alias = inPlace ? Aliases : null;
            for (int i = 0; i < outputs.Length; i++)
            {
                int a = alias == null ? -1 : alias[i];
                if (a >= 0 && owned != null && owned[a])
                {
                    // the donated argument's handle lives on with the new value
                    buffers[a].Rebind(outputs[i]);
                    owned[a] = false;
                    result[i] = buffers[a];
                }
                else result[i] = device.Wrap(entry.ResultLeafShapes[i], outputs[i]);
            }
        }
        finally
        {
            if (owned != null)
            {
                for (int i = 0; i < buffers.Length; i++)
                {
                    // a donated argument is consumed once the run started, whether or not it completed
                    if (owned[i] && started) buffers[i].MarkDonated();
                }
            }
            Array.Clear(buffers);
            Array.Clear(inputs);
            Array.Clear(outputs);
            if (owned != null) Array.Clear(owned);
            context.Cancellation = default;
            context.Replica = null;
            contexts.Add(context);
        }
    }

    /// <summary>The argument as this device's buffer; the message is built only when it is not one (an interpolated
    /// message per argument was an allocation per argument per execution).</summary>
    CpuBuffer OwnArgument(DeviceBuffer argument, int i) =>
        argument is CpuBuffer b && ReferenceEquals(b.Device, device) && !b.IsDeleted
            ? b
            : device.Own(argument, $"pass argument {i} ({entry.ParameterLeafNames[i]}) to '{Module.Name}'");

    /// <summary>
    /// The direct inference path: argument 0 is read from <paramref name="input"/> (copied into a pooled array of the
    /// run context, the only copy: kernels work on arrays), the rest are <paramref name="rest"/> (the parameters,
    /// not donated), and the single array result is copied into <paramref name="output"/> and its array goes back to
    /// the pool. Allocates nothing once the context's pool holds the program's arrays. The caller has checked that
    /// the lengths match the program's first parameter and result.
    /// </summary>
    internal void ExecuteInto<TIn, TOut>(ReadOnlySpan<TIn> input, IReadOnlyList<DeviceBuffer> rest, Span<TOut> output)
        where TIn : unmanaged where TOut : unmanaged
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        int count = rest.Count + 1;
        var shapes = entry.ParameterLeafShapes;
        if (shapes.Length != count || entry.ResultSlots.Length != 1)
            throw new XlaExecutionException($"module '{Module.Name}' takes {shapes.Length} argument(s) and returns {entry.ResultSlots.Length} array(s); the direct path passes {count} and reads 1");
        if (shapes[0].ElementCount != input.Length || entry.ResultLeafShapes[0].ElementCount != output.Length)
            throw new XlaExecutionException($"module '{Module.Name}': the direct path got {input.Length} input and {output.Length} output elements for {shapes[0]} -> {entry.ResultLeafShapes[0]}");
        var context = contexts.TryTake(out var c) ? c : new RunContext(device.Pool);
        var inputs = context.Arguments(count);
        var outputs = context.Results(1);
        TIn[]? staged = null;
        TOut[]? result = null;
        try
        {
            staged = context.Pool.Rent<TIn>(input.Length);
            input.CopyTo(staged);
            inputs[0] = staged;
            for (int i = 1; i < count; i++)
            {
                var b = OwnArgument(rest[i - 1], i);
                if (!ReferenceEquals(b.Shape, shapes[i]) && !b.Shape.Equals(shapes[i]))
                    throw new XlaExecutionException($"module '{Module.Name}', argument {i} ({entry.ParameterLeafNames[i]}): expected {shapes[i]}, got {b.Shape}");
                inputs[i] = b.RawData;
            }
            entry.Run(context, inputs, null, outputs);
            result = (TOut[])outputs[0];
            result.AsSpan().CopyTo(output);
        }
        catch (Exception e) when (e is not XlaExecutionException)
        {
            throw new XlaExecutionException($"module '{Module.Name}' failed on the CPU executor: {e.Message}", e);
        }
        finally
        {
            Array.Clear(inputs);
            outputs[0] = null!;
            if (staged != null) context.Pool.Return(staged);
            if (result != null) context.Pool.Return(result);
        }
        contexts.Add(context);
    }

    public void Dispose()
    {
        disposed = true;
        contexts.Clear();
    }

    public override string ToString() => $"cpu executable '{Module.Name}'";
}
