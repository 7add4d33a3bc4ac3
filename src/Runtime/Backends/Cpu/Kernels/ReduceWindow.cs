using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Where each window element of a reduce-window / select-and-scatter / convolution lands in the input, computed once
/// at compile time per dimension: <c>Index(d, o, w)</c> is the input index that window element w of output position
/// o reads along dimension d, or -1 when it falls on padding or between dilated input elements (XLA skips those; for
/// a reducer whose init is its identity that is the same as reading the init value).
/// </summary>
internal sealed class WindowGeometry
{
    readonly int[][] table;

    public WindowGeometry(long[] inDims, long[] outDims, IReadOnlyList<WindowDimension> window, bool applyReversal = false)
    {
        Rank = inDims.Length;
        InDims = inDims;
        OutDims = outDims;
        Sizes = window.Select(w => w.Size).ToArray();
        table = new int[Rank][];
        for (int d = 0; d < Rank; d++)
        {
            var w = window[d];
            long entries = outDims[d] * w.Size;
            if (entries > 1 << 26) throw new NotSupportedException($"window dimension {d} ({outDims[d]} positions × size {w.Size}) is too large for the CPU executor");
            var t = new int[entries];
            for (long o = 0; o < outDims[d]; o++)
            {
                for (long k = 0; k < w.Size; k++)
                {
                    long kk = applyReversal && w.WindowReversal ? w.Size - 1 - k : k;
                    t[o * w.Size + k] = (int)InputIndex(o, kk, w, inDims[d]);
                }
            }
            table[d] = t;
        }
    }

    /// <summary>The input index of window element <paramref name="k"/> at output position <paramref name="o"/>, or -1.</summary>
    public static long InputIndex(long o, long k, WindowDimension w, long inSize)
    {
        long u = o * w.Stride - w.PaddingLow + k * w.WindowDilation;
        if (u < 0) return -1;
        if (w.BaseDilation > 1)
        {
            if (u % w.BaseDilation != 0) return -1;
            u /= w.BaseDilation;
        }
        return u < inSize ? u : -1;
    }

    public int Rank { get; }

    public long[] InDims { get; }

    public long[] OutDims { get; }

    public long[] Sizes { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Index(int d, long o, long k) => table[d][o * Sizes[d] + k];

    /// <summary>How many trailing dims the window leaves alone (size 1, stride 1, no padding or dilation): kernels
    /// treat them as one contiguous row of lanes processed together.</summary>
    public static int TrailingIdentity(IReadOnlyList<WindowDimension> window)
    {
        int t = window.Count;
        while (t > 0 && XlaGen.Ops.WindowShapes.IsIdentity(window[t - 1])) t--;
        return window.Count - t;
    }

    /// <summary>Visits the input offsets (in units of rows of inner elements, over the leading
    /// <paramref name="dims"/> dims) of every in-bounds window element of output position <paramref name="outIndex"/>,
    /// in row-major window order.</summary>
    public int Offsets(ReadOnlySpan<long> outIndex, int dims, long[] inStrides, Span<long> result)
    {
        long count = 1;
        for (int d = 0; d < dims; d++) count *= Sizes[d];
        Span<long> w = stackalloc long[Math.Max(1, dims)];
        w.Clear();
        int n = 0;
        for (long i = 0; i < count; i++)
        {
            long off = 0;
            bool ok = true;
            for (int d = 0; d < dims; d++)
            {
                int u = Index(d, outIndex[d], w[d]);
                if (u < 0)
                {
                    ok = false;
                    break;
                }
                off += u * inStrides[d];
            }
            if (ok) result[n++] = off;
            for (int d = dims - 1; d >= 0; d--)
            {
                if (++w[d] < Sizes[d]) break;
                w[d] = 0;
            }
        }
        return n;
    }

    public long WindowCount(int dims)
    {
        long count = 1;
        for (int d = 0; d < dims; d++) count *= Sizes[d];
        return count;
    }
}

/// <summary>
/// reduce-window. A reducer that is one binary op of its two parameters (add, maximum, minimum, multiply …) runs
/// as that op struct: the trailing dims the window leaves alone become rows of lanes reduced with SIMD span ops
/// (NHWC pooling reduces whole channel rows), otherwise a scalar loop per output. Any other reducer, including
/// variadic ones (argmax), runs as a scalar program per window element. Padding and dilation holes are skipped.
/// </summary>
internal static class ReduceWindow
{
    /// <summary>Weight of one interpreted reducer call in <see cref="WorkPoll"/> units (tens of nanoseconds each).</summary>
    internal const long Interpreted = 16;

    public static Kernel HandleReduceWindow(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        int k = ins.Operands.Count / 2;
        var window = ins.Attributes.Window!;
        var inDims = ctx.OperandShape(0).ConcreteDims();
        var outDims = ComputationCompiler.Leaves(ctx.Shape).First().ConcreteDims();
        var type = ctx.OperandShape(0).ElementType;
        var plain = k == 1 && type != ElementType.Pred && PoolShape.Forced != PoolShape.Path.Generic ? PlainBinary(ins.CalledComputations[0]) : null;
        if (plain != null)
        {
            int trailing = WindowGeometry.TrailingIdentity(window);
            int lead = inDims.Length - trailing;
            var geometry = new WindowGeometry(inDims, outDims, window);
            long inner = inDims.Skip(lead).Aggregate(1L, (a, b) => a * b);
            var plan = new Plan(geometry, PoolShape.Of(geometry, window, lead), lead, inner, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, plain.Value.Swapped);
            return OpSelect.Binary(plain.Value.Opcode, type, new FastSink(plan));
        }
        return Generic(ctx, k, inDims, outDims, window);
    }

    /// <summary>(opcode, swapped) when <paramref name="f"/> is op(p0, p1) (or op(p1, p0)) on scalars of one type.</summary>
    internal static (string Opcode, bool Swapped)? PlainBinary(HloComputation f)
    {
        var ps = f.Parameters;
        var root = f.Root;
        if (ps.Count != 2 || root.Operands.Count != 2 || !root.Shape.IsScalar || !OpSelect.BinaryOpcodes.Contains(root.Opcode)) return null;
        if (ps[0].Shape != root.Shape || ps[1].Shape != root.Shape) return null;
        if (root.Operands[0] == ps[0] && root.Operands[1] == ps[1]) return (root.Opcode, false);
        if (root.Operands[0] == ps[1] && root.Operands[1] == ps[0]) return (root.Opcode, true);
        return null;
    }

    sealed record Plan(WindowGeometry Geometry, PoolShape? Pool, int Lead, long Inner, int Input, int Init, int Dst, int Count, bool Swapped);

    sealed class FastSink(Plan p) : IBinaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T>
        {
            if (p.Pool != null) return Pooling.ReduceWindow<T, TOp>(p.Pool, p.Input, p.Init, p.Dst, p.Count, p.Swapped);
            var g = p.Geometry;
            int lead = p.Lead;
            long inner = p.Inner;
            var inStrides = StridedCopy.RowMajorStrides(g.InDims.Take(lead).ToArray());
            var outLead = g.OutDims.Take(lead).ToArray();
            long outer = outLead.Aggregate(1L, (a, b) => a * b);
            long windowCount = g.WindowCount(lead);
            bool swapped = p.Swapped;
            int src = p.Input, initSlot = p.Init, dst = p.Dst, n = p.Count;
            return f =>
            {
                var x = (T[])f.Data[src]!;
                T init = ((T[])f.Data[initSlot]!)[0];
                var o = f.Alloc<T>(dst, n);
                if (n == 0) return;
                void Range(long lo, long hi)
                {
                    Span<long> idx = stackalloc long[Math.Max(1, lead)];
                    var offsets = windowCount <= 4096 ? stackalloc long[(int)windowCount] : new long[windowCount];
                    Unravel(lo, outLead, idx);
                    var poll = new WorkPoll();
                    for (long oi = lo; oi < hi; oi++)
                    {
                        poll.Add(windowCount * inner + 1);
                        int m = g.Offsets(idx, lead, inStrides, offsets);
                        if (inner == 1) o[oi] = Fold<T, TOp>(x, offsets[..m], init, swapped);
                        else Rows<T, TOp>(x, offsets[..m], o.AsSpan((int)(oi * inner), (int)inner), init, inner, swapped);
                        Next(idx, outLead);
                    }
                }
                long work = outer * inner * Math.Max(1, windowCount);
                if (Par.Worth(work, Par.CheapGrain) && outer >= 2) Par.For(outer, Math.Max(1, Par.CheapGrain / Math.Max(1, inner * windowCount)), Range);
                else Range(0, outer);
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static T Fold<T, TOp>(T[] x, ReadOnlySpan<long> offsets, T acc, bool swapped) where T : unmanaged where TOp : struct, IBinaryOp<T>
    {
        if (swapped)
        {
            foreach (var off in offsets) acc = TOp.Apply(x[off], acc);
            return acc;
        }
        foreach (var off in offsets) acc = TOp.Apply(acc, x[off]);
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows<T, TOp>(T[] x, ReadOnlySpan<long> offsets, Span<T> acc, T init, long inner, bool swapped) where T : unmanaged where TOp : struct, IBinaryOp<T>
    {
        acc.Fill(init);
        foreach (var off in offsets)
        {
            var row = new ReadOnlySpan<T>(x, (int)(off * inner), (int)inner);
            if (TOp.Vectorized)
            {
                if (swapped) TOp.ApplySpan(row, acc, acc);
                else TOp.ApplySpan(acc, row, acc);
            }
            else if (swapped)
            {
                for (int i = 0; i < acc.Length; i++) acc[i] = TOp.Apply(row[i], acc[i]);
            }
            else
            {
                for (int i = 0; i < acc.Length; i++) acc[i] = TOp.Apply(acc[i], row[i]);
            }
        }
    }

    internal static void Unravel(long linear, long[] dims, Span<long> idx)
    {
        for (int d = dims.Length - 1; d >= 0; d--)
        {
            idx[d] = linear % dims[d];
            linear /= dims[d];
        }
    }

    internal static void Next(Span<long> idx, long[] dims)
    {
        for (int d = dims.Length - 1; d >= 0; d--)
        {
            if (++idx[d] < dims[d]) return;
            idx[d] = 0;
        }
    }

    /// <summary>Any reducer (and any number of inputs): the reducer runs as a scalar function per window element, in
    /// row-major window order, acc = f(acc, x).</summary>
    static Kernel Generic(KernelContext ctx, int k, long[] inDims, long[] outDims, WindowDimension[] window)
    {
        var fn = ctx.Compiler.Scalar(ctx.Instruction.CalledComputations[0]);
        var geometry = new WindowGeometry(inDims, outDims, window);
        int rank = inDims.Length;
        var inStrides = StridedCopy.RowMajorStrides(inDims);
        long windowCount = geometry.WindowCount(rank);
        var inputs = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var inits = Enumerable.Range(k, k).Select(ctx.In).ToArray();
        var outs = ctx.OutLeaves;
        var loaders = Enumerable.Range(0, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
        var initLoaders = Enumerable.Range(k, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
        var resultTypes = ComputationCompiler.Leaves(ctx.Shape).Select(s => s.ElementType).ToArray();
        var storers = resultTypes.Select(ScalarIO.StorerFor).ToArray();
        var allocators = resultTypes.Select(ScalarIO.AllocatorFor).ToArray();
        int n = KernelContext.Count(ComputationCompiler.Leaves(ctx.Shape).First());
        bool parallelSafe = fn is ScalarProgram;
        return f =>
        {
            var x = inputs.Select(s => (Array)f.Data[s]!).ToArray();
            var initBits = new ulong[k];
            for (int j = 0; j < k; j++) initBits[j] = initLoaders[j]((Array)f.Data[inits[j]]!, 0);
            var o = new Array[outs.Length];
            for (int j = 0; j < outs.Length; j++) o[j] = allocators[j](f, outs[j], n);
            void Outputs(long lo, long hi)
            {
                var regs = fn.NewRegisters();
                Span<long> idx = stackalloc long[Math.Max(1, rank)];
                var offsets = new long[windowCount];
                Unravel(lo, outDims, idx);
                var poll = new WorkPoll();
                for (long oi = lo; oi < hi; oi++)
                {
                    poll.Add(windowCount * Interpreted + 1);
                    int m = geometry.Offsets(idx, rank, inStrides, offsets);
                    for (int j = 0; j < k; j++) regs[fn.ParameterRegister(j)] = initBits[j];
                    for (int w = 0; w < m; w++)
                    {
                        int at = (int)offsets[w];
                        for (int j = 0; j < k; j++) regs[fn.ParameterRegister(k + j)] = loaders[j](x[j], at);
                        fn.Invoke(regs);
                        for (int j = 0; j < k; j++) regs[fn.ParameterRegister(j)] = regs[fn.ResultRegister(j)];
                    }
                    for (int j = 0; j < k; j++) storers[j](o[j], (int)oi, regs[fn.ParameterRegister(j)]);
                    Next(idx, outDims);
                }
            }
            if (n == 0) return;
            if (parallelSafe && n >= 2 && Par.Worth(n * Math.Max(1, windowCount), Par.InterpretedGrain))
                Par.For(n, Math.Max(1, Par.InterpretedGrain / Math.Max(1, windowCount)), Outputs);
            else Outputs(0, n);
        };
    }
}
