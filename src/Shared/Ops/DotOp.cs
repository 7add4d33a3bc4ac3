using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// dot (XLA's DotGeneral): batch dims pair up, contracting dims pair up and are summed over; the result is
    /// batch dims, then the lhs free dims, then the rhs free dims, each in operand order.
    /// </summary>
    internal sealed class DotOp : OpDef
    {
        public DotOp() : base("dot", OpCategory.Structural, 2, 2,
            "lhs_batch_dims", "lhs_contracting_dims", "rhs_batch_dims", "rhs_contracting_dims", "operand_precision") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            var lhs = q.Operand(0);
            var rhs = q.Operand(1);
            var dn = q.Attributes.Dot ?? throw q.Error("missing dot dimension numbers (lhs_contracting_dims, rhs_contracting_dims)");
            CheckAxes(q, dn.LhsBatch.Concat(dn.LhsContracting).ToList(), lhs.Rank, "lhs dimension");
            CheckAxes(q, dn.RhsBatch.Concat(dn.RhsContracting).ToList(), rhs.Rank, "rhs dimension");
            if (dn.LhsBatch.Length != dn.RhsBatch.Length)
                throw q.Error($"lhs has {dn.LhsBatch.Length} batch dimensions, rhs has {dn.RhsBatch.Length}");
            if (dn.LhsContracting.Length != dn.RhsContracting.Length)
                throw q.Error($"lhs has {dn.LhsContracting.Length} contracting dimensions, rhs has {dn.RhsContracting.Length}");
            for (int i = 0; i < dn.LhsBatch.Length; i++)
            {
                var a = lhs.Dims[(int)dn.LhsBatch[i]];
                var b = rhs.Dims[(int)dn.RhsBatch[i]];
                if (a != b) throw q.Error($"batch dimensions differ: {lhs} dimension {dn.LhsBatch[i]} is {a}, {rhs} dimension {dn.RhsBatch[i]} is {b}");
            }
            for (int i = 0; i < dn.LhsContracting.Length; i++)
            {
                var a = lhs.Dims[(int)dn.LhsContracting[i]];
                var b = rhs.Dims[(int)dn.RhsContracting[i]];
                if (a != b)
                    throw q.Error($"contracting dimensions differ: {lhs} dimension {dn.LhsContracting[i]} is {a}, {rhs} dimension {dn.RhsContracting[i]} is {b}");
            }
            var type = lhs.ElementType;
            if (q.Declared != null)
            {
                type = q.Declared.ElementType;   // XLA allows mixed operand types with an explicit result type (s16 x s8 -> s32)
            }
            else if (lhs.ElementType != rhs.ElementType)
            {
                throw q.TypeError($"element types differ: {lhs} and {rhs} (convert one operand first)");
            }
            var dims = new List<Dim>();
            dims.AddRange(dn.LhsBatch.Select(d => lhs.Dims[(int)d]));
            dims.AddRange(FreeDims(lhs, dn.LhsBatch, dn.LhsContracting));
            dims.AddRange(FreeDims(rhs, dn.RhsBatch, dn.RhsContracting));
            return Shape.Array(type, dims.ToArray());
        }

        /// <summary>Dimensions of <paramref name="s"/> that are neither batch nor contracting, in order.</summary>
        public static IEnumerable<Dim> FreeDims(Shape s, long[] batch, long[] contracting) =>
            Enumerable.Range(0, s.Rank).Where(i => !batch.Contains(i) && !contracting.Contains(i)).Select(i => s.Dims[i]);

        public static int[] FreeAxes(int rank, long[] batch, long[] contracting) =>
            Enumerable.Range(0, rank).Where(i => !batch.Contains(i) && !contracting.Contains(i)).ToArray();
    }
}
