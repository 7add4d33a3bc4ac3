using System.Collections.Generic;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// select-and-scatter(operand, source, init), window={…}, select=(T,T)->pred, scatter=(T,T)->T
    /// (ShapeInference::InferSelectAndScatterShape): for each window position over the operand, select picks one
    /// element and the matching source element is scattered onto it (the gradient of max pooling). The source has
    /// the shape of the window positions; the result has the operand's shape.
    /// </summary>
    internal sealed class SelectAndScatterOp : OpDef
    {
        public SelectAndScatterOp() : base("select-and-scatter", OpCategory.Structural, 3, 3, "window") { }

        /// <summary>XLA's order: select, then scatter.</summary>
        public override IReadOnlyList<string> CalledComputationKeys => new[] { "select", "scatter" };

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            var operand = q.Operand(0);
            var source = q.Operand(1);
            var init = q.Operand(2);
            var t = operand.ElementType;
            if (!init.IsScalar || init.ElementType != t) throw q.Error($"the init value must be a scalar {t.TextName()}, got {init}");
            if (source.ElementType != t) throw q.Error($"source {source} must have the element type of the operand {operand}");
            var window = q.Attributes.Window ?? throw q.Error("missing window={size=…}");
            if (window.Length != operand.Rank) throw q.Error($"the window has {window.Length} dimensions for the {operand.Rank} dimensions of {operand}");
            WindowShapes.Validate(q, window);
            var positions = new Dim[operand.Rank];
            for (int d = 0; d < positions.Length; d++) positions[d] = WindowShapes.OutputSize(q, operand.Dims[d], window[d], d);
            var expected = Shape.Array(t, positions);
            if (!source.Equals(expected)) throw q.Error($"source {source} must have the shape of the window positions {expected}");

            var select = q.Called[0];
            var scalar = Shape.Scalar(t);
            if (select.Parameters.Count != 2 || !select.Parameters[0].Shape.Equals(scalar) || !select.Parameters[1].Shape.Equals(scalar))
                throw q.Error($"select %{select.Name} must take two {scalar} parameters");
            if (!select.Root.Shape.Equals(Shape.Scalar(ElementType.Pred))) throw q.Error($"select %{select.Name} must return pred[], returns {select.Root.Shape}");
            var scatter = q.Called[1];
            if (scatter.Parameters.Count != 2 || !scatter.Parameters[0].Shape.Equals(scalar) || !scatter.Parameters[1].Shape.Equals(scalar))
                throw q.Error($"scatter %{scatter.Name} must take two {scalar} parameters");
            if (!scatter.Root.Shape.Equals(scalar)) throw q.Error($"scatter %{scatter.Name} must return {scalar}, returns {scatter.Root.Shape}");
            return operand.WithLayout(null);
        }
    }
}
