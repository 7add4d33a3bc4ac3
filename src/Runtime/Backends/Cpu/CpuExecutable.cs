using System.Collections.Concurrent;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu;

/// <summary>A module compiled for the CPU executor. Execute is safe to call from many threads at once: each call
/// takes its own run context (buffer pool) and frames.</summary>
internal sealed class CpuExecutable : IExecutable
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
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(arguments);
        var owned = ExecuteArguments.Check(Module.Name, entry.ParameterLeafShapes, entry.ParameterLeafNames, arguments, b => b.Shape, options?.DonatedArguments);
        var buffers = new CpuBuffer[arguments.Count];
        var inputs = new Array[arguments.Count];
        for (int i = 0; i < arguments.Count; i++)
        {
            buffers[i] = device.Own(arguments[i], $"pass argument {i} ({entry.ParameterLeafNames[i]}) to '{Module.Name}'");
            inputs[i] = buffers[i].RawData;
        }
        var context = contexts.TryTake(out var c) ? c : new RunContext(device.Pool);
        var outputs = new Array[entry.ResultSlots.Length];
        var cancellation = options?.Cancellation ?? default;
        context.Cancellation = cancellation;
        context.Replica = replica;
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
        finally
        {
            if (owned != null)
            {
                for (int i = 0; i < buffers.Length; i++)
                {
                    if (owned[i]) buffers[i].MarkDonated();
                }
            }
        }
        context.Cancellation = default;
        context.Replica = null;
        contexts.Add(context);
        var result = new DeviceBuffer[outputs.Length];
        for (int i = 0; i < outputs.Length; i++) result[i] = device.Wrap(entry.ResultLeafShapes[i], outputs[i]);
        return result;
    }

    public void Dispose()
    {
        disposed = true;
        contexts.Clear();
    }

    public override string ToString() => $"cpu executable '{Module.Name}'";
}
