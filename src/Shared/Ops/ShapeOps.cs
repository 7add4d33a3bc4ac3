using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>broadcast: operand dim i goes to result dim dimensions[i] (equal size or 1); other result dims are new.</summary>
    internal sealed class BroadcastOp : OpDef
    {
        public BroadcastOp() : base("broadcast", OpCategory.Structural, 1, 1, "dimensions") { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            var d = q.RequireDeclared();
            var map = q.Attributes.Dimensions ?? new long[0];
            if (d.ElementType != x.ElementType) throw q.Error($"result {d} must keep the element type of the operand {x}");
            if (map.Length != x.Rank) throw q.Error($"dimensions={{{string.Join(",", map)}}} must name one result dimension for each of the {x.Rank} operand dimensions of {x}");
            CheckAxes(q, map, d.Rank, "broadcast dimension");
            for (int i = 0; i < map.Length; i++)
            {
                if (i > 0 && map[i] <= map[i - 1]) throw q.Error($"dimensions={{{string.Join(",", map)}}} must be strictly increasing");
                var od = x.Dims[i];
                var rd = d.Dims[(int)map[i]];
                if (od != rd && !(od.IsConstant && od.Value == 1))
                    throw q.Error($"operand dimension {i} of {x} is {od} but result dimension {map[i]} of {d} is {rd}");
            }
            return d.WithLayout(null);
        }
    }

    /// <summary>reshape: same element count, row-major order.</summary>
    internal sealed class ReshapeOp : OpDef
    {
        public ReshapeOp() : base("reshape", OpCategory.Structural, 1, 1) { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            var d = q.RequireDeclared();
            if (d.ElementType != x.ElementType) throw q.Error($"result {d} must keep the element type of the operand {x}");
            if (x.ElementCountDim != d.ElementCountDim)
                throw q.Error($"cannot reshape {x} ({x.ElementCountDim} elements) to {d} ({d.ElementCountDim} elements)");
            return d.WithLayout(null);
        }
    }

    /// <summary>bitcast: reinterpretation with the same byte size; for equal element types a reshape.</summary>
    internal sealed class BitcastOp : OpDef
    {
        public BitcastOp() : base("bitcast", OpCategory.Structural, 1, 1) { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            var x = q.Operand(0);
            var d = q.RequireDeclared();
            if (x.ElementType != d.ElementType || x.ElementCountDim != d.ElementCountDim)
                throw q.Error($"bitcast from {x} to {d} changes the element type or count; only same-type reshapes are supported");
            return d;
        }
    }

    /// <summary>transpose: result dim i = operand dim dimensions[i].</summary>
    internal sealed class TransposeOp : OpDef
    {
        public TransposeOp() : base("transpose", OpCategory.Structural, 1, 1, "dimensions") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            var perm = q.RequireDimensions("dimensions (the permutation)");
            if (perm.Length != x.Rank) throw q.Error($"dimensions={{{string.Join(",", perm)}}} is not a permutation of the {x.Rank} dimensions of {x}");
            CheckAxes(q, perm, x.Rank, "dimension");
            return x.WithDims(perm.Select(p => x.Dims[(int)p]).ToArray());
        }
    }

    /// <summary>reverse: same shape, order reversed along dimensions.</summary>
    internal sealed class ReverseOp : OpDef
    {
        public ReverseOp() : base("reverse", OpCategory.Structural, 1, 1, "dimensions") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            CheckAxes(q, q.RequireDimensions("dimensions"), q.Operand(0).Rank, "dimension");
            return q.Operand(0).WithLayout(null);
        }
    }

    /// <summary>slice: per dimension [start:limit:stride].</summary>
    internal sealed class SliceOp : OpDef
    {
        public SliceOp() : base("slice", OpCategory.Structural, 1, 1, "slice") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            var x = q.Operand(0);
            var s = q.Attributes.Slice ?? throw q.Error("missing slice={...}");
            if (s.Length != x.Rank) throw q.Error($"slice has {s.Length} ranges for the {x.Rank} dimensions of {x}");
            var outDims = new Dim[s.Length];
            for (int i = 0; i < s.Length; i++)
            {
                var r = s[i];
                var size = x.Dims[i];
                if (r.Stride < 1) throw q.Error($"dimension {i}: stride {r.Stride} must be at least 1");
                if (r.Start.IsConstant && r.Start.Value == 0 && r.Limit == size && r.Stride == 1)
                {
                    outDims[i] = size;
                    continue;
                }
                if (!r.Start.IsConstant || !r.Limit.IsConstant || !size.IsConstant)
                    throw q.Error($"dimension {i}: [{r.Start}:{r.Limit}] of {size} must be constant (or the whole dimension)");
                if (r.Start.Value < 0 || r.Start.Value > r.Limit.Value || r.Limit.Value > size.Value)
                    throw q.Error($"dimension {i}: [{r.Start}:{r.Limit}] is outside 0..{size} of {x}");
                outDims[i] = (r.Limit.Value - r.Start.Value + r.Stride - 1) / r.Stride;
            }
            return x.WithDims(outDims);
        }
    }

    /// <summary>concatenate along dimensions[0]; other dims equal.</summary>
    internal sealed class ConcatenateOp : OpDef
    {
        public ConcatenateOp() : base("concatenate", OpCategory.Structural, 1, -1, "dimensions") { }

        protected override Shape Infer(ShapeQuery q)
        {
            var dims = q.RequireDimensions("dimensions");
            if (dims.Length != 1) throw q.Error($"needs exactly one dimension, got {dims.Length}");
            var first = q.Operand(0);
            int axis = (int)dims[0];
            CheckAxes(q, dims, first.Rank, "dimension");
            Dim total = first.Dims[axis];
            for (int i = 1; i < q.Operands.Count; i++)
            {
                var o = q.Operand(i);
                q.RequireArray(i);
                RequireSameElementType(q, 0, i);
                if (o.Rank != first.Rank) throw q.Error($"operand {i} {o} has rank {o.Rank}, operand 0 {first} has rank {first.Rank}");
                for (int k = 0; k < first.Rank; k++)
                {
                    if (k != axis && o.Dims[k] != first.Dims[k])
                        throw q.Error($"operand {i} {o} differs from operand 0 {first} in dimension {k} (only dimension {axis} may differ)");
                }
                var d = o.Dims[axis];
                if (!Dim.TryAdd(total, d, out var sum))
                    throw q.Error($"cannot add the sizes {total} and {d} of dimension {axis} (they are not the same symbolic size)");
                total = sum;
            }
            var outDims = first.Dims.ToArray();
            outDims[axis] = total;
            return first.WithDims(outDims);
        }
    }

    /// <summary>pad(operand, scalar) with padding_config low_high_interior per dimension (negative low/high trims).</summary>
    internal sealed class PadOp : OpDef
    {
        public PadOp() : base("pad", OpCategory.Structural, 2, 2, "padding") { }

        protected override Shape Infer(ShapeQuery q)
        {
            var x = q.Operand(0);
            if (!q.Operand(1).IsScalar) throw q.Error($"the padding value must be a scalar, got {q.Operand(1)}");
            RequireSameElementType(q, 0, 1);
            var p = q.Attributes.Padding ?? throw q.Error("missing padding=...");
            if (p.Length != x.Rank) throw q.Error($"padding has {p.Length} entries for the {x.Rank} dimensions of {x}");
            var outDims = new Dim[x.Rank];
            for (int i = 0; i < x.Rank; i++)
            {
                if (p[i].Interior < 0) throw q.Error($"dimension {i}: interior padding {p[i].Interior} is negative");
                if (p[i].Low == 0 && p[i].High == 0 && p[i].Interior == 0) { outDims[i] = x.Dims[i]; continue; }
                if (!x.Dims[i].IsConstant) throw q.Error($"dimension {i} ({x.Dims[i]}) must be constant to pad it");
                long n = x.Dims[i].Value;
                long size = p[i].Low + p[i].High + n + System.Math.Max(0, n - 1) * p[i].Interior;
                if (size < 0) throw q.Error($"dimension {i}: padding {p[i].Low}_{p[i].High}_{p[i].Interior} leaves a negative size");
                outDims[i] = size;
            }
            return x.WithDims(outDims);
        }
    }
}
