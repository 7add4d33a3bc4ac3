using System.Numerics.Tensors;
using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// dot (DotGeneral). At compile time every dot is canonicalised to a batch of [m,k]×[k,n] products: batch dims give
/// a table of per-batch offsets, the free and contracting dims of each operand are collapsed to one stride each,
/// and when one of the two strides is 1 the operand is read in place (transposed or not) by
/// <c>Gemm.Sgemm</c>; otherwise it is packed into a scratch [b,m,k] / [b,k,n] array first. Other element
/// types (including the mixed s16×s8→s32 case) are packed, converted to the result type, and multiplied by a
/// generic row-update loop.
/// </summary>
internal static class Dot
{
    /// <summary>How one operand is read as a batch of matrices.</summary>
    internal sealed class OperandView
    {
        /// <summary>Offset of each batch's matrix.</summary>
        public required long[] BatchOffsets { get; init; }

        /// <summary>Rows/cols of the canonical matrix: [m,k] for lhs, [k,n] for rhs.</summary>
        public int Rows { get; init; }

        public int Cols { get; init; }

        /// <summary>True when Sgemm can read it in place; then Transposed and Ld describe it.</summary>
        public bool Direct { get; init; }

        public bool Transposed { get; init; }

        public int Ld { get; init; }

        /// <summary>Packs the operand into a row-major [batch, rows, cols] array.</summary>
        public required StridedCopy Pack { get; init; }
    }

    public static Kernel HandleDot(KernelContext ctx)
    {
        var dn = ctx.Instruction.Attributes.Dot!;
        var lhsShape = ctx.OperandShape(0);
        var rhsShape = ctx.OperandShape(1);
        var lhs = lhsShape.ConcreteDims();
        var rhs = rhsShape.ConcreteDims();
        var lhsFree = DotOp.FreeAxes(lhs.Length, dn.LhsBatch, dn.LhsContracting);
        var rhsFree = DotOp.FreeAxes(rhs.Length, dn.RhsBatch, dn.RhsContracting);
        long batch = dn.LhsBatch.Aggregate(1L, (a, d) => a * lhs[d]);
        long m = lhsFree.Aggregate(1L, (a, d) => a * lhs[d]);
        long k = dn.LhsContracting.Aggregate(1L, (a, d) => a * lhs[d]);
        long n = rhsFree.Aggregate(1L, (a, d) => a * rhs[d]);
        if (m * k > int.MaxValue || k * n > int.MaxValue || batch * m * k > Array.MaxLength || batch * k * n > Array.MaxLength)
            throw ctx.Error("operands are too large for the CPU executor");
        // lhs as [m, k]: rows are the free dims, cols the contracting dims; rhs as [k, n]
        var a = View(lhs, dn.LhsBatch, lhsFree.Select(x => (long)x).ToArray(), dn.LhsContracting);
        var b = View(rhs, dn.RhsBatch, dn.RhsContracting, rhsFree.Select(x => (long)x).ToArray());
        var shape = new DotShape((int)batch, (int)m, (int)n, (int)k);
        var result = ctx.ElementType;
        if (result == ElementType.F32 && lhsShape.ElementType == ElementType.F32 && rhsShape.ElementType == ElementType.F32)
            return Sgemm(ctx.In(0), ctx.In(1), ctx.Out, shape, a, b);
        if (result == ElementType.Pred || lhsShape.ElementType == ElementType.Pred || rhsShape.ElementType == ElementType.Pred)
            throw ctx.Error("dot of pred values is not supported");
        return TypeDispatch.Numeric(result, new GenericFactory(ctx.In(0), ctx.In(1), ctx.Out, shape, a, b, lhsShape.ElementType, rhsShape.ElementType));
    }

    internal readonly record struct DotShape(int Batch, int M, int N, int K);

    /// <summary>Builds the view of an operand whose canonical matrix has rows <paramref name="rowAxes"/> and cols <paramref name="colAxes"/>.</summary>
    internal static OperandView View(long[] dims, long[] batchAxes, long[] rowAxes, long[] colAxes)
    {
        var strides = StridedCopy.RowMajorStrides(dims);
        long rows = rowAxes.Aggregate(1L, (acc, d) => acc * dims[d]);
        long cols = colAxes.Aggregate(1L, (acc, d) => acc * dims[d]);
        long batches = batchAxes.Aggregate(1L, (acc, d) => acc * dims[d]);
        var offsets = new long[batches];
        for (long i = 0; i < batches; i++)
        {
            long rem = i, off = 0;
            for (int j = batchAxes.Length - 1; j >= 0; j--)
            {
                long d = batchAxes[j];
                off += rem % dims[d] * strides[d];
                rem /= dims[d];
            }
            offsets[i] = off;
        }
        long? rowStride = Collapse(dims, strides, rowAxes);
        long? colStride = Collapse(dims, strides, colAxes);
        bool direct = false, transposed = false;
        long ld = 0;
        if (rowStride != null && colStride != null)
        {
            // a size-1 group can take whatever stride the other layout needs
            long rs = rows == 1 ? -1 : rowStride.Value, cs = cols == 1 ? -1 : colStride.Value;
            if ((cs == 1 || cs == -1) && (rs == -1 || rs >= cols))
            {
                direct = true;
                ld = rs == -1 ? Math.Max(1, cols) : rs;
            }
            else if ((rs == 1 || rs == -1) && cs >= rows)
            {
                direct = true;
                transposed = true;
                ld = Math.Max(1, cs);
            }
        }
        // packing copies [batch..., rows..., cols...] of the operand into a contiguous [B, rows, cols] array
        var order = batchAxes.Concat(rowAxes).Concat(colAxes).ToArray();
        var packDims = order.Select(d => dims[d]).ToArray();
        var pack = new StridedCopy(packDims, order.Select(d => strides[d]).ToArray(), StridedCopy.RowMajorStrides(packDims));
        return new OperandView
        {
            BatchOffsets = offsets,
            Rows = (int)rows,
            Cols = (int)cols,
            Direct = direct && ld <= int.MaxValue,
            Transposed = transposed,
            Ld = (int)ld,
            Pack = pack,
        };
    }

    /// <summary>The single stride of <paramref name="axes"/> read as one row-major index, or null when they are not
    /// evenly spaced in memory. Size-1 axes are ignored; no axes at all give stride 1.</summary>
    static long? Collapse(long[] dims, long[] strides, long[] axes)
    {
        var live = axes.Where(a => dims[a] != 1).ToArray();
        if (live.Length == 0) return 1;
        for (int i = 0; i + 1 < live.Length; i++)
        {
            if (strides[live[i]] != strides[live[i + 1]] * dims[live[i + 1]]) return null;
        }
        return strides[live[^1]];
    }

    static Kernel Sgemm(int lhsSlot, int rhsSlot, int dst, DotShape s, OperandView a, OperandView b)
    {
        int mk = s.M * s.K, kn = s.K * s.N, mn = s.M * s.N;
        return f =>
        {
            var x = (float[])f.Data[lhsSlot]!;
            var y = (float[])f.Data[rhsSlot]!;
            var c = f.Alloc<float>(dst, s.Batch * mn);
            if (mn == 0) return;
            if (s.K == 0)
            {
                c.AsSpan().Clear();
                return;
            }
            float[]? packedA = null, packedB = null;
            if (!a.Direct)
            {
                packedA = f.Context.Pool.Rent<float>(s.Batch * mk);
                a.Pack.Run(x, packedA);
            }
            if (!b.Direct)
            {
                packedB = f.Context.Pool.Rent<float>(s.Batch * kn);
                b.Pack.Run(y, packedB);
            }
            // No closure on the serial path: a captured local would cost an allocation per call.
            if (s.Batch >= Par.Workers && (long)s.Batch * mn * s.K >= Par.DotGrain) SgemmBatchesParallel(s, a, b, x, y, packedA, packedB, c);
            else for (int i = 0; i < s.Batch; i++) SgemmBatch(i, s, a, b, x, y, packedA, packedB, c);
            if (packedA != null) f.Context.Pool.Return(packedA);
            if (packedB != null) f.Context.Pool.Return(packedB);
        };
    }

    static void SgemmBatchesParallel(DotShape s, OperandView a, OperandView b, float[] x, float[] y, float[]? packedA, float[]? packedB, float[] c) =>
        KernelCancellation.ParallelFor(0, s.Batch, i => SgemmBatch(i, s, a, b, x, y, packedA, packedB, c));

    /// <summary>Batch <paramref name="i"/> of a dot: C_i = A_i · B_i from the packed copies or the operands in place.</summary>
    static void SgemmBatch(int i, DotShape s, OperandView a, OperandView b, float[] x, float[] y, float[]? packedA, float[]? packedB, float[] c)
    {
        int mk = s.M * s.K, kn = s.K * s.N, mn = s.M * s.N;
        ReadOnlySpan<float> av = packedA != null ? packedA.AsSpan(i * mk, mk) : x.AsSpan((int)a.BatchOffsets[i]);
        ReadOnlySpan<float> bv = packedB != null ? packedB.AsSpan(i * kn, kn) : y.AsSpan((int)b.BatchOffsets[i]);
        bool ta = packedA == null && a.Transposed, tb = packedB == null && b.Transposed;
        int lda = packedA != null ? s.K : a.Ld, ldb = packedB != null ? s.N : b.Ld;
        Gemm.Sgemm(ta, tb, s.M, s.N, s.K, 1f, av, lda, bv, ldb, 0f, c.AsSpan(i * mn, mn), s.N);
    }

    readonly struct GenericFactory(int lhsSlot, int rhsSlot, int dst, DotShape s, OperandView a, OperandView b, ElementType lhsType, ElementType rhsType)
        : INumericTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var toA = Converter<T>(lhsType);
            var toB = Converter<T>(rhsType);
            int ls = lhsSlot, rs = rhsSlot, ds = dst;
            var shape = s;
            var av = a;
            var bv = b;
            return f =>
            {
                var pa = toA(f, (Array)f.Data[ls]!, av.Pack, shape.Batch * shape.M * shape.K);
                var pb = toB(f, (Array)f.Data[rs]!, bv.Pack, shape.Batch * shape.K * shape.N);
                var c = f.Alloc<T>(ds, shape.Batch * shape.M * shape.N);
                c.AsSpan().Clear();
                Multiply(pa, pb, c, shape);
                f.Context.Pool.Return(pa);
                f.Context.Pool.Return(pb);
            };
        }
    }

    /// <summary>c[b,i,:] += a[b,i,p] · b[b,p,:], each row update a SIMD multiply-add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Multiply<T>(T[] a, T[] b, T[] c, DotShape s) where T : INumber<T>
    {
        var poll = new WorkPoll();
        for (int bi = 0; bi < s.Batch; bi++)
        {
            for (int i = 0; i < s.M; i++)
            {
                poll.Add((long)s.K * s.N + 1);
                var row = c.AsSpan((bi * s.M + i) * s.N, s.N);
                for (int p = 0; p < s.K; p++)
                {
                    T aip = a[(bi * s.M + i) * s.K + p];
                    if (!Traits.IsFloat<T>() && aip == T.Zero) continue;   // 0·NaN must stay NaN for floats
                    TensorPrimitives.MultiplyAdd(b.AsSpan((bi * s.K + p) * s.N, s.N), aip, row, row);
                }
            }
        }
    }

    delegate T[] PackConverted<T>(Frame f, Array source, StridedCopy pack, int count);

    /// <summary>Packs an operand of <paramref name="from"/> elements into a canonical T[] (convert after packing).</summary>
    static PackConverted<T> Converter<T>(ElementType from) where T : unmanaged, INumber<T>, IMinMaxValue<T> =>
        TypeDispatch.Numeric(from, new ConverterFactory<T>());

    readonly struct ConverterFactory<T> : INumericTypeFactory<PackConverted<T>> where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        public PackConverted<T> Create<TFrom>() where TFrom : unmanaged, INumber<TFrom>, IMinMaxValue<TFrom> => (f, source, pack, count) =>
        {
            var packed = f.Context.Pool.Rent<TFrom>(count);
            pack.Run((TFrom[])source, packed);
            if (typeof(TFrom) == typeof(T)) return (T[])(object)packed;
            var converted = f.Context.Pool.Rent<T>(count);
            for (int i = 0; i < count; i++) converted[i] = Conversions.Convert<TFrom, T>(packed[i]);
            f.Context.Pool.Return(packed);
            return converted;
        };
    }
}
