using Google.Protobuf;
using XlaGen.Hlo;

namespace XlaGen.Tests;

/// <summary>Modules whose computations call one another <c>depth</c> levels deep: entry → c(depth-2) → … → c1 → c0, where c0
/// negates its f32[4] argument. The proto is built by hand, so depths the writer and reader refuse can be made too, with
/// the callees listed first (as XLA writes them) or the callers first (legal too; the reader then recurses).</summary>
public static class DeepCalls
{
    /// <summary>The module built in memory (no verification), any depth.</summary>
    public static HloModule Module(int depth)
    {
        var b = new HloBuilder("deep_calls");
        var s0 = b.CreateSubBuilder("c0");
        var inner = s0.Build(s0.Negate(s0.Parameter(ElementType.F32, new Dim[] { 4 }, "p0")));
        for (int level = 1; level < depth - 1; level++)
        {
            var s = b.CreateSubBuilder("c" + level);
            inner = s.Build(s.AddInstruction("call", new[] { s.Parameter(ElementType.F32, new Dim[] { 4 }, "p" + level) }, called: new[] { inner }));
        }
        var x = b.Parameter(ElementType.F32, new Dim[] { 4 }, "x");
        return b.BuildModule(b.AddInstruction("call", new[] { x }, called: new[] { inner }));
    }

    public static byte[] Bytes(int depth, bool callersFirst = false) => Proto(depth, callersFirst).ToByteArray();

    public static Xla.HloModuleProto Proto(int depth, bool callersFirst = false)
    {
        if (depth < 3) throw new ArgumentOutOfRangeException(nameof(depth), depth, "at least 3: entry, one wrapper, the innermost");
        var b = new HloBuilder("deep_calls");
        var s0 = b.CreateSubBuilder("c0");
        var c0 = s0.Build(s0.Negate(s0.Parameter(ElementType.F32, new Dim[] { 4 }, "p0")));
        var s1 = b.CreateSubBuilder("c1");
        var c1 = s1.Build(s1.AddInstruction("call", new[] { s1.Parameter(ElementType.F32, new Dim[] { 4 }, "p1") }, called: new[] { c0 }));
        var x = b.Parameter(ElementType.F32, new Dim[] { 4 }, "x");
        var proto = HloProto.ToProto(b.BuildModule(b.AddInstruction("call", new[] { x }, called: new[] { c1 })));

        var wrapper = proto.Computations.Single(c => c.Name == "c1");
        var entry = proto.Computations.Single(c => c.Id == proto.EntryComputationId);
        long nextId = proto.Computations.SelectMany(c => c.Instructions).Max(i => i.Id) + 1;
        long nextComputation = proto.Computations.Max(c => c.Id) + 1;
        long previous = wrapper.Id;
        proto.Computations.Remove(entry);
        for (int level = 2; level < depth - 1; level++)
        {
            var copy = wrapper.Clone();
            copy.Id = nextComputation++;
            copy.Name = "c" + level;
            var idMap = new Dictionary<long, long>();
            foreach (var ins in copy.Instructions)
            {
                idMap[ins.Id] = nextId;
                ins.Id = nextId++;
                ins.Name = $"{ins.Opcode}.{copy.Name}";
            }
            foreach (var ins in copy.Instructions)
            {
                for (int k = 0; k < ins.OperandIds.Count; k++) ins.OperandIds[k] = idMap[ins.OperandIds[k]];
                for (int k = 0; k < ins.CalledComputationIds.Count; k++) ins.CalledComputationIds[k] = previous;
            }
            copy.RootId = idMap[copy.RootId];
            proto.Computations.Add(copy);
            previous = copy.Id;
        }
        foreach (var ins in entry.Instructions.Where(i => i.Opcode == "call")) ins.CalledComputationIds[0] = previous;
        proto.Computations.Add(entry);
        if (callersFirst)
        {
            var reversed = proto.Computations.Reverse().ToList();
            proto.Computations.Clear();
            proto.Computations.AddRange(reversed);
        }
        return proto;
    }
}
