using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// tuple, get-tuple-element, call, fusion, map, while. Tuples are not materialised: a tuple value is the list of its
/// leaves' slots, so tuple and get-tuple-element only alias. Called computations run their own plans (compiled
/// once) on the same run context, so they share the buffer pool.
/// </summary>
internal static class Control
{
    public static Kernel HandleTuple(KernelContext ctx)
    {
        var src = Enumerable.Range(0, ctx.OperandCount).SelectMany(ctx.InLeaves).ToArray();
        var dst = ctx.OutLeaves;
        return f =>
        {
            for (int j = 0; j < dst.Length; j++) f.Alias(dst[j], src[j]);
        };
    }

    public static Kernel HandleGetTupleElement(KernelContext ctx)
    {
        var tuple = ctx.OperandShape(0);
        int start = tuple.TupleShapes.Take((int)ctx.Instruction.Attributes.TupleIndex).Sum(ComputationCompiler.CountLeaves);
        var src = ctx.InLeaves(0).Skip(start).Take(ComputationCompiler.CountLeaves(ctx.Shape)).ToArray();
        var dst = ctx.OutLeaves;
        return f =>
        {
            for (int j = 0; j < dst.Length; j++) f.Alias(dst[j], src[j]);
        };
    }

    /// <summary>call and fusion: run the called computation on the operands.</summary>
    public static Kernel HandleCall(KernelContext ctx)
    {
        var plan = ctx.Compiler.Plan(ctx.Instruction.CalledComputations[0]);
        var src = Enumerable.Range(0, ctx.OperandCount).SelectMany(ctx.InLeaves).ToArray();
        var dst = ctx.OutLeaves;
        return f =>
        {
            var inputs = new Array[src.Length];
            for (int j = 0; j < src.Length; j++) inputs[j] = f.Data[src[j]]!;
            var outputs = new Array[dst.Length];
            plan.Run(f.Context, inputs, null, outputs);
            for (int j = 0; j < dst.Length; j++) f.SetOwned(dst[j], outputs[j]);
        };
    }

    public static Kernel HandleMap(KernelContext ctx)
    {
        var fnComputation = ctx.Instruction.CalledComputations[0];
        int n = ctx.OutCount;
        var fast = PlainOp(fnComputation);
        if (fast != null)
        {
            var type = fast.Shape.ElementType;
            if (fast.Operands.Count == 1) return Elementwise.Unary(fast.Opcode, type, ctx.In(Param(fast, 0)), ctx.Out, n, -1);
            return Elementwise.Binary(fast.Opcode, type, ctx.In(Param(fast, 0)), ctx.In(Param(fast, 1)), ctx.Out, n, -1, -1);
        }
        var fn = ctx.Compiler.Scalar(fnComputation);
        int k = ctx.OperandCount;
        var inputs = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var loaders = Enumerable.Range(0, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
        var store = ScalarIO.StorerFor(ctx.ElementType);
        var alloc = ScalarIO.AllocatorFor(ctx.ElementType);
        int dst = ctx.Out;
        bool parallelSafe = fn is ScalarProgram;
        return f =>
        {
            var x = inputs.Select(s => (Array)f.Data[s]!).ToArray();
            var o = alloc(f, dst, n);
            void Range(long lo, long hi)
            {
                var regs = fn.NewRegisters();
                var poll = new WorkPoll();
                for (long i = lo; i < hi; i++)
                {
                    poll.Add(ReduceWindow.Interpreted);
                    for (int j = 0; j < k; j++) regs[fn.ParameterRegister(j)] = loaders[j](x[j], (int)i);
                    fn.Invoke(regs);
                    store(o, (int)i, regs[fn.ResultRegister(0)]);
                }
            }
            if (parallelSafe) Par.For(n, Par.InterpretedGrain, Range);
            else Range(0, n);
        };
    }

    /// <summary>The root of a map function that is one elementwise op applied directly to its parameters.</summary>
    static HloInstruction? PlainOp(HloComputation fn)
    {
        var root = fn.Root;
        bool elementwise = OpSelect.UnaryOpcodes.Contains(root.Opcode) || OpSelect.BinaryOpcodes.Contains(root.Opcode);
        if (!elementwise || root.Operands.Any(o => o.Opcode != "parameter")) return null;
        if (root.Operands.Any(o => o.Shape.ElementType != root.Shape.ElementType)) return null;
        return root;
    }

    static int Param(HloInstruction root, int i) => (int)root.Operands[i].Attributes.ParameterNumber;

    public static Kernel HandleWhile(KernelContext ctx)
    {
        var body = ctx.Compiler.Plan(ctx.Instruction.CalledComputations[0]);
        var condition = ctx.Compiler.Plan(ctx.Instruction.CalledComputations[1]);
        var src = ctx.InLeaves(0);
        var dst = ctx.OutLeaves;
        bool lastUse = ctx.IsLastUse(0);
        return f =>
        {
            var state = new Array[src.Length];
            for (int j = 0; j < src.Length; j++) state[j] = f.Data[src[j]]!;
            // Iterations after the first own the state the body returned, so the body may update it in place and pass
            // unchanged elements through without copying. The first owns what this frame hands over: the leaves of an
            // operand the loop reads last that the frame owns alone (a train-step loop's donated weights and optimizer
            // state), so the weights are updated in place from the first step on, as in the single step.
            var owned = new bool[src.Length];
            if (lastUse)
            {
                for (int j = 0; j < src.Length; j++) owned[j] = f.TryTake(src[j]);
            }
            bool ran = false;
            var verdict = new Array[1];
            while (true)
            {
                f.Context.Cancellation.ThrowIfCancellationRequested();
                condition.Run(f.Context, state, null, verdict);
                bool go = ((bool[])verdict[0])[0];
                f.Context.Pool.Return(verdict[0]);
                if (!go) break;
                var next = new Array[dst.Length];
                body.Run(f.Context, state, owned, next);
                state = next;
                if (!ran) Array.Fill(owned, true);
                ran = true;
            }
            for (int j = 0; j < dst.Length; j++)
            {
                if (owned[j]) f.SetOwned(dst[j], state[j]);
                else f.Alias(dst[j], src[j]);
            }
        };
    }
}
