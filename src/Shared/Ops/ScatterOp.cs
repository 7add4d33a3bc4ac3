using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// scatter(inputs…, scatter_indices, updates…), to_apply=combiner: XLA's Scatter (ShapeInference::InferScatterShape).
    /// N inputs of equal dims, one index array, N updates. Each update has update_window_dims (a window into the
    /// input, whose other input dims are inserted_window_dims or input_batching_dims) and scatter dims that must
    /// match the index array's batch dims (all but index_vector_dim). The combiner takes 2N scalars and returns N.
    /// The result is the input shape (a tuple of them when N &gt; 1).
    /// </summary>
    internal sealed class ScatterOp : OpDef
    {
        public ScatterOp() : base("scatter", OpCategory.Structural, 3, -1,
            "update_window_dims", "inserted_window_dims", "scatter_dims_to_operand_dims", "input_batching_dims",
            "scatter_indices_batching_dims", "index_vector_dim", "indices_are_sorted", "unique_indices") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            int n = q.Operands.Count;
            if (n % 2 != 1) throw q.Error($"takes N inputs, the indices and N updates (an odd count), got {n} operands");
            int k = n / 2;
            var s = q.Attributes.Scatter ?? throw q.Error("missing scatter dimension numbers (update_window_dims, inserted_window_dims, scatter_dims_to_operand_dims, index_vector_dim)");
            var operand = q.Operand(0);
            var indices = q.Operand(k);
            for (int i = 0; i < n; i++) q.RequireArray(i);
            if (!indices.ElementType.IsInteger()) throw q.Error($"scatter indices must be integers, got {indices}");
            for (int i = 1; i < k; i++)
            {
                if (!q.Operand(i).Dims.SequenceEqual(operand.Dims)) throw q.Error($"input {i} {q.Operand(i)} and input 0 {operand} differ in dimensions");
            }
            if (s.IndexVectorDim < 0 || s.IndexVectorDim > indices.Rank)
                throw q.Error($"index_vector_dim {s.IndexVectorDim} is out of range for scatter indices {indices} (0..{indices.Rank})");
            var expanded = indices.Dims.ToList();
            if (s.IndexVectorDim == indices.Rank) expanded.Add(1);
            var scatterDims = expanded.Where((_, i) => i != s.IndexVectorDim).ToList();

            GatherOp.CheckSortedUnique(q, "inserted_window_dims", s.InsertedWindowDims, operand.Rank);
            GatherOp.CheckSortedUnique(q, "input_batching_dims", s.InputBatchingDims, operand.Rank);
            CheckAxes(q, s.ScatterDimsToOperandDims, operand.Rank, "scatter_dims_to_operand_dims entry");
            CheckAxes(q, s.ScatterIndicesBatchingDims, expanded.Count, "scatter_indices_batching_dims entry");
            foreach (var d in s.InsertedWindowDims)
            {
                if (s.InputBatchingDims.Contains(d)) throw q.Error($"input dimension {d} is both an inserted window dimension and a batching dimension");
            }
            if (s.ScatterIndicesBatchingDims.Contains(s.IndexVectorDim))
                throw q.Error($"scatter_indices_batching_dims may not contain index_vector_dim {s.IndexVectorDim}");
            if (s.InputBatchingDims.Length != s.ScatterIndicesBatchingDims.Length)
                throw q.Error($"input_batching_dims has {s.InputBatchingDims.Length} entries but scatter_indices_batching_dims has {s.ScatterIndicesBatchingDims.Length}");
            for (int i = 0; i < s.InputBatchingDims.Length; i++)
            {
                var a = operand.Dims[(int)s.InputBatchingDims[i]];
                var b = expanded[(int)s.ScatterIndicesBatchingDims[i]];
                if (a != b) throw q.Error($"batching dimension {i}: input dimension {s.InputBatchingDims[i]} is {a} but index dimension {s.ScatterIndicesBatchingDims[i]} is {b}");
            }
            var vector = expanded[(int)s.IndexVectorDim];
            if (!vector.IsConstant || vector.Value != s.ScatterDimsToOperandDims.Length)
                throw q.Error($"scatter_dims_to_operand_dims has {s.ScatterDimsToOperandDims.Length} entries but the index vectors (dimension {s.IndexVectorDim} of {indices}) have {vector}");
            if (s.UpdateWindowDims.Length + s.InsertedWindowDims.Length + s.InputBatchingDims.Length != operand.Rank)
                throw q.Error($"update_window_dims ({s.UpdateWindowDims.Length}) + inserted_window_dims ({s.InsertedWindowDims.Length}) + input_batching_dims ({s.InputBatchingDims.Length}) must cover the {operand.Rank} dimensions of {operand}");
            var windowOperandDims = Enumerable.Range(0, operand.Rank).Where(d => !s.InsertedWindowDims.Contains(d) && !s.InputBatchingDims.Contains(d)).ToList();

            for (int u = 0; u < k; u++)
            {
                var updates = q.Operand(k + 1 + u);
                if (updates.ElementType != q.Operand(u).ElementType) throw q.Error($"updates {u} {updates} must have the element type of input {u} {q.Operand(u)}");
                int want = s.UpdateWindowDims.Length + scatterDims.Count;
                if (updates.Rank != want)
                    throw q.Error($"updates {updates} must have rank {want} ({s.UpdateWindowDims.Length} window dims + {scatterDims.Count} scatter dims)");
                GatherOp.CheckSortedUnique(q, "update_window_dims", s.UpdateWindowDims, updates.Rank);
                for (int i = 0; i < s.UpdateWindowDims.Length; i++)
                {
                    var ud = updates.Dims[(int)s.UpdateWindowDims[i]];
                    var od = operand.Dims[windowOperandDims[i]];
                    bool fits = ud == od || (ud.IsConstant && od.IsConstant && ud.Value <= od.Value);
                    if (!fits) throw q.Error($"update window dimension {s.UpdateWindowDims[i]} of {updates} is {ud}, larger than input dimension {windowOperandDims[i]} ({od})");
                }
                var updateScatterDims = Enumerable.Range(0, updates.Rank).Where(d => !s.UpdateWindowDims.Contains(d)).Select(d => updates.Dims[d]).ToList();
                if (!updateScatterDims.SequenceEqual(scatterDims))
                    throw q.Error($"the scatter dims of updates {updates} are [{string.Join(",", updateScatterDims)}] but the indices {indices} give [{string.Join(",", scatterDims)}]");
            }

            var f = q.Called[0];
            var ps = f.Parameters;
            if (ps.Count != 2 * k) throw q.Error($"combiner %{f.Name} takes {ps.Count} parameters, needs {2 * k}");
            for (int i = 0; i < ps.Count; i++)
            {
                var t = q.Operand(i % k).ElementType;
                if (!ps[i].Shape.IsScalar || ps[i].Shape.ElementType != t)
                    throw q.Error($"combiner %{f.Name} parameter {i} is {ps[i].Shape}, needs a scalar {t.TextName()}");
            }
            var root = f.Root.Shape;
            var roots = k == 1 ? new[] { root } : root.IsTuple ? root.TupleShapes.ToArray() : new[] { root };
            if (roots.Length != k || roots.Where((r, i) => !r.IsScalar || r.ElementType != q.Operand(i).ElementType).Any())
                throw q.Error($"combiner %{f.Name} returns {root}, needs {k} scalar(s) of the input types");

            if (k == 1) return operand.WithLayout(null);
            return Shape.Tuple(Enumerable.Range(0, k).Select(i => q.Operand(i).WithLayout(null)).ToArray());
        }
    }
}
