using System;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>Which element types an elementwise op accepts.</summary>
    internal enum TypeClass
    {
        /// <summary>Any numeric type (not pred).</summary>
        Numeric,
        /// <summary>Floating point (or complex).</summary>
        Float,
        /// <summary>Integers and pred (bitwise ops).</summary>
        IntegerOrPred,
        /// <summary>Any array type.</summary>
        Any,
    }

    static class TypeClasses
    {
        public static bool Accepts(this TypeClass c, ElementType t)
        {
            switch (c)
            {
                case TypeClass.Numeric: return t != ElementType.Pred && t.IsArray();
                case TypeClass.Float: return t.IsFloatingPoint() || t.IsComplex();
                case TypeClass.IntegerOrPred: return t.IsInteger() || t == ElementType.Pred;
                default: return t.IsArray();
            }
        }

        public static string Describe(this TypeClass c)
        {
            switch (c)
            {
                case TypeClass.Numeric: return "a numeric element type";
                case TypeClass.Float: return "a floating-point element type";
                case TypeClass.IntegerOrPred: return "an integer or pred element type";
                default: return "an array element type";
            }
        }
    }

    /// <summary>y = f(x) elementwise; same shape out.</summary>
    internal sealed class UnaryOp : OpDef
    {
        public UnaryOp(string opcode, TypeClass types) : base(opcode, OpCategory.ElementwiseUnary, 1, 1)
        {
            Types = types;
        }

        public TypeClass Types { get; }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            if (!Types.Accepts(x.ElementType)) throw q.TypeError($"needs {Types.Describe()}, got {x}");
            return x.WithLayout(null);
        }
    }

    /// <summary>z = f(x, y) elementwise on equal shapes (broadcast is explicit in HLO).</summary>
    internal sealed class BinaryOp : OpDef
    {
        public BinaryOp(string opcode, TypeClass types) : base(opcode, OpCategory.ElementwiseBinary, 2, 2)
        {
            Types = types;
        }

        public TypeClass Types { get; }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            RequireSameElementType(q, 0, 1);
            RequireSameDims(q, 0, 1);
            var x = q.Operand(0);
            if (!Types.Accepts(x.ElementType)) throw q.TypeError($"needs {Types.Describe()}, got {x}");
            return x.WithLayout(null);
        }
    }

    /// <summary>compare(x, y), direction=EQ|NE|LT|LE|GT|GE → pred of the same dims.</summary>
    internal sealed class CompareOp : OpDef
    {
        public static readonly string[] Directions = { "EQ", "NE", "LT", "LE", "GT", "GE" };
        public static readonly string[] ComparisonTypes = { "FLOAT", "TOTALORDER", "SIGNED", "UNSIGNED" };

        public CompareOp() : base("compare", OpCategory.ElementwiseOther, 2, 2, "direction", "type") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            RequireSameElementType(q, 0, 1);
            RequireSameDims(q, 0, 1);
            var dir = q.Attributes.ComparisonDirection;
            if (dir == null || Array.IndexOf(Directions, dir) < 0)
                throw q.Error($"direction must be one of {string.Join(", ", Directions)}, got {dir ?? "nothing"}");
            var type = q.Attributes.ComparisonType;
            if (type != null && Array.IndexOf(ComparisonTypes, type) < 0)
                throw q.Error($"type must be one of {string.Join(", ", ComparisonTypes)}, got {type}");
            return Shape.Array(ElementType.Pred, q.Operand(0).Dims.ToArray());
        }
    }

    /// <summary>select(pred, on_true, on_false).</summary>
    internal sealed class SelectOp : OpDef
    {
        public SelectOp() : base("select", OpCategory.ElementwiseOther, 3, 3) { }

        protected override Shape Infer(ShapeQuery q)
        {
            var p = q.Operand(0);
            if (p.ElementType != ElementType.Pred) throw q.TypeError($"the predicate must be pred, got {p}");
            RequireSameElementType(q, 1, 2);
            RequireSameDims(q, 1, 2);
            if (!p.IsScalar) RequireSameDims(q, 0, 1);
            return q.Operand(1).WithLayout(null);
        }
    }

    /// <summary>clamp(min, x, max); min and max may be scalars.</summary>
    internal sealed class ClampOp : OpDef
    {
        public ClampOp() : base("clamp", OpCategory.ElementwiseOther, 3, 3) { }

        protected override Shape Infer(ShapeQuery q)
        {
            RequireSameElementType(q, 0, 1);
            RequireSameElementType(q, 2, 1);
            if (!q.Operand(0).IsScalar) RequireSameDims(q, 0, 1);
            if (!q.Operand(2).IsScalar) RequireSameDims(q, 2, 1);
            return q.Operand(1).WithLayout(null);
        }
    }

    /// <summary>convert: same dims, the element type of the declared result.</summary>
    internal sealed class ConvertOp : OpDef
    {
        public ConvertOp() : base("convert", OpCategory.ElementwiseUnary, 1, 1) { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var d = q.RequireDeclared();
            var x = q.Operand(0);
            if (!d.Dims.SequenceEqual(x.Dims)) throw q.Error($"result {d} must have the dimensions of the operand {x}");
            return d.WithLayout(null);
        }
    }

    /// <summary>copy: identity (a new buffer).</summary>
    internal sealed class CopyOp : OpDef
    {
        public CopyOp() : base("copy", OpCategory.ElementwiseUnary, 1, 1) { }

        protected override Shape Infer(ShapeQuery q) => q.Operand(0).WithLayout(null);
    }
}
