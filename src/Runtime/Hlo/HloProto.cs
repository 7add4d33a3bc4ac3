using Google.Protobuf;
using XlaGen.Ops;
using P = Xla;

namespace XlaGen.Hlo;

/// <summary>A serialized HLO module is malformed: truncated bytes, dangling or duplicate ids, a cycle, an unknown
/// opcode, no entry computation, a bad shape. The message names the computation and instruction.</summary>
public sealed class HloProtoException : Exception
{
    /// <summary>An error with <paramref name="message"/> (naming the computation and instruction) and, optionally, the exception that caused it.</summary>
    public HloProtoException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// Maps the IR to OpenXLA's HloModuleProto and back (protos/xla, wire-compatible with XLA). <see cref="ToProto"/>
/// writes callees before callers, ids, program shapes with layouts, literals, metadata and every attribute;
/// <see cref="FromProto"/> looks operands up by id (any order), builds through <see cref="HloBuilder"/> so every
/// instruction is shape-checked, and runs <see cref="HloVerifier"/>. Structural problems raise <see cref="HloProtoException"/>.
/// </summary>
public static partial class HloProto
{
    /// <summary>Serialized HloModuleProto bytes.</summary>
    public static byte[] Write(HloModule module) => ToProto(module).ToByteArray();

    /// <summary>Reads an HloModuleProto, or an HloProto wrapper (hlo_module = field 1) as hlo-opt and XLA's tools write.</summary>
    public static HloModule Read(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return FromProto(ParseModuleProto(bytes));
    }

    /// <summary>The HloModuleProto in <paramref name="bytes"/>, unwrapping an HloProto when that is what they hold.</summary>
    public static P.HloModuleProto ParseModuleProto(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var wrapped = TryUnwrapHloProto(bytes);
        if (wrapped != null) return wrapped;
        try
        {
            return P.HloModuleProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new HloProtoException($"the {bytes.Length} bytes are not a valid HloModuleProto (truncated or corrupt): {e.Message}", e);
        }
    }

    /// <summary>
    /// Both messages start with field 1 as a length-delimited value (HloModuleProto.name, HloProto.hlo_module), so the
    /// tag alone cannot tell them apart. An HloProto holds only fields 1 (once), 2 (reserved) and 3, all
    /// length-delimited, and its field 1 parses as a module with computations; a module's name almost never does,
    /// and a module always has computations (field 3) next to a name, whose bytes fail that test.
    /// </summary>
    static P.HloModuleProto? TryUnwrapHloProto(byte[] bytes)
    {
        ByteString? inner = null;
        try
        {
            var input = new CodedInputStream(bytes);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                int field = WireFormat.GetTagFieldNumber(tag);
                if (WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited || field < 1 || field > 3) return null;
                var payload = input.ReadBytes();
                if (field == 1)
                {
                    if (inner != null) return null;
                    inner = payload;
                }
            }
        }
        catch (InvalidProtocolBufferException)
        {
            return null;   // the module parse reports it
        }
        if (inner == null) return null;
        try
        {
            var module = P.HloModuleProto.Parser.ParseFrom(inner);
            return module.Computations.Count > 0 ? module : null;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    // ---------------- IR → proto ----------------

    /// <summary>The module as an HloModuleProto: computations callees first, with ids, program shapes with layouts,
    /// literals, metadata, every attribute and input_output_alias. Every dim must be constant.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    /// <exception cref="HloProtoException">The module is malformed (the entry is not among its computations, a computation
    /// calls itself or one not listed, calls nest deeper than <see cref="HloVerifier.MaxCallDepth"/>, an instruction uses one
    /// outside its computation or a cycle) or has a symbolic dim.</exception>
    public static P.HloModuleProto ToProto(HloModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var computations = CalleesFirst(module);
        var order = computations.ToDictionary(c => c, InstructionOrder);
        var (instructionIds, computationIds) = AssignIds(computations, order);

        var proto = new P.HloModuleProto
        {
            Name = module.Name,
            EntryComputationName = module.Entry.Name,
            EntryComputationId = computationIds[module.Entry],
            Id = module.Id,
        };
        foreach (var c in computations)
        {
            var cp = new P.HloComputationProto
            {
                Name = c.Name,
                Id = computationIds[c],
                RootId = instructionIds[c.Root],
                IsFusionComputation = c.IsFusionComputation,
                ProgramShape = ProgramShape(c, c.Parameters.Select(p => p.Name)),
            };
            foreach (var ins in order[c]) cp.Instructions.Add(InstructionToProto(ins, instructionIds, computationIds));
            proto.Computations.Add(cp);
        }
        // XLA names the host parameters p0, p1, … (ComputeProgramShape of the entry layout).
        proto.HostProgramShape = ProgramShape(module.Entry, module.Entry.Parameters.Select((_, i) => "p" + i));
        if (module.InputOutputAliases.Count > 0)
        {
            var io = new P.HloInputOutputAliasProto();
            foreach (var a in module.InputOutputAliases)
            {
                var e = new P.HloInputOutputAliasProto.Types.AliasEntryProto
                {
                    ParameterNumber = a.ParameterNumber,
                    Kind = a.MustAlias ? P.Kind.MustAlias : P.Kind.MayAlias,
                };
                e.OutputShapeIndex.AddRange(a.OutputIndex);
                e.ParameterShapeIndex.AddRange(a.ParameterIndex);
                io.Entries.Add(e);
            }
            proto.InputOutputAlias = io;
        }
        return proto;
    }

    /// <summary>The module's computations with every callee before its callers (stable for an ordered module).</summary>
    static List<HloComputation> CalleesFirst(HloModule module)
    {
        var listed = new HashSet<HloComputation>(module.Computations);
        if (!listed.Contains(module.Entry)) throw new HloProtoException($"module '{module.Name}': the entry computation %{module.Entry.Name} is not one of its computations");
        var result = new List<HloComputation>();
        var state = new Dictionary<HloComputation, int>();
        void Visit(HloComputation c, HloInstruction? caller, int depth)
        {
            if (state.TryGetValue(c, out var s))
            {
                if (s == 1) throw new HloProtoException($"module '{module.Name}': computation %{c.Name} calls itself (through {caller?.Describe()})");
                return;
            }
            if (depth > HloVerifier.MaxCallDepth)
                throw new HloProtoException($"module '{module.Name}': computations nest more than {HloVerifier.MaxCallDepth} calls deep (%{c.Name}, called by {caller?.Describe()}), more than XlaGen accepts");
            if (!listed.Contains(c)) throw new HloProtoException($"module '{module.Name}': {caller?.Describe()} calls %{c.Name}, which is not one of the module's computations");
            state[c] = 1;
            foreach (var ins in c.Instructions)
            {
                foreach (var callee in ins.CalledComputations) Visit(callee, ins, depth + 1);
            }
            state[c] = 2;
            result.Add(c);
        }
        foreach (var c in module.Computations) Visit(c, null, 1);
        return result;
    }

    /// <summary>Instructions with operands first, stable for an already ordered computation.</summary>
    static List<HloInstruction> InstructionOrder(HloComputation c)
    {
        if (c.Root == null) throw new HloProtoException($"computation %{c.Name} has no root");
        var members = new HashSet<HloInstruction>(c.Instructions);
        var result = new List<HloInstruction>(c.Instructions.Count);
        var state = new Dictionary<HloInstruction, int>();
        foreach (var start in c.Instructions)
        {
            if (state.ContainsKey(start)) continue;
            var stack = new Stack<(HloInstruction Node, int Next)>();
            stack.Push((start, 0));
            state[start] = 1;
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                if (next < node.Operands.Count)
                {
                    stack.Push((node, next + 1));
                    var o = node.Operands[next];
                    if (!members.Contains(o)) throw new HloProtoException($"computation %{c.Name}: {node.Describe()} uses {o.Describe()}, which is not in the computation");
                    if (state.TryGetValue(o, out var s))
                    {
                        if (s == 1) throw new HloProtoException($"computation %{c.Name}: {o.Describe()} depends on itself (a cycle through {node.Describe()})");
                        continue;
                    }
                    state[o] = 1;
                    stack.Push((o, 0));
                }
                else
                {
                    state[node] = 2;
                    result.Add(node);
                }
            }
        }
        if (!members.Contains(c.Root)) throw new HloProtoException($"computation %{c.Name}: the root {c.Root.Describe()} is not one of its instructions");
        return result;
    }

    /// <summary>The IR's ids when they are usable (non-negative, instruction ids unique in the module, computation ids
    /// unique); otherwise XLA's numbering: instructions 0, 1, … in order, each computation the id of its root.</summary>
    static (Dictionary<HloInstruction, long>, Dictionary<HloComputation, long>) AssignIds(
        List<HloComputation> computations, Dictionary<HloComputation, List<HloInstruction>> order)
    {
        var ins = new Dictionary<HloInstruction, long>();
        var comps = new Dictionary<HloComputation, long>();
        var seenIns = new HashSet<long>();
        var seenComps = new HashSet<long>();
        bool usable = computations.All(c => c.Id >= 0 && seenComps.Add(c.Id)) &&
                      computations.SelectMany(c => order[c]).All(i => i.Id >= 0 && seenIns.Add(i.Id));
        long next = 0;
        foreach (var c in computations)
        {
            foreach (var i in order[c]) ins[i] = usable ? i.Id : next++;
            comps[c] = usable ? c.Id : ins[c.Root];
        }
        return (ins, comps);
    }

    static P.ProgramShapeProto ProgramShape(HloComputation c, IEnumerable<string> names)
    {
        var ps = new P.ProgramShapeProto();
        foreach (var p in c.Parameters) ps.Parameters.Add(ShapeToProto(p.Shape, $"{p.Describe()} in %{c.Name}"));
        ps.Result = ShapeToProto(c.Root.Shape, $"the result of %{c.Name}");
        ps.ParameterNames.AddRange(names);
        return ps;
    }

    /// <summary>A shape as a ShapeProto, with its layout (the default row-major layout where it has none).</summary>
    /// <param name="shape">The shape; every dim must be constant.</param>
    /// <param name="where">What the shape belongs to, for the error message.</param>
    /// <exception cref="HloProtoException"><paramref name="shape"/> has a symbolic dim.</exception>
    public static P.ShapeProto ShapeToProto(Shape shape, string where = "a shape")
    {
        var sp = new P.ShapeProto { ElementType = (P.PrimitiveType)(int)shape.ElementType };
        if (shape.IsTuple)
        {
            foreach (var t in shape.TupleShapes) sp.TupleShapes.Add(ShapeToProto(t, where));
            return sp;
        }
        if (!shape.IsArray) return sp;   // token
        foreach (var d in shape.Dims)
        {
            if (!d.IsConstant) throw new HloProtoException($"{where} has the symbolic shape {shape}; bind every symbolic dimension before serializing");
            sp.Dimensions.Add(d.Value);
        }
        // As XLA's Layout::ToProto writes it: tail_padding_alignment_in_elements is 1 unless tiling says otherwise.
        var layout = new P.LayoutProto { TailPaddingAlignmentInElements = 1 };
        layout.MinorToMajor.AddRange(shape.EffectiveLayout());
        sp.Layout = layout;
        return sp;
    }

    static P.HloInstructionProto InstructionToProto(HloInstruction ins, Dictionary<HloInstruction, long> ids, Dictionary<HloComputation, long> computationIds)
    {
        string where = $"{ins.Describe()} in %{ins.Parent?.Name}";
        var p = new P.HloInstructionProto
        {
            Name = ins.Name,
            Opcode = ins.Opcode,
            Shape = ShapeToProto(ins.Shape, where),
            Id = ids[ins],
        };
        foreach (var o in ins.Operands) p.OperandIds.Add(ids[o]);
        foreach (var c in ins.CalledComputations) p.CalledComputationIds.Add(computationIds[c]);
        if (ins.Metadata != null && !ins.Metadata.IsEmpty)
        {
            var m = ins.Metadata;
            p.Metadata = new P.OpMetadata { OpType = m.OpType ?? "", OpName = m.OpName ?? "", SourceFile = m.SourceFile ?? "", SourceLine = m.SourceLine };
        }
        AttributesToProto(ins, p, where);
        return p;
    }
}
