using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// Turns one computation into a <see cref="CompiledComputation"/>: assigns a slot to every array leaf of every
/// instruction, computes each value's last use, and binds every instruction to its kernel.
/// </summary>
internal sealed class ComputationCompiler
{
    readonly HloComputation computation;
    readonly Dictionary<HloInstruction, int> index = new();
    readonly int[] slotBase;
    readonly int[] leafCount;
    readonly int[] lastUse;

    /// <summary>lastUse of the root: never released inside the run.</summary>
    const int Never = int.MaxValue;

    public ComputationCompiler(CpuCompiler compiler, HloComputation computation)
    {
        Compiler = compiler;
        this.computation = computation;
        var ins = computation.Instructions;
        slotBase = new int[ins.Count];
        leafCount = new int[ins.Count];
        lastUse = new int[ins.Count];
        int slots = 0;
        for (int i = 0; i < ins.Count; i++)
        {
            index[ins[i]] = i;
            slotBase[i] = slots;
            leafCount[i] = CountLeaves(ins[i].Shape);
            slots += leafCount[i];
            lastUse[i] = i;
        }
        SlotCount = slots;
        for (int i = 0; i < ins.Count; i++)
        {
            foreach (var o in ins[i].Operands) lastUse[index[o]] = Math.Max(lastUse[index[o]], i);
        }
        lastUse[index[computation.Root]] = Never;
    }

    public CpuCompiler Compiler { get; }

    public int SlotCount { get; }

    public static int CountLeaves(Shape s) => s.IsTuple ? s.TupleShapes.Sum(CountLeaves) : 1;

    public static IEnumerable<Shape> Leaves(Shape s) => s.IsTuple ? s.TupleShapes.SelectMany(Leaves) : new[] { s };

    public int SlotOf(HloInstruction i) => slotBase[index[i]];

    public int[] LeafSlots(HloInstruction i)
    {
        int k = index[i];
        return Enumerable.Range(slotBase[k], leafCount[k]).ToArray();
    }

    public int LastUse(HloInstruction i) => lastUse[index[i]];

    public CompiledComputation Compile()
    {
        var ins = computation.Instructions;
        var release = new List<int>[ins.Count];
        for (int i = 0; i < ins.Count; i++) release[i] = new List<int>();
        for (int i = 0; i < ins.Count; i++)
        {
            if (lastUse[i] != Never) release[lastUse[i]].AddRange(Enumerable.Range(slotBase[i], leafCount[i]));
        }
        var steps = new Step[ins.Count];
        for (int i = 0; i < ins.Count; i++)
        {
            var ctx = new KernelContext(this, ins[i], i);
            Kernel kernel;
            try
            {
                kernel = KernelRegistry.Create(ctx);
            }
            catch (XlaCompileException)
            {
                throw;
            }
            catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException)
            {
                throw ctx.Error(e.Message);
            }
            steps[i] = new Step(ins[i], kernel, release[i].ToArray());
        }
        var parameters = computation.Parameters;
        var paramSlots = new List<int>();
        var paramShapes = new List<Shape>();
        var paramNames = new List<string>();
        foreach (var p in parameters)
        {
            paramSlots.AddRange(LeafSlots(p));
            var leaves = Leaves(p.Shape).ToList();
            paramShapes.AddRange(leaves);
            if (p.Shape.IsTuple) paramNames.AddRange(leaves.Select((_, j) => $"{p.Name}.{j}"));
            else paramNames.Add(p.Name);
        }
        return new CompiledComputation(computation, steps, SlotCount, paramSlots.ToArray(), paramShapes.ToArray(), paramNames.ToArray(),
            LeafSlots(computation.Root), Leaves(computation.Root.Shape).ToArray());
    }
}
