using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// scatter with XLA's full semantics: N inputs and N updates, batching dims, any index_vector_dim, and any combiner.
/// The result starts as a copy of the inputs (in place when an input dies here); then, index vector by index vector
/// in row-major order and window element by window element, result[i] = combiner(result[i], update). An update
/// window that does not lie entirely inside the operand is skipped, as XLA does. Fast paths: a combiner that returns
/// its second parameter (replace) is a strided copy; one binary op (add, max …) runs as that op struct, SIMD over
/// contiguous rows; anything else runs the combiner as a scalar function.
/// </summary>
internal static class Scatter
{
    public static Kernel HandleScatter(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        int k = ins.Operands.Count / 2;
        var s = ins.Attributes.Scatter!;
        var operand = ctx.OperandShape(0).ConcreteDims();
        var indices = ctx.OperandShape(k).ConcreteDims();
        var updates = ctx.OperandShape(k + 1).ConcreteDims();
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var updStrides = StridedCopy.RowMajorStrides(updates);
        var plan = new IndexPlan(indices, s.IndexVectorDim, s.ScatterDimsToOperandDims, s.InputBatchingDims, s.ScatterIndicesBatchingDims, opStrides);
        var updScatterDims = Enumerable.Range(0, updates.Length).Where(d => !s.UpdateWindowDims.Contains(d)).ToArray();
        var windowDims = Enumerable.Range(0, operand.Length).Where(d => !s.InsertedWindowDims.Contains(d) && !s.InputBatchingDims.Contains(d)).ToArray();
        var windowSize = new long[operand.Length];
        for (int d = 0; d < operand.Length; d++) windowSize[d] = 1;
        for (int i = 0; i < windowDims.Length; i++) windowSize[windowDims[i]] = updates[s.UpdateWindowDims[i]];
        var walk = new StridedWalk(s.UpdateWindowDims.Select(d => updates[d]).ToArray(),
            s.UpdateWindowDims.Select(d => updStrides[d]).ToArray(), windowDims.Select(d => opStrides[d]).ToArray());
        var spec = new Spec(plan, updScatterDims.Select(d => updStrides[d]).ToArray(), walk,
            s.ScatterDimsToOperandDims.Select(d => operand[d] - windowSize[d]).ToArray(),
            IndexReaders.For(ctx.OperandShape(k).ElementType), ctx.In(k), KernelContext.Count(ctx.OperandShape(0)));

        var combiner = ins.CalledComputations[0];
        var type = ctx.OperandShape(0).ElementType;
        // writing into the input's storage is safe only when the updates are not that same value
        int inPlace = ins.Operands.Skip(1).Contains(ins.Operands[0]) ? -1 : ctx.InPlace(0);
        if (k == 1 && IsReplace(combiner))
        {
            var copy = new StridedCopy(s.UpdateWindowDims.Select(d => updates[d]).ToArray(),
                s.UpdateWindowDims.Select(d => updStrides[d]).ToArray(), windowDims.Select(d => opStrides[d]).ToArray());
            return TypeDispatch.Any(type, new ReplaceFactory(spec, copy, ctx.In(0), ctx.In(2), ctx.Out, inPlace));
        }
        var plain = k == 1 && type != ElementType.Pred ? ReduceWindow.PlainBinary(combiner) : null;
        if (plain != null) return OpSelect.Binary(plain.Value.Opcode, type, new CombineSink(spec, ctx.In(0), ctx.In(2), ctx.Out, inPlace, plain.Value.Swapped));
        return Generic(ctx, k, spec);
    }

    /// <summary>A combiner (a, b) -> b: the update replaces the input element.</summary>
    static bool IsReplace(HloComputation f) => f.Parameters.Count == 2 && f.Root == f.Parameters[1];

    sealed record Spec(IndexPlan Plan, long[] UpdateBatchStrides, StridedWalk Walk, long[] Max, IndexReader Read, int Indices, int Count)
    {
        /// <summary>The operand offset of the window at batch position <paramref name="pos"/>, or -1 when the whole
        /// window does not fit in the operand (XLA then skips the update).</summary>
        public long OperandOffset(Array indices, ReadOnlySpan<long> pos)
        {
            long ib = Plan.IndexBase(pos);
            long off = Plan.BatchingOffset(pos);
            for (int c = 0; c < Max.Length; c++)
            {
                long v = Read(indices, (int)(ib + c * Plan.VectorStride));
                if (v < 0 || v > Max[c]) return -1;
                off += v * Plan.ComponentOperandStrides[c];
            }
            return off;
        }

        /// <summary>Calls <paramref name="body"/>(operand offset, update offset) for every window that is applied, in order.</summary>
        public void ForEachWindow(Array indices, Action<long, long> body)
        {
            if (Plan.Count == 0 || Walk.Count == 0) return;
            Span<long> pos = stackalloc long[Math.Max(1, Plan.BatchSizes.Length)];
            pos.Clear();
            var poll = new WorkPoll();
            for (long b = 0; b < Plan.Count; b++)
            {
                poll.Add(Walk.Count + 1);
                long off = OperandOffset(indices, pos);
                if (off >= 0) body(off, IndexPlan.Dot(pos, UpdateBatchStrides));
                ReduceWindow.Next(pos, Plan.BatchSizes);
            }
        }
    }

    /// <summary>The result array for input <paramref name="input"/>: its own storage when it dies here, else a copy.</summary>
    static T[] Start<T>(Frame f, int input, int dst, int n, int inPlace) where T : unmanaged
    {
        var x = (T[])f.Data[input]!;
        var o = f.AllocReusing<T>(dst, n, inPlace);
        if (!ReferenceEquals(o, x)) x.AsSpan().CopyTo(o);
        return o;
    }

    readonly struct ReplaceFactory(Spec s, StridedCopy copy, int input, int updates, int dst, int inPlace) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            var spec = s;
            var c = copy;
            int xs = input, us = updates, ds = dst, ip = inPlace;
            return f =>
            {
                var o = Start<T>(f, xs, ds, spec.Count, ip);
                var u = (T[])f.Data[us]!;
                spec.ForEachWindow(f.Data[spec.Indices]!, (off, ub) => c.Run(u, o, ub, off));
            };
        }
    }

    sealed class CombineSink(Spec s, int input, int updates, int dst, int inPlace, bool swapped) : IBinaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T>
        {
            var spec = s;
            int xs = input, us = updates, ds = dst, ip = inPlace;
            bool sw = swapped;
            return f =>
            {
                var o = Start<T>(f, xs, ds, spec.Count, ip);
                var u = (T[])f.Data[us]!;
                spec.ForEachWindow(f.Data[spec.Indices]!, (off, ub) => spec.Walk.Combine<T, TOp>(u, ub, o, off, sw));
            };
        }
    }

    /// <summary>Any combiner and any number of inputs: the combiner runs as a scalar function per element.</summary>
    static Kernel Generic(KernelContext ctx, int k, Spec spec)
    {
        var fn = ctx.Compiler.Scalar(ctx.Instruction.CalledComputations[0]);
        var inputs = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var updates = Enumerable.Range(k + 1, k).Select(ctx.In).ToArray();
        var types = Enumerable.Range(0, k).Select(i => ctx.OperandShape(i).ElementType).ToArray();
        var loaders = types.Select(ScalarIO.LoaderFor).ToArray();
        var storers = types.Select(ScalarIO.StorerFor).ToArray();
        var copiers = types.Select(t => TypeDispatch.Any(t, new CopierFactory())).ToArray();
        var outs = ctx.OutLeaves;
        int n = spec.Count;
        return f =>
        {
            var o = new Array[k];
            var u = new Array[k];
            for (int j = 0; j < k; j++)
            {
                o[j] = copiers[j](f, inputs[j], outs[j], n);
                u[j] = f.Data[updates[j]]!;
            }
            var regs = fn.NewRegisters();
            spec.ForEachWindow(f.Data[spec.Indices]!, (off, ub) => spec.Walk.Visit(ub, off, (ui, oi) =>
            {
                for (int j = 0; j < k; j++)
                {
                    regs[fn.ParameterRegister(j)] = loaders[j](o[j], (int)oi);
                    regs[fn.ParameterRegister(k + j)] = loaders[j](u[j], (int)ui);
                }
                fn.Invoke(regs);
                for (int j = 0; j < k; j++) storers[j](o[j], (int)oi, regs[fn.ResultRegister(j)]);
            }));
        };
    }

    delegate Array Copier(Frame f, int input, int dst, int n);

    readonly struct CopierFactory : IAnyTypeFactory<Copier>
    {
        public Copier Create<T>() where T : unmanaged => (f, input, dst, n) => Start<T>(f, input, dst, n, -1);
    }
}

/// <summary>
/// A walk over the elements of a window held in two arrays with different strides (an update window and the operand
/// region it lands on). Dims are collapsed where both sides stay contiguous, so the innermost loop is usually one
/// contiguous row on both sides, combined with a SIMD span op.
/// </summary>
internal sealed class StridedWalk
{
    readonly long[] dims;
    readonly long[] aStrides;
    readonly long[] bStrides;

    public StridedWalk(long[] dims, long[] aStrides, long[] bStrides)
    {
        var d = new List<long>();
        var a = new List<long>();
        var b = new List<long>();
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] == 1) continue;
            int last = d.Count - 1;
            if (last >= 0 && a[last] == aStrides[i] * dims[i] && b[last] == bStrides[i] * dims[i])
            {
                d[last] *= dims[i];
                a[last] = aStrides[i];
                b[last] = bStrides[i];
                continue;
            }
            d.Add(dims[i]);
            a.Add(aStrides[i]);
            b.Add(bStrides[i]);
        }
        if (d.Count == 0)
        {
            d.Add(1);
            a.Add(1);
            b.Add(1);
        }
        this.dims = d.ToArray();
        this.aStrides = a.ToArray();
        this.bStrides = b.ToArray();
        Count = dims.Aggregate(1L, (x, y) => x * y);
    }

    /// <summary>Number of elements in the window.</summary>
    public long Count { get; }

    /// <summary>dst[j] = op(dst[j], src[j]) (or op(src[j], dst[j]) when swapped) over the window.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Combine<T, TOp>(T[] src, long srcBase, T[] dst, long dstBase, bool swapped) where T : unmanaged where TOp : struct, IBinaryOp<T>
    {
        if (Count == 0) return;
        int r = dims.Length;
        long n = dims[r - 1], sa = aStrides[r - 1], sb = bStrides[r - 1];
        long outer = Count / n;
        Span<long> idx = stackalloc long[Math.Max(1, r - 1)];
        idx.Clear();
        long ao = srcBase, bo = dstBase;
        for (long o = 0; o < outer; o++)
        {
            if (sa == 1 && sb == 1 && TOp.Vectorized && n >= 8)
            {
                var s = new ReadOnlySpan<T>(src, (int)ao, (int)n);
                var d = new Span<T>(dst, (int)bo, (int)n);
                if (swapped) TOp.ApplySpan(s, d, d);
                else TOp.ApplySpan(d, s, d);
            }
            else
            {
                for (long i = 0; i < n; i++)
                {
                    ref T d = ref dst[bo + i * sb];
                    T v = src[ao + i * sa];
                    d = swapped ? TOp.Apply(v, d) : TOp.Apply(d, v);
                }
            }
            for (int k = r - 2; k >= 0; k--)
            {
                ao += aStrides[k];
                bo += bStrides[k];
                if (++idx[k] < dims[k]) break;
                ao -= aStrides[k] * dims[k];
                bo -= bStrides[k] * dims[k];
                idx[k] = 0;
            }
        }
    }

    /// <summary>Calls <paramref name="body"/>(a offset, b offset) for every element, in row-major window order.</summary>
    public void Visit(long aBase, long bBase, Action<long, long> body)
    {
        if (Count == 0) return;
        int r = dims.Length;
        var idx = new long[r];
        long ao = aBase, bo = bBase;
        for (long e = 0; e < Count; e++)
        {
            body(ao, bo);
            for (int k = r - 1; k >= 0; k--)
            {
                ao += aStrides[k];
                bo += bStrides[k];
                if (++idx[k] < dims[k]) break;
                ao -= aStrides[k] * dims[k];
                bo -= bStrides[k] * dims[k];
                idx[k] = 0;
            }
        }
    }
}
