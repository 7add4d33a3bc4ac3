using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// select-and-scatter (the gradient of max pooling), with XLA's semantics: the result starts as the init value;
/// for each window position, the first in-bounds element is selected, and each later element e replaces the
/// selection s when select(s, e) is false; then result[selected] = scatter(result[selected], source). Windows that
/// lie entirely in padding select nothing. When select is a compare of its two parameters (GE for max pooling) and
/// scatter is one binary op (add), the kernel runs as op structs over rows of lanes (the trailing dims the window
/// leaves alone, NHWC channels); anything else runs the two computations as scalar functions per element.
/// </summary>
internal static class SelectAndScatter
{
    public static Kernel HandleSelectAndScatter(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        var window = ins.Attributes.Window!;
        var inDims = ctx.OperandShape(0).ConcreteDims();
        var srcDims = ctx.OperandShape(1).ConcreteDims();
        var type = ctx.ElementType;
        var select = ins.CalledComputations[0];
        var scatter = ins.CalledComputations[1];
        var compare = PlainCompare(select);
        var combine = ReduceWindow.PlainBinary(scatter);
        if (compare != null && combine != null && type != ElementType.Pred && PoolShape.Forced != PoolShape.Path.Generic)
        {
            int trailing = WindowGeometry.TrailingIdentity(window);
            int lead = inDims.Length - trailing;
            var geometry = new WindowGeometry(inDims, srcDims, window);
            var plan = new Plan(geometry, PoolShape.Of(geometry, window, lead), lead, inDims.Skip(lead).Aggregate(1L, (a, b) => a * b),
                ctx.In(0), ctx.In(1), ctx.In(2), ctx.Out, ctx.OutCount, compare.Value.Swapped, combine.Value.Swapped);
            return OpSelect.Binary(combine.Value.Opcode, type, new ScatterSink(plan, compare.Value.Direction, compare.Value.Type));
        }
        return Generic(ctx, inDims, srcDims, window);
    }

    /// <summary>(direction, type, swapped) when <paramref name="f"/> is compare(p0, p1) or compare(p1, p0).</summary>
    static (string Direction, string? Type, bool Swapped)? PlainCompare(HloComputation f)
    {
        var ps = f.Parameters;
        var root = f.Root;
        if (ps.Count != 2 || root.Opcode != "compare") return null;
        if (root.Operands[0] == ps[0] && root.Operands[1] == ps[1]) return (root.Attributes.ComparisonDirection!, root.Attributes.ComparisonType, false);
        if (root.Operands[0] == ps[1] && root.Operands[1] == ps[0]) return (root.Attributes.ComparisonDirection!, root.Attributes.ComparisonType, true);
        return null;
    }

    sealed record Plan(WindowGeometry Geometry, PoolShape? Pool, int Lead, long Inner, int Operand, int Source, int Init, int Dst, int Count,
        bool SelectSwapped, bool ScatterSwapped);

    /// <summary>Receives the scatter op, then asks for the select comparison.</summary>
    sealed class ScatterSink(Plan p, string direction, string? comparisonType) : IBinaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> =>
            OpSelect.Compare(direction, comparisonType, Tensor.ElementTypeOf<T>(), new SelectSink<T, TOp>(p));
    }

    sealed class SelectSink<TS, TOp>(Plan p) : ICompareSink<Kernel> where TS : unmanaged where TOp : struct, IBinaryOp<TS>
    {
        public Kernel Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
            where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection
        {
            // T and TS are the same element type; the two sinks only name it twice.
            if (p.Pool != null)
            {
                return Pooling.SelectAndScatter<T, TKey, TKeyFn, TDir, TS, TOp>(p.Pool, p.Operand, p.Source, p.Init, p.Dst, p.Count,
                    p.SelectSwapped, p.ScatterSwapped);
            }
            var g = p.Geometry;
            int lead = p.Lead;
            long inner = p.Inner;
            var inStrides = StridedCopy.RowMajorStrides(g.InDims.Take(lead).ToArray());
            var srcLead = g.OutDims.Take(lead).ToArray();
            long outer = srcLead.Aggregate(1L, (a, b) => a * b);
            long windowCount = g.WindowCount(lead);
            var plan = p;
            return f =>
            {
                var x = (T[])f.Data[plan.Operand]!;
                var s = (TS[])f.Data[plan.Source]!;
                TS init = ((TS[])f.Data[plan.Init]!)[0];
                var o = f.Alloc<TS>(plan.Dst, plan.Count);
                o.AsSpan().Fill(init);
                if (plan.Count == 0 || s.Length == 0) return;
                Span<long> idx = stackalloc long[Math.Max(1, lead)];
                var offsets = new long[windowCount];
                var best = new T[inner];
                var at = new long[inner];
                var poll = new WorkPoll();
                for (long si = 0; si < outer; si++)
                {
                    poll.Add(windowCount * inner + 1);
                    int m = g.Offsets(idx, lead, inStrides, offsets);
                    if (m > 0)
                    {
                        Choose<T, TKey, TKeyFn, TDir>(x, offsets.AsSpan(0, m), inner, best, at, plan.SelectSwapped);
                        for (long j = 0; j < inner; j++)
                        {
                            long dst = at[j] * inner + j;
                            TS v = s[si * inner + j];
                            o[dst] = plan.ScatterSwapped ? TOp.Apply(v, o[dst]) : TOp.Apply(o[dst], v);
                        }
                    }
                    ReduceWindow.Next(idx, srcLead);
                }
            };
        }
    }

    /// <summary>For each lane j, the window row whose element wins under select (keep the current choice while
    /// select(current, candidate) holds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Choose<T, TKey, TKeyFn, TDir>(T[] x, ReadOnlySpan<long> offsets, long inner, T[] best, long[] at, bool swapped)
        where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool> where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection
    {
        long first = offsets[0] * inner;
        for (long j = 0; j < inner; j++)
        {
            best[j] = x[first + j];
            at[j] = offsets[0];
        }
        for (int w = 1; w < offsets.Length; w++)
        {
            long row = offsets[w] * inner;
            for (long j = 0; j < inner; j++)
            {
                T v = x[row + j];
                bool keep = swapped ? TDir.Test(TKeyFn.Key(v), TKeyFn.Key(best[j])) : TDir.Test(TKeyFn.Key(best[j]), TKeyFn.Key(v));
                if (!keep)
                {
                    best[j] = v;
                    at[j] = offsets[w];
                }
            }
        }
    }

    /// <summary>Any select and scatter computations, run as scalar functions.</summary>
    static Kernel Generic(KernelContext ctx, long[] inDims, long[] srcDims, WindowDimension[] window)
    {
        var select = ctx.Compiler.Scalar(ctx.Instruction.CalledComputations[0]);
        var scatter = ctx.Compiler.Scalar(ctx.Instruction.CalledComputations[1]);
        var geometry = new WindowGeometry(inDims, srcDims, window);
        int rank = inDims.Length;
        var inStrides = StridedCopy.RowMajorStrides(inDims);
        long windowCount = geometry.WindowCount(rank);
        var load = ScalarIO.LoaderFor(ctx.ElementType);
        var store = ScalarIO.StorerFor(ctx.ElementType);
        var alloc = ScalarIO.AllocatorFor(ctx.ElementType);
        int operand = ctx.In(0), source = ctx.In(1), initSlot = ctx.In(2), dst = ctx.Out, n = ctx.OutCount;
        long sourceCount = srcDims.Aggregate(1L, (a, b) => a * b);
        return f =>
        {
            var x = (Array)f.Data[operand]!;
            var s = (Array)f.Data[source]!;
            ulong init = load((Array)f.Data[initSlot]!, 0);
            var o = alloc(f, dst, n);
            for (int i = 0; i < n; i++) store(o, i, init);
            var sel = select.NewRegisters();
            var sca = scatter.NewRegisters();
            Span<long> idx = stackalloc long[Math.Max(1, rank)];
            var offsets = new long[windowCount];
            var poll = new WorkPoll();
            for (long si = 0; si < sourceCount; si++)
            {
                poll.Add(windowCount * ReduceWindow.Interpreted + 1);
                int m = geometry.Offsets(idx, rank, inStrides, offsets);
                ReduceWindow.Next(idx, srcDims);
                if (m == 0) continue;
                long chosen = offsets[0];
                ulong bestBits = load(x, (int)chosen);
                for (int w = 1; w < m; w++)
                {
                    ulong v = load(x, (int)offsets[w]);
                    sel[select.ParameterRegister(0)] = bestBits;
                    sel[select.ParameterRegister(1)] = v;
                    select.Invoke(sel);
                    if ((sel[select.ResultRegister(0)] & 1) == 0)
                    {
                        bestBits = v;
                        chosen = offsets[w];
                    }
                }
                sca[scatter.ParameterRegister(0)] = load(o, (int)chosen);
                sca[scatter.ParameterRegister(1)] = load(s, (int)si);
                scatter.Invoke(sca);
                store(o, (int)chosen, sca[scatter.ResultRegister(0)]);
            }
        };
    }
}
