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
    readonly bool[] live;
    /// <summary>(instruction, operand) pairs that read a broadcast scalar as the scalar itself.</summary>
    readonly Dictionary<(int Instruction, int Operand), HloInstruction> scalarOperands = new();

    /// <summary>lastUse of the root: never released inside the run.</summary>
    const int Never = int.MaxValue;

    /// <summary>Ops whose kernels take one operand as a scalar (TensorPrimitives span·scalar forms).</summary>
    static readonly HashSet<string> TakesScalarOperand = new(OpSelect.BinaryOpcodes.Append("compare"), StringComparer.Ordinal);

    public ComputationCompiler(CpuCompiler compiler, HloComputation computation)
    {
        Compiler = compiler;
        this.computation = computation;
        var ins = computation.Instructions;
        slotBase = new int[ins.Count];
        leafCount = new int[ins.Count];
        lastUse = new int[ins.Count];
        live = new bool[ins.Count];
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
        // x op broadcast(scalar): the kernel reads the scalar, and the broadcast is often left without users
        for (int i = 0; i < ins.Count; i++)
        {
            // binary ops and compare: either operand; select: either branch (operands 1 and 2), never both
            int first;
            if (TakesScalarOperand.Contains(ins[i].Opcode) && ins[i].Operands.Count == 2) first = 0;
            else if (ins[i].Opcode == "select" && !ins[i].Operands[0].Shape.IsScalar) first = 1;
            else continue;
            for (int k = first; k < first + 2; k++)
            {
                int other = 2 * first + 1 - k;
                var o = ins[i].Operands[k];
                if (o.Opcode == "broadcast" && o.Operands[0].Shape.IsScalar && !ins[i].Operands[other].Shape.IsScalar && !scalarOperands.ContainsKey((i, other)))
                    scalarOperands[(i, k)] = o.Operands[0];
            }
        }
        // reduce(broadcast(scalar)) summed as columns reads the scalar: no array of copies is materialised (BatchNorm's
        // gradient sums a broadcast constant over the activation's N·H·W rows)
        for (int i = 0; i < ins.Count; i++)
            if (ins[i].Opcode == "reduce" && Reduce.SumsBroadcastScalarAsColumns(ins[i]))
                scalarOperands[(i, 0)] = ins[i].Operands[0].Operands[0];
        // only what the root needs runs: mark live instructions backwards over the operands kernels actually read
        var stack = new Stack<int>();
        stack.Push(index[computation.Root]);
        while (stack.Count > 0)
        {
            int i = stack.Pop();
            if (live[i]) continue;
            live[i] = true;
            for (int k = 0; k < ins[i].Operands.Count; k++) stack.Push(index[Operand(ins[i], i, k)]);
        }
        for (int i = 0; i < ins.Count; i++)
        {
            if (!live[i]) continue;
            for (int k = 0; k < ins[i].Operands.Count; k++)
            {
                int o = index[Operand(ins[i], i, k)];
                lastUse[o] = Math.Max(lastUse[o], i);
            }
        }
        lastUse[index[computation.Root]] = Never;
    }

    HloInstruction Operand(HloInstruction ins, int i, int k) =>
        scalarOperands.TryGetValue((i, k), out var s) ? s : ins.Operands[k];

    /// <summary>The instruction whose value operand <paramref name="k"/> of <paramref name="ins"/> reads.</summary>
    public HloInstruction Operand(HloInstruction ins, int k) => Operand(ins, index[ins], k);

    public bool IsScalarOperand(HloInstruction ins, int k) => scalarOperands.ContainsKey((index[ins], k));

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
            if (live[i] && lastUse[i] != Never) release[lastUse[i]].AddRange(Enumerable.Range(slotBase[i], leafCount[i]));
        }
        var steps = new List<Step>(ins.Count);
        for (int i = 0; i < ins.Count; i++)
        {
            if (!live[i]) continue;
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
            steps.Add(new Step(ins[i], kernel, release[i].ToArray()));
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
        return new CompiledComputation(computation, steps.ToArray(), SlotCount, paramSlots.ToArray(), paramShapes.ToArray(), paramNames.ToArray(),
            LeafSlots(computation.Root), Leaves(computation.Root.Shape).ToArray())
        {
            PeakBytes = EstimatePeakBytes(),
        };
    }

    /// <summary>Opcodes whose values are views of their operands' arrays (or the caller's), not new allocations.</summary>
    static readonly HashSet<string> Aliases = new(StringComparer.Ordinal) { "parameter", "tuple", "get-tuple-element", "bitcast" };

    /// <summary>Control flow that runs a called computation's plan, whose own peak adds to what is alive at the call.</summary>
    static readonly HashSet<string> RunsCalledPlans = new(StringComparer.Ordinal) { "while", "call", "conditional" };

    /// <summary>
    /// The most bytes alive at once during a run, following the plan's liveness: each instruction allocates its result
    /// (views allocate nothing), its called plans need their own peak while it runs, and a value is freed after its
    /// last use. An estimate: in-place reuse of donated or dying buffers only lowers the real figure.
    /// </summary>
    long EstimatePeakBytes()
    {
        var ins = computation.Instructions;
        var own = new long[ins.Count];
        var freedAt = new long[ins.Count];
        for (int i = 0; i < ins.Count; i++)
        {
            if (!live[i] || Aliases.Contains(ins[i].Opcode)) continue;
            own[i] = Leaves(ins[i].Shape).Sum(ByteCount);
            if (lastUse[i] != Never) freedAt[lastUse[i]] += own[i];
        }
        long alive = 0, peak = 0;
        for (int i = 0; i < ins.Count; i++)
        {
            if (!live[i]) continue;
            long nested = 0;
            if (RunsCalledPlans.Contains(ins[i].Opcode))
            {
                foreach (var callee in ins[i].CalledComputations) nested = Math.Max(nested, Compiler.Plan(callee).PeakBytes);
            }
            peak = Math.Max(peak, alive + own[i] + nested);
            alive += own[i] - freedAt[i];
        }
        return peak;
    }

    static long ByteCount(Shape leaf) =>
        leaf.ElementType == ElementType.Token ? 0 : leaf.ElementCount * Math.Max(1, ElementTypes.ByteSize(leaf.ElementType));
}
