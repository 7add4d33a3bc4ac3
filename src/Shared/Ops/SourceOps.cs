using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>parameter(N): the declared shape.</summary>
    internal sealed class ParameterOp : OpDef
    {
        public ParameterOp() : base("parameter", OpCategory.Source, 0, 0, "parameter_replication") { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            if (q.Attributes.ParameterNumber < 0) throw q.Error($"parameter number {q.Attributes.ParameterNumber} is negative");
            var shape = q.RequireDeclared().WithLayout(null);
            // XLA's HloParameterInstruction: one flag per leaf buffer, or none at all
            if (q.Attributes.ParameterReplication is { } replicated && replicated.Length != LeafCount(shape))
                throw q.Error($"parameter_replication has {replicated.Length} entries, but {shape} has {LeafCount(shape)} leaf buffer(s)");
            return shape;
        }

        static int LeafCount(Shape s) => s.IsTuple ? s.TupleShapes.Sum(LeafCount) : 1;
    }

    /// <summary>constant(literal): the literal's shape.</summary>
    internal sealed class ConstantOp : OpDef
    {
        public ConstantOp() : base("constant", OpCategory.Source, 0, 0) { }

        protected override Shape Infer(ShapeQuery q)
        {
            var lit = q.Attributes.Literal ?? throw q.Error("has no literal");
            if (q.Declared != null && !q.Declared.Equals(lit.Shape))
                throw q.Error($"the literal has shape {lit.Shape} but the instruction says {q.Declared}");
            return lit.Shape;
        }
    }

    /// <summary>iota: the declared shape, counting along iota_dimension.</summary>
    internal sealed class IotaOp : OpDef
    {
        public IotaOp() : base("iota", OpCategory.Source, 0, 0, "iota_dimension") { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            var d = q.RequireDeclared();
            var dims = q.RequireDimensions("iota_dimension");
            if (dims.Length != 1) throw q.Error($"needs exactly one iota_dimension, got {dims.Length}");
            if (!d.IsArray || d.ElementType == ElementType.Pred) throw q.Error($"result must be a numeric array, not {d}");
            CheckAxes(q, dims, d.Rank, "iota_dimension");
            return d.WithLayout(null);
        }
    }
}

namespace XlaGen.Ops
{
    /// <summary>get-dimension-size(x), dimensions={d}: the size of dimension d as s32[]. The builder folds it to a
    /// constant whenever the dim is known, so it survives only in symbolic (build-time) programs, e.g. Mean over B.</summary>
    internal sealed class GetDimensionSizeOp : OpDef
    {
        public GetDimensionSizeOp() : base("get-dimension-size", OpCategory.Source, 1, 1, "dimensions") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var dims = q.RequireDimensions("dimensions");
            if (dims.Length != 1) throw q.Error($"needs exactly one dimension, got {dims.Length}");
            CheckAxes(q, dims, q.Operand(0).Rank, "dimension");
            return Shape.Scalar(ElementType.S32);
        }
    }
}
