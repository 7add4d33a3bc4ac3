using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>all-reduce, all-gather, reduce-scatter and replica-id on one device (one replica): the reduction of a group of one is its value and
/// the replica id is 0. What they do across replicas is ReplicaTests' (the CPU executor's virtual devices).</summary>
public static class CollectiveCases
{
    public static IEnumerable<ConformanceCase> All()
    {
        var x = T(new[] { 1.5f, -2, 3, float.NaN }, 2, 2);
        var i = T(new[] { 7, -1, 3 }, 3);
        yield return new("all-reduce/sum-one-replica", CaseModule.Of("ar", new Tensor[] { x }, (b, p) => b.AllReduce(new[] { p[0] })),
            new Tensor[] { x }, new Tensor[] { x });
        yield return new("all-reduce/variadic-max-grouped", CaseModule.Of("ar2", new Tensor[] { i, i }, (b, p) =>
                b.AllReduce(new[] { p[0], b.Negate(p[1]) }, "maximum", new[] { new long[] { 0 } }, channelId: 1)),
            new Tensor[] { i, i }, new Tensor[] { i, T(new[] { -7, 1, -3 }, 3) });
        yield return new("replica-id/zero", CaseModule.Of("rid", Array.Empty<Tensor>(), (b, _) => b.ReplicaId()),
            Array.Empty<Tensor>(), new Tensor[] { Scalar(0u) });
        // groups of one replica: all-gather and reduce-scatter are the identity
        yield return new("all-gather/one-replica", CaseModule.Of("ag", new Tensor[] { x }, (b, p) => b.AllGather(new[] { p[0] }, 1, new[] { new long[] { 0 } })),
            new Tensor[] { x }, new Tensor[] { x });
        yield return new("reduce-scatter/variadic-one-replica", CaseModule.Of("rs", new Tensor[] { x }, (b, p) =>
                b.ReduceScatter(new[] { p[0], b.Multiply(p[0], p[0]) }, 0, new[] { new long[] { 0 } }, channelId: 2)),
            new Tensor[] { x }, new Tensor[] { x, T(new[] { 2.25f, 4, 9, float.NaN }, 2, 2) });
    }
}
