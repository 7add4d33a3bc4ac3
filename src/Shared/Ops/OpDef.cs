using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>A shape or dtype rule was violated. The message names the op, the shapes and what differs.</summary>
    public sealed class ShapeException : Exception
    {
        /// <summary>An error with <paramref name="message"/>, which names the op, the shapes and what differs.</summary>
        /// <param name="message">The message.</param>
        /// <param name="isElementTypeError">Whether the element type (not the dimensions) is what is wrong; see <see cref="IsElementTypeError"/>.</param>
        public ShapeException(string message, bool isElementTypeError = false) : base(message)
        {
            IsElementTypeError = isElementTypeError;
        }

        /// <summary>True when the problem is the element type (dtype), not the dimensions.</summary>
        public bool IsElementTypeError { get; }
    }

    /// <summary>What a shape rule sees: operand shapes, attributes, called computations, and the declared result
    /// shape for ops whose result the operands do not determine (parameter, reshape, broadcast, convert, iota).</summary>
    internal sealed class ShapeQuery
    {
        public ShapeQuery(string opcode, IReadOnlyList<Shape> operands, HloAttributes attributes,
            IReadOnlyList<HloComputation>? called = null, Shape? declared = null)
        {
            Opcode = opcode;
            Operands = operands;
            Attributes = attributes;
            Called = called ?? new HloComputation[0];
            Declared = declared;
        }

        public string Opcode { get; }

        public IReadOnlyList<Shape> Operands { get; }

        public HloAttributes Attributes { get; }

        public IReadOnlyList<HloComputation> Called { get; }

        public Shape? Declared { get; }

        public Shape Operand(int i) => Operands[i];

        public ShapeException Error(string message) => new ShapeException($"{Opcode}: {message}");

        /// <summary>An element-type (dtype) error, as opposed to a dimension error.</summary>
        public ShapeException TypeError(string message) => new ShapeException($"{Opcode}: {message}", isElementTypeError: true);

        public Shape RequireDeclared() =>
            Declared ?? throw Error("the result shape must be given (it does not follow from the operands)");

        public long[] RequireDimensions(string what)
        {
            return Attributes.Dimensions ?? throw Error($"missing {what}");
        }

        public void RequireArray(int operand)
        {
            var s = Operands[operand];
            if (!s.IsArray) throw Error($"operand {operand} must be an array, not {s}");
        }
    }

    internal enum OpCategory
    {
        /// <summary>Leaves: parameter, constant, iota.</summary>
        Source,
        ElementwiseUnary,
        ElementwiseBinary,
        /// <summary>compare, select, clamp: elementwise with extra typing rules.</summary>
        ElementwiseOther,
        /// <summary>Data movement and contractions: broadcast, reshape, dot, reduce …</summary>
        Structural,
        /// <summary>tuple, get-tuple-element, call, while …</summary>
        Control,
    }

    /// <summary>
    /// One op of the catalogue, keyed by its HLO opcode. It owns the op's shape rule and the HLO text attributes
    /// it prints, in XLA's order. Lowering to the proto is generic over <see cref="HloAttributes"/>; kernels and
    /// gradient rules live in tables keyed by the same opcode.
    /// </summary>
    internal abstract class OpDef
    {
        protected OpDef(string opcode, OpCategory category, int minOperands, int maxOperands, params string[] textAttributes)
        {
            Opcode = opcode;
            Category = category;
            MinOperands = minOperands;
            MaxOperands = maxOperands;
            TextAttributes = textAttributes;
        }

        public string Opcode { get; }

        public OpCategory Category { get; }

        public int MinOperands { get; }

        /// <summary>-1 for variadic.</summary>
        public int MaxOperands { get; }

        /// <summary>Attribute keys printed after the operands, in order (see <see cref="AttributeKeys"/>).</summary>
        public IReadOnlyList<string> TextAttributes { get; }

        /// <summary>Names of called-computation attributes in order (to_apply; condition, body; select, scatter; calls).</summary>
        public virtual IReadOnlyList<string> CalledComputationKeys => new string[0];

        /// <summary>True when the result shape is an input of the op (the program states it), not derived.</summary>
        public virtual bool TakesDeclaredShape => false;

        /// <summary>Computes the result shape, or throws <see cref="ShapeException"/> saying what is wrong.</summary>
        public Shape InferShape(ShapeQuery q)
        {
            int n = q.Operands.Count;
            if (n < MinOperands || (MaxOperands >= 0 && n > MaxOperands))
            {
                string want = MaxOperands < 0 ? $"at least {MinOperands}" : MinOperands == MaxOperands ? $"{MinOperands}" : $"{MinOperands} to {MaxOperands}";
                throw q.Error($"takes {want} operand(s), got {n}");
            }
            var keys = CalledComputationKeys;
            if (keys.Count > 0 && q.Called.Count != keys.Count)
                throw q.Error($"needs {keys.Count} called computation(s) ({string.Join(", ", keys)}), got {q.Called.Count}");
            return Infer(q);
        }

        protected abstract Shape Infer(ShapeQuery q);

        public override string ToString() => Opcode;

        // ---- helpers shared by the rules ----

        protected static string Dims(Shape s) => s.ToString();

        protected static void RequireSameDims(ShapeQuery q, int a, int b)
        {
            var x = q.Operands[a];
            var y = q.Operands[b];
            if (!x.Dims.SequenceEqual(y.Dims))
                throw q.Error($"operand shapes differ: {x} and {y} (elementwise ops need equal dimensions; broadcast explicitly)");
        }

        protected static void RequireSameElementType(ShapeQuery q, int a, int b)
        {
            var x = q.Operands[a];
            var y = q.Operands[b];
            if (x.ElementType != y.ElementType)
                throw q.TypeError($"element types differ: {x} and {y} (convert one operand first)");
        }

        protected static void CheckAxes(ShapeQuery q, IReadOnlyList<long> axes, int rank, string what, bool unique = true)
        {
            var seen = new HashSet<long>();
            foreach (var a in axes)
            {
                if (a < 0 || a >= rank) throw q.Error($"{what} {a} is out of range for rank {rank}");
                if (unique && !seen.Add(a)) throw q.Error($"{what} {a} appears twice");
            }
        }
    }
}
