using System;
using System.Linq;
using XlaGen.Autodiff;
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

    /// <summary>How much work one element of an elementwise op is. The CPU executor's threading grain reads it (a costly
    /// op is split across cores at a smaller size) and a fusion pass weighs recomputation by it.</summary>
    internal enum ElementCost
    {
        /// <summary>A few cycles per element: add, negate, min/max, compare, select, bit operations, floor, convert.</summary>
        Cheap,
        /// <summary>Tens of cycles per element or more: transcendental functions (exp, log, tanh, …), square roots,
        /// division, power and remainder.</summary>
        Costly,
    }

    /// <summary>The catalogue's statement that an op has no gradient rule, and why (the autodiff error and the
    /// checklist test read the reason).</summary>
    internal sealed class NoGradient
    {
        public NoGradient(string reason)
        {
            if (string.IsNullOrWhiteSpace(reason)) throw new ArgumentException("a missing gradient needs its reason", nameof(reason));
            Reason = reason;
        }

        public string Reason { get; }

        /// <summary>Bitwise and logical ops.</summary>
        public static readonly NoGradient IntegerOrPred = new NoGradient("defined on integers and pred only, which carry no cotangent");
    }

    /// <summary>
    /// An elementwise op's catalogue entry: besides the shape rule it states the element types it admits, its cost per
    /// element and its derivative (a gradient rule, or none with the reason). The CPU executor derives its selection
    /// tables and threading grain from these entries and <see cref="GradientRules"/> takes the rule from here, so a new
    /// elementwise op is its entry in <see cref="OpCatalogue"/> plus its kernel.
    /// </summary>
    internal abstract class ElementwiseOpDef : OpDef
    {
        protected ElementwiseOpDef(string opcode, OpCategory category, int arity, TypeClass types, ElementCost cost,
            GradientRule? gradient, NoGradient? noGradient, params string[] textAttributes)
            : base(opcode, category, arity, arity, textAttributes)
        {
            if ((gradient == null) == (noGradient == null))
                throw new ArgumentException($"{opcode}: an elementwise entry has either a gradient rule or a stated reason why not");
            Types = types;
            Cost = cost;
            Gradient = gradient;
            NoGradientReason = noGradient?.Reason;
        }

        /// <summary>Number of operands.</summary>
        public int Arity => MinOperands;

        /// <summary>The element types the op computes on (for compare, select and clamp the compared or chosen values;
        /// for convert both sides).</summary>
        public TypeClass Types { get; }

        public ElementCost Cost { get; }

        /// <summary>The vector-Jacobian product, or null when <see cref="NoGradientReason"/> says why there is none.</summary>
        public GradientRule? Gradient { get; }

        public string? NoGradientReason { get; }
    }

    /// <summary>y = f(x) elementwise; same shape out.</summary>
    internal sealed class UnaryOp : ElementwiseOpDef
    {
        public UnaryOp(string opcode, TypeClass types, ElementCost cost, GradientRule gradient)
            : base(opcode, OpCategory.ElementwiseUnary, 1, types, cost, gradient, null) { }

        public UnaryOp(string opcode, TypeClass types, ElementCost cost, NoGradient none)
            : base(opcode, OpCategory.ElementwiseUnary, 1, types, cost, null, none) { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            if (!Types.Accepts(x.ElementType)) throw q.TypeError($"needs {Types.Describe()}, got {x}");
            return x.WithLayout(null);
        }
    }

    /// <summary>z = f(x, y) elementwise on equal shapes (broadcast is explicit in HLO).</summary>
    internal sealed class BinaryOp : ElementwiseOpDef
    {
        public BinaryOp(string opcode, TypeClass types, ElementCost cost, GradientRule gradient)
            : base(opcode, OpCategory.ElementwiseBinary, 2, types, cost, gradient, null) { }

        public BinaryOp(string opcode, TypeClass types, ElementCost cost, NoGradient none)
            : base(opcode, OpCategory.ElementwiseBinary, 2, types, cost, null, none) { }

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
    internal sealed class CompareOp : ElementwiseOpDef
    {
        public static readonly string[] Directions = { "EQ", "NE", "LT", "LE", "GT", "GE" };
        public static readonly string[] ComparisonTypes = { "FLOAT", "TOTALORDER", "SIGNED", "UNSIGNED" };

        public CompareOp(NoGradient none) : base("compare", OpCategory.ElementwiseOther, 2, TypeClass.Any, ElementCost.Cheap, null, none, "direction", "type") { }

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
    internal sealed class SelectOp : ElementwiseOpDef
    {
        public SelectOp(GradientRule gradient) : base("select", OpCategory.ElementwiseOther, 3, TypeClass.Any, ElementCost.Cheap, gradient, null) { }

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
    internal sealed class ClampOp : ElementwiseOpDef
    {
        public ClampOp(GradientRule gradient) : base("clamp", OpCategory.ElementwiseOther, 3, TypeClass.Any, ElementCost.Cheap, gradient, null) { }

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
    internal sealed class ConvertOp : ElementwiseOpDef
    {
        public ConvertOp(GradientRule gradient) : base("convert", OpCategory.ElementwiseUnary, 1, TypeClass.Any, ElementCost.Cheap, gradient, null) { }

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
    internal sealed class CopyOp : ElementwiseOpDef
    {
        public CopyOp(GradientRule gradient) : base("copy", OpCategory.ElementwiseUnary, 1, TypeClass.Any, ElementCost.Cheap, gradient, null) { }

        protected override Shape Infer(ShapeQuery q) => q.Operand(0).WithLayout(null);
    }
}
