using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// gather(operand, start_indices): XLA's Gather (ShapeInference::InferGatherShape). start_indices holds one index
    /// vector per batch position along index_vector_dim (an implicit trailing 1 when index_vector_dim equals its
    /// rank); start_index_map says which operand dims each vector component indexes. Each index picks a slice of
    /// slice_sizes; collapsed_slice_dims and operand_batching_dims (size 1 or 0) are dropped from the slice. The
    /// result puts the slice dims at offset_dims and the batch dims of start_indices, in order, everywhere else.
    /// </summary>
    internal sealed class GatherOp : OpDef
    {
        public GatherOp() : base("gather", OpCategory.Structural, 2, 2,
            "offset_dims", "collapsed_slice_dims", "start_index_map", "operand_batching_dims",
            "start_indices_batching_dims", "index_vector_dim", "slice_sizes", "indices_are_sorted") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            var operand = q.Operand(0);
            var indices = q.Operand(1);
            var g = q.Attributes.Gather ?? throw q.Error("missing gather dimension numbers (offset_dims, collapsed_slice_dims, start_index_map, index_vector_dim)");
            var sizes = q.Attributes.GatherSliceSizes ?? throw q.Error("missing slice_sizes");
            if (!indices.ElementType.IsInteger()) throw q.Error($"start indices must be integers, got {indices}");
            if (g.IndexVectorDim < 0 || g.IndexVectorDim > indices.Rank)
                throw q.Error($"index_vector_dim {g.IndexVectorDim} is out of range for start indices {indices} (0..{indices.Rank})");

            var expanded = indices.Dims.ToList();
            if (g.IndexVectorDim == indices.Rank) expanded.Add(1);
            int batchRank = expanded.Count - 1;
            int resultRank = g.OffsetDims.Length + batchRank;

            CheckSortedUnique(q, "offset_dims", g.OffsetDims, resultRank);
            CheckSortedUnique(q, "collapsed_slice_dims", g.CollapsedSliceDims, operand.Rank);
            CheckSortedUnique(q, "operand_batching_dims", g.OperandBatchingDims, operand.Rank);
            CheckAxes(q, g.StartIndexMap, operand.Rank, "start_index_map entry");
            CheckAxes(q, g.StartIndicesBatchingDims, expanded.Count, "start_indices_batching_dims entry");
            foreach (var d in g.CollapsedSliceDims)
            {
                if (g.OperandBatchingDims.Contains(d)) throw q.Error($"operand dimension {d} is both collapsed and a batching dimension");
            }
            if (g.StartIndicesBatchingDims.Contains(g.IndexVectorDim))
                throw q.Error($"start_indices_batching_dims may not contain index_vector_dim {g.IndexVectorDim}");
            if (g.OperandBatchingDims.Length != g.StartIndicesBatchingDims.Length)
                throw q.Error($"operand_batching_dims has {g.OperandBatchingDims.Length} entries but start_indices_batching_dims has {g.StartIndicesBatchingDims.Length}");
            for (int i = 0; i < g.OperandBatchingDims.Length; i++)
            {
                var a = operand.Dims[(int)g.OperandBatchingDims[i]];
                var b = expanded[(int)g.StartIndicesBatchingDims[i]];
                if (a != b) throw q.Error($"batching dimension {i}: operand dimension {g.OperandBatchingDims[i]} is {a} but start indices dimension {g.StartIndicesBatchingDims[i]} is {b}");
            }
            var vector = expanded[(int)g.IndexVectorDim];
            if (!vector.IsConstant || vector.Value != g.StartIndexMap.Length)
                throw q.Error($"start_index_map has {g.StartIndexMap.Length} entries but the index vectors (dimension {g.IndexVectorDim} of {indices}) have {vector}");
            if (sizes.Length != operand.Rank) throw q.Error($"slice_sizes has {sizes.Length} entries for the {operand.Rank} dimensions of {operand}");
            for (int i = 0; i < sizes.Length; i++)
            {
                var od = operand.Dims[i];
                if (sizes[i] < 0) throw q.Error($"slice size {sizes[i]} of dimension {i} is negative");
                if (od.IsConstant ? sizes[i] > od.Value : sizes[i] > 1)
                    throw q.Error($"slice size {sizes[i]} of dimension {i} is larger than {od} in {operand}");
            }
            foreach (var d in g.CollapsedSliceDims.Concat(g.OperandBatchingDims))
            {
                if (sizes[d] > 1) throw q.Error($"dimension {d} is collapsed or batching, so its slice size must be 0 or 1, not {sizes[d]}");
            }
            if (g.OffsetDims.Length + g.CollapsedSliceDims.Length + g.OperandBatchingDims.Length != operand.Rank)
                throw q.Error($"offset_dims ({g.OffsetDims.Length}) + collapsed_slice_dims ({g.CollapsedSliceDims.Length}) + operand_batching_dims ({g.OperandBatchingDims.Length}) must cover the {operand.Rank} dimensions of {operand}");

            var dims = new Dim[resultRank];
            int offsetSeen = 0, batchSeen = 0;
            for (int i = 0; i < resultRank; i++)
            {
                if (g.OffsetDims.Contains(i))
                {
                    while (g.CollapsedSliceDims.Contains(offsetSeen) || g.OperandBatchingDims.Contains(offsetSeen)) offsetSeen++;
                    dims[i] = sizes[offsetSeen++];
                }
                else
                {
                    if (batchSeen == g.IndexVectorDim) batchSeen++;
                    dims[i] = expanded[batchSeen++];
                }
            }
            return Shape.Array(operand.ElementType, dims);
        }

        internal static void CheckSortedUnique(ShapeQuery q, string what, long[] dims, int bound)
        {
            for (int i = 0; i < dims.Length; i++)
            {
                if (dims[i] < 0 || dims[i] >= bound) throw q.Error($"{what} entry {dims[i]} is out of range 0..{bound - 1}");
                if (i > 0 && dims[i] <= dims[i - 1]) throw q.Error($"{what} {{{string.Join(",", dims)}}} must be sorted and without repeats");
            }
        }
    }
}
