using System.Numerics;
using System.Numerics.Tensors;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// all-reduce, all-gather, reduce-scatter and replica-id. Replicas are threads of one process
/// (<see cref="CpuReplicaExecutable"/>); a collective is two rendezvous: each replica publishes its operands and fresh
/// output arrays and waits for the others; then it does its part, reading the other members' published arrays; the
/// second rendezvous lets everyone go on (and reuse its operands) once all parts are done.
/// - all-reduce: the replica at position p of a group of g reduces elements [p·n/g, (p+1)·n/g) of every operand,
///   folding the group's values in the group's listed order (x₀ ⊕ x₁ ⊕ … ⊕ x_{g−1}), and writes the result into every
///   member's output.
/// - reduce-scatter: the replica at position p folds, in the same order, block p of the members' operands along the
///   scatter dimension into its own output (the elements all-reduce would give it there, bit for bit).
/// - all-gather: each replica copies the members' operands, in group order, into its own output along the dimension.
/// Each element is folded in the same order by exactly one thread whatever the timing, so results are bitwise
/// reproducible and equal on every replica. Outside a replicated execution (one replica) a group has one member: the
/// collective is the identity.
/// </summary>
internal static class Collectives
{
    /// <summary>What one replica publishes at a collective: which instruction, its operands and its outputs.</summary>
    sealed record Contribution(string Instruction, Array[] Inputs, Array[] Outputs);

    /// <summary>Folds <paramref name="n"/> elements of every input from <paramref name="inStart"/>, in input order,
    /// into <paramref name="output"/> from <paramref name="outStart"/>.</summary>
    delegate void Fold(Array[] inputs, long inStart, Array output, long outStart, long n);

    public static Kernel HandleReplicaId(KernelContext ctx)
    {
        int dst = ctx.Out;
        return f => f.Alloc<uint>(dst, 1)[0] = (uint)(f.Context.Replica?.Id ?? 0);
    }

    /// <summary>One collective's operand and result leaves, with what the kernels need about each.</summary>
    sealed class Leaves
    {
        public Leaves(KernelContext ctx)
        {
            var ins = ctx.Instruction;
            int k = ins.Operands.Count;
            In = Enumerable.Range(0, k).Select(ctx.In).ToArray();
            Out = ctx.OutLeaves;
            var results = ins.Shape.IsTuple ? ins.Shape.TupleShapes.ToArray() : new[] { ins.Shape };
            InCounts = Enumerable.Range(0, k).Select(i => (long)KernelContext.Count(ctx.OperandShape(i))).ToArray();
            OutCounts = results.Select(s => (long)KernelContext.Count(s)).ToArray();
            Allocators = results.Select(s => ScalarIO.AllocatorFor(s.ElementType)).ToArray();
            Name = $"{ins.Describe()} in %{ins.Parent?.Name}";
        }

        public int[] In { get; }
        public int[] Out { get; }
        public long[] InCounts { get; }
        public long[] OutCounts { get; }
        public Func<Frame, int, int, Array>[] Allocators { get; }
        public string Name { get; }
    }

    /// <summary>The part common to every collective: outside replicas, check that the groups name only replica 0 and
    /// alias each result to its operand (a group of one); inside, publish operands and fresh outputs, meet, run
    /// <paramref name="part"/>(members, position, outputs), and meet again.</summary>
    static Kernel Collective(KernelContext ctx, Leaves leaves, Action<Contribution[], int, Array[]> part)
    {
        var groups = ctx.Instruction.Attributes.ReplicaGroups;
        string name = leaves.Name;
        int k = leaves.In.Length;
        bool sameSize = leaves.InCounts.SequenceEqual(leaves.OutCounts);
        return f =>
        {
            var replica = f.Context.Replica;
            if (replica == null)
            {
                // One replica: the collective of a group of one is its value.
                if (groups != null && groups.Any(g => g.Any(id => id != 0)))
                    throw new XlaExecutionException($"{name}: replica_groups name replicas other than 0, but the program runs on one replica");
                if (!sameSize)
                    throw new XlaExecutionException($"{name}: the program runs on one replica, but the result's size is not the operand's: it was written for more replicas");
                for (int j = 0; j < k; j++) f.Alias(leaves.Out[j], leaves.In[j]);
                return;
            }
            var inputs = new Array[k];
            var outputs = new Array[k];
            for (int j = 0; j < k; j++)
            {
                inputs[j] = f.Data[leaves.In[j]]!;
                outputs[j] = leaves.Allocators[j](f, leaves.Out[j], (int)leaves.OutCounts[j]);
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
            part(members, position, outputs);
            // Nobody leaves (and reuses its operands or publishes the next collective) before every part is done.
            rendezvous.Arrive(replica.Id, name, token);
        };
    }

    public static Kernel HandleAllReduce(KernelContext ctx)
    {
        var leaves = new Leaves(ctx);
        var fold = Folder(ctx, ctx.OperandShape(0).ElementType);
        var counts = leaves.InCounts;
        return Collective(ctx, leaves, (members, position, _) =>
        {
            int g = members.Length;
            var memberInputs = new Array[g];
            for (int j = 0; j < counts.Length; j++)
            {
                long lo = counts[j] * position / g, hi = counts[j] * (position + 1) / g;
                if (hi <= lo) continue;
                for (int m = 0; m < g; m++) memberInputs[m] = members[m].Inputs[j];
                // fold into the first member's output, then copy the slice to the others'
                var first = members[0].Outputs[j];
                fold(memberInputs, lo, first, lo, hi - lo);
                for (int m = 1; m < g; m++) Array.Copy(first, lo, members[m].Outputs[j], lo, hi - lo);
            }
        });
    }

    /// <summary>(outer, block): a leaf seen as [outer, block] rows split at <paramref name="dimension"/>, block covering
    /// that dimension and the ones after it.</summary>
    static (long Outer, long Block) Split(Shape leaf, long dimension)
    {
        var dims = leaf.ConcreteDims();
        long outer = 1, block = 1;
        for (int d = 0; d < dims.Length; d++)
        {
            if (d < dimension) outer *= dims[d];
            else block *= dims[d];
        }
        return (outer, block);
    }

    public static Kernel HandleAllGather(KernelContext ctx)
    {
        var leaves = new Leaves(ctx);
        long dimension = ctx.Instruction.Attributes.Dimensions![0];
        var parts = Enumerable.Range(0, leaves.In.Length).Select(j => Split(ctx.OperandShape(j), dimension)).ToArray();
        return Collective(ctx, leaves, (members, _, outputs) =>
        {
            int g = members.Length;
            for (int j = 0; j < parts.Length; j++)
            {
                var (outer, block) = parts[j];
                for (int m = 0; m < g; m++)
                {
                    var input = members[m].Inputs[j];
                    for (long o = 0; o < outer; o++) Array.Copy(input, o * block, outputs[j], (o * g + m) * block, block);
                }
            }
        });
    }

    public static Kernel HandleReduceScatter(KernelContext ctx)
    {
        var leaves = new Leaves(ctx);
        long dimension = ctx.Instruction.Attributes.Dimensions![0];
        var fold = Folder(ctx, ctx.OperandShape(0).ElementType);
        var results = ctx.Instruction.Shape.IsTuple ? ctx.Instruction.Shape.TupleShapes.ToArray() : new[] { ctx.Instruction.Shape };
        var parts = results.Select(s => Split(s, dimension)).ToArray();
        return Collective(ctx, leaves, (members, position, outputs) =>
        {
            int g = members.Length;
            var memberInputs = new Array[g];
            for (int j = 0; j < parts.Length; j++)
            {
                var (outer, block) = parts[j];
                for (int m = 0; m < g; m++) memberInputs[m] = members[m].Inputs[j];
                for (long o = 0; o < outer; o++) fold(memberInputs, (o * g + position) * block, outputs[j], o * block, block);
            }
        });
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

    /// <summary>The fold of the instruction's reducer: a library loop for add, multiply, max, min, and, or; otherwise
    /// the reducer run element by element.</summary>
    static Fold Folder(KernelContext ctx, ElementType type)
    {
        var reducer = ctx.Instruction.CalledComputations[0];
        var kind = Reduce.Recognize(reducer);
        if (kind != null && type != ElementType.Pred) return TypeDispatch.Numeric(type, new FastFactory(kind.Value));
        var fn = ctx.Compiler.Scalar(reducer);
        var load = ScalarIO.LoaderFor(type);
        var store = ScalarIO.StorerFor(type);
        // A register program is reentrant with its own registers; a plan-backed function is serialised.
        var gate = fn is ScalarProgram ? null : new object();
        return (inputs, inStart, output, outStart, n) =>
        {
            var regs = fn.NewRegisters();
            int a = fn.ParameterRegister(0), b = fn.ParameterRegister(1), r = fn.ResultRegister(0);
            var poll = new WorkPoll();
            for (long i = 0; i < n; i++)
            {
                poll.Add(inputs.Length * ReduceWindow.Interpreted);
                regs[a] = load(inputs[0], (int)(inStart + i));
                for (int m = 1; m < inputs.Length; m++)
                {
                    regs[b] = load(inputs[m], (int)(inStart + i));
                    if (gate == null) fn.Invoke(regs);
                    else lock (gate) fn.Invoke(regs);
                    regs[a] = regs[r];
                }
                store(output, (int)(outStart + i), regs[a]);
            }
        };
    }

    readonly struct FastFactory(Reduce.Kind kind) : INumericTypeFactory<Fold>
    {
        public Fold Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var op = kind;
            return (inputs, inStart, output, outStart, count) =>
            {
                int start = (int)inStart, n = (int)count;
                var acc = ((T[])output).AsSpan((int)outStart, n);
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
            };
        }
    }
}
