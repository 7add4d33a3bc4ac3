using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    /// <summary>
    /// How the C# surface (Tensor operators, MatMul, Nn.*, reductions) lowers to HLO. The generator calls these
    /// at build time on symbolic shapes; eager execution calls the same functions on concrete shapes, so both
    /// agree by construction. NumPy broadcasting is made explicit here (HLO has none). Errors are
    /// <see cref="ShapeException"/>s phrased for the C# call, not for HLO.
    /// </summary>
    internal static partial class Lowering
    {
        // ---- broadcasting ----

        /// <summary>NumPy broadcast of two dim lists (aligned at the right; equal, or one of them 1).</summary>
        public static Dim[] BroadcastDims(string what, Shape x, Shape y)
        {
            int rank = Math.Max(x.Rank, y.Rank);
            var result = new Dim[rank];
            for (int i = 0; i < rank; i++)
            {
                int xi = x.Rank - rank + i, yi = y.Rank - rank + i;
                Dim? a = xi >= 0 ? x.Dims[xi] : (Dim?)null;
                Dim? b = yi >= 0 ? y.Dims[yi] : (Dim?)null;
                if (a == null) result[i] = b!.Value;
                else if (b == null) result[i] = a.Value;
                else if (a.Value == b.Value) result[i] = a.Value;
                else if (IsOne(a.Value)) result[i] = b.Value;
                else if (IsOne(b.Value)) result[i] = a.Value;
                else
                    throw new ShapeException($"{what}: shapes {x.DimsText} and {y.DimsText} do not broadcast: dimension {a.Value} and {b.Value} differ (NumPy rules: equal, or one of them 1)");
            }
            return result;
        }

        static bool IsOne(Dim d) => d.IsConstant && d.Value == 1;

        /// <summary>Broadcasts <paramref name="x"/> to <paramref name="dims"/> (NumPy rules), reshaping away size-1 dims first.</summary>
        public static HloInstruction BroadcastTo(HloBuilder b, HloInstruction x, Dim[] dims)
        {
            var s = x.Shape;
            if (s.Dims.SequenceEqual(dims)) return x;
            int offset = dims.Length - s.Rank;
            if (offset < 0) throw new ShapeException($"cannot broadcast {s} to the lower rank [{string.Join(",", dims)}]");
            var keepDims = new List<Dim>();
            var mapping = new List<long>();
            for (int i = 0; i < s.Rank; i++)
            {
                var d = s.Dims[i];
                var target = dims[offset + i];
                if (d == target)
                {
                    keepDims.Add(d);
                    mapping.Add(offset + i);
                }
                else if (!IsOne(d))
                {
                    throw new ShapeException($"cannot broadcast {s} to [{string.Join(",", dims)}]: dimension {i} is {d}, needs {target} or 1");
                }
            }
            var squeezed = keepDims.Count == s.Rank ? x : b.Reshape(x, keepDims.ToArray());
            return b.Broadcast(squeezed, dims, mapping.ToArray());
        }

        /// <summary>An elementwise binary op with NumPy broadcasting: add, subtract, multiply, divide, maximum, minimum, power.</summary>
        public static HloInstruction Binary(HloBuilder b, string opcode, HloInstruction x, HloInstruction y, string? what = null)
        {
            what ??= opcode;
            if (x.Shape.ElementType != y.Shape.ElementType)
                throw new ShapeException($"{what}: element types differ: {x.Shape} and {y.Shape}", isElementTypeError: true);
            var dims = BroadcastDims(what, x.Shape, y.Shape);
            return b.Binary(opcode, BroadcastTo(b, x, dims), BroadcastTo(b, y, dims));
        }

        /// <summary>A scalar constant of <paramref name="like"/>'s element type.</summary>
        public static HloInstruction Scalar(HloBuilder b, HloInstruction like, double value) => b.Constant(like.Shape.ElementType, value);

        /// <summary>x op scalar (or scalar op x when <paramref name="scalarOnLeft"/>).</summary>
        public static HloInstruction BinaryScalar(HloBuilder b, string opcode, HloInstruction x, double scalar, bool scalarOnLeft = false)
        {
            var c = Scalar(b, x, scalar);
            if (!x.Shape.IsScalar) c = b.BroadcastScalar(c, x.Shape.Dims.ToArray());
            return scalarOnLeft ? b.Binary(opcode, c, x) : b.Binary(opcode, x, c);
        }

        public static HloInstruction Compare(HloBuilder b, string direction, HloInstruction x, HloInstruction y)
        {
            var dims = BroadcastDims("compare " + direction, x.Shape, y.Shape);
            return b.Compare(BroadcastTo(b, x, dims), BroadcastTo(b, y, dims), direction);
        }

        /// <summary>where(predicate, x, y) with broadcasting of all three.</summary>
        public static HloInstruction Where(HloBuilder b, HloInstruction predicate, HloInstruction x, HloInstruction y)
        {
            var dims = BroadcastDims("Where", predicate.Shape, Shape.Array(x.Shape.ElementType, BroadcastDims("Where", x.Shape, y.Shape)));
            return b.Select(BroadcastTo(b, predicate, dims), BroadcastTo(b, x, dims), BroadcastTo(b, y, dims));
        }

        // ---- activations ----

        public static HloInstruction Relu(HloBuilder b, HloInstruction x) => BinaryScalar(b, "maximum", x, 0);

        public static HloInstruction Sigmoid(HloBuilder b, HloInstruction x) => b.Logistic(x);

        /// <summary>Softmax along <paramref name="axis"/>, stabilised by subtracting the max.</summary>
        public static HloInstruction Softmax(HloBuilder b, HloInstruction x, int axis = -1)
        {
            int a = NormalizeAxis("Softmax", x.Shape, axis);
            var shifted = b.Subtract(x, KeepDims(b, b.ReduceMax(x, a), x.Shape, a));
            var e = b.Exp(shifted);
            var sum = KeepDims(b, b.ReduceSum(e, a), x.Shape, a);
            return b.Divide(e, sum);
        }

        /// <summary>log(softmax(x)) along <paramref name="axis"/>: x - max - log(sum(exp(x - max))).</summary>
        public static HloInstruction LogSoftmax(HloBuilder b, HloInstruction x, int axis = -1)
        {
            int a = NormalizeAxis("LogSoftmax", x.Shape, axis);
            var shifted = b.Subtract(x, KeepDims(b, b.ReduceMax(x, a), x.Shape, a));
            var lse = b.Log(b.ReduceSum(b.Exp(shifted), a));
            return b.Subtract(shifted, KeepDims(b, lse, x.Shape, a));
        }

        /// <summary>Broadcasts a reduction result (axis removed) back along <paramref name="axis"/> to <paramref name="full"/>.</summary>
        public static HloInstruction KeepDims(HloBuilder b, HloInstruction reduced, Shape full, int axis)
        {
            var mapping = Enumerable.Range(0, full.Rank).Where(i => i != axis).Select(i => (long)i).ToArray();
            return b.Broadcast(reduced, full.Dims.ToArray(), mapping);
        }

        // ---- reductions ----

        /// <summary>Axes to reduce: all when none are given; negative axes count from the end.</summary>
        public static long[] ReductionAxes(string what, Shape s, IReadOnlyList<int> axes)
        {
            if (axes.Count == 0) return Enumerable.Range(0, s.Rank).Select(i => (long)i).ToArray();
            var r = axes.Select(a => (long)NormalizeAxis(what, s, a)).ToArray();
            if (r.Distinct().Count() != r.Length) throw new ShapeException($"{what}: axis listed twice in ({string.Join(", ", axes)})");
            return r.OrderBy(a => a).ToArray();
        }

        public static HloInstruction Sum(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes) =>
            b.ReduceSum(x, ReductionAxes("Sum", x.Shape, axes));

        public static HloInstruction Max(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes) =>
            b.ReduceMax(x, ReductionAxes("Max", x.Shape, axes));

        public static HloInstruction Min(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes) =>
            b.ReduceMin(x, ReductionAxes("Min", x.Shape, axes));

        /// <summary>Mean over axes; the count may be symbolic (B), then it is get-dimension-size at build time.</summary>
        public static HloInstruction Mean(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes)
        {
            if (!x.Shape.ElementType.IsFloatingPoint()) throw new ShapeException($"Mean: needs a floating-point tensor, got {x.Shape}", isElementTypeError: true);
            var r = ReductionAxes("Mean", x.Shape, axes);
            var sum = b.ReduceSum(x, r);
            HloInstruction? count = null;
            long constantCount = 1;
            foreach (var a in r)
            {
                var d = x.Shape.Dims[(int)a];
                if (d.IsConstant)
                {
                    constantCount *= d.Value;
                    continue;
                }
                var size = b.Convert(b.DimensionSize(x, a), x.Shape.ElementType);
                count = count == null ? size : b.Multiply(count, size);
            }
            var total = b.Constant(x.Shape.ElementType, constantCount);
            if (count != null) total = constantCount == 1 ? count : b.Multiply(count, total);
            var divisor = sum.Shape.IsScalar ? total : b.BroadcastScalar(total, sum.Shape.Dims.ToArray());
            return b.Divide(sum, divisor);
        }

        // ---- shapes ----

        public static int NormalizeAxis(string what, Shape s, int axis)
        {
            int a = axis < 0 ? axis + s.Rank : axis;
            if (a < 0 || a >= s.Rank) throw new ShapeException($"{what}: axis {axis} is out of range for {s} (rank {s.Rank})");
            return a;
        }

        /// <summary>Matrix product with NumPy matmul rules: [..,m,k]·[k,n] contracts the last lhs dim with the first
        /// rhs dim; equal-rank operands of rank ≥ 3 are batched over the leading dims; rank 1 is a vector.</summary>
        public static HloInstruction MatMul(HloBuilder b, HloInstruction x, HloInstruction y)
        {
            var xs = x.Shape;
            var ys = y.Shape;
            if (xs.Rank == 0 || ys.Rank == 0) throw new ShapeException($"MatMul: needs tensors of rank 1 or more, got {xs} and {ys}");
            if (xs.ElementType != ys.ElementType) throw new ShapeException($"MatMul: element types differ: {xs} and {ys}", isElementTypeError: true);
            if (ys.Rank <= 2 || xs.Rank == 1)
            {
                long lc = xs.Rank - 1;
                long rc = ys.Rank == 1 ? 0 : ys.Rank - 2;
                if (xs.Dims[(int)lc] != ys.Dims[(int)rc])
                    throw new ShapeException($"MatMul: {xs} × {ys}: inner dimensions differ ({xs.Dims[(int)lc]} vs {ys.Dims[(int)rc]})");
                if (xs.Rank == 1 && ys.Rank > 2) throw new ShapeException($"MatMul: a vector times a rank-{ys.Rank} tensor is not supported ({xs} × {ys})");
                return b.Dot(x, y, new DotDimensionNumbers(new[] { lc }, new[] { rc }));
            }
            if (xs.Rank != ys.Rank) throw new ShapeException($"MatMul: batched operands need equal rank, got {xs} × {ys}");
            int batch = xs.Rank - 2;
            for (int i = 0; i < batch; i++)
            {
                if (xs.Dims[i] != ys.Dims[i]) throw new ShapeException($"MatMul: batch dimension {i} differs: {xs} × {ys}");
            }
            if (xs.Dims[xs.Rank - 1] != ys.Dims[ys.Rank - 2])
                throw new ShapeException($"MatMul: {xs} × {ys}: inner dimensions differ ({xs.Dims[xs.Rank - 1]} vs {ys.Dims[ys.Rank - 2]})");
            var batchDims = Enumerable.Range(0, batch).Select(i => (long)i).ToArray();
            return b.Dot(x, y, new DotDimensionNumbers(new long[] { xs.Rank - 1 }, new long[] { ys.Rank - 2 }, batchDims, batchDims));
        }

        /// <summary>Reshape to <paramref name="dims"/>, where one entry may be -1 (inferred, symbolic allowed).</summary>
        public static HloInstruction Reshape(HloBuilder b, HloInstruction x, IReadOnlyList<Dim> dims)
        {
            var s = x.Shape;
            int inferred = -1;
            Dim known = 1;
            for (int i = 0; i < dims.Count; i++)
            {
                if (dims[i].IsConstant && dims[i].Value == -1)
                {
                    if (inferred >= 0) throw new ShapeException($"Reshape: only one dimension may be -1, got ({string.Join(", ", dims)})");
                    inferred = i;
                }
                else if (dims[i].Factor <= 0)
                {
                    throw new ShapeException($"Reshape: dimension {dims[i]} must be positive (or -1 to infer it)");
                }
                else known *= dims[i];
            }
            var result = dims.ToArray();
            if (inferred >= 0)
            {
                if (!Dim.TryDivide(s.ElementCountDim, known, out var q))
                    throw new ShapeException($"Reshape: cannot reshape {s} ({s.ElementCountDim} elements) to ({string.Join(", ", dims)}): {known} does not divide the element count");
                result[inferred] = q;
            }
            var total = Dim.Constant(1);
            foreach (var d in result) total *= d;
            if (total != s.ElementCountDim)
                throw new ShapeException($"Reshape: cannot reshape {s} ({s.ElementCountDim} elements) to [{string.Join(",", result)}] ({total} elements)");
            return b.Reshape(x, result);
        }

        /// <summary>Transpose with a permutation; none given reverses the dims (NumPy), and rank 2 swaps them.</summary>
        public static HloInstruction Transpose(HloBuilder b, HloInstruction x, IReadOnlyList<int> permutation)
        {
            var s = x.Shape;
            long[] perm = permutation.Count == 0
                ? Enumerable.Range(0, s.Rank).Reverse().Select(i => (long)i).ToArray()
                : permutation.Select(p => (long)NormalizeAxis("Transpose", s, p)).ToArray();
            if (perm.Length != s.Rank || perm.Distinct().Count() != perm.Length)
                throw new ShapeException($"Transpose: ({string.Join(", ", permutation)}) is not a permutation of the {s.Rank} dimensions of {s}");
            return b.Transpose(x, perm);
        }
    }
}
