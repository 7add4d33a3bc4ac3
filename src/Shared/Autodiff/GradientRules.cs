using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Autodiff
{
    /// <summary>A vector-Jacobian product: given the output y and its cotangent dy, the cotangent of each operand
    /// (null where none flows: integer operands, predicates, values the output does not depend on smoothly).</summary>
    internal delegate HloInstruction?[] GradientRule(GradientContext c, HloInstruction y, HloInstruction dy);

    /// <summary>
    /// Gradient rules, one per HLO opcode, written with the IR builder (as JAX's ad.primitive_transposes and GoMLX's
    /// VJP registrations). An elementwise op's rule, or the reason it has none, is on its catalogue entry
    /// (<see cref="ElementwiseOpDef"/>); the structural ops' rules are the tables below. Every catalogue op has a rule
    /// or is in <see cref="NonDifferentiable"/> with its reason (OpChecklistTests, GradientCheckTests).
    /// </summary>
    internal static partial class GradientRules
    {
        // Built on first use: the Core table below is initialised after this point in the file.
        static Dictionary<string, GradientRule>? rules;

        static Dictionary<string, GradientRule> Rules => rules ??= Build();

        static Dictionary<string, GradientRule> Build()
        {
            var rules = new Dictionary<string, GradientRule>(Core, StringComparer.Ordinal);
            AddWindowedAndIndexed(rules);
            // Add, not set: an elementwise op's rule lives on its catalogue entry only.
            foreach (var op in OpCatalogue.Elementwise)
            {
                if (op.Gradient != null) rules.Add(op.Opcode, op.Gradient);
            }
            return rules;
        }

        /// <summary>Rules for convolution, reduce-window, select-and-scatter, gather, scatter and dynamic slices (GradientRules.Windowed.cs).</summary>
        static partial void AddWindowedAndIndexed(Dictionary<string, GradientRule> rules);

        static readonly Dictionary<string, GradientRule> Core = new Dictionary<string, GradientRule>(StringComparer.Ordinal)
        {
            // data movement
            ["broadcast"] = (c, y, dy) => new[] { c.Unbroadcast(dy, y.Operand(0).Shape, y.Attributes.Dimensions ?? new long[0]) },
            ["reshape"] = (c, y, dy) => new[] { c.B.Reshape(dy, y.Operand(0).Shape.Dims.ToArray()) },
            ["bitcast"] = (c, y, dy) => new[] { c.B.Reshape(dy, y.Operand(0).Shape.Dims.ToArray()) },
            ["transpose"] = (c, y, dy) =>
            {
                var perm = y.Attributes.Dimensions!;
                var inverse = new long[perm.Length];
                for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
                return new[] { c.B.Transpose(dy, inverse) };
            },
            ["reverse"] = (c, y, dy) => new[] { c.B.AddInstruction("reverse", new[] { dy }, new HloAttributes { Dimensions = y.Attributes.Dimensions }) },
            ["slice"] = Slice,
            ["concatenate"] = Concatenate,
            ["pad"] = Pad,

            // contractions and reductions
            ["dot"] = Dot,
            ["reduce"] = Reduce,

            // collectives
            ["all-reduce"] = AllReduce,
            ["all-gather"] = AllGather,
            ["reduce-scatter"] = ReduceScatter,

            // calls
            ["call"] = Call,
            ["fusion"] = Call,
        };

        public static bool TryGet(string opcode, out GradientRule rule) => Rules.TryGetValue(opcode, out rule!);

        /// <summary>Opcodes with a gradient rule.</summary>
        public static IEnumerable<string> Opcodes => Rules.Keys.OrderBy(k => k, StringComparer.Ordinal);

        /// <summary>Ops without a gradient rule, each with the reason: the elementwise ones as their catalogue entries state
        /// it, and the structural ones below. Sources and ops whose results are integers or predicates carry no cotangent;
        /// the rest are differentiated through other means or not at all, as stated.</summary>
        public static IReadOnlyDictionary<string, string> NonDifferentiable => nonDifferentiable ??= BuildNonDifferentiable();

        static Dictionary<string, string>? nonDifferentiable;

        static Dictionary<string, string> BuildNonDifferentiable()
        {
            var d = new Dictionary<string, string>(StructuralNonDifferentiable, StringComparer.Ordinal);
            foreach (var op in OpCatalogue.Elementwise)
            {
                if (op.NoGradientReason != null) d.Add(op.Opcode, op.NoGradientReason);
            }
            return d;
        }

        static readonly Dictionary<string, string> StructuralNonDifferentiable = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["parameter"] = "a leaf: its cotangent is the result of differentiation, nothing flows further",
            ["constant"] = "a leaf with no inputs: nothing to differentiate",
            ["iota"] = "a leaf with no inputs: nothing to differentiate",
            ["get-dimension-size"] = "its result is an s32 size that does not depend on the operand's values",
            ["tuple"] = "ReverseMode carries cotangents of array values only; a tuple ends the differentiated path (programs return tuples only at the root)",
            ["get-tuple-element"] = "ReverseMode carries cotangents of array values only, so no tuple reaches it on a differentiated path",
            ["map"] = "its function is a scalar computation; write the body as elementwise ops (which have rules) to differentiate it",
            ["while"] = "reverse mode through a loop needs its trip count and every iterate saved; not supported (unroll the loop to differentiate it)",
            ["rng-bit-generator"] = "its results are unsigned integers (the new state and the bits) computed from a u64 state: nothing carries a cotangent",
            ["replica-id"] = "its result is a u32 replica number: no input, no cotangent",
            ["sort"] = "a permutation of its operands that depends on their values; not supported yet (a variadic sort carrying iota and a scatter of the cotangent would give it)",
        };

        /// <summary>call and fusion (with an array result): the callee is inlined on copies of the operands and
        /// differentiated there. The copies are fresh leaves, so the nested pass stops at them even when one operand
        /// depends on another or appears twice, and the outer pass carries each cotangent on from the real operand.</summary>
        static HloInstruction?[] Call(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var args = y.Operands.Select(o => c.B.Unary("copy", o)).ToArray();
            var root = c.B.Inline(y.CalledComputations[0], args);
            var grads = ReverseMode.Gradients(c.B, root, args, dy);
            return y.Operands.Select((o, i) => o.Shape.IsArray && o.Shape.ElementType.IsFloatingPoint() ? grads[i] : null).ToArray();
        }

        /// <summary>all-reduce with add is linear and its own transpose: each replica's cotangent is the sum over its
        /// group of every replica's output cotangent, i.e. the same all-reduce of dy (as JAX's psum transposes to psum).</summary>
        static HloInstruction?[] AllReduce(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 1)
                throw new GradientException(y, $"no gradient rule for a variadic all-reduce ({y.Describe()}); reduce one array per all-reduce to differentiate it");
            if (ReducerOpcode(y.CalledComputations[0]) != "add")
                throw new GradientException(y, $"no gradient rule for all-reduce with the reducer %{y.CalledComputations[0].Name} ({y.Describe()}); a sum all-reduce is differentiable");
            // The same groups and mode; XLA accepts a channel id shared by the forward and its transpose on one program.
            return new[] { c.B.AddInstruction("all-reduce", new[] { dy }, y.Attributes.Clone(), called: y.CalledComputations.ToArray()) };
        }

        /// <summary>all-gather is linear; its transpose sums each replica's block of the cotangent over the group:
        /// reduce-scatter (add) of dy with the same groups and dimension (JAX: all_gather transposes to psum_scatter).</summary>
        static HloInstruction?[] AllGather(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 1)
                throw new GradientException(y, $"no gradient rule for a variadic all-gather ({y.Describe()}); gather one array per all-gather to differentiate it");
            var x = y.Operand(0);
            return new[] { c.B.AddInstruction("reduce-scatter", new[] { dy }, y.Attributes.Clone(), x.Shape, new[] { c.B.ScalarComputation("add", dy.Shape.ElementType) }) };
        }

        /// <summary>reduce-scatter with add is linear; its transpose gathers the members' cotangent blocks back:
        /// all-gather of dy with the same groups and dimension (JAX: psum_scatter transposes to all_gather).</summary>
        static HloInstruction?[] ReduceScatter(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 1)
                throw new GradientException(y, $"no gradient rule for a variadic reduce-scatter ({y.Describe()}); scatter one array per reduce-scatter to differentiate it");
            if (ReducerOpcode(y.CalledComputations[0]) != "add")
                throw new GradientException(y, $"no gradient rule for reduce-scatter with the reducer %{y.CalledComputations[0].Name} ({y.Describe()}); a sum reduce-scatter is differentiable");
            return new[] { c.B.AddInstruction("all-gather", new[] { dy }, y.Attributes.Clone(), y.Operand(0).Shape) };
        }

        /// <summary>slice: pad the cotangent back with zeros (interior padding undoes strides).</summary>
        static HloInstruction?[] Slice(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var x = y.Operand(0);
            var s = y.Attributes.Slice!;
            var padding = new PaddingDimension[s.Length];
            for (int i = 0; i < s.Length; i++)
            {
                var size = x.Shape.Dims[i];
                var outSize = y.Shape.Dims[i];
                if (!size.IsConstant)
                {
                    padding[i] = new PaddingDimension(0, 0, 0);   // a symbolic dim is only ever sliced whole
                    continue;
                }
                long start = s[i].Start.Value, stride = s[i].Stride, n = outSize.Value;
                long end = n == 0 ? start : start + (n - 1) * stride + 1;
                padding[i] = new PaddingDimension(start, size.Value - end, stride - 1);
            }
            return new[] { c.B.AddInstruction("pad", new[] { dy, c.Scalar(dy, 0) }, new HloAttributes { Padding = padding }) };
        }

        static HloInstruction?[] Concatenate(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            long axis = y.Attributes.Dimensions![0];
            var result = new HloInstruction?[y.Operands.Count];
            long offset = 0;
            for (int k = 0; k < y.Operands.Count; k++)
            {
                var o = y.Operand(k);
                var ranges = y.Shape.Dims.Select((d, i) => i == axis
                    ? new SliceDimension(offset, offset + o.Shape.Dims[i].Value, 1)
                    : new SliceDimension(0, d, 1)).ToArray();
                result[k] = c.B.Slice(dy, ranges);
                offset += o.Shape.Dims[(int)axis].Value;
            }
            return result;
        }

        /// <summary>pad: the operand's cotangent is the strided slice of dy it landed on (negative padding first re-padded);
        /// the padding value's is the sum of the rest.</summary>
        static HloInstruction?[] Pad(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var x = y.Operand(0);
            var p = y.Attributes.Padding!;
            var unpad = p.Select(d => new PaddingDimension(Math.Max(-d.Low, 0), Math.Max(-d.High, 0), 0)).ToArray();
            var g = unpad.Any(d => d.Low != 0 || d.High != 0)
                ? c.B.AddInstruction("pad", new[] { dy, c.Scalar(dy, 0) }, new HloAttributes { Padding = unpad })
                : dy;
            var ranges = new SliceDimension[p.Length];
            for (int i = 0; i < p.Length; i++)
            {
                long n = x.Shape.Dims[i].IsConstant ? x.Shape.Dims[i].Value : -1;
                if (n < 0)
                {
                    ranges[i] = new SliceDimension(0, x.Shape.Dims[i], 1);
                    continue;
                }
                long start = Math.Max(p[i].Low, 0);
                long step = p[i].Interior + 1;
                ranges[i] = new SliceDimension(start, n == 0 ? start : start + (n - 1) * step + 1, step);
            }
            var dx = c.B.Slice(g, ranges);
            var all = Enumerable.Range(0, y.Shape.Rank).Select(i => (long)i).ToArray();
            var dValue = c.B.Subtract(c.B.ReduceSum(dy, all), c.B.ReduceSum(dx, all));
            return new[] { dx, dValue };
        }

        /// <summary>dot_general transposes (JAX's _dot_general_transpose_lhs/rhs), emitting a swapped dot instead of a transpose where possible.</summary>
        static HloInstruction?[] Dot(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var dn = y.Attributes.Dot!;
            var lhs = y.Operand(0);
            var rhs = y.Operand(1);
            var dl = lhs.Shape.ElementType.IsFloatingPoint() ? DotTransposeLhs(c, dy, lhs.Shape, rhs, dn.LhsContracting, dn.RhsContracting, dn.LhsBatch, dn.RhsBatch, swapAns: false) : null;
            var dr = rhs.Shape.ElementType.IsFloatingPoint() ? DotTransposeLhs(c, dy, rhs.Shape, lhs, dn.RhsContracting, dn.LhsContracting, dn.RhsBatch, dn.LhsBatch, swapAns: true) : null;
            return new[] { dl, dr };
        }

        /// <summary>The cotangent of operand x of dot(x, other) (or dot(other, x) when <paramref name="swapAns"/>).</summary>
        static HloInstruction DotTransposeLhs(GradientContext c, HloInstruction g, Shape x, HloInstruction other,
            long[] xContract, long[] otherContract, long[] xBatch, long[] otherBatch, bool swapAns)
        {
            int xRank = x.Rank;
            var xKept = Remaining(xRank, xContract, xBatch);
            var otherKept = Remaining(other.Shape.Rank, otherContract, otherBatch);
            // Positions of g's dims: batch, then lhs kept, then rhs kept.
            int nb = xBatch.Length;
            long[] ansBatch = Range(0, nb);
            long[] ansOther = swapAns ? Range(nb, otherKept.Length) : Range(nb + xKept.Length, otherKept.Length);
            // dot_general(g, other): contract g's "other" dims with other's kept dims; batch with batch.
            // Result: batch, then g's remaining dims (x kept, in order), then other's remaining dims (its contracting dims, in other's order).
            var order = otherContract.Select((d, i) => (d, i)).OrderBy(t => t.d).Select(t => xContract[t.i]).ToArray();
            var resultAxes = xBatch.Concat(xKept).Concat(order).ToArray();   // x's dim for each result position
            var perm = new long[xRank];
            for (int i = 0; i < xRank; i++) perm[i] = Array.IndexOf(resultAxes, (long)i);   // out_axes = argsort(resultAxes)

            // Without batch dims, when the transpose would only swap the two groups, dot(other, g) gives x's order directly.
            if (nb == 0 && xKept.Length > 0 && order.Length > 0)
            {
                var swapped = order.Concat(xKept).ToArray();
                if (IsIdentity(swapped))
                {
                    var dims = new DotDimensionNumbers(otherKept, ansOther);
                    return c.B.Dot(other, g, dims, x.ElementType == g.Shape.ElementType ? (ElementType?)null : x.ElementType);
                }
            }
            var numbers = new DotDimensionNumbers(ansOther, otherKept, ansBatch, otherBatch);
            var r = c.B.Dot(g, other, numbers);
            return IsIdentity(perm) ? r : c.B.Transpose(r, perm);
        }

        static long[] Remaining(int rank, long[] a, long[] b) => Enumerable.Range(0, rank).Where(i => !a.Contains(i) && !b.Contains(i)).Select(i => (long)i).ToArray();

        static long[] Range(long start, int count) => Enumerable.Range(0, count).Select(i => start + i).ToArray();

        static bool IsIdentity(long[] perm)
        {
            for (int i = 0; i < perm.Length; i++)
            {
                if (perm[i] != i) return false;
            }
            return true;
        }

        /// <summary>reduce: add broadcasts the cotangent back; maximum/minimum send it to the chosen elements, split over
        /// ties. The init value is an operand too: add adds it once per output; a max/min output that no element
        /// reached (all below a non-identity init, or an empty reduction) came from the init, and its elements get nothing.</summary>
        static HloInstruction?[] Reduce(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 2)
                throw new GradientException(y, $"no gradient rule for a variadic reduce ({y.Describe()}); only single-input add/maximum/minimum reductions are differentiable");
            var x = y.Operand(0);
            var init = y.Operand(1);
            var axes = y.Attributes.Dimensions!;
            var kept = Enumerable.Range(0, x.Shape.Rank).Where(i => !axes.Contains(i)).Select(i => (long)i).ToArray();
            var all = Enumerable.Range(0, y.Shape.Rank).Select(i => (long)i).ToArray();
            bool initOnPath = init.Opcode != "constant";
            var back = c.B.Broadcast(dy, x.Shape.Dims.ToArray(), kept);
            var reducer = ReducerOpcode(y.CalledComputations[0]);
            switch (reducer)
            {
                case "add":
                    return new HloInstruction?[] { back, initOnPath ? c.B.ReduceSum(dy, all) : null };
                case "maximum":
                case "minimum":
                {
                    var chosen = c.B.Compare(x, c.B.Broadcast(y, x.Shape.Dims.ToArray(), kept), "EQ");
                    var ones = c.B.Select(chosen, c.Full(x, 1), c.Zeros(x.Shape));
                    var counts = c.B.ReduceSum(ones, axes);
                    // an output no element reached has count 0: divide by 1 there (its elements' ones are all 0)
                    var none = c.B.Compare(counts, c.Zeros(counts.Shape), "EQ");
                    var safe = c.B.Select(none, c.Full(counts, 1), counts);
                    var dx = c.B.Divide(c.B.Multiply(ones, back), c.B.Broadcast(safe, x.Shape.Dims.ToArray(), kept));
                    var dInit = initOnPath ? c.B.ReduceSum(c.B.Select(none, dy, c.Zeros(dy.Shape)), all) : null;
                    return new HloInstruction?[] { dx, dInit };
                }
                default:
                    throw new GradientException(y, $"no gradient rule for reduce with the reducer %{y.CalledComputations[0].Name} ({y.Describe()}); add, maximum and minimum reductions are differentiable");
            }
        }

        /// <summary>The opcode of a reducer of the form (a, b) -> a op b, or null.</summary>
        public static string? ReducerOpcode(HloComputation reducer)
        {
            var r = reducer.Root;
            var ps = reducer.Parameters;
            if (ps.Count != 2 || r.Operands.Count != 2) return null;
            bool uses = (r.Operands[0] == ps[0] && r.Operands[1] == ps[1]) || (r.Operands[0] == ps[1] && r.Operands[1] == ps[0]);
            return uses ? r.Opcode : null;
        }
    }
}
