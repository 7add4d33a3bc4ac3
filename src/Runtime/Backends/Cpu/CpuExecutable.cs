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

    public DeviceBuffer[] Execute(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(arguments);
        var shapes = entry.ParameterLeafShapes;
        var names = entry.ParameterLeafNames;
        if (arguments.Count != shapes.Length)
        {
            throw new XlaExecutionException(
                $"module '{Module.Name}' takes {shapes.Length} argument(s) ({string.Join(", ", names.Zip(shapes, (n, s) => $"{n}: {s}"))}), got {arguments.Count}");
        }
        var buffers = new CpuBuffer[arguments.Count];
        var inputs = new Array[arguments.Count];
        for (int i = 0; i < arguments.Count; i++)
        {
            string what = $"argument {i} ({names[i]})";
            if (arguments[i] == null) throw new XlaExecutionException($"{what} is null");
            var b = device.Own(arguments[i], $"pass {what} to '{Module.Name}'");
            if (!b.Shape.Equals(shapes[i])) throw new XlaExecutionException($"{what}: expected {shapes[i]}, got {b.Shape}");
            buffers[i] = b;
            inputs[i] = b.RawData;
        }
        bool[]? owned = null;
        var donated = options?.DonatedArguments ?? Array.Empty<int>();
        if (donated.Count > 0)
        {
            owned = new bool[arguments.Count];
            foreach (var d in donated)
            {
                if (d < 0 || d >= arguments.Count)
                    throw new XlaExecutionException($"donated argument index {d} is out of range (the module takes {arguments.Count} arguments)");
                if (owned[d]) throw new XlaExecutionException($"argument {d} ({names[d]}) is donated twice");
                owned[d] = true;
            }
            for (int i = 0; i < buffers.Length; i++)
            {
                if (!owned[i]) continue;
                for (int j = 0; j < buffers.Length; j++)
                {
                    if (j != i && ReferenceEquals(buffers[i], buffers[j]))
                        throw new XlaExecutionException($"argument {i} ({names[i]}) is donated but the same buffer is also argument {j} ({names[j]})");
                }
            }
        }
        var context = contexts.TryTake(out var c) ? c : new RunContext(device.Pool);
        var outputs = new Array[entry.ResultSlots.Length];
        var cancellation = options?.Cancellation ?? default;
        context.Cancellation = cancellation;
        try
        {
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
