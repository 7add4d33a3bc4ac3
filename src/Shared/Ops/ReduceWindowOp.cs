using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// reduce-window(inputs…, inits…), window={…}, to_apply=reducer (ShapeInference::InferReduceWindowShape): like
    /// reduce, N inputs of equal dims and N scalar inits, but each output element reduces one window position; the
    /// window has one entry per input dimension. Result dims are the window positions (a tuple when N &gt; 1).
    /// </summary>
    internal sealed class ReduceWindowOp : OpDef
    {
        public ReduceWindowOp() : base("reduce-window", OpCategory.Structural, 2, -1, "window") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            int n = q.Operands.Count;
            if (n % 2 != 0) throw q.Error($"needs inputs and as many init values, got an odd number of operands ({n})");
            int k = n / 2;
            var first = q.Operand(0);
            var window = q.Attributes.Window ?? throw q.Error("missing window={size=…}");
            for (int i = 0; i < k; i++)
            {
                q.RequireArray(i);
                if (!q.Operand(i).Dims.SequenceEqual(first.Dims)) throw q.Error($"input {i} {q.Operand(i)} and input 0 {first} differ in dimensions");
                var init = q.Operand(k + i);
                if (!init.IsScalar || init.ElementType != q.Operand(i).ElementType)
                    throw q.Error($"init value {i} must be a scalar {q.Operand(i).ElementType.TextName()}, got {init}");
            }
            if (window.Length != first.Rank) throw q.Error($"the window has {window.Length} dimensions for the {first.Rank} dimensions of {first}");
            WindowShapes.Validate(q, window);
            var dims = new Dim[first.Rank];
            for (int d = 0; d < dims.Length; d++) dims[d] = WindowShapes.OutputSize(q, first.Dims[d], window[d], d);

            var reducer = q.Called[0];
            var ps = reducer.Parameters;
            if (ps.Count != 2 * k) throw q.Error($"reducer %{reducer.Name} takes {ps.Count} parameters, needs {2 * k}");
            for (int i = 0; i < ps.Count; i++)
            {
                var t = q.Operand(i % k).ElementType;
                if (!ps[i].Shape.IsScalar || ps[i].Shape.ElementType != t)
                    throw q.Error($"reducer %{reducer.Name} parameter {i} is {ps[i].Shape}, needs a scalar {t.TextName()}");
            }
            var root = reducer.Root.Shape;
            var roots = k == 1 ? new[] { root } : root.IsTuple ? root.TupleShapes.ToArray() : new[] { root };
            if (roots.Length != k || roots.Where((r, i) => !r.IsScalar || r.ElementType != q.Operand(k + i).ElementType).Any())
                throw q.Error($"reducer %{reducer.Name} returns {root}, needs {k} scalar(s) of the init value types");
            if (k == 1) return Shape.Array(roots[0].ElementType, dims);
            return Shape.Tuple(roots.Select(r => Shape.Array(r.ElementType, dims)).ToArray());
        }
    }
}
