using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// How gather and scatter read their index array: one index vector per batch position (all index dims but
/// index_vector_dim, in order; an implicit trailing vector dim of size 1 when index_vector_dim equals the rank), its
/// components naming operand dims (start_index_map / scatter_dims_to_operand_dims), and batching dims that pair an
/// operand dim with an index batch dim (the operand index is the batch position itself).
/// </summary>
internal sealed class IndexPlan
{
    public IndexPlan(long[] indexDims, long indexVectorDim, long[] componentDims, long[] operandBatchingDims, long[] indexBatchingDims, long[] operandStrides)
    {
        var strides = StridedCopy.RowMajorStrides(indexDims);
        int expandedRank = indexDims.Length + (indexVectorDim == indexDims.Length ? 1 : 0);
        var batch = Enumerable.Range(0, expandedRank).Where(d => d != indexVectorDim).ToArray();
        BatchSizes = batch.Select(d => indexDims[d]).ToArray();
        BatchIndexStrides = batch.Select(d => strides[d]).ToArray();
        VectorStride = indexVectorDim < indexDims.Length ? strides[indexVectorDim] : 0;
        ComponentOperandDims = componentDims;
        ComponentOperandStrides = componentDims.Select(d => operandStrides[d]).ToArray();
        BatchingPositions = indexBatchingDims.Select(d => Array.IndexOf(batch, (int)d)).ToArray();
        BatchingOperandStrides = operandBatchingDims.Select(d => operandStrides[d]).ToArray();
        Count = BatchSizes.Aggregate(1L, (a, b) => a * b);
    }

    public long[] BatchSizes { get; }

    public long[] BatchIndexStrides { get; }

    public long VectorStride { get; }

    public long[] ComponentOperandDims { get; }

    public long[] ComponentOperandStrides { get; }

    public int[] BatchingPositions { get; }

    public long[] BatchingOperandStrides { get; }

    /// <summary>Number of batch positions (index vectors).</summary>
    public long Count { get; }

    public long IndexBase(ReadOnlySpan<long> position)
    {
        long b = 0;
        for (int j = 0; j < position.Length; j++) b += position[j] * BatchIndexStrides[j];
        return b;
    }

    /// <summary>The operand offset contributed by the batching dims at <paramref name="position"/>.</summary>
    public long BatchingOffset(ReadOnlySpan<long> position)
    {
        long off = 0;
        for (int i = 0; i < BatchingPositions.Length; i++) off += position[BatchingPositions[i]] * BatchingOperandStrides[i];
        return off;
    }

    public static long Dot(ReadOnlySpan<long> position, long[] strides)
    {
        long b = 0;
        for (int j = 0; j < position.Length; j++) b += position[j] * strides[j];
        return b;
    }
}

/// <summary>
/// gather with XLA's full semantics (batching dims, any index_vector_dim, start indices clamped so each slice lies in
/// the operand). Each index vector becomes one operand offset and one strided window copy into the result, planned
/// at compile time and shifted at run time; many small windows (embedding lookups) split across cores.
/// </summary>
internal static class Gather
{
    public static Kernel HandleGather(KernelContext ctx)
    {
        var attrs = ctx.Instruction.Attributes;
        var g = attrs.Gather!;
        var sizes = attrs.GatherSliceSizes!;
        var operand = ctx.OperandShape(0).ConcreteDims();
        var indices = ctx.OperandShape(1).ConcreteDims();
        var result = ctx.Shape.ConcreteDims();
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var outStrides = StridedCopy.RowMajorStrides(result);
        var plan = new IndexPlan(indices, g.IndexVectorDim, g.StartIndexMap, g.OperandBatchingDims, g.StartIndicesBatchingDims, opStrides);
        var outBatchDims = Enumerable.Range(0, result.Length).Where(d => !g.OffsetDims.Contains(d)).ToArray();
        var outBatchStrides = outBatchDims.Select(d => outStrides[d]).ToArray();
        var windowDims = Enumerable.Range(0, operand.Length).Where(d => !g.CollapsedSliceDims.Contains(d) && !g.OperandBatchingDims.Contains(d)).ToArray();
        var copy = new StridedCopy(windowDims.Select(d => sizes[d]).ToArray(), windowDims.Select(d => opStrides[d]).ToArray(),
            g.OffsetDims.Select(d => outStrides[d]).ToArray());
        var max = g.StartIndexMap.Select(d => operand[d] - sizes[d]).ToArray();
        var read = IndexReaders.For(ctx.OperandShape(1).ElementType);
        long window = sizes.Where((_, d) => windowDims.Contains(d)).Aggregate(1L, (a, b) => a * b);
        var spec = new Spec(plan, outBatchStrides, copy, max, read, window, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount);
        return TypeDispatch.Any(ctx.ElementType, new Factory(spec));
    }

    sealed record Spec(IndexPlan Plan, long[] OutBatchStrides, StridedCopy Copy, long[] Max, IndexReader Read, long Window,
        int Operand, int Indices, int Dst, int Count);

    readonly struct Factory(Spec s) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            var spec = s;
            var p = spec.Plan;
            return f =>
            {
                var x = (T[])f.Data[spec.Operand]!;
                var idxArray = f.Data[spec.Indices]!;
                var o = f.Alloc<T>(spec.Dst, spec.Count);
                if (spec.Count == 0) return;
                void Range(long lo, long hi)
                {
                    Span<long> pos = stackalloc long[Math.Max(1, p.BatchSizes.Length)];
                    ReduceWindow.Unravel(lo, p.BatchSizes, pos);
                    var poll = new WorkPoll();
                    for (long b = lo; b < hi; b++)
                    {
                        poll.Add(spec.Window + 1);
                        long ib = p.IndexBase(pos);
                        long off = p.BatchingOffset(pos);
                        for (int k = 0; k < spec.Max.Length; k++)
                        {
                            long v = spec.Read(idxArray, (int)(ib + k * p.VectorStride));
                            off += Math.Clamp(v, 0, spec.Max[k]) * p.ComponentOperandStrides[k];
                        }
                        spec.Copy.Run(x, o, off, IndexPlan.Dot(pos, spec.OutBatchStrides));
                        ReduceWindow.Next(pos, p.BatchSizes);
                    }
                }
                // small windows split over index vectors; a large window splits inside its own copy
                if (spec.Window < Par.CheapGrain && p.Count >= 2 && Par.Worth(p.Count * spec.Window, Par.CheapGrain))
                    Par.For(p.Count, Math.Max(1, Par.CheapGrain / Math.Max(1, spec.Window)), Range);
                else Range(0, p.Count);
            };
        }
    }
}
