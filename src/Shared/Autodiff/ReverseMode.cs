using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Autodiff
{
    /// <summary>An op on the differentiated path has no gradient rule (or the rule does not apply to its form).</summary>
    internal sealed class GradientException : Exception
    {
        public GradientException(HloInstruction instruction, string message) : base(message)
        {
            Instruction = instruction;
        }

        /// <summary>The instruction whose gradient is missing; its metadata points at the C# source.</summary>
        public HloInstruction Instruction { get; }
    }

    /// <summary>
    /// Reverse-mode differentiation on the shared IR: appends to a builder the instructions computing the
    /// gradient of a scalar (or of a seeded cotangent) with respect to chosen instructions. Rules are looked up by
    /// opcode in <see cref="GradientRules"/>; cotangents of values used several times are summed; only
    /// instructions on a path from a wrt input to the output are differentiated, and only floating-point values
    /// carry cotangents.
    /// </summary>
    internal static class ReverseMode
    {
        public static HloInstruction[] Gradients(HloBuilder b, HloInstruction output, IReadOnlyList<HloInstruction> wrt, HloInstruction? seed = null)
        {
            var computation = output.Parent ?? throw new ArgumentException("the output is not in a computation");
            if (seed == null)
            {
                if (!output.Shape.IsScalar || !output.Shape.ElementType.IsFloatingPoint())
                    throw new ArgumentException($"gradients need a floating-point scalar output (or a seed cotangent); {output.Describe()} is {output.Shape}");
                seed = b.Constant(output.Shape.ElementType, 1);
            }
            else if (!seed.Shape.Equals(output.Shape))
            {
                throw new ArgumentException($"the seed cotangent is {seed.Shape} but the output is {output.Shape}");
            }

            // Instructions that depend on a wrt input, and that the output depends on.
            var fromWrt = new HashSet<HloInstruction>(wrt);
            foreach (var ins in computation.Instructions)
            {
                if (ins.Operands.Any(fromWrt.Contains) && Differentiable(ins.Shape)) fromWrt.Add(ins);
            }
            var toOutput = new HashSet<HloInstruction>();
            var stack = new Stack<HloInstruction>();
            stack.Push(output);
            while (stack.Count > 0)
            {
                var i = stack.Pop();
                if (!toOutput.Add(i)) continue;
                foreach (var o in i.Operands) stack.Push(o);
            }
            bool OnPath(HloInstruction i) => fromWrt.Contains(i) && toOutput.Contains(i);

            var cotangents = new Dictionary<HloInstruction, HloInstruction> { [output] = seed };
            var context = new GradientContext(b);
            var order = computation.Instructions.ToList();
            for (int k = order.Count - 1; k >= 0; k--)
            {
                var y = order[k];
                if (!OnPath(y) || !cotangents.TryGetValue(y, out var dy) || y.Operands.Count == 0) continue;
                if (!y.Operands.Any(OnPath)) continue;
                if (!GradientRules.TryGet(y.Opcode, out var rule))
                {
                    string why = GradientRules.NonDifferentiable.TryGetValue(y.Opcode, out var reason) ? $": {reason}" : "";
                    throw new GradientException(y, $"no gradient rule for {y.Opcode} ({y.Describe()}); it is on the path from the parameters to the loss{why}");
                }
                var saved = b.Metadata;
                b.Metadata = y.Metadata == null ? null : y.Metadata with { OpName = (y.Metadata.OpName ?? "") + "/grad" };
                HloInstruction?[] dx;
                try
                {
                    dx = rule(context, y, dy);
                }
                catch (ShapeException e)
                {
                    throw new GradientException(y, $"the gradient rule of {y.Describe()} failed: {e.Message}");
                }
                finally
                {
                    b.Metadata = saved;
                }
                for (int i = 0; i < y.Operands.Count && i < dx.Length; i++)
                {
                    var x = y.Operands[i];
                    var g = dx[i];
                    if (g == null || !OnPath(x)) continue;
                    if (!g.Shape.Equals(x.Shape))
                        throw new GradientException(y, $"the gradient rule of {y.Describe()} gave {g.Shape} for operand {i}, which is {x.Shape}");
                    cotangents[x] = cotangents.TryGetValue(x, out var acc) ? b.Add(acc, g) : g;
                }
            }
            return wrt.Select(w => cotangents.TryGetValue(w, out var g) ? g : b.Full(w.Shape.ElementType, 0, w.Shape.Dims.ToArray())).ToArray();
        }

        static bool Differentiable(Shape s) => s.IsArray && (s.ElementType.IsFloatingPoint() || s.ElementType.IsComplex());
    }

    /// <summary>What a gradient rule builds with: the builder and helpers shared by the rules.</summary>
    internal sealed class GradientContext
    {
        public GradientContext(HloBuilder builder)
        {
            B = builder;
        }

        public HloBuilder B { get; }

        public HloInstruction Zeros(Shape like) => B.Full(like.ElementType, 0, like.Dims.ToArray());

        public HloInstruction Scalar(HloInstruction like, double value) => B.Constant(like.Shape.ElementType, value);

        /// <summary>A scalar constant broadcast to <paramref name="like"/>'s shape.</summary>
        public HloInstruction Full(HloInstruction like, double value) => B.Full(like.Shape.ElementType, value, like.Shape.Dims.ToArray());

        /// <summary>Sums <paramref name="g"/> down to <paramref name="target"/>'s shape, undoing a broadcast with the given mapping.</summary>
        public HloInstruction Unbroadcast(HloInstruction g, Shape target, long[] mapping)
        {
            var outShape = g.Shape;
            var reduce = new List<long>();
            for (int d = 0; d < outShape.Rank; d++)
            {
                int operandDim = Array.IndexOf(mapping, (long)d);
                if (operandDim < 0) reduce.Add(d);
                else if (target.Dims[operandDim] != outShape.Dims[d]) reduce.Add(d);   // a size-1 dim that was expanded
            }
            var summed = reduce.Count == 0 ? g : B.ReduceSum(g, reduce.ToArray());
            return B.Reshape(summed, target.Dims.ToArray());
        }
    }
}
