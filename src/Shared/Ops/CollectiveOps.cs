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
            for (int i = 0; i < q.Operands.Count; i++)
            {
                q.RequireArray(i);
                if (q.Operand(i).ElementType != q.Operand(0).ElementType)
                    throw q.TypeError($"operand {i} {q.Operand(i)} and operand 0 {q.Operand(0)} differ in element type (one reducer serves them all)");
            }
            var type = q.Operand(0).ElementType;
            var reducer = q.Called[0];
            var ps = reducer.Parameters;
            if (ps.Count != 2) throw q.Error($"reducer %{reducer.Name} takes {ps.Count} parameters, needs 2 scalars");
            var scalar = Shape.Scalar(type);
            if (!ps[0].Shape.Equals(scalar) || !ps[1].Shape.Equals(scalar) || !reducer.Root.Shape.Equals(scalar))
                throw q.TypeError($"reducer %{reducer.Name} is ({string.Join(", ", ps.Select(p => p.Shape))}) -> {reducer.Root.Shape}, needs ({scalar}, {scalar}) -> {scalar}");
            CheckReplicaGroups(q);
            if (q.Operands.Count == 1) return q.Operand(0).WithLayout(null);
            return Shape.Tuple(q.Operands.Select(o => o.WithLayout(null)).ToArray());
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

    /// <summary>replica-id(): this replica's id as u32[].</summary>
    internal sealed class ReplicaIdOp : OpDef
    {
        public ReplicaIdOp() : base("replica-id", OpCategory.Source, 0, 0) { }

        protected override Shape Infer(ShapeQuery q) => Shape.Scalar(ElementType.U32);
    }
}
