using XlaGen.Hlo;

namespace XlaGen.Tests.Conformance;

/// <summary>Reference semantics of dynamic-slice, dynamic-update-slice, gather and scatter, written from XLA's
/// operation semantics as loops over result (gather) or update (scatter) multi-indices.</summary>
public static partial class Ref
{
    static long[] ClampStarts(long[] starts, IReadOnlyList<long> dims, long[] sizes) =>
        starts.Select((s, d) => Math.Clamp(s, 0, dims[d] - sizes[d])).ToArray();

    /// <summary>dynamic-slice: the start of each dim is clamped into [0, dim - size].</summary>
    public static Tensor<T> DynamicSlice<T>(Tensor<T> x, long[] starts, long[] sizes) where T : unmanaged
    {
        var s = ClampStarts(starts, x.Shape, sizes);
        var r = new T[Count(sizes)];
        foreach (var idx in Indices(sizes)) r[Ravel(sizes, idx)] = x.Data[Ravel(x.Shape, idx.Select((v, d) => v + s[d]).ToArray())];
        return new Tensor<T>(sizes, r);
    }

    public static Tensor<T> DynamicUpdateSlice<T>(Tensor<T> x, Tensor<T> update, long[] starts) where T : unmanaged
    {
        var s = ClampStarts(starts, x.Shape, update.Shape.ToArray());
        var r = (T[])x.Data.Clone();
        foreach (var idx in Indices(update.Shape)) r[Ravel(x.Shape, idx.Select((v, d) => v + s[d]).ToArray())] = update.Data[Ravel(update.Shape, idx)];
        return new Tensor<T>(x.Shape, r);
    }

    /// <summary>The index dims with the vector dim made explicit (XLA appends a size-1 dim when index_vector_dim equals the rank).</summary>
    static long[] Expanded(IReadOnlyList<long> indexDims, long indexVectorDim) =>
        indexVectorDim == indexDims.Count ? indexDims.Append(1).ToArray() : indexDims.ToArray();

    /// <summary>Component <paramref name="k"/> of the index vector at batch position <paramref name="batch"/>
    /// (the expanded index multi-index without index_vector_dim).</summary>
    static long IndexComponent(long[] indices, long[] expanded, long indexVectorDim, long[] batch, long k)
    {
        var at = new List<long>(batch);
        at.Insert((int)indexVectorDim, k);
        return indices[Ravel(expanded, at)];
    }

    /// <summary>gather: result[Out] = operand[S_in + O_in], with S_in the clamped start from the index vector at the
    /// batch dims of Out (plus the batch position along operand batching dims) and O_in the offset dims of Out placed
    /// on the operand's window dims.</summary>
    public static Tensor<T> Gather<T>(Tensor<T> operand, long[] indices, long[] indexDims, GatherDimensionNumbers g, long[] sliceSizes) where T : unmanaged
    {
        var op = operand.Shape.ToArray();
        var expanded = Expanded(indexDims, g.IndexVectorDim);
        var batchDims = Enumerable.Range(0, expanded.Length).Where(d => d != g.IndexVectorDim).Select(d => expanded[d]).ToList();
        var windowDims = Enumerable.Range(0, op.Length).Where(d => !g.CollapsedSliceDims.Contains(d) && !g.OperandBatchingDims.Contains(d)).ToArray();
        int rank = g.OffsetDims.Length + batchDims.Count;
        var outDims = new long[rank];
        int bi = 0, wi = 0;
        for (int d = 0; d < rank; d++) outDims[d] = g.OffsetDims.Contains(d) ? sliceSizes[windowDims[wi++]] : batchDims[bi++];
        var r = new T[Count(outDims)];
        foreach (var o in Indices(outDims))
        {
            var batch = Enumerable.Range(0, rank).Where(d => !g.OffsetDims.Contains(d)).Select(d => o[d]).ToArray();
            var start = new long[op.Length];
            for (int k = 0; k < g.StartIndexMap.Length; k++)
            {
                long d = g.StartIndexMap[k];
                start[d] = Math.Clamp(IndexComponent(indices, expanded, g.IndexVectorDim, batch, k), 0, op[d] - sliceSizes[d]);
            }
            var full = new List<long>(batch);
            full.Insert((int)g.IndexVectorDim, 0);
            for (int i = 0; i < g.OperandBatchingDims.Length; i++) start[g.OperandBatchingDims[i]] = full[(int)g.StartIndicesBatchingDims[i]];
            for (int k = 0; k < g.OffsetDims.Length; k++) start[windowDims[k]] += o[g.OffsetDims[k]];
            r[Ravel(outDims, o)] = operand.Data[Ravel(op, start)];
        }
        return new Tensor<T>(outDims, r);
    }

    /// <summary>scatter of one input: index vector by index vector (row-major over the index batch dims), the update
    /// window is combined element by element (row-major) into the input at the start the vector names; a window
    /// that would not lie entirely inside the input is skipped.</summary>
    public static Tensor<T> Scatter<T>(Tensor<T> input, long[] indices, long[] indexDims, Tensor<T> updates, ScatterDimensionNumbers s, Func<T, T, T> combine) where T : unmanaged
    {
        var op = input.Shape.ToArray();
        var upd = updates.Shape.ToArray();
        var r = (T[])input.Data.Clone();
        var expanded = Expanded(indexDims, s.IndexVectorDim);
        var batchSizes = Enumerable.Range(0, expanded.Length).Where(d => d != s.IndexVectorDim).Select(d => expanded[d]).ToArray();
        var windowDims = Enumerable.Range(0, op.Length).Where(d => !s.InsertedWindowDims.Contains(d) && !s.InputBatchingDims.Contains(d)).ToArray();
        var updScatterDims = Enumerable.Range(0, upd.Length).Where(d => !s.UpdateWindowDims.Contains(d)).ToArray();
        var windowSizes = s.UpdateWindowDims.Select(d => upd[d]).ToArray();
        foreach (var batch in Indices(batchSizes))
        {
            var start = new long[op.Length];
            bool inside = true;
            for (int k = 0; k < s.ScatterDimsToOperandDims.Length; k++)
            {
                long d = s.ScatterDimsToOperandDims[k];
                start[d] = IndexComponent(indices, expanded, s.IndexVectorDim, batch, k);
                int w = Array.IndexOf(windowDims, (int)d);
                long size = w < 0 ? 1 : windowSizes[w];
                if (start[d] < 0 || start[d] + size > op[d]) inside = false;
            }
            if (!inside) continue;
            var full = new List<long>(batch);
            full.Insert((int)s.IndexVectorDim, 0);
            for (int i = 0; i < s.InputBatchingDims.Length; i++) start[s.InputBatchingDims[i]] = full[(int)s.ScatterIndicesBatchingDims[i]];
            foreach (var w in Indices(windowSizes))
            {
                var at = (long[])start.Clone();
                for (int k = 0; k < windowDims.Length; k++) at[windowDims[k]] += w[k];
                var u = new long[upd.Length];
                for (int k = 0; k < updScatterDims.Length; k++) u[updScatterDims[k]] = batch[k];
                for (int k = 0; k < s.UpdateWindowDims.Length; k++) u[s.UpdateWindowDims[k]] = w[k];
                long i = Ravel(op, at);
                r[i] = combine(r[i], updates.Data[Ravel(upd, u)]);
            }
        }
        return new Tensor<T>(op, r);
    }
}
