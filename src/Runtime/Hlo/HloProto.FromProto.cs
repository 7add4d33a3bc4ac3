using XlaGen.Ops;
using P = Xla;

namespace XlaGen.Hlo;

// proto → IR: computations in callee order, instructions looked up by id in operand order, every instruction
// added through HloBuilder (shape-checked against the op catalogue), then the whole module verified.
public static partial class HloProto
{
    /// <summary>The module an HloModuleProto describes: operands are looked up by id in any order, every instruction is
    /// built through <see cref="HloBuilder"/> (shape-checked) and the whole module is verified.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="proto"/> is null.</exception>
    /// <exception cref="HloProtoException">The proto is malformed (no computations or no entry, dangling or duplicate ids, a
    /// cycle, an unknown opcode, a bad shape, calls nested too deep) or the module does not verify.</exception>
    public static HloModule FromProto(P.HloModuleProto proto)
    {
        ArgumentNullException.ThrowIfNull(proto);
        string moduleWhere = $"HloModuleProto '{proto.Name}'";
        if (proto.Computations.Count == 0) throw new HloProtoException($"{moduleWhere} has no computations");

        var byId = new Dictionary<long, P.HloComputationProto>();
        foreach (var c in proto.Computations)
        {
            if (!byId.TryAdd(c.Id, c))
                throw new HloProtoException($"{moduleWhere}: computations '{byId[c.Id].Name}' and '{c.Name}' have the same id {c.Id}");
        }

        HloBuilder? first = null;
        var built = new Dictionary<long, HloComputation>();
        var instructionIds = new Dictionary<HloInstruction, long>();
        var ordered = new List<HloComputation>();
        var state = new Dictionary<long, int>();

        // Callees first, whatever order the file lists them in (XLA writes callees first; a cycle is an error).
        // The recursion is as deep as the chain of calls, which is bounded (the verifier then checks the exact depth).
        void Build(P.HloComputationProto cp, string? caller, int depth)
        {
            if (state.TryGetValue(cp.Id, out var s))
            {
                if (s == 1) throw new HloProtoException($"{moduleWhere}: computation '{cp.Name}' (id {cp.Id}) calls itself (through {caller})");
                return;
            }
            if (depth > HloVerifier.MaxCallDepth)
                throw new HloProtoException($"{moduleWhere}: computations nest more than {HloVerifier.MaxCallDepth} calls deep (computation '{cp.Name}', called by {caller}), more than XlaGen accepts");
            state[cp.Id] = 1;
            foreach (var ip in cp.Instructions)
            {
                foreach (var calleeId in ip.CalledComputationIds)
                {
                    if (!byId.TryGetValue(calleeId, out var callee))
                        throw new HloProtoException($"{moduleWhere}: instruction '{ip.Name}' (id {ip.Id}) in computation '{cp.Name}' calls computation id {calleeId}, which is not in the module");
                    Build(callee, $"instruction '{ip.Name}' in '{cp.Name}'", depth + 1);
                }
            }
            var b = first == null ? (first = new HloBuilder(proto.Name, cp.Name)) : first.CreateSubBuilder(cp.Name);
            var c = BuildComputation(cp, b, built, instructionIds, moduleWhere);
            built[cp.Id] = c;
            ordered.Add(c);
            state[cp.Id] = 2;
        }
        foreach (var cp in proto.Computations) Build(cp, null, 1);

        HloComputation? entry = null;
        if (built.TryGetValue(proto.EntryComputationId, out var byEntryId)) entry = byEntryId;
        if (entry != null && proto.EntryComputationName.Length > 0 && entry.Name != proto.EntryComputationName)
        {
            throw new HloProtoException($"{moduleWhere}: entry_computation_id {proto.EntryComputationId} is computation '{entry.Name}' " +
                $"but entry_computation_name is '{proto.EntryComputationName}'");
        }
        if (entry == null && proto.EntryComputationName.Length > 0) entry = ordered.FirstOrDefault(c => c.Name == proto.EntryComputationName);
        if (entry == null)
        {
            throw new HloProtoException($"{moduleWhere} has no entry computation: entry_computation_id {proto.EntryComputationId} and " +
                $"entry_computation_name '{proto.EntryComputationName}' match none of its computations ({string.Join(", ", ordered.Select(c => $"'{c.Name}' id {c.Id}"))})");
        }

        // Instruction ids are the file's; XLA keeps them unique in a module, and so does the IR.
        var taken = new HashSet<long>();
        long nextFree = instructionIds.Values.DefaultIfEmpty(-1).Max() + 1;
        foreach (var c in ordered)
        {
            foreach (var ins in c.Instructions) ins.Id = taken.Add(instructionIds[ins]) ? instructionIds[ins] : nextFree++;
        }

        var module = new HloModule(proto.Name, ordered, entry, proto.Id);
        if (proto.InputOutputAlias != null)
        {
            foreach (var e in proto.InputOutputAlias.Entries)
                module.InputOutputAliases.Add(new InputOutputAlias(e.OutputShapeIndex.ToArray(), e.ParameterNumber, e.ParameterShapeIndex.ToArray(), e.Kind == P.Kind.MustAlias));
        }
        try
        {
            HloVerifier.Verify(module);
        }
        catch (HloVerificationException e)
        {
            throw new HloProtoException($"{moduleWhere} does not verify: {string.Join("; ", e.Problems)}", e);
        }
        return module;
    }

    static HloComputation BuildComputation(P.HloComputationProto cp, HloBuilder b, Dictionary<long, HloComputation> built,
        Dictionary<HloInstruction, long> instructionIds, string moduleWhere)
    {
        string compWhere = $"{moduleWhere}, computation '{cp.Name}' (id {cp.Id})";
        if (cp.Instructions.Count == 0) throw new HloProtoException($"{compWhere} has no instructions");
        var protos = new Dictionary<long, P.HloInstructionProto>();
        foreach (var ip in cp.Instructions)
        {
            if (!protos.TryAdd(ip.Id, ip))
                throw new HloProtoException($"{compWhere}: instructions '{protos[ip.Id].Name}' and '{ip.Name}' have the same id {ip.Id}");
        }

        // Operands by id, in any file order; a missing id or a cycle is reported with the instruction that has it.
        var made = new Dictionary<long, HloInstruction>();
        var visiting = new HashSet<long>();
        HloInstruction Make(P.HloInstructionProto ip)
        {
            if (made.TryGetValue(ip.Id, out var done)) return done;
            string where = $"{compWhere}, instruction '{ip.Name}' (id {ip.Id}, {ip.Opcode})";
            var stack = new Stack<(P.HloInstructionProto Proto, int Next)>();
            stack.Push((ip, 0));
            visiting.Add(ip.Id);
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                if (next < node.OperandIds.Count)
                {
                    stack.Push((node, next + 1));
                    long oid = node.OperandIds[next];
                    if (made.ContainsKey(oid)) continue;
                    if (!protos.TryGetValue(oid, out var op))
                        throw new HloProtoException($"{compWhere}, instruction '{node.Name}' (id {node.Id}, {node.Opcode}): operand {next} has id {oid}, which is not an instruction of this computation");
                    if (!visiting.Add(oid))
                        throw new HloProtoException($"{compWhere}, instruction '{node.Name}' (id {node.Id}, {node.Opcode}): operand {next} (id {oid}, '{op.Name}') depends on it in turn, a cycle");
                    stack.Push((op, 0));
                }
                else
                {
                    made[node.Id] = AddInstruction(node, b, made, built, $"{compWhere}, instruction '{node.Name}' (id {node.Id}, {node.Opcode})");
                    instructionIds[made[node.Id]] = node.Id;
                    visiting.Remove(node.Id);
                }
            }
            return made[ip.Id];
        }
        foreach (var ip in cp.Instructions) Make(ip);

        if (!made.TryGetValue(cp.RootId, out var root))
            throw new HloProtoException($"{compWhere}: root_id {cp.RootId} is not one of its instruction ids ({string.Join(", ", protos.Keys)})");
        var c = b.Build(root);
        c.Id = cp.Id;
        c.IsFusionComputation = cp.IsFusionComputation;
        return c;
    }

    static HloInstruction AddInstruction(P.HloInstructionProto ip, HloBuilder b, Dictionary<long, HloInstruction> made,
        Dictionary<long, HloComputation> built, string where)
    {
        if (string.IsNullOrEmpty(ip.Opcode)) throw new HloProtoException($"{where} has no opcode");
        if (!OpCatalogue.TryGet(ip.Opcode, out _))
            throw new HloProtoException($"{where}: unsupported opcode '{ip.Opcode}' (XlaGen supports: {string.Join(", ", OpCatalogue.Opcodes)})");
        if (ip.Shape == null) throw new HloProtoException($"{where} has no shape");
        var shape = ShapeFromProto(ip.Shape, where);
        var attributes = AttributesFromProto(ip, where);
        if (ip.Opcode == "constant")
        {
            if (ip.Literal == null) throw new HloProtoException($"{where}: a constant needs a literal");
            attributes.Literal = LiteralFromProto(ip.Literal, shape, where);
        }
        var operands = ip.OperandIds.Select(id => made[id]).ToList();
        var called = ip.CalledComputationIds.Select(id => built[id]).ToList();
        try
        {
            var ins = b.AddInstruction(ip.Opcode, operands, attributes, shape, called, string.IsNullOrEmpty(ip.Name) ? null : ip.Name);
            var m = ip.Metadata;
            if (m != null && (m.OpType.Length > 0 || m.OpName.Length > 0 || m.SourceFile.Length > 0 || m.SourceLine != 0))
                ins.Metadata = new OpMetadata(NullIfEmpty(m.OpType), NullIfEmpty(m.OpName), NullIfEmpty(m.SourceFile), m.SourceLine);
            return ins;
        }
        catch (Exception e) when (e is ShapeException || e is ArgumentException || e is InvalidOperationException)
        {
            throw new HloProtoException($"{where}: {e.Message}", e);
        }
    }

    static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>The shape a ShapeProto describes (a tuple, a token or an array, with its layout).</summary>
    /// <param name="sp">The proto.</param>
    /// <param name="where">What the shape belongs to, for the error message.</param>
    /// <exception cref="HloProtoException">The element type is not supported, a dim is dynamic or negative, or the layout is not valid.</exception>
    public static Shape ShapeFromProto(P.ShapeProto sp, string where = "a shape")
    {
        var t = sp.ElementType;
        if (t == P.PrimitiveType.Tuple) return Shape.Tuple(sp.TupleShapes.Select(s => ShapeFromProto(s, where)).ToArray());
        if (t == P.PrimitiveType.Token) return Shape.Token();
        if (!Enum.IsDefined(typeof(ElementType), (int)t) || t == P.PrimitiveType.Invalid || t == P.PrimitiveType.OpaqueType)
            throw new HloProtoException($"{where}: element type {t} is not supported");
        if (sp.IsDynamicDimension.Any(d => d)) throw new HloProtoException($"{where}: dynamic dimensions are not supported");
        var type = (ElementType)(int)t;
        if (sp.Dimensions.Any(d => d < 0)) throw new HloProtoException($"{where}: negative dimension in [{string.Join(",", sp.Dimensions)}]");
        var shape = Shape.Array(type, sp.Dimensions);
        var m2m = sp.Layout?.MinorToMajor;
        if (m2m != null && m2m.Count > 0)
        {
            try
            {
                shape = shape.WithLayout(m2m.ToArray());
            }
            catch (ArgumentException e)
            {
                throw new HloProtoException($"{where}: {e.Message}", e);
            }
        }
        return shape;
    }
}
