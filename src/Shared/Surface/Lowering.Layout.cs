using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    // Indexing and layout: Slice, Concat, Stack, Pad, Reverse, Flatten, Take/Embedding, OneHot, dynamic slices.
    internal static partial class Lowering
    {
        /// <summary>Python's x[start:end:step] along one axis. Negative indices count from the end; out-of-range bounds are
        /// clamped as in Python, but an empty result is an error. A symbolic dimension can only be taken whole.</summary>
        public static HloInstruction Slice(HloBuilder b, HloInstruction x, int axis, int start, int? end, int step)
        {
            var s = x.Shape;
            if (s.Rank == 0) throw new ShapeException($"Slice: cannot slice the scalar {s}");
            int a = NormalizeAxis("Slice", s, axis);
            if (step < 1) throw new ShapeException($"Slice: step {step} must be at least 1 (use Reverse to flip an axis)");
            var d = s.Dims[a];
            if (!d.IsConstant)
            {
                if (start != 0 || end != null || step != 1)
                    throw new ShapeException($"Slice: axis {axis} of {s} is symbolic ({d}); only the whole dimension can be taken (start 0, no end, step 1)");
                return x;
            }
            long n = d.Value;
            long lo = ClampIndex(start, n);
            long hi = end == null ? n : ClampIndex(end.Value, n);
            if (hi <= lo)
                throw new ShapeException($"Slice: [{start}:{(end == null ? "" : end.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))}] of axis {axis} (size {n}) of {s} is empty");
            if (lo == 0 && hi == n && step == 1) return x;
            var ranges = s.Dims.Select(dim => new SliceDimension(0, dim, 1)).ToArray();
            ranges[a] = new SliceDimension(lo, hi, step);
            return b.Slice(x, ranges);
        }

        static long ClampIndex(long i, long n) => i < 0 ? Math.Max(0, i + n) : Math.Min(i, n);

        /// <summary>Joins tensors along <paramref name="axis"/>; every other dimension must agree. The axis must be constant.</summary>
        public static HloInstruction Concat(HloBuilder b, int axis, IReadOnlyList<HloInstruction> parts, string what = "Concat")
        {
            if (parts.Count == 0) throw new ShapeException($"{what}: needs at least one tensor");
            var first = parts[0].Shape;
            if (first.Rank == 0) throw new ShapeException($"{what}: cannot join scalars along an axis (part 0 is {first}; use Tensor.Stack)");
            int a = NormalizeAxis(what, first, axis);
            for (int i = 0; i < parts.Count; i++)
            {
                var p = parts[i].Shape;
                if (p.ElementType != first.ElementType)
                    throw new ShapeException($"{what}: part {i} {p} and part 0 {first} have different element types", isElementTypeError: true);
                if (p.Rank != first.Rank)
                    throw new ShapeException($"{what}: part {i} {p} has rank {p.Rank} but part 0 {first} has rank {first.Rank}");
                for (int k = 0; k < p.Rank; k++)
                {
                    if (k != a && p.Dims[k] != first.Dims[k])
                        throw new ShapeException($"{what}: part {i} {p} differs from part 0 {first} in dimension {k} (only axis {a} may differ)");
                }
                if (!p.Dims[a].IsConstant)
                    throw new ShapeException($"{what}: axis {a} of part {i} {p} is symbolic ({p.Dims[a]}); tensors can only be joined along a constant dimension");
            }
            return parts.Count == 1 ? parts[0] : b.Concatenate(a, parts.ToArray());
        }

        /// <summary>Stacks tensors of one shape along a new axis (NumPy's stack): [a, b] of [3,4] along 0 gives [2,3,4].</summary>
        public static HloInstruction Stack(HloBuilder b, int axis, IReadOnlyList<HloInstruction> parts)
        {
            if (parts.Count == 0) throw new ShapeException("Stack: needs at least one tensor");
            var first = parts[0].Shape;
            int a = axis < 0 ? axis + first.Rank + 1 : axis;
            if (a < 0 || a > first.Rank) throw new ShapeException($"Stack: axis {axis} is out of range for stacking tensors {first} (a new axis goes at 0..{first.Rank}, or -{first.Rank + 1}..-1)");
            var expanded = new List<HloInstruction>();
            for (int i = 0; i < parts.Count; i++)
            {
                if (!parts[i].Shape.Equals(first))
                    throw new ShapeException($"Stack: part {i} {parts[i].Shape} differs from part 0 {first} (stacked tensors must have one shape)", parts[i].Shape.ElementType != first.ElementType);
                var dims = first.Dims.ToList();
                dims.Insert(a, 1);
                expanded.Add(b.Reshape(parts[i], dims.ToArray()));
            }
            return Concat(b, a, expanded, "Stack");
        }

        /// <summary>Constant padding: <paramref name="before"/>[i] and <paramref name="after"/>[i] elements of <paramref name="value"/>
        /// (a scalar of x's element type) around dimension i. Amounts must not be negative (Slice trims).</summary>
        public static HloInstruction Pad(HloBuilder b, HloInstruction x, IReadOnlyList<int> before, IReadOnlyList<int> after, HloInstruction value)
        {
            var s = x.Shape;
            if (before.Count != s.Rank || after.Count != s.Rank)
                throw new ShapeException($"Pad: needs one amount per dimension of {s} ({s.Rank}), got {before.Count} before and {after.Count} after");
            if (!value.Shape.IsScalar || value.Shape.ElementType != s.ElementType)
                throw new ShapeException($"Pad: the padding value must be a {s.ElementType.TextName()} scalar, got {value.Shape}", isElementTypeError: value.Shape.IsScalar);
            var config = new PaddingDimension[s.Rank];
            for (int i = 0; i < s.Rank; i++)
            {
                if (before[i] < 0 || after[i] < 0)
                    throw new ShapeException($"Pad: padding must not be negative (use Slice to trim), got {before[i]} before and {after[i]} after dimension {i} of {s}");
                if ((before[i] != 0 || after[i] != 0) && !s.Dims[i].IsConstant)
                    throw new ShapeException($"Pad: dimension {i} of {s} is symbolic ({s.Dims[i]}) and cannot be padded");
                config[i] = new PaddingDimension(before[i], after[i], 0);
            }
            if (config.All(p => p.Low == 0 && p.High == 0)) return x;
            return b.AddInstruction("pad", new[] { x, value }, new HloAttributes { Padding = config });
        }

        /// <summary>Reverses the order of elements along <paramref name="axes"/> (all when none, as NumPy's flip).</summary>
        public static HloInstruction Reverse(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes)
        {
            if (x.Shape.Rank == 0) throw new ShapeException($"Reverse: cannot reverse the scalar {x.Shape}");
            var r = ReductionAxes("Reverse", x.Shape, axes);
            return b.AddInstruction("reverse", new[] { x }, new HloAttributes { Dimensions = r });
        }

        /// <summary>Keeps dimension 0 and flattens the rest: [B,28,28,1] → [B,784]; [B] → [B,1]. Symbolic dims multiply (B·T).</summary>
        public static HloInstruction Flatten(HloBuilder b, HloInstruction x)
        {
            var s = x.Shape;
            if (s.Rank == 0) throw new ShapeException($"Flatten: needs a tensor with a first (batch) dimension, got the scalar {s}");
            if (s.Rank == 2) return x;
            Dim rest = 1;
            for (int i = 1; i < s.Rank; i++) rest *= s.Dims[i];
            return b.Reshape(x, s.Dims[0], rest);
        }

        /// <summary>
        /// NumPy's take: the slices of x at <paramref name="indices"/> along <paramref name="axis"/>; the result is
        /// x.dims[..axis] + indices.dims + x.dims[axis+1..]. Indices are clamped into [0, size − 1] (XLA gather). A gather
        /// with the other constant dims as slice dims; symbolic ones (the batch) become gather batching dims, so Take
        /// works on [B, …] activations.
        /// </summary>
        public static HloInstruction Take(HloBuilder b, HloInstruction x, HloInstruction indices, int axis, string what = "Take")
        {
            var s = x.Shape;
            var ids = indices.Shape;
            if (s.Rank == 0) throw new ShapeException($"{what}: cannot index the scalar {s}");
            RequireInteger(what, "indices", indices);
            int a = NormalizeAxis(what, s, axis);
            if (!s.Dims[a].IsConstant)
                throw new ShapeException($"{what}: axis {axis} of {s} is symbolic ({s.Dims[a]}); the indexed dimension must be constant");
            var symbolicBefore = Enumerable.Range(0, a).Where(i => !s.Dims[i].IsConstant).ToList();
            var symbolicAfter = Enumerable.Range(a + 1, s.Rank - a - 1).Where(i => !s.Dims[i].IsConstant).ToList();
            var index = indices;
            if (symbolicBefore.Count + symbolicAfter.Count > 0)
            {
                // one index tensor per batch element: [symbolic dims before axis…, indices…, symbolic dims after…]
                var expanded = symbolicBefore.Select(i => s.Dims[i]).Concat(ids.Dims).Concat(symbolicAfter.Select(i => s.Dims[i])).ToArray();
                index = b.Broadcast(indices, expanded, Enumerable.Range(symbolicBefore.Count, ids.Rank).Select(i => (long)i).ToArray());
            }
            int ResultPosition(int i) => i < a ? i : i - 1 + ids.Rank;
            var offsetDims = Enumerable.Range(0, s.Rank).Where(i => i != a && s.Dims[i].IsConstant).Select(i => (long)ResultPosition(i)).ToArray();
            var batching = symbolicBefore.Concat(symbolicAfter).Select(i => (long)i).ToArray();
            var indexBatching = Enumerable.Range(0, symbolicBefore.Count)
                .Concat(Enumerable.Range(symbolicBefore.Count + ids.Rank, symbolicAfter.Count)).Select(i => (long)i).ToArray();
            var numbers = new GatherDimensionNumbers
            {
                OffsetDims = offsetDims,
                CollapsedSliceDims = new long[] { a },
                StartIndexMap = new long[] { a },
                IndexVectorDim = index.Shape.Rank,
                OperandBatchingDims = batching,
                StartIndicesBatchingDims = indexBatching,
            };
            var sizes = s.Dims.Select((d, i) => i == a || !d.IsConstant ? 1L : d.Value).ToArray();
            return b.AddInstruction("gather", new[] { x, index }, new HloAttributes { Gather = numbers, GatherSliceSizes = sizes });
        }

        /// <summary>Rows of an embedding table [V, D] at integer ids [B, …]: [B, …, D]. Ids are clamped into [0, V − 1].</summary>
        public static HloInstruction Embedding(HloBuilder b, HloInstruction table, HloInstruction ids)
        {
            if (table.Shape.Rank != 2) throw new ShapeException($"Embedding: the table must be [vocabulary, dim], got {table.Shape}");
            return Take(b, table, ids, 0, "Embedding");
        }

        /// <summary>f32 one-hot vectors of length <paramref name="depth"/> for integer ids [B, …]: [B, …, depth]. An id outside
        /// [0, depth) gives a row of zeros (TensorFlow's one_hot).</summary>
        public static HloInstruction OneHot(HloBuilder b, HloInstruction ids, int depth, ElementType type = ElementType.F32)
        {
            RequireInteger("OneHot", "ids", ids);
            if (depth < 1) throw new ShapeException($"OneHot: depth {depth} must be at least 1");
            var dims = ids.Shape.Dims.Concat(new Dim[] { depth }).ToArray();
            int last = dims.Length - 1;
            var classes = b.Iota(Shape.Array(ElementType.S32, dims), last);
            var ids32 = ids.Shape.ElementType == ElementType.S32 ? ids : b.Convert(ids, ElementType.S32);
            var spread = b.Broadcast(ids32, dims, Enumerable.Range(0, last).Select(i => (long)i).ToArray());
            return b.Convert(b.Compare(classes, spread, "EQ"), type);
        }

        /// <summary>jax.lax.dynamic_slice: a slice of <paramref name="sizes"/> starting at the run-time index vector
        /// <paramref name="starts"/> (one integer per dimension), each start clamped so the slice fits (XLA semantics).</summary>
        public static HloInstruction DynamicSlice(HloBuilder b, HloInstruction x, HloInstruction starts, IReadOnlyList<int> sizes)
        {
            var s = x.Shape;
            var scalars = StartScalars(b, "DynamicSlice", s, starts);
            if (sizes.Count != s.Rank) throw new ShapeException($"DynamicSlice: needs one size per dimension of {s} ({s.Rank}), got {sizes.Count}");
            for (int i = 0; i < s.Rank; i++)
            {
                if (sizes[i] < 1 || sizes[i] > s.Dims[i].Value)
                    throw new ShapeException($"DynamicSlice: size {sizes[i]} of dimension {i} must be in 1..{s.Dims[i]} for {s}");
            }
            return b.AddInstruction("dynamic-slice", new[] { x }.Concat(scalars).ToArray(),
                new HloAttributes { DynamicSliceSizes = sizes.Select(v => (long)v).ToArray() });
        }

        /// <summary>jax.lax.dynamic_update_slice: x with <paramref name="update"/> written at the run-time index vector
        /// <paramref name="starts"/>, each start clamped so the update fits (XLA semantics).</summary>
        public static HloInstruction DynamicUpdateSlice(HloBuilder b, HloInstruction x, HloInstruction update, HloInstruction starts)
        {
            var s = x.Shape;
            var scalars = StartScalars(b, "DynamicUpdateSlice", s, starts);
            var u = update.Shape;
            if (u.ElementType != s.ElementType)
                throw new ShapeException($"DynamicUpdateSlice: the update {u} must have the element type of {s}", isElementTypeError: true);
            if (u.Rank != s.Rank) throw new ShapeException($"DynamicUpdateSlice: the update {u} must have the rank of {s}");
            for (int i = 0; i < s.Rank; i++)
            {
                if (!u.Dims[i].IsConstant || u.Dims[i].Value > s.Dims[i].Value)
                    throw new ShapeException($"DynamicUpdateSlice: the update {u} does not fit in {s} (dimension {i}: {u.Dims[i]} > {s.Dims[i]})");
            }
            return b.AddInstruction("dynamic-update-slice", new[] { x, update }.Concat(scalars).ToArray());
        }

        /// <summary>The start vector s32[rank] split into the scalar operands dynamic-slice takes.</summary>
        static HloInstruction[] StartScalars(HloBuilder b, string what, Shape s, HloInstruction starts)
        {
            RequireInteger(what, "starts", starts);
            if (starts.Shape.Rank != 1 || starts.Shape.Dims[0] != s.Rank)
                throw new ShapeException($"{what}: starts must be a vector with one index per dimension of {s} ([{s.Rank}]), got {starts.Shape}");
            for (int i = 0; i < s.Rank; i++)
            {
                if (!s.Dims[i].IsConstant)
                    throw new ShapeException($"{what}: dimension {i} of {s} is symbolic ({s.Dims[i]}); dynamic slices need constant dimensions");
            }
            return Enumerable.Range(0, s.Rank)
                .Select(i => b.Reshape(b.Slice(starts, new[] { new SliceDimension(i, i + 1, 1) })))
                .ToArray();
        }
    }
}
