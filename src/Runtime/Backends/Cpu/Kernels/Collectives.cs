using System.Numerics;
using System.Numerics.Tensors;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// all-reduce and replica-id. Replicas are threads of one process (<see cref="CpuReplicaExecutable"/>); an
/// all-reduce is two rendezvous: each replica publishes its operands and fresh output arrays and waits for the
/// others; then the replica at position p of a group of g reduces elements [p·n/g, (p+1)·n/g) of every operand,
/// folding the group's values in the group's listed order (x₀ ⊕ x₁ ⊕ … ⊕ x_{g−1}), and writes the result into every
/// member's output; the second rendezvous lets everyone go on once all outputs are complete. Each element is folded
/// in the same order by exactly one thread whatever the timing, so results are bitwise reproducible and equal on
/// every replica. Outside a replicated execution (one replica) an all-reduce is the identity.
/// </summary>
internal static class Collectives
{
    /// <summary>What one replica publishes at an all-reduce: which instruction, its operands and its outputs.</summary>
    sealed record Contribution(string Instruction, Array[] Inputs, Array[] Outputs);

    delegate void Combine(Array[] inputs, Array[] outputs, long lo, long hi);

    public static Kernel HandleReplicaId(KernelContext ctx)
    {
        int dst = ctx.Out;
        return f => f.Alloc<uint>(dst, 1)[0] = (uint)(f.Context.Replica?.Id ?? 0);
    }

    public static Kernel HandleAllReduce(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        int k = ins.Operands.Count;
        var inSlots = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var outSlots = ctx.OutLeaves;
        var type = ctx.OperandShape(0).ElementType;
        var counts = Enumerable.Range(0, k).Select(i => (long)KernelContext.Count(ctx.OperandShape(i))).ToArray();
        var allocate = ScalarIO.AllocatorFor(type);
        var groups = ins.Attributes.ReplicaGroups;
        var combine = Combiner(ctx, type);
        string name = $"{ins.Describe()} in %{ins.Parent?.Name}";
        return f =>
        {
            var replica = f.Context.Replica;
            if (replica == null)
            {
                // One replica: the reduction of a group of one is its value.
                if (groups != null && groups.Any(g => g.Any(id => id != 0)))
                    throw new XlaExecutionException($"{name}: replica_groups name replicas other than 0, but the program runs on one replica");
                for (int j = 0; j < k; j++) f.Alias(outSlots[j], inSlots[j]);
                return;
            }
            var inputs = new Array[k];
            var outputs = new Array[k];
            for (int j = 0; j < k; j++)
            {
                inputs[j] = f.Data[inSlots[j]]!;
                outputs[j] = allocate(f, outSlots[j], (int)counts[j]);
            }
            var rendezvous = replica.Rendezvous;
            var token = f.Context.Cancellation;
            rendezvous.Slots[replica.Id] = new Contribution(name, inputs, outputs);
            rendezvous.Arrive(replica.Id, name, token);
            var group = GroupOf(groups, replica.Id, replica.Count, name);
            var members = new Contribution[group.Length];
            int position = -1;
            for (int m = 0; m < group.Length; m++)
            {
                members[m] = (Contribution)rendezvous.Slots[group[m]]!;
                if (members[m].Instruction != name)
                    throw new XlaExecutionException($"replica {replica.Id} reached {name} while replica {group[m]} reached {members[m].Instruction}: the replicas ran different collectives");
                if (group[m] == replica.Id) position = m;
            }
            var memberInputs = new Array[group.Length];
            var memberOutputs = new Array[group.Length];
            for (int j = 0; j < k; j++)
            {
                long lo = counts[j] * position / group.Length, hi = counts[j] * (position + 1) / group.Length;
                for (int m = 0; m < group.Length; m++)
                {
                    memberInputs[m] = members[m].Inputs[j];
                    memberOutputs[m] = members[m].Outputs[j];
                }
                if (hi > lo) combine(memberInputs, memberOutputs, lo, hi);
            }
            // Nobody leaves (and reuses its operands or publishes the next collective) before every output is written.
            rendezvous.Arrive(replica.Id, name, token);
        };
    }

    /// <summary>The group <paramref name="replica"/> belongs to: all replicas when replica_groups is empty.</summary>
    static long[] GroupOf(long[][]? groups, int replica, int count, string name)
    {
        if (groups == null || groups.Length == 0) return Enumerable.Range(0, count).Select(i => (long)i).ToArray();
        foreach (var g in groups)
        {
            if (Array.IndexOf(g, (long)replica) >= 0) return g;
        }
        throw new XlaExecutionException($"{name}: replica {replica} is in none of the replica_groups");
    }

    /// <summary>Folds members' elements [lo, hi) in member order into member 0's output, then copies that to the others.</summary>
    static Combine Combiner(KernelContext ctx, ElementType type)
    {
        var reducer = ctx.Instruction.CalledComputations[0];
        var kind = Reduce.Recognize(reducer);
        if (kind != null && type != ElementType.Pred) return TypeDispatch.Numeric(type, new FastFactory(kind.Value));
        var fn = ctx.Compiler.Scalar(reducer);
        var load = ScalarIO.LoaderFor(type);
        var store = ScalarIO.StorerFor(type);
        // A register program is reentrant with its own registers; a plan-backed function is serialised.
        var gate = fn is ScalarProgram ? null : new object();
        return (inputs, outputs, lo, hi) =>
        {
            var regs = fn.NewRegisters();
            int a = fn.ParameterRegister(0), b = fn.ParameterRegister(1), r = fn.ResultRegister(0);
            var poll = new WorkPoll();
            for (long i = lo; i < hi; i++)
            {
                poll.Add(inputs.Length * ReduceWindow.Interpreted);
                regs[a] = load(inputs[0], (int)i);
                for (int m = 1; m < inputs.Length; m++)
                {
                    regs[b] = load(inputs[m], (int)i);
                    if (gate == null) fn.Invoke(regs);
                    else lock (gate) fn.Invoke(regs);
                    regs[a] = regs[r];
                }
                foreach (var o in outputs) store(o, (int)i, regs[a]);
            }
        };
    }

    readonly struct FastFactory(Reduce.Kind kind) : INumericTypeFactory<Combine>
    {
        public Combine Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var op = kind;
            return (inputs, outputs, lo, hi) =>
            {
                int start = (int)lo, n = (int)(hi - lo);
                var acc = ((T[])outputs[0]).AsSpan(start, n);
                var first = ((T[])inputs[0]).AsSpan(start, n);
                int m = 1;
                // x₀ ⊕ x₁ in one pass where the library has it (copying x₀ first was a third pass over the range)
                if (inputs.Length > 1 && op is Reduce.Kind.Add or Reduce.Kind.Multiply)
                {
                    var second = ((T[])inputs[1]).AsSpan(start, n);
                    if (op == Reduce.Kind.Add) TensorPrimitives.Add(first, second, acc);
                    else TensorPrimitives.Multiply(first, second, acc);
                    m = 2;
                }
                else first.CopyTo(acc);
                for (; m < inputs.Length; m++)
                {
                    var x = ((T[])inputs[m]).AsSpan(start, n);
                    switch (op)
                    {
                        case Reduce.Kind.Add: TensorPrimitives.Add(acc, x, acc); break;
                        case Reduce.Kind.Multiply: TensorPrimitives.Multiply(acc, x, acc); break;
                        case Reduce.Kind.Max:
                            for (int i = 0; i < n; i++) acc[i] = T.IsNaN(acc[i]) ? acc[i] : T.IsNaN(x[i]) ? x[i] : acc[i] < x[i] ? x[i] : acc[i];
                            break;
                        case Reduce.Kind.Min:
                            for (int i = 0; i < n; i++) acc[i] = T.IsNaN(acc[i]) ? acc[i] : T.IsNaN(x[i]) ? x[i] : x[i] < acc[i] ? x[i] : acc[i];
                            break;
                        default:
                            for (int i = 0; i < n; i++)
                            {
                                ulong p = ScalarIO.Bits(acc[i]), q = ScalarIO.Bits(x[i]);
                                acc[i] = ScalarIO.Value<T>(op == Reduce.Kind.And ? p & q : p | q);
                            }
                            break;
                    }
                }
                for (int o = 1; o < outputs.Length; o++) acc.CopyTo(((T[])outputs[o]).AsSpan(start, n));
            };
        }
    }
}
