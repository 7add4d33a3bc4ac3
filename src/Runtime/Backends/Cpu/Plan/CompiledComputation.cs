using System.Collections.Concurrent;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>A kernel bound at compile time to its slots and precomputed index maps; it runs one instruction.</summary>
internal delegate void Kernel(Frame frame);

/// <summary>One instruction of the plan: its kernel and the slots whose values die after it.</summary>
internal sealed class Step(HloInstruction instruction, Kernel kernel, int[] release)
{
    public HloInstruction Instruction { get; } = instruction;

    public Kernel Kernel { get; } = kernel;

    public int[] Release { get; } = release;
}

/// <summary>
/// The execution plan of one computation: instructions in order, each bound to a kernel closure, and the slots to
/// release after each step (computed from liveness at compile time). Thread-safe: every invocation takes its own
/// <see cref="Frame"/> from a bag, so one plan runs on many threads at once.
/// </summary>
internal sealed class CompiledComputation
{
    readonly ConcurrentBag<Frame> frames = new();

    public CompiledComputation(HloComputation computation, Step[] steps, int slotCount,
        int[] parameterSlots, Shape[] parameterLeafShapes, string[] parameterLeafNames, int[] resultSlots, Shape[] resultLeafShapes)
    {
        Computation = computation;
        Steps = steps;
        SlotCount = slotCount;
        ParameterSlots = parameterSlots;
        ParameterLeafShapes = parameterLeafShapes;
        ParameterLeafNames = parameterLeafNames;
        ResultSlots = resultSlots;
        ResultLeafShapes = resultLeafShapes;
    }

    public HloComputation Computation { get; }

    public Step[] Steps { get; }

    public int SlotCount { get; }

    /// <summary>Slots of the parameters' array leaves, parameter by parameter (tuple parameters flattened).</summary>
    public int[] ParameterSlots { get; }

    public Shape[] ParameterLeafShapes { get; }

    /// <summary>"w1" for an array parameter, "state.1" for leaf 1 of a tuple parameter.</summary>
    public string[] ParameterLeafNames { get; }

    public int[] ResultSlots { get; }

    public Shape[] ResultLeafShapes { get; }

    /// <summary>Estimated bytes alive at once during a run (see ComputationCompiler.EstimatePeakBytes).</summary>
    public long PeakBytes { get; init; }

    /// <summary>Runs the computation. <paramref name="inputs"/> are the parameters' array leaves; an input whose
    /// <paramref name="inputOwned"/> flag is set is consumed (it may be overwritten, recycled or returned as a result).
    /// Every array written to <paramref name="outputs"/> is new to the caller, who owns it.</summary>
    public void Run(RunContext context, IReadOnlyList<Array> inputs, IReadOnlyList<bool>? inputOwned, Array[] outputs)
    {
        var frame = frames.TryTake(out var f) ? f : new Frame(SlotCount);
        frame.Begin(context, inputs, inputOwned);
        try
        {
            var cancellation = context.Cancellation;
            foreach (var step in Steps)
            {
                cancellation.ThrowIfCancellationRequested();
                if (CpuProfiler.Enabled)
                {
                    long b0 = GC.GetAllocatedBytesForCurrentThread();
                    long t0 = CpuProfiler.Start();
                    step.Kernel(frame);
                    CpuProfiler.Stop(Computation, step.Instruction, t0, b0);
                }
                else step.Kernel(frame);
                foreach (var slot in step.Release) frame.Release(slot);
            }
            for (int i = 0; i < ResultSlots.Length; i++) outputs[i] = frame.TakeResult(ResultSlots[i]);
        }
        catch
        {
            frame.Clear();
            throw;
        }
        frame.End();
        frames.Add(frame);
    }

    public override string ToString() => $"plan %{Computation.Name} ({Steps.Length} steps, {SlotCount} slots)";
}
