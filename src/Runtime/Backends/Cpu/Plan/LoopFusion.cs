using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// The CPU executor's fusion pass, an HLO-to-HLO rewrite run by <see cref="CpuCompiler"/> before planning: chains of
/// elementwise instructions over the same loop shape (unary and binary ops, compare, select, convert) become one
/// <c>fusion</c> instruction (kind kLoop) calling a fused computation, which <see cref="LoopFusionKernel"/> evaluates in
/// one pass over memory, a cache-sized chunk at a time. Broadcasts of a scalar, of the trailing dims (a per-channel
/// vector) or of the leading dims are copied into every fusion that reads them, so they are never materialised.
/// A member read outside its fusion is an extra output (a multi-output fusion: the root is a tuple).
/// <para>
/// Grouping is greedy in program order: an elementwise instruction joins the fusion of one of its elementwise operands
/// unless that would create a cycle (another of its operands depends on that fusion through an instruction outside
/// it). Every element is computed by the same op structs as the unfused kernels, so results are bitwise the same.
/// XLA fuses on its own: this pass runs only for the CPU executor (locally and in xlagen-server); PJRT gets the module
/// as written. <c>XLAGEN_CPU_FUSION=0</c> turns it off (for comparisons).
/// </para>
/// </summary>
internal static class LoopFusion
{
    public static readonly bool EnabledByDefault = Environment.GetEnvironmentVariable("XLAGEN_CPU_FUSION") is not ("0" or "false");

    static readonly HashSet<string> Members = new(OpSelect.UnaryOpcodes.Concat(OpSelect.BinaryOpcodes).Concat(new[] { "compare", "select", "convert" }), StringComparer.Ordinal);

    sealed class Group
    {
        /// <summary>Position of the first member in the computation.</summary>
        public required int First { get; set; }
        public readonly List<HloInstruction> Members = new();
        public readonly HashSet<HloInstruction> Set = new();
        public bool InlinesArrayBroadcast;
        /// <summary>The group also computes column sums of its members (kInput).</summary>
        public bool Reduces;
        /// <summary>Members of other groups this one recomputes instead of reading (in <see cref="Members"/> and
        /// <see cref="Set"/> too; another group is their home).</summary>
        public readonly HashSet<HloInstruction> Copies = new();
    }

    /// <summary>Whether <see cref="Run(HloModule)"/> recomputes cheap producers instead of reading them
    /// (<see cref="Duplicate"/>; the bench's HLO_SWITCH turns it off for an A/B).</summary>
    internal static bool Duplicates = true;

    /// <summary>Most instructions one group copies in to recompute one value it would otherwise read.</summary>
    const int MaxCopies = 4;

    /// <summary>The module with its loop fusions formed, or <paramref name="module"/> itself when nothing fuses. The
    /// input is never changed.</summary>
    public static HloModule Run(HloModule module) => Run(module, Duplicates);

    /// <summary>As <see cref="Run(HloModule)"/>, recomputing cheap producers or not (<see cref="Duplicate"/>).</summary>
    internal static HloModule Run(HloModule module, bool duplicate)
    {
        var plans = module.Computations.ToDictionary(c => c, c => FindGroups(c, duplicate).Where(WorthFusing).ToList());
        if (plans.Values.All(g => g.Count == 0)) return module;
        return new Rewriter(module, plans).Run();
    }

    static bool WorthFusing(Group g) => g.Members.Count >= 2 || g.InlinesArrayBroadcast;

    /// <summary>
    /// An f32 add-reduce over a leading prefix of <paramref name="loop"/>'s dims, i.e. column sums of the loop viewed as
    /// [rows, C] (BatchNorm's statistics and gradient sums over [N, H, W, C]), with C dividing the kernel's chunk and
    /// at least 2 rows and columns. A fusion computes it in the pass that produces its operand (kInput, as XLA's
    /// reduction fusions do), summing each chunk's rows as one block: the order <see cref="Reduce.ColumnBlockRows"/>
    /// fixes for the standalone kernel too, so fused and unfused sums are bitwise the same.
    /// </summary>
    internal static bool IsFusibleColumnSum(HloInstruction r, Shape loop)
    {
        if (r.Opcode != "reduce" || r.Operands.Count != 2 || r.CalledComputations.Count != 1) return false;
        var x = r.Operands[0].Shape;
        if (!x.IsArray || !x.IsStatic || !SameDims(x, loop) || x.ElementType != ElementType.F32 || !r.Operands[1].Shape.IsScalar) return false;
        if (Reduce.Recognize(r.CalledComputations[0]) != Reduce.Kind.Add) return false;
        var dims = r.Attributes.Dimensions ?? Array.Empty<long>();
        int k = dims.Length;
        if (k == 0 || k >= x.Rank) return false;
        for (int i = 0; i < k; i++) if (!dims.Contains(i)) return false;
        long rows = 1, columns = 1;
        for (int i = 0; i < x.Rank; i++)
        {
            if (i < k) rows *= x.Dims[i].Value;
            else columns *= x.Dims[i].Value;
        }
        return rows >= 2 && columns >= 2 && columns <= LoopFusionKernel.Chunk && LoopFusionKernel.Chunk % columns == 0;
    }

    static bool IsMember(HloInstruction v)
    {
        if (!Members.Contains(v.Opcode) || !v.Shape.IsArray || !v.Shape.IsStatic || v.Shape.ElementCount < 2) return false;
        foreach (var o in v.Operands)
        {
            if (!o.Shape.IsArray) return false;
            if (!SameDims(o.Shape, v.Shape) && !IsInlinable(o, v.Shape)) return false;
        }
        return true;
    }

    static bool SameDims(Shape a, Shape b)
    {
        if (a.Rank != b.Rank) return false;
        for (int i = 0; i < a.Rank; i++) if (a.Dims[i] != b.Dims[i]) return false;
        return true;
    }

    /// <summary>A broadcast a fused loop can read without materialising it: of a scalar, onto the trailing dims
    /// (value i is operand[i mod P]), or onto the leading dims (value i is operand[i / Q]).</summary>
    internal static bool IsInlinable(HloInstruction o, Shape loop)
    {
        if (o.Opcode != "broadcast" || !SameDims(o.Shape, loop)) return false;
        var src = o.Operands[0].Shape;
        if (!src.IsArray) return false;
        if (src.IsScalar) return true;
        return BroadcastPattern(o) != BroadcastKind.None;
    }

    internal enum BroadcastKind { None, Trailing, Leading }

    internal static BroadcastKind BroadcastPattern(HloInstruction broadcast)
    {
        var dims = broadcast.Attributes.Dimensions ?? Array.Empty<long>();
        var src = broadcast.Operands[0].Shape;
        var dst = broadcast.Shape;
        int k = src.Rank, r = dst.Rank;
        if (dims.Length != k || k == 0 || k >= r) return BroadcastKind.None;
        bool trailing = true, leading = true;
        for (int i = 0; i < k; i++)
        {
            if (dims[i] != r - k + i || src.Dims[i] != dst.Dims[r - k + i]) trailing = false;
            if (dims[i] != i || src.Dims[i] != dst.Dims[i]) leading = false;
        }
        return trailing ? BroadcastKind.Trailing : leading ? BroadcastKind.Leading : BroadcastKind.None;
    }

    static List<Group> FindGroups(HloComputation c, bool duplicate)
    {
        var groups = new List<Group>();
        var users = new Dictionary<HloInstruction, int>();
        foreach (var ins in c.Instructions) foreach (var o in ins.Operands) users[o] = users.GetValueOrDefault(o) + 1;
        // Positions in a topological order with the non-members computed from no inputs (parameters, constants, iota,
        // and broadcasts of those) first: a constant the program defines late must not stop a chain from fusing.
        var hoisted = new HashSet<HloInstruction>();
        foreach (var ins in c.Instructions) if (!IsMember(ins) && ins.Operands.All(hoisted.Contains)) hoisted.Add(ins);
        var order = c.Instructions.Where(hoisted.Contains).Concat(c.Instructions.Where(i => !hoisted.Contains(i))).ToList();
        var index = new Dictionary<HloInstruction, int>();
        for (int i = 0; i < order.Count; i++) index[order[i]] = i;
        var groupOf = new Dictionary<HloInstruction, Group>();
        for (int i = 0; i < order.Count; i++)
        {
            var v = order[i];
            if (!IsMember(v)) continue;
            Group? chosen = null;
            foreach (var o in v.Operands.Where(groupOf.ContainsKey).OrderBy(o => users.GetValueOrDefault(o)))
            {
                if (ReadsOnlyBefore(v, groupOf[o].Set, groupOf[o].First, index, groupOf)) { chosen = groupOf[o]; break; }
            }
            if (chosen == null)
            {
                chosen = new Group { First = i };
                groups.Add(chosen);
            }
            chosen.Members.Add(v);
            chosen.Set.Add(v);
            groupOf[v] = chosen;
            // v may also join two chains (select(p, a, b) of two fusions): merge the others in when the rule still holds
            foreach (var o in v.Operands)
            {
                if (!groupOf.TryGetValue(o, out var other) || other == chosen) continue;
                int first = Math.Min(chosen.First, other.First);
                var union = new HashSet<HloInstruction>(chosen.Set);
                union.UnionWith(other.Set);
                if (!union.All(m => ReadsOnlyBefore(m, union, first, index, groupOf))) continue;
                chosen.Members.AddRange(other.Members);
                chosen.Members.Sort((a, b) => index[a].CompareTo(index[b]));
                chosen.Set.UnionWith(other.Set);
                chosen.First = first;
                chosen.InlinesArrayBroadcast |= other.InlinesArrayBroadcast;
                foreach (var m in other.Members) groupOf[m] = chosen;
                groups.Remove(other);
            }
            foreach (var o in v.Operands)
                if (!chosen.Set.Contains(o) && IsInlinable(o, v.Shape) && !o.Operands[0].Shape.IsScalar) chosen.InlinesArrayBroadcast = true;
        }
        // Column sums of a member join its group (kInput): computed in the same pass, and a member read only by them is
        // never written to memory. Nothing in the group can read the sum (its members read only what precedes the
        // group's first member), and its readers come after it, so no cycle forms; its init must precede the group.
        foreach (var r in order)
        {
            if (r.Opcode != "reduce" || !groupOf.TryGetValue(r.Operands[0], out var g) || g.Set.Contains(r)) continue;
            if (!IsFusibleColumnSum(r, r.Operands[0].Shape)) continue;
            var init = r.Operands[1];
            int at = groupOf.TryGetValue(init, out var other) ? other.First : index[init];
            if (at >= g.First) continue;
            g.Members.Add(r);
            g.Set.Add(r);
            g.Reduces = true;
        }
        foreach (var g in groups) if (g.Reduces) g.Members.Sort((a, b) => index[a].CompareTo(index[b]));
        if (duplicate) Duplicate(groups, index, groupOf);
        return groups;
    }

    /// <summary>
    /// Cheap producers recomputed instead of read (XLA's fusion duplicates them too): a group reading a member of an
    /// earlier group copies in that member and what it is computed from inside its group (at most
    /// <see cref="MaxCopies"/> elementwise instructions) when the loop-sized arrays the copies read, beyond those the
    /// group reads already, are no more bytes than the value itself. Once every fused reader recomputes a value, its
    /// group stops writing it: BatchNorm's x − mean is computed in each loop that needs it from x, and ReLU's gradient
    /// masks (pred) in the backward loop from the activation it reads anyway, instead of passing through memory. The
    /// copies compute with the same op structs on the same inputs, so results are bitwise unchanged.
    /// </summary>
    static void Duplicate(List<Group> groups, Dictionary<HloInstruction, int> index, Dictionary<HloInstruction, Group> groupOf)
    {
        foreach (var h in groups.OrderBy(g => g.First).ToList())
        {
            for (bool changed = true; changed;)
            {
                changed = false;
                var reads = new HashSet<HloInstruction>(ExternalArrays(h));
                foreach (var o in h.Members.SelectMany(m => m.Operands).Where(o => !h.Set.Contains(o)).Distinct().ToList())
                {
                    if (!groupOf.TryGetValue(o, out var home) || home == h || !IsMember(o) || h.Set.Contains(o)) continue;
                    // o's cone inside its home group (copies there included), stopping at what h has already
                    var cone = new List<HloInstruction>();
                    var seen = new HashSet<HloInstruction>();
                    var stack = new Stack<HloInstruction>();
                    stack.Push(o);
                    bool ok = true;
                    while (stack.Count > 0 && ok)
                    {
                        var x = stack.Pop();
                        if (!seen.Add(x)) continue;
                        if (!IsMember(x)) ok = false;
                        cone.Add(x);
                        foreach (var y in x.Operands) if (home.Set.Contains(y) && !h.Set.Contains(y)) stack.Push(y);
                        if (cone.Count > MaxCopies) ok = false;
                    }
                    if (!ok) continue;
                    long extra = 0;
                    foreach (var x in cone)
                        foreach (var y in x.Operands)
                            if (!seen.Contains(y) && !h.Set.Contains(y) && !IsInlinable(y, x.Shape) && !reads.Contains(y)) extra += Bytes(y);
                    if (extra > Bytes(o)) continue;
                    foreach (var x in cone)
                    {
                        h.Members.Add(x);
                        h.Set.Add(x);
                        h.Copies.Add(x);
                        foreach (var y in x.Operands) if (!h.Set.Contains(y) && IsInlinable(y, x.Shape) && !y.Operands[0].Shape.IsScalar) h.InlinesArrayBroadcast = true;
                    }
                    h.Members.Sort((a, b) => index[a].CompareTo(index[b]));
                    changed = true;
                    break;
                }
            }
        }
    }

    static long Bytes(HloInstruction x) => x.Shape.IsArray ? x.Shape.ElementCount * x.Shape.ElementType.ByteSize() : 0;

    /// <summary>The arrays a group's members read from outside it (broadcast sources excluded: they are small).</summary>
    static IEnumerable<HloInstruction> ExternalArrays(Group g) =>
        g.Members.SelectMany(m => m.Operands.Where(o => !g.Set.Contains(o) && !IsInlinable(o, m.Shape)));

    /// <summary>
    /// A member may join a group only when everything it reads from outside the group comes before the group's first
    /// member (in the order FindGroups walks), where a member of another group counts at that group's first member: a
    /// fusion runs as one node at the place of its first member. Then every fusion depends only on what precedes that
    /// place and everything that reads it comes after it, so the fusions and the rest form no cycle, however groups
    /// interleave. (Counting a member at its own place instead kept a backward chain out of the fusion of a forward
    /// value it reads, e.g. ReLU's gradient mask computed beside the forward ReLU.)
    /// </summary>
    static bool ReadsOnlyBefore(HloInstruction v, HashSet<HloInstruction> group, int first, Dictionary<HloInstruction, int> index,
        Dictionary<HloInstruction, Group> groupOf)
    {
        foreach (var o in v.Operands)
        {
            if (group.Contains(o)) continue;
            var external = IsInlinable(o, v.Shape) ? o.Operands[0] : o;
            int at = groupOf.TryGetValue(external, out var other) ? other.First : index[external];
            if (at >= first) return false;
        }
        return true;
    }

    /// <summary>Builds the new module: every computation cloned (callees mapped), groups replaced by fusions.</summary>
    sealed class Rewriter(HloModule module, Dictionary<HloComputation, List<Group>> plans)
    {
        readonly Dictionary<HloComputation, HloComputation> mapped = new();
        readonly List<HloComputation> fused = new();
        readonly HashSet<string> names = new(module.AllInstructions.Select(i => i.Name), StringComparer.Ordinal);
        readonly HashSet<string> computationNames = new(module.Computations.Select(c => c.Name), StringComparer.Ordinal);
        long nextId = Math.Max(module.AllInstructions.Select(i => i.Id).DefaultIfEmpty(0).Max(), module.Computations.Select(c => c.Id).DefaultIfEmpty(0).Max()) + 1;

        public HloModule Run()
        {
            foreach (var c in module.Computations) Map(c);
            // callees before their callers (a fused body calls the reducer of the column sums it computes)
            var computations = new List<HloComputation>();
            var placed = new HashSet<HloComputation>();
            void Place(HloComputation c)
            {
                if (!placed.Add(c)) return;
                foreach (var i in c.Instructions) foreach (var callee in i.CalledComputations) Place(callee);
                computations.Add(c);
            }
            foreach (var c in fused.Concat(module.Computations.Select(c => mapped[c]))) Place(c);
            var result = new HloModule(module.Name, computations, mapped[module.Entry], module.Id);
            result.InputOutputAliases.AddRange(module.InputOutputAliases);
            return result;
        }

        string Unique(string name, HashSet<string> used)
        {
            if (used.Add(name)) return name;
            for (int k = 1; ; k++)
            {
                var candidate = $"{name}.{k}";
                if (used.Add(candidate)) return candidate;
            }
        }

        HloComputation Map(HloComputation c)
        {
            if (mapped.TryGetValue(c, out var done)) return done;
            var groups = plans[c];
            var memberOf = new Dictionary<HloInstruction, Group>();
            foreach (var g in groups) foreach (var m in g.Members) if (!g.Copies.Contains(m)) memberOf[m] = g;
            var containing = new Dictionary<HloInstruction, List<Group>>();
            foreach (var g in groups) foreach (var m in g.Members) (containing.TryGetValue(m, out var l) ? l : containing[m] = new()).Add(g);
            var users = new Dictionary<HloInstruction, List<HloInstruction>>();
            foreach (var i in c.Instructions) foreach (var o in i.Operands) (users.TryGetValue(o, out var l) ? l : users[o] = new()).Add(i);

            var result = new HloComputation(c.Id, c.Name) { IsFusionComputation = c.IsFusionComputation };
            var map = new Dictionary<HloInstruction, HloInstruction>();
            // mapped on demand, dependencies first (iteratively: chains are hundreds deep); a fusion is emitted when its
            // first output is needed, after everything its members read from outside it
            IEnumerable<HloInstruction> Dependencies(HloInstruction ins) =>
                memberOf.TryGetValue(ins, out var g) ? Externals(g) : ins.Operands;
            void Emit(HloInstruction ins)
            {
                if (memberOf.TryGetValue(ins, out var g))
                {
                    EmitFusion(g, c, users, containing, map, result);
                    return;
                }
                map[ins] = result.Add(new HloInstruction(ins.Id, ins.Name, ins.Opcode, ins.Shape,
                    ins.Operands.Select(o => map[o]), ins.Attributes, ins.CalledComputations.Select(Map), ins.Metadata));
            }
            HloInstruction Get(HloInstruction target)
            {
                var stack = new Stack<(HloInstruction Node, bool Ready)>();
                stack.Push((target, false));
                while (stack.Count > 0)
                {
                    var (x, ready) = stack.Pop();
                    if (map.ContainsKey(x)) continue;
                    if (ready)
                    {
                        Emit(x);
                        continue;
                    }
                    stack.Push((x, true));
                    foreach (var d in Dependencies(x)) if (!map.ContainsKey(d)) stack.Push((d, false));
                }
                return map[target];
            }
            foreach (var ins in c.Instructions) if (!memberOf.ContainsKey(ins)) Get(ins);   // members: by their readers
            result.Root = Get(c.Root);
            result.SortTopologically();
            result.RemoveDeadInstructions();
            mapped[c] = result;
            return result;
        }

        /// <summary>What a group's members read from outside it: operands, or the sources of the broadcasts it inlines
        /// (a scalar constant is copied in and read from nowhere).</summary>
        static IEnumerable<HloInstruction> Externals(Group g)
        {
            foreach (var m in g.Members)
            {
                foreach (var o in m.Operands)
                {
                    if (g.Set.Contains(o)) continue;
                    if (!IsInlinable(o, m.Shape)) yield return o;
                    else if (!(o.Operands[0].Opcode == "constant" && o.Operands[0].Shape.IsScalar)) yield return o.Operands[0];
                }
            }
        }

        void EmitFusion(Group g, HloComputation c, Dictionary<HloInstruction, List<HloInstruction>> users,
            Dictionary<HloInstruction, List<Group>> containing, Dictionary<HloInstruction, HloInstruction> map, HloComputation outer)
        {
            // a member is written when the root or something outside the group reads it: an instruction in no group, or
            // a group that neither is this one nor recomputes the member itself
            bool ReadOutside(HloInstruction m) => m == c.Root || users.GetValueOrDefault(m)?.Any(u =>
                !containing.TryGetValue(u, out var gs) ? true : gs.Any(x => x != g && !x.Set.Contains(m))) == true;
            var outputs = g.Members.Where(m => !g.Copies.Contains(m) && ReadOutside(m)).ToList();
            // only what the outputs need (a member every reader recomputes is not computed here at all)
            var live = new HashSet<HloInstruction>();
            var pending = new Stack<HloInstruction>(outputs);
            while (pending.Count > 0)
            {
                var x = pending.Pop();
                if (!live.Add(x)) continue;
                foreach (var y in x.Operands) if (g.Set.Contains(y)) pending.Push(y);
            }
            var body = new HloComputation(nextId++, Unique("fused_computation", computationNames)) { IsFusionComputation = true };
            var inner = new Dictionary<HloInstruction, HloInstruction>();
            var externals = new List<HloInstruction>();
            var parameterOf = new Dictionary<HloInstruction, HloInstruction>();

            HloInstruction Parameter(HloInstruction external)
            {
                if (parameterOf.TryGetValue(external, out var p)) return p;
                int number = externals.Count;
                externals.Add(external);
                p = body.Add(new HloInstruction(nextId++, Unique($"param_{number}", names), "parameter", external.Shape,
                    attributes: new HloAttributes { ParameterNumber = number }));
                parameterOf[external] = p;
                return p;
            }

            HloInstruction Inner(HloInstruction o, Shape loop)
            {
                if (inner.TryGetValue(o, out var m)) return m;
                if (IsInlinable(o, loop) && !g.Set.Contains(o))
                {
                    var source = o.Operands[0];
                    var src = source.Opcode == "constant" && source.Shape.IsScalar
                        ? body.Add(new HloInstruction(nextId++, Unique(source.Name, names), "constant", source.Shape, attributes: source.Attributes.Clone(), metadata: source.Metadata))
                        : Parameter(map[source]);
                    var b = body.Add(new HloInstruction(nextId++, Unique(o.Name, names), "broadcast", o.Shape, new[] { src }, o.Attributes.Clone(), metadata: o.Metadata));
                    inner[o] = b;
                    return b;
                }
                return Parameter(map[o]);
            }

            foreach (var m in g.Members.Where(live.Contains))
            {
                var operands = m.Operands.Select(o => g.Set.Contains(o) ? inner[o] : Inner(o, m.Shape)).ToList();
                var name = g.Copies.Contains(m) ? Unique(m.Name, names) : m.Name;   // a copy is a second instruction of that name
                inner[m] = body.Add(new HloInstruction(nextId++, name, m.Opcode, m.Shape, operands, m.Attributes, m.CalledComputations.Select(Map), m.Metadata));
            }
            if (outputs.Count == 1) body.Root = inner[outputs[0]];
            else
            {
                var shape = Shape.Tuple(outputs.Select(o => o.Shape).ToArray());
                body.Root = body.Add(new HloInstruction(nextId++, Unique("tuple", names), "tuple", shape, outputs.Select(o => inner[o])));
            }
            fused.Add(body);
            var fusion = outer.Add(new HloInstruction(nextId++, Unique("fusion", names), "fusion", body.Root.Shape, externals,
                new HloAttributes { FusionKind = g.Reduces ? "kInput" : "kLoop" }, new[] { body }));
            if (outputs.Count == 1) map[outputs[0]] = fusion;
            else
            {
                for (int k = 0; k < outputs.Count; k++)
                    map[outputs[k]] = outer.Add(new HloInstruction(nextId++, Unique("get-tuple-element", names), "get-tuple-element", outputs[k].Shape,
                        new[] { fusion }, new HloAttributes { TupleIndex = k }));
            }
        }
    }
}
