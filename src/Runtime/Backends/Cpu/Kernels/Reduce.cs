using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// reduce. The input dims are collapsed into alternating kept/reduced groups at compile time. When the reducer is
/// a recognised scalar add/multiply/maximum/minimum/and/or of its two parameters, the reduction is vectorised: a
/// kept innermost group becomes row updates acc[:] = op(acc[:], x[r, :]), a reduced innermost group a SIMD fold
/// (TensorPrimitives.Sum/Product/Max/Min). Any other reducer (variadic, argmax-style tuples) is interpreted per
/// element in row-major order of the reduced dims. Large reductions split over outputs (or columns) across cores.
/// </summary>
internal static class Reduce
{
    internal enum Kind { Add, Multiply, Max, Min, And, Or }

    /// <summary>Groups of adjacent input dims that are all kept or all reduced (size-1 dims dropped).</summary>
    internal sealed class Layout
    {
        public Layout(long[] dims, long[] axes)
        {
            var sizes = new List<long>();
            var reduced = new List<bool>();
            for (int i = 0; i < dims.Length; i++)
            {
                if (dims[i] == 1) continue;
                bool r = axes.Contains(i);
                if (sizes.Count > 0 && reduced[^1] == r) sizes[^1] *= dims[i];
                else
                {
                    sizes.Add(dims[i]);
                    reduced.Add(r);
                }
            }
            if (sizes.Count == 0)
            {
                sizes.Add(1);
                reduced.Add(false);
            }
            var strides = StridedCopy.RowMajorStrides(sizes);
            Sizes = sizes.ToArray();
            Reduced = reduced.ToArray();
            Strides = strides;
        }

        public long[] Sizes { get; }

        public bool[] Reduced { get; }

        public long[] Strides { get; }

        public bool InnerReduced => Reduced[^1];

        public long Inner => Sizes[^1];

        /// <summary>(sizes, strides) of the kept or reduced groups, optionally without the innermost group.</summary>
        public (long[] Sizes, long[] Strides) Groups(bool reduced, bool withoutInner)
        {
            var s = new List<long>();
            var t = new List<long>();
            for (int i = 0; i < Sizes.Length; i++)
            {
                if (Reduced[i] != reduced || (withoutInner && i == Sizes.Length - 1)) continue;
                s.Add(Sizes[i]);
                t.Add(Strides[i]);
            }
            return (s.ToArray(), t.ToArray());
        }
    }

    /// <summary>Offset of row-major index <paramref name="linear"/> over groups (sizes, strides).</summary>
    internal static long Offset(long linear, long[] sizes, long[] strides)
    {
        long off = 0;
        for (int i = sizes.Length - 1; i >= 0; i--)
        {
            off += linear % sizes[i] * strides[i];
            linear /= sizes[i];
        }
        return off;
    }

    static long Product(long[] a) => a.Aggregate(1L, (x, y) => x * y);

    /// <summary>True for an f32 add-reduce of a broadcast scalar whose array form the column-sum path would sum
    /// (FastFactory.ColumnSums: kept inner dims, one reduced group): every output is then init + (c + c + …) + … in
    /// ColumnSums' block order, computed from the scalar alone (bitwise the same), so the broadcast is never
    /// materialised.</summary>
    internal static bool SumsBroadcastScalarAsColumns(HloInstruction ins)
    {
        if (ins.Operands.Count != 2 || ins.Operands[0] is not { Opcode: "broadcast" } b || !b.Operands[0].Shape.IsScalar) return false;
        if (!b.Shape.IsArray || !b.Shape.IsStatic || b.Shape.ElementType != ElementType.F32 || Recognize(ins.CalledComputations[0]) != Kind.Add) return false;
        var layout = new Layout(b.Shape.ConcreteDims(), ins.Attributes.Dimensions!);
        return !layout.InnerReduced && layout.Groups(reduced: true, withoutInner: false).Sizes.Length == 1;
    }

    /// <summary>Rows per block of an f32 column sum over <paramref name="columns"/> columns: one loop-fusion chunk of
    /// rows (<see cref="LoopFusionKernel.Chunk"/> elements), at least one. A fused loop sums a chunk's rows as one block,
    /// so a column sum computed in a fusion and one computed alone add in the same order.</summary>
    internal static long ColumnBlockRows(long columns) => Math.Max(1, LoopFusionKernel.Chunk / Math.Max(1, columns));

    /// <summary>dst[j] = src[0·stride + j] + src[1·stride + j] + … over <paramref name="rows"/> ≥ 1 rows, for j in
    /// [0, width): one block of a column sum, summed in row order from its first row, up to 64 columns at a time in
    /// registers. The one definition of a block's sum, for the reduce kernel and the fused loop alike.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void BlockSums(float* src, long stride, long rows, float* dst, int width)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 64 <= width; j += 64)
            {
                float* p = src + j;
                Vector512<float> a0 = Vector512.Load(p), a1 = Vector512.Load(p + 16), a2 = Vector512.Load(p + 32), a3 = Vector512.Load(p + 48);
                for (long r = 1; r < rows; r++)
                {
                    p += stride;
                    a0 += Vector512.Load(p);
                    a1 += Vector512.Load(p + 16);
                    a2 += Vector512.Load(p + 32);
                    a3 += Vector512.Load(p + 48);
                }
                Vector512.Store(a0, dst + j);
                Vector512.Store(a1, dst + j + 16);
                Vector512.Store(a2, dst + j + 32);
                Vector512.Store(a3, dst + j + 48);
            }
            for (; j + 16 <= width; j += 16)
            {
                float* p = src + j;
                Vector512<float> a0 = Vector512.Load(p);
                for (long r = 1; r < rows; r++)
                {
                    p += stride;
                    a0 += Vector512.Load(p);
                }
                Vector512.Store(a0, dst + j);
            }
        }
        for (; j < width; j++)
        {
            float* p = src + j;
            float a = *p;
            for (long r = 1; r < rows; r++)
            {
                p += stride;
                a += *p;
            }
            dst[j] = a;
        }
    }

    /// <summary>dst = init + the block sums in <paramref name="partials"/> ([blocks, width], one row per block) added in
    /// block order: how a column sum split into blocks (across cores, or chunk by chunk in a fused loop) finishes, in
    /// the order a column sum adds its blocks alone (FastFactory.ColumnSums).</summary>
    internal static void AddBlocks(Span<float> dst, float init, ReadOnlySpan<float> partials, long blocks)
    {
        int width = dst.Length;
        dst.Fill(init);
        for (long k = 0; k < blocks; k++) TensorPrimitives.Add(dst, partials.Slice((int)(k * width), width), dst);
    }

    public static Kernel HandleReduce(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        int k = ins.Operands.Count / 2;
        var dims = ctx.OperandShape(0).ConcreteDims();
        var layout = new Layout(dims, ins.Attributes.Dimensions!);
        if (ctx.IsScalar(0))
        {
            long rows = Product(layout.Groups(reduced: true, withoutInner: false).Sizes);
            int scalar = ctx.In(0), init = ctx.In(1), dst = ctx.Out, n = ctx.OutCount;
            long blockRows = ColumnBlockRows(layout.Inner);
            return f =>
            {
                float c = ((float[])f.Data[scalar]!)[0];
                float s = ((float[])f.Data[init]!)[0];
                // each column of the broadcast, summed in ColumnSums' order: row blocks, then their sums in order
                for (long r0 = 0; r0 < rows; r0 += blockRows)
                {
                    float a = c;
                    for (long r = r0 + 1, end = Math.Min(rows, r0 + blockRows); r < end; r++) a += c;
                    s += a;
                }
                f.Alloc<float>(dst, n).AsSpan().Fill(s);
            };
        }
        var kind = k == 1 ? Recognize(ins.CalledComputations[0]) : null;
        var type = ctx.OperandShape(0).ElementType;
        if (kind != null && type != ElementType.Pred)
            return TypeDispatch.Numeric(type, new FastFactory(kind.Value, layout, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount));
        return Generic(ctx, k, layout);
    }

    /// <summary>The op of a reducer that is exactly op(p0, p1) or op(p1, p0) on scalars of one type.</summary>
    internal static Kind? Recognize(HloComputation reducer)
    {
        var ps = reducer.Parameters;
        var root = reducer.Root;
        if (ps.Count != 2 || root.Operands.Count != 2 || !root.Shape.IsScalar) return null;
        bool plain = (root.Operands[0] == ps[0] && root.Operands[1] == ps[1]) || (root.Operands[0] == ps[1] && root.Operands[1] == ps[0]);
        if (!plain || ps[0].Shape != root.Shape || ps[1].Shape != root.Shape) return null;
        return root.Opcode switch
        {
            "add" => Kind.Add,
            "multiply" => Kind.Multiply,
            "maximum" => Kind.Max,
            "minimum" => Kind.Min,
            "and" => Kind.And,
            "or" => Kind.Or,
            _ => null,
        };
    }

    readonly struct FastFactory(Kind kind, Layout layout, int input, int init, int dst, int outCount) : INumericTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T> => Fast<T>();

        Kernel Fast<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var k = kind;
            int src = input, initSlot = init, ds = dst, n = outCount;
            var apply = BinaryApply<T>();
            if (!layout.InnerReduced)
            {
                // out[o, c] = op over r of x[base(o) + off(r) + c]: row updates over the kept inner group
                var (outerSizes, outerStrides) = layout.Groups(reduced: false, withoutInner: true);
                var (redSizes, redStrides) = layout.Groups(reduced: true, withoutInner: false);
                long c = layout.Inner, rCount = Product(redSizes);
                var rOff = Enumerable.Range(0, (int)Math.Min(rCount, 1 << 16)).Select(r => Offset(r, redSizes, redStrides)).ToArray();
                // f32 sums over one evenly strided group (BatchNorm's statistics and gradients: [N·H·W, C] -> [C]) keep
                // their column accumulators in registers (ColumnSums) instead of one span call per row of C elements
                bool columnSums = typeof(T) == typeof(float) && k == Kind.Add && redSizes.Length == 1;
                long rowStride = columnSums ? redStrides[0] : 0, blockRows = ColumnBlockRows(c);
                var rows = new RowPlan<T>(outerSizes, outerStrides, redSizes, redStrides, rOff, c, rCount, columnSums, rowStride, blockRows, apply);
                return f =>
                {
                    var x = (T[])f.Data[src]!;
                    T i0 = ((T[])f.Data[initSlot]!)[0];
                    var o = f.Alloc<T>(ds, n);
                    long outer = n / Math.Max(1, c);
                    long work = (long)x.Length + n;
                    if (!Par.Worth(work, Par.CheapGrain)) rows.Rows(x, o, i0, 0, outer, 0, c);
                    else if (outer >= Par.Workers)
                    {
                        var px = x;
                        var po = o;
                        var pi = i0;
                        Par.For(outer, Math.Max(1, Par.CheapGrain / Math.Max(1, c * rCount)), (lo, hi) => rows.Rows(px, po, pi, lo, hi, 0, c));
                    }
                    else if (columnSums && c <= int.MaxValue)
                    {
                        // column sums split by blocks of rows: each thread streams its own rows whole (split into
                        // 16-lane strips, every thread read every row: half of each 128-byte row of [N·H·W, 32]);
                        // the block sums are added in block order, as ColumnSums does
                        for (long oi = 0; oi < outer; oi++) rows.SplitColumnSums(Unsafe.As<float[]>(x), Unsafe.As<float[]>(o), Unsafe.BitCast<T, float>(i0), oi, f.Context.Pool);
                    }
                    else
                    {
                        long grain = Math.Max(64, Par.CheapGrain / Math.Max(1, rCount));
                        for (long oi = 0; oi < outer; oi++)
                        {
                            long row = oi;
                            var px = x;
                            var po = o;
                            var pi = i0;
                            Par.For(c, grain, (c0, c1) => rows.Rows(px, po, pi, row, row + 1, c0, c1));
                        }
                    }
                };
            }
            else
            {
                // out[o] = fold over r' of x[base(o) + off(r') + 0..inner): SIMD folds over the reduced inner group
                var (outSizes, outStrides) = layout.Groups(reduced: false, withoutInner: false);
                var (redSizes, redStrides) = layout.Groups(reduced: true, withoutInner: true);
                long inner = layout.Inner, rCount = Product(redSizes);
                // [outputs, inner] row-major: each output folds one contiguous row
                bool contiguousRows = redSizes.Length == 0 && (outSizes.Length == 0 || (outSizes.Length == 1 && outStrides[0] == inner));
                var folds = new FoldPlan<T>(k, outSizes, outStrides, redSizes, redStrides, inner, rCount, contiguousRows);
                return f =>
                {
                    var x = (T[])f.Data[src]!;
                    T i0 = ((T[])f.Data[initSlot]!)[0];
                    var o = f.Alloc<T>(ds, n);
                    if (!Par.Worth(x.Length, Par.CheapGrain) || n < 2) folds.Outputs(x, o, i0, 0, n);
                    else
                    {
                        var px = x;
                        var po = o;
                        var pi = i0;
                        Par.For(n, Math.Max(1, Par.CheapGrain / Math.Max(1, inner * rCount)), (lo, hi) => folds.Outputs(px, po, pi, lo, hi));
                    }
                };
            }
        }

        /// <summary>A kept-inner reduction's compile-time plan; its methods take the run's arrays, so the serial path
        /// allocates no closure (the parallel branches build theirs in their own scope).</summary>
        sealed class RowPlan<T>(long[] outerSizes, long[] outerStrides, long[] redSizes, long[] redStrides, long[] rOff, long c, long rCount,
            bool columnSums, long rowStride, long blockRows, SpanApply<T> apply) where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            /// <summary>Output row <paramref name="oi"/>'s column sums with the blocks split across cores: each block's sums
            /// by <see cref="BlockSums"/> into its own row of partials, then init plus the partials in block order
            /// (<see cref="ColumnSums"/>'s order: bitwise the same at any core count).</summary>
            public void SplitColumnSums(float[] x, float[] o, float init, long oi, BufferPool pool)
            {
                long blocks = (rCount + blockRows - 1) / blockRows;
                int width = (int)c;
                var partials = pool.Rent<float>(checked((int)(blocks * width)));
                // the calling thread's job (a plan may run on several threads at once; a closure per call allocated)
                var job = BlockJob.Cached ?? new BlockJob();
                BlockJob.Cached = null;
                try
                {
                    job.Set(x, partials, Offset(oi, outerSizes, outerStrides), rowStride, blockRows, rCount, width);
                    Par.For(blocks, Math.Max(1, Par.CheapGrain / Math.Max(1, blockRows * width)), job.Body);
                    AddBlocks(o.AsSpan((int)(oi * c), width), init, partials, blocks);
                }
                finally
                {
                    job.Set(null, null, 0, 0, 0, 0, 0);
                    BlockJob.Cached = job;
                    pool.Return(partials);
                }
            }

            public void Rows(T[] x, T[] o, T i0, long lo, long hi, long c0, long c1)
            {
                var poll = new WorkPoll();
                for (long oi = lo; oi < hi; oi++)
                {
                    poll.Add(rCount * (c1 - c0) + 1);
                    long b = Offset(oi, outerSizes, outerStrides);
                    if (columnSums)
                    {
                        ColumnSums(Unsafe.As<float[]>(x), b + c0, rowStride, rCount, Unsafe.As<float[]>(o), oi * c + c0, (int)(c1 - c0), Unsafe.BitCast<T, float>(i0), blockRows);
                        continue;
                    }
                    var acc = o.AsSpan((int)(oi * c + c0), (int)(c1 - c0));
                    acc.Fill(i0);
                    for (long r = 0; r < rCount; r++)
                    {
                        long off = r < rOff.Length ? rOff[r] : Offset(r, redSizes, redStrides);
                        apply(x.AsSpan((int)(b + off + c0), (int)(c1 - c0)), acc);
                    }
                }
            }
        }

        /// <summary>One split of a column sum's blocks across cores (see <see cref="RowPlan{T}.SplitColumnSums"/>).</summary>
        sealed class BlockJob
        {
            [ThreadStatic]
            public static BlockJob? Cached;

            public readonly Action<long, long> Body;
            float[]? x, partials;
            long at, stride, blockRows, rows;
            int width;

            public BlockJob() => Body = Blocks;

            public void Set(float[]? x, float[]? partials, long at, long stride, long blockRows, long rows, int width)
            {
                this.x = x;
                this.partials = partials;
                this.at = at;
                this.stride = stride;
                this.blockRows = blockRows;
                this.rows = rows;
                this.width = width;
            }

            unsafe void Blocks(long lo, long hi)
            {
                fixed (float* px = x, pp = partials)
                {
                    for (long k = lo; k < hi; k++)
                    {
                        KernelCancellation.ThrowIfRequested();
                        long r0 = k * blockRows;
                        BlockSums(px + at + r0 * stride, stride, Math.Min(blockRows, rows - r0), pp + k * width, width);
                    }
                }
            }
        }

        /// <summary>A reduced-inner reduction's compile-time plan (see <see cref="RowPlan{T}"/>).</summary>
        sealed class FoldPlan<T>(Kind k, long[] outSizes, long[] outStrides, long[] redSizes, long[] redStrides, long inner, long rCount, bool contiguousRows)
            where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            public void Outputs(T[] x, T[] o, T i0, long lo, long hi)
            {
                var poll = new WorkPoll();
                if (contiguousRows)
                {
                    for (long oi = lo; oi < hi; oi++)
                    {
                        poll.Add(inner + 1);
                        o[oi] = Fold(k, new ReadOnlySpan<T>(x, (int)(oi * inner), (int)inner), i0);
                    }
                    return;
                }
                for (long oi = lo; oi < hi; oi++)
                {
                    poll.Add(rCount * inner + 1);
                    long b = Offset(oi, outSizes, outStrides);
                    T acc = i0;
                    for (long r = 0; r < rCount; r++)
                    {
                        var span = new ReadOnlySpan<T>(x, (int)(b + Offset(r, redSizes, redStrides)), (int)inner);
                        acc = Fold(k, span, acc);
                    }
                    o[oi] = acc;
                }
            }
        }

        internal delegate void SpanApply<T>(ReadOnlySpan<T> x, Span<T> acc);

        SpanApply<T> BinaryApply<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T> =>
            OpSelect.Binary(KindOpcode(kind), Tensor.ElementTypeOf<T>(), new ApplySink<T>());

        sealed class ApplySink<T> : IBinaryOpSink<SpanApply<T>>
        {
            public SpanApply<T> Use<TT, TOp>() where TT : unmanaged where TOp : struct, IBinaryOp<TT> =>
                (SpanApply<T>)(Delegate)(SpanApply<TT>)((x, acc) =>
                {
                    if (TOp.Vectorized) TOp.ApplySpan(acc, x, acc);
                    else for (int i = 0; i < acc.Length; i++) acc[i] = TOp.Apply(acc[i], x[i]);
                });
        }

        /// <summary>
        /// o[oOff + j] = init + P₀ + P₁ + … for j in [0, width), where P_k is the sum of rows k·blockRows to
        /// (k+1)·blockRows − 1 of column j (x[b + r·stride + j]), added in row order starting from the block's first row
        /// (<see cref="ColumnBlockRows"/>). A fused loop (<see cref="LoopFusionKernel"/>'s column sums) computes each
        /// chunk's block with the same <see cref="BlockSums"/> and adds the blocks in the same order, so the two are
        /// bitwise the same, at any thread count.
        /// </summary>
        internal static unsafe void ColumnSums(float[] x, long b, long stride, long rows, float[] o, long oOff, int width, float init, long blockRows)
        {
            var block = blockScratch != null && blockScratch.Length >= width ? blockScratch : blockScratch = new float[Math.Max(width, 64)];
            fixed (float* px = x, po = o, pb = block)
            {
                float* dst = po + oOff;
                new Span<float>(dst, width).Fill(init);
                for (long r0 = 0; r0 < rows; r0 += blockRows)
                {
                    BlockSums(px + b + r0 * stride, stride, Math.Min(blockRows, rows - r0), pb, width);
                    System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(dst, width), new ReadOnlySpan<float>(pb, width), new Span<float>(dst, width));
                }
            }
        }

        [ThreadStatic]
        static float[]? blockScratch;

        static T Fold<T>(Kind kind, ReadOnlySpan<T> x, T acc) where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            if (x.Length == 0) return acc;
            if (x.Length < 16) return FoldScalar(kind, x, acc);
            switch (kind)
            {
                case Kind.Add: return acc + TensorPrimitives.Sum(x);
                case Kind.Multiply: return acc * TensorPrimitives.Product(x);
                case Kind.Max: return MaxOf(acc, TensorPrimitives.Max(x));
                case Kind.Min: return MinOf(acc, TensorPrimitives.Min(x));
            }
            return FoldScalar(kind, x, acc);
        }

        /// <summary>Short rows: a plain loop beats the setup of a SIMD reduction.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static T FoldScalar<T>(Kind kind, ReadOnlySpan<T> x, T acc) where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var a = acc;
            switch (kind)
            {
                case Kind.Add:
                    foreach (var v in x) a += v;
                    return a;
                case Kind.Multiply:
                    foreach (var v in x) a *= v;
                    return a;
                case Kind.Max:
                    foreach (var v in x) a = MaxOf(a, v);
                    return a;
                case Kind.Min:
                    foreach (var v in x) a = MinOf(a, v);
                    return a;
                case Kind.And:
                    foreach (var v in x) a = BitAnd(a, v);
                    return a;
                default:
                    foreach (var v in x) a = BitOr(a, v);
                    return a;
            }
        }

        static T MaxOf<T>(T a, T b) where T : INumber<T> => T.IsNaN(a) ? a : T.IsNaN(b) ? b : a < b ? b : a;

        static T MinOf<T>(T a, T b) where T : INumber<T> => T.IsNaN(a) ? a : T.IsNaN(b) ? b : b < a ? b : a;

        static T BitAnd<T>(T a, T b) where T : unmanaged => Bitwise<T>(a, b, and: true);

        static T BitOr<T>(T a, T b) where T : unmanaged => Bitwise<T>(a, b, and: false);

        static T Bitwise<T>(T a, T b, bool and) where T : unmanaged
        {
            ulong x = ScalarIO.Bits(a), y = ScalarIO.Bits(b);
            return ScalarIO.Value<T>(and ? x & y : x | y);
        }
    }

    static string KindOpcode(Kind kind) => kind switch
    {
        Kind.Add => "add",
        Kind.Multiply => "multiply",
        Kind.Max => "maximum",
        Kind.Min => "minimum",
        Kind.And => "and",
        _ => "or",
    };

    /// <summary>Any reducer: per output, run the reducer over the reduced elements in row-major order.</summary>
    static Kernel Generic(KernelContext ctx, int k, Layout layout)
    {
        var fn = ctx.Compiler.Scalar(ctx.Instruction.CalledComputations[0]);
        var inputs = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var inits = Enumerable.Range(k, k).Select(ctx.In).ToArray();
        var outs = ctx.OutLeaves;
        var loaders = Enumerable.Range(0, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
        var initLoaders = Enumerable.Range(k, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
        var resultTypes = ComputationCompiler.Leaves(ctx.Shape).Select(s => s.ElementType).ToArray();
        var storers = resultTypes.Select(ScalarIO.StorerFor).ToArray();
        var allocators = resultTypes.Select(ScalarIO.AllocatorFor).ToArray();
        int n = KernelContext.Count(ComputationCompiler.Leaves(ctx.Shape).First());
        var (outSizes, outStrides) = layout.Groups(reduced: false, withoutInner: false);
        var (redSizes, redStrides) = layout.Groups(reduced: true, withoutInner: false);
        long rCount = Product(redSizes);
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
                var poll = new WorkPoll();
                for (long oi = lo; oi < hi; oi++)
                {
                    poll.Add(rCount * ReduceWindow.Interpreted + 1);
                    long b = Offset(oi, outSizes, outStrides);
                    for (int j = 0; j < k; j++) regs[fn.ParameterRegister(j)] = initBits[j];
                    for (long r = 0; r < rCount; r++)
                    {
                        int at = (int)(b + Offset(r, redSizes, redStrides));
                        for (int j = 0; j < k; j++) regs[fn.ParameterRegister(k + j)] = loaders[j](x[j], at);
                        fn.Invoke(regs);
                        for (int j = 0; j < k; j++) regs[fn.ParameterRegister(j)] = regs[fn.ResultRegister(j)];
                    }
                    for (int j = 0; j < k; j++) storers[j](o[j], (int)oi, regs[fn.ParameterRegister(j)]);
                }
            }
            if (parallelSafe && n >= 2 && Par.Worth(n * Math.Max(1, rCount), Par.InterpretedGrain)) Par.For(n, Math.Max(1, Par.InterpretedGrain / Math.Max(1, rCount)), Outputs);
            else Outputs(0, n);
        };
    }
}
