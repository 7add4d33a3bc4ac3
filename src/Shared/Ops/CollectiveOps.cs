using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// all-reduce(x...), replica_groups={{…},…}, to_apply=reducer: every replica of a group gets the reduction of
    /// the group's operands, element by element. One operand gives its shape; several give a tuple of their shapes
    /// (XLA's variadic all-reduce, one rendezvous for many arrays). The reducer takes two scalars of the operands'
    /// element type and returns one. Replica groups must not name a replica twice; use_global_device_ids needs a
    /// channel_id and explicit groups (XLA's rules). Whether the ids fit the replica count is checked where the
    /// count is known: when a device compiles the program for its replicas.
    /// </summary>
    internal sealed class AllReduceOp : OpDef
    {
        public AllReduceOp() : base("all-reduce", OpCategory.Structural, 1, -1, "channel_id", "replica_groups", "use_global_device_ids") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        protected override Shape Infer(ShapeQuery q)
        {
            CheckReducer(q);
            CheckReplicaGroups(q);
            if (q.Operands.Count == 1) return q.Operand(0).WithLayout(null);
            return Shape.Tuple(q.Operands.Select(o => o.WithLayout(null)).ToArray());
        }

        /// <summary>The operands are arrays of one element type and to_apply reduces two scalars of it to one (all-reduce
        /// and reduce-scatter).</summary>
        internal static void CheckReducer(ShapeQuery q)
        {
            for (int i = 0; i < q.Operands.Count; i++)
            {
                q.RequireArray(i);
                if (q.Operand(i).ElementType != q.Operand(0).ElementType)
                    throw q.TypeError($"operand {i} {q.Operand(i)} and operand 0 {q.Operand(0)} differ in element type (one reducer serves them all)");
            }
            var reducer = q.Called[0];
            var ps = reducer.Parameters;
            if (ps.Count != 2) throw q.Error($"reducer %{reducer.Name} takes {ps.Count} parameters, needs 2 scalars");
            var scalar = Shape.Scalar(q.Operand(0).ElementType);
            if (!ps[0].Shape.Equals(scalar) || !ps[1].Shape.Equals(scalar) || !reducer.Root.Shape.Equals(scalar))
                throw q.TypeError($"reducer %{reducer.Name} is ({string.Join(", ", ps.Select(p => p.Shape))}) -> {reducer.Root.Shape}, needs ({scalar}, {scalar}) -> {scalar}");
        }

        /// <summary>XLA's verifier rules for replica_groups, channel_id and use_global_device_ids.</summary>
        internal static void CheckReplicaGroups(ShapeQuery q)
        {
            var a = q.Attributes;
            if (a.ChannelId < 0) throw q.Error($"channel_id {a.ChannelId} is negative");
            var groups = a.ReplicaGroups ?? new long[0][];
            var seen = new HashSet<long>();
            foreach (var g in groups)
            {
                if (g.Length == 0) throw q.Error("a replica group is empty");
                foreach (var id in g)
                {
                    if (id < 0) throw q.Error($"replica id {id} in replica_groups is negative");
                    if (!seen.Add(id)) throw q.Error($"replica {id} appears twice in replica_groups");
                }
            }
            if (a.UseGlobalDeviceIds)
            {
                if (a.ChannelId <= 0) throw q.Error("use_global_device_ids=true needs a channel_id (XLA's flattened-id mode)");
                if (groups.Length == 0) throw q.Error("use_global_device_ids=true needs explicit replica_groups");
            }
        }
    }

    /// <summary>
    /// all-gather(x...), dimensions={d}, replica_groups={{…},…}: every replica of a group gets the group's operands
    /// concatenated along d in the group's order (JAX's all_gather(tiled=True)); several operands give a tuple.
    /// reduce-scatter(x...), dimensions={d}, to_apply=reducer: the group's operands reduced element by element, as
    /// all-reduce would, and split along d into one block per member, member p keeping block p (JAX's psum_scatter).
    /// The group size sets the result's dimension d (×g for all-gather, ÷g for reduce-scatter, which must divide it);
    /// groups must all have one size, as XLA's verifier requires. With replica_groups={} (all replicas) the size is the
    /// replica count, known only at compile time: the instruction's stated result shape is taken, and checked against
    /// the count when a device compiles it for its replicas.
    /// </summary>
    internal sealed class AllGatherOp : OpDef
    {
        public AllGatherOp() : base("all-gather", OpCategory.Structural, 1, -1, "dimensions", "channel_id", "replica_groups", "use_global_device_ids") { }

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q) => Blocks(q, gather: true);

        /// <summary>The result of all-gather (<paramref name="gather"/>) or reduce-scatter: each operand with dimension d
        /// times or divided by the group size.</summary>
        internal static Shape Blocks(ShapeQuery q, bool gather)
        {
            var dims = q.Attributes.Dimensions;
            if (dims == null || dims.Length != 1)
                throw q.Error($"needs dimensions={{d}}, the one dimension to {(gather ? "gather along" : "scatter along")}, got {(dims == null ? "none" : "{" + string.Join(",", dims) + "}")}");
            long d = dims[0];
            AllReduceOp.CheckReplicaGroups(q);
            var groups = q.Attributes.ReplicaGroups;
            long size = 0;
            if (groups is { Length: > 0 })
            {
                size = groups[0].Length;
                foreach (var g in groups)
                {
                    if (g.Length != size)
                        throw q.Error($"replica groups of {size} and {g.Length} replicas: every group must have the same size (it sets the result's dimension {d})");
                }
            }
            int n = q.Operands.Count;
            var results = new Shape[n];
            for (int i = 0; i < n; i++)
            {
                q.RequireArray(i);
                var s = q.Operand(i);
                if (d < 0 || d >= s.Rank) throw q.Error($"dimension {d} is out of range for operand {i} {s} (rank {s.Rank})");
                var od = s.Dims[(int)d];
                if (!od.IsConstant) throw q.Error($"operand {i} {s}: dimension {d} must be static");
                if (size > 0)
                {
                    if (!gather && od.Value % size != 0)
                        throw q.Error($"operand {i} {s}: dimension {d} ({od.Value}) does not split into {size} equal blocks, one per replica of a group");
                    var rd = s.Dims.ToArray();
                    rd[(int)d] = gather ? od.Value * size : od.Value / size;
                    results[i] = Shape.Array(s.ElementType, rd);
                    continue;
                }
                // replica_groups={}: the stated result, when it is the operand resized along d by a whole factor
                var declared = q.Declared == null ? null : n == 1 ? q.Declared : q.Declared.IsTuple && q.Declared.TupleShapes.Count == n ? q.Declared.TupleShapes[i] : null;
                if (declared == null)
                    throw q.Error("with replica_groups={} (all replicas) the result shape must be stated (the replica count is known only when the program is compiled), or give the groups");
                bool fits = declared.IsArray && declared.ElementType == s.ElementType && declared.Rank == s.Rank;
                for (int k = 0; fits && k < s.Rank; k++)
                {
                    var a = s.Dims[k];
                    var b = declared.Dims[k];
                    fits = k != d ? a.Equals(b) : b.IsConstant && b.Value > 0 && (gather ? b.Value % od.Value == 0 : od.Value % b.Value == 0);
                }
                if (!fits) throw q.Error($"the stated result {declared} is not operand {i} {s} with dimension {d} {(gather ? "multiplied" : "divided")} by a replica count");
                results[i] = declared.WithLayout(null);
            }
            return n == 1 ? results[0] : Shape.Tuple(results);
        }
    }

    /// <summary>reduce-scatter: see <see cref="AllGatherOp"/>.</summary>
    internal sealed class ReduceScatterOp : OpDef
    {
        public ReduceScatterOp() : base("reduce-scatter", OpCategory.Structural, 1, -1, "dimensions", "channel_id", "replica_groups", "use_global_device_ids") { }

        public override IReadOnlyList<string> CalledComputationKeys => new[] { "to_apply" };

        public override bool TakesDeclaredShape => true;

        protected override Shape Infer(ShapeQuery q)
        {
            AllReduceOp.CheckReducer(q);
            return AllGatherOp.Blocks(q, gather: false);
        }
    }

    /// <summary>replica-id(): this replica's id as u32[].</summary>
    internal sealed class ReplicaIdOp : OpDef
    {
        public ReplicaIdOp() : base("replica-id", OpCategory.Source, 0, 0) { }

        protected override Shape Infer(ShapeQuery q) => Shape.Scalar(ElementType.U32);
    }
}
