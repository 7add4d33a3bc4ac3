using System.Collections.Generic;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>Start indices of dynamic-slice and dynamic-update-slice: one integer scalar per operand dimension (or,
    /// in XLA's older form, a single rank-1 integer array of that length). All must share one element type.</summary>
    static class DynamicStartIndices
    {
        public static void Check(ShapeQuery q, int first, Shape operand)
        {
            int count = q.Operands.Count - first;
            if (count == 1 && q.Operand(first).Rank == 1 && operand.Rank != 1)
            {
                var v = q.Operand(first);
                if (!v.ElementType.IsInteger()) throw q.Error($"start indices must be integers, got {v}");
                if (!v.Dims[0].IsConstant || v.Dims[0].Value != operand.Rank)
                    throw q.Error($"the start index vector {v} must have one entry per dimension of {operand}");
                return;
            }
            if (count != operand.Rank) throw q.Error($"needs {operand.Rank} start indices (one per dimension of {operand}), got {count}");
            for (int i = first; i < q.Operands.Count; i++)
            {
                var s = q.Operand(i);
                if (!s.IsScalar || !s.ElementType.IsInteger()) throw q.Error($"start index {i - first} must be an integer scalar, got {s}");
                if (s.ElementType != q.Operand(first).ElementType)
                    throw q.Error($"start indices must share one element type: {q.Operand(first)} and {s}");
            }
        }
    }

    /// <summary>
    /// dynamic-slice(operand, start indices…), dynamic_slice_sizes={…}: a slice of the given sizes whose start is
    /// computed at run time (clamped into range by XLA). Result: the slice sizes, with the operand's element type.
    /// </summary>
    internal sealed class DynamicSliceOp : OpDef
    {
        public DynamicSliceOp() : base("dynamic-slice", OpCategory.Structural, 2, -1, "dynamic_slice_sizes") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var operand = q.Operand(0);
            DynamicStartIndices.Check(q, 1, operand);
            var sizes = q.Attributes.DynamicSliceSizes ?? throw q.Error("missing dynamic_slice_sizes={…}");
            if (sizes.Length != operand.Rank) throw q.Error($"dynamic_slice_sizes has {sizes.Length} entries for the {operand.Rank} dimensions of {operand}");
            var dims = new Dim[sizes.Length];
            for (int i = 0; i < sizes.Length; i++)
            {
                var od = operand.Dims[i];
                if (sizes[i] < 0) throw q.Error($"slice size {sizes[i]} of dimension {i} is negative");
                if (!od.IsConstant) throw q.Error($"dimension {i} of {operand} is symbolic ({od}); a dynamic slice needs constant dimensions");
                if (sizes[i] > od.Value) throw q.Error($"slice size {sizes[i]} of dimension {i} is larger than {od} in {operand}");
                dims[i] = sizes[i];
            }
            return Shape.Array(operand.ElementType, dims);
        }
    }

    /// <summary>
    /// dynamic-update-slice(operand, update, start indices…): the operand with update written at a start computed
    /// at run time. The update has the operand's rank and element type and fits inside it; the result is the operand shape.
    /// </summary>
    internal sealed class DynamicUpdateSliceOp : OpDef
    {
        public DynamicUpdateSliceOp() : base("dynamic-update-slice", OpCategory.Structural, 3, -1) { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            var operand = q.Operand(0);
            var update = q.Operand(1);
            RequireSameElementType(q, 0, 1);
            if (update.Rank != operand.Rank) throw q.Error($"update {update} must have the rank of the operand {operand}");
            for (int i = 0; i < operand.Rank; i++)
            {
                var u = update.Dims[i];
                var o = operand.Dims[i];
                if (!(u == o || (u.IsConstant && o.IsConstant && u.Value <= o.Value)))
                    throw q.Error($"update dimension {i} ({u}) does not fit in operand dimension {i} ({o})");
            }
            DynamicStartIndices.Check(q, 2, operand);
            return operand.WithLayout(null);
        }
    }
}
