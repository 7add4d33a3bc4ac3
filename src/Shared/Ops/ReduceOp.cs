using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// reduce(inputs..., inits...), dimensions={…}, to_apply=reducer: N inputs of equal dims, N scalar inits,
    /// a reducer taking 2N scalars (accumulators, then elements) and returning N scalars (a tuple when N &gt; 1).
    /// </summary>
    internal sealed class ReduceOp : OpDef
    {
        public ReduceOp() : base("reduce", OpCategory.Structural, 2, -1, "dimensions") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            int n = q.Operands.Count;
            if (n % 2 != 0) throw q.Error($"needs inputs and as many init values, got an odd number of operands ({n})");
            int k = n / 2;
            var first = q.Operand(0);
            var axes = q.RequireDimensions("dimensions");
            CheckAxes(q, axes, first.Rank, "reduced dimension");
            for (int i = 0; i < k; i++)
            {
                q.RequireArray(i);
                if (!q.Operand(i).Dims.SequenceEqual(first.Dims)) throw q.Error($"input {i} {q.Operand(i)} and input 0 {first} differ in dimensions");
                var init = q.Operand(k + i);
                if (!init.IsScalar) throw q.Error($"init value {i} must be a scalar, got {init}");
            }
            var reducer = q.Called[0];
            var ps = reducer.Parameters;
            if (ps.Count != 2 * k) throw q.Error($"reducer %{reducer.Name} takes {ps.Count} parameters, needs {2 * k}");
            var resultTypes = new List<ElementType>();
            var root = reducer.Root.Shape;
            var roots = k == 1 ? new[] { root } : root.IsTuple ? root.TupleShapes.ToArray() : new[] { root };
            if (roots.Length != k) throw q.Error($"reducer %{reducer.Name} returns {root}, needs {k} scalars");
            for (int i = 0; i < k; i++)
            {
                if (!roots[i].IsScalar) throw q.Error($"reducer %{reducer.Name} must return scalars, returns {root}");
                if (roots[i].ElementType != q.Operand(k + i).ElementType)
                    throw q.Error($"reducer %{reducer.Name} returns {roots[i]} but init value {i} is {q.Operand(k + i)}");
                resultTypes.Add(roots[i].ElementType);
            }
            var keep = Enumerable.Range(0, first.Rank).Where(d => !axes.Contains(d)).Select(d => first.Dims[d]).ToArray();
            if (k == 1) return Shape.Array(resultTypes[0], keep);
            return Shape.Tuple(resultTypes.Select(t => Shape.Array(t, keep)).ToArray());
        }
    }
}
