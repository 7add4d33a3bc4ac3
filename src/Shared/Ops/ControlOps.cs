using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    internal sealed class TupleOp : OpDef
    {
        public TupleOp() : base("tuple", OpCategory.Control, 0, -1) { }

        protected override Shape Infer(ShapeQuery q) => Shape.Tuple(q.Operands.Select(s => s.WithLayout(s.IsTuple ? null : s.Layout)).ToArray());
    }

    internal sealed class GetTupleElementOp : OpDef
    {
        public GetTupleElementOp() : base("get-tuple-element", OpCategory.Control, 1, 1, "index") { }

        protected override Shape Infer(ShapeQuery q)
        {
            var t = q.Operand(0);
            if (!t.IsTuple) throw q.Error($"the operand must be a tuple, got {t}");
            var i = q.Attributes.TupleIndex;
            if (i < 0 || i >= t.TupleShapes.Count) throw q.Error($"index {i} is out of range for {t} ({t.TupleShapes.Count} elements)");
            return t.TupleShapes[(int)i];
        }
    }

    /// <summary>Ops whose called computation takes the operands as its parameters and whose result is the callee's (call, fusion).</summary>
    internal sealed class CallOp : OpDef
    {
        readonly string key;

        public CallOp(string opcode, string key, params string[] attributes) : base(opcode, OpCategory.Control, 0, -1, attributes)
        {
            this.key = key;
        }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { key };

        protected override Shape Infer(ShapeQuery q)
        {
            var callee = q.Called[0];
            var ps = callee.Parameters;
            if (ps.Count != q.Operands.Count) throw q.Error($"%{callee.Name} takes {ps.Count} parameters, {q.Operands.Count} operands given");
            for (int i = 0; i < ps.Count; i++)
            {
                if (!ps[i].Shape.Equals(q.Operand(i))) throw q.Error($"operand {i} is {q.Operand(i)} but %{callee.Name} parameter {i} is {ps[i].Shape}");
            }
            return callee.Root.Shape;
        }
    }

    /// <summary>map(operands…), to_apply=f: f applied elementwise over equal-dims operands.</summary>
    internal sealed class MapOp : OpDef
    {
        public MapOp() : base("map", OpCategory.Control, 1, -1, "dimensions") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            var f = q.Called[0];
            var ps = f.Parameters;
            if (ps.Count != q.Operands.Count) throw q.Error($"%{f.Name} takes {ps.Count} parameters, {q.Operands.Count} operands given");
            for (int i = 0; i < ps.Count; i++)
            {
                if (!q.Operand(i).Dims.SequenceEqual(q.Operand(0).Dims)) throw q.Error($"operand {i} {q.Operand(i)} differs in dimensions from operand 0 {q.Operand(0)}");
                if (!ps[i].Shape.IsScalar || ps[i].Shape.ElementType != q.Operand(i).ElementType)
                    throw q.Error($"%{f.Name} parameter {i} is {ps[i].Shape}, needs a scalar {q.Operand(i).ElementType.TextName()}");
            }
            var r = f.Root.Shape;
            if (!r.IsScalar) throw q.Error($"%{f.Name} must return a scalar, returns {r}");
            return Shape.Array(r.ElementType, q.Operand(0).Dims.ToArray());
        }
    }

    /// <summary>while(init), condition=c, body=b: the state shape; the condition returns pred[].</summary>
    internal sealed class WhileOp : OpDef
    {
        public WhileOp() : base("while", OpCategory.Control, 1, 1) { }

        /// <summary>XLA's proto order: body first (kBodyComputationIndex = 0), then condition.</summary>
        public override IReadOnlyList<string> CalledComputationKeys => new[] { "body", "condition" };

        protected override Shape Infer(ShapeQuery q)
        {
            var state = q.Operand(0);
            var body = q.Called[0];
            var cond = q.Called[1];
            if (body.Parameters.Count != 1 || !body.Parameters[0].Shape.Equals(state))
                throw q.Error($"body %{body.Name} must take one parameter of the state shape {state}");
            if (!body.Root.Shape.Equals(state)) throw q.Error($"body %{body.Name} returns {body.Root.Shape}, the state is {state}");
            if (cond.Parameters.Count != 1 || !cond.Parameters[0].Shape.Equals(state))
                throw q.Error($"condition %{cond.Name} must take one parameter of the state shape {state}");
            if (!cond.Root.Shape.Equals(Shape.Scalar(ElementType.Pred))) throw q.Error($"condition %{cond.Name} must return pred[], returns {cond.Root.Shape}");
            return state;
        }
    }

    /// <summary>sort(operands…), dimensions={d}, to_apply=comparator: sorts all operands by the comparator along d.</summary>
    internal sealed class SortOp : OpDef
    {
        public SortOp() : base("sort", OpCategory.Control, 1, -1, "dimensions", "is_stable") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            var first = q.Operand(0);
            var dims = q.RequireDimensions("dimensions");
            if (dims.Length != 1) throw q.Error($"needs exactly one sort dimension, got {dims.Length}");
            CheckAxes(q, dims, first.Rank, "sort dimension");
            for (int i = 1; i < q.Operands.Count; i++)
            {
                if (!q.Operand(i).Dims.SequenceEqual(first.Dims)) throw q.Error($"operand {i} {q.Operand(i)} differs in dimensions from operand 0 {first}");
            }
            var cmp = q.Called[0];
            if (cmp.Parameters.Count != 2 * q.Operands.Count) throw q.Error($"comparator %{cmp.Name} takes {cmp.Parameters.Count} parameters, needs {2 * q.Operands.Count}");
            if (!cmp.Root.Shape.Equals(Shape.Scalar(ElementType.Pred))) throw q.Error($"comparator %{cmp.Name} must return pred[]");
            return q.Operands.Count == 1 ? first.WithLayout(null) : Shape.Tuple(q.Operands.Select(s => s.WithLayout(null)).ToArray());
        }
    }
}
