using XlaGen.Hlo;

namespace XlaGen.Tests;

/// <summary>Replicated programs the in-process replica tests and the remote-replica server tests both run (Server.Tests
/// links this file, as it links DeepCalls.cs; TestSupport stays free of the runtime, which Package.Tests does not reference).</summary>
public static class ReplicaPrograms
{
    /// <summary>while (i &lt; limit) { v = all-reduce(v) or v + v; i++ }, then optionally all-reduce(v). The limit is a
    /// per-replica argument, so replicas given different limits run different collectives, or one waits for ever at a
    /// collective the others never reach: the failures a rendezvous must report instead of hanging.</summary>
    public static HloModule LoopWithAllReduce(bool reduceInBody, bool reduceAfter = true)
    {
        var b = new HloBuilder("loop");
        var limit = b.Parameter(Shape.Scalar(ElementType.S32), "limit");
        var v0 = b.Parameter(Shape.Array(ElementType.F32, 2), "v");
        var state = Shape.Tuple(Shape.Scalar(ElementType.S32), Shape.Scalar(ElementType.S32), Shape.Array(ElementType.F32, 2));
        var cb = b.CreateSubBuilder("cond");
        var cs = cb.Parameter(state, "s");
        var cond = cb.Build(cb.Compare(cb.GetTupleElement(cs, 0), cb.GetTupleElement(cs, 1), "LT"));
        var bb = b.CreateSubBuilder("body");
        var bs = bb.Parameter(state, "s");
        var v = bb.GetTupleElement(bs, 2);
        var next = reduceInBody ? bb.AllReduce(new[] { v }) : bb.Add(v, v);
        var body = bb.Build(bb.Tuple(bb.Add(bb.GetTupleElement(bs, 0), bb.Constant(ElementType.S32, 1)), bb.GetTupleElement(bs, 1), next));
        var w = b.AddInstruction("while", new[] { b.Tuple(b.Constant(ElementType.S32, 0), limit, v0) }, null, called: new[] { body, cond });
        var result = b.GetTupleElement(w, 2);
        return b.BuildModule(reduceAfter ? b.AllReduce(new[] { result }) : result);
    }
}
