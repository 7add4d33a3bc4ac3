using Google.Protobuf;
using XlaGen.Hlo;
using P = Xla;

namespace XlaGen.Tests.Hlo;

public class HloProtoRoundTripTests
{
    public static TheoryData<string> Modules()
    {
        var d = new TheoryData<string>();
        foreach (var n in SampleModules.StaticNames) d.Add("sample:" + n);
        foreach (var f in Corpus.Files("cases", "*.hlo")) d.Add("case:" + Path.GetFileName(f));
        return d;
    }

    static HloModule Load(string key) =>
        key.StartsWith("sample:", StringComparison.Ordinal)
            ? SampleModules.Get(key.Substring(7))
            : HloTextParser.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "cases", key.Substring(5))));

    /// <summary>IR → HloModuleProto → bytes → IR keeps text, ids, shapes with layouts, literals, metadata and aliases.</summary>
    [Theory]
    [MemberData(nameof(Modules))]
    public void ToProtoFromProtoPreservesEverything(string key)
    {
        var module = Load(key);
        var back = HloProto.Read(HloProto.Write(module));
        Assert.Equal(HloPrinter.Print(module), HloPrinter.Print(back));
        Assert.Equal(module.Name, back.Name);
        Assert.Equal(module.Computations.Select(c => (c.Name, c.Id, c.IsFusionComputation)), back.Computations.Select(c => (c.Name, c.Id, c.IsFusionComputation)));
        var a = module.AllInstructions.ToList();
        var b = back.AllInstructions.ToList();
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal((a[i].Name, a[i].Id, a[i].Opcode), (b[i].Name, b[i].Id, b[i].Opcode));
            Assert.True(a[i].Shape.EqualsWithLayout(b[i].Shape), $"{a[i].Describe()}: {a[i].Shape.ToString(true)} came back as {b[i].Shape.ToString(true)}");
            Assert.Equal(a[i].Metadata, b[i].Metadata);
            if (a[i].Attributes.Literal != null) Assert.True(a[i].Attributes.Literal!.ValueEquals(b[i].Attributes.Literal!), a[i].Describe());
        }
        Assert.Equal(module.InputOutputAliases.Select(x => (string.Join(",", x.OutputIndex), x.ParameterNumber, string.Join(",", x.ParameterIndex), x.MustAlias)),
            back.InputOutputAliases.Select(x => (string.Join(",", x.OutputIndex), x.ParameterNumber, string.Join(",", x.ParameterIndex), x.MustAlias)));
    }

    [Fact]
    public void HalfAndSixteenBitLiteralsAreLittleEndianBytes()
    {
        var module = SampleModules.Get("constants");
        var p = HloProto.ToProto(module);
        var byType = p.Computations.Single().Instructions.Where(i => i.Opcode == "constant" && i.Literal.TupleLiterals.Count == 0)
            .GroupBy(i => i.Shape.ElementType).ToDictionary(g => g.Key, g => g.First().Literal);
        Assert.Equal(new byte[] { 0x00, 0x80, 0xFF, 0x7F }, byType[P.PrimitiveType.S16].S16S.ToByteArray());
        Assert.Equal(new byte[] { 0x00, 0x00, 0xFF, 0xFF }, byType[P.PrimitiveType.U16].U16S.ToByteArray());
        Assert.Equal(new byte[] { 0x66, 0x2E, 0xFF, 0xFB, 0x55, 0x35 }, byType[P.PrimitiveType.F16].F16S.ToByteArray());   // 0.1, -65504, 1/3
        Assert.Equal(new byte[] { 0xCD, 0x3D, 0x62, 0xFF, 0xAB, 0x3E }, byType[P.PrimitiveType.Bf16].Bf16S.ToByteArray());  // 0.1, -3.004e38, 1/3
        Assert.Equal(new byte[] { 0x00, 0xFF }, byType[P.PrimitiveType.U8].U8S.ToByteArray());
        Assert.Equal(new byte[] { 0x80, 0x00, 0x7F }, byType[P.PrimitiveType.S8].S8S.ToByteArray());
        Assert.Equal(new[] { ulong.MaxValue }, byType[P.PrimitiveType.U64].U64S);
        Assert.Equal(new[] { long.MinValue, long.MaxValue }, byType[P.PrimitiveType.S64].S64S);
        Assert.Equal(new[] { true, false, false, true }, byType[P.PrimitiveType.Pred].Preds);
    }

    [Fact]
    public void SymbolicModulesCannotBeSerialized()
    {
        var e = Assert.Throws<HloProtoException>(() => HloProto.ToProto(SampleModules.Get("mlp_symbolic")));
        Assert.Equal("%x (parameter) in %main has the symbolic shape f32[B,784]; bind every symbolic dimension before serializing", e.Message);
    }

    // ---------------- malformed input ----------------

    const string Small = """
        HloModule small
        add_f32 {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }
        ENTRY main {
          x = f32[2] parameter(0)
          n1 = f32[2] negate(x)
          n2 = f32[2] negate(n1)
          k = f32[2] constant({1, 2})
          ROOT r = f32[] reduce(n2, f32[] constant(0)), dimensions={0}, to_apply=add_f32
        }
        """;

    static P.HloModuleProto SmallProto() => HloProto.ToProto(HloTextParser.Parse(Small));

    static P.HloInstructionProto Ins(P.HloModuleProto p, string name) => p.Computations.SelectMany(c => c.Instructions).Single(i => i.Name == name);

    static string FromProtoError(P.HloModuleProto p) => Assert.Throws<HloProtoException>(() => HloProto.FromProto(p)).Message;

    [Fact]
    public void TruncatedBytes()
    {
        var bytes = SmallProto().ToByteArray();
        var e = Assert.Throws<HloProtoException>(() => HloProto.Read(bytes.Take(bytes.Length / 2).ToArray()));
        Assert.StartsWith($"the {bytes.Length / 2} bytes are not a valid HloModuleProto (truncated or corrupt): ", e.Message);
        Assert.IsType<InvalidProtocolBufferException>(e.InnerException);
    }

    [Fact]
    public void EmptyBytes()
    {
        Assert.Equal("HloModuleProto '' has no computations", Assert.Throws<HloProtoException>(() => HloProto.Read(new byte[0])).Message);
    }

    [Fact]
    public void DanglingOperandId()
    {
        var p = SmallProto();
        Ins(p, "n1").OperandIds[0] = 999;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'n1' (id 4, negate): operand 0 has id 999, which is not an instruction of this computation", FromProtoError(p));
    }

    [Fact]
    public void OperandCycle()
    {
        var p = SmallProto();
        Ins(p, "n1").OperandIds[0] = Ins(p, "n2").Id;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'n2' (id 5, negate): operand 0 (id 4, 'n1') depends on it in turn, a cycle", FromProtoError(p));
    }

    [Fact]
    public void UnknownOpcode()
    {
        var p = SmallProto();
        Ins(p, "n2").Opcode = "frobnicate";
        Assert.StartsWith("HloModuleProto 'small', computation 'main' (id 8), instruction 'n2' (id 5, frobnicate): unsupported opcode 'frobnicate' (XlaGen supports: abs, add, all-gather, all-reduce, and, ", FromProtoError(p));
    }

    [Fact]
    public void MissingEntry()
    {
        var p = SmallProto();
        p.EntryComputationId = 77;
        p.EntryComputationName = "";
        Assert.Equal("HloModuleProto 'small' has no entry computation: entry_computation_id 77 and entry_computation_name '' match none of its computations ('add_f32' id 2, 'main' id 8)", FromProtoError(p));
        p.EntryComputationName = "main";
        Assert.Equal("main", HloProto.FromProto(p).Entry.Name);   // the name alone is enough
        p.EntryComputationId = 2;
        Assert.Equal("HloModuleProto 'small': entry_computation_id 2 is computation 'add_f32' but entry_computation_name is 'main'", FromProtoError(p));
    }

    [Fact]
    public void DuplicateIds()
    {
        var p = SmallProto();
        Ins(p, "n2").Id = Ins(p, "n1").Id;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8): instructions 'n1' and 'n2' have the same id 4", FromProtoError(p));
        p = SmallProto();
        p.Computations[1].Id = p.Computations[0].Id;
        Assert.Equal("HloModuleProto 'small': computations 'add_f32' and 'main' have the same id 2", FromProtoError(p));
    }

    [Fact]
    public void BadShapes()
    {
        var p = SmallProto();
        Ins(p, "n1").Shape.Dimensions[0] = -2;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'n1' (id 4, negate): negative dimension in [-2]", FromProtoError(p));

        p = SmallProto();
        Ins(p, "n1").Shape.Dimensions[0] = 3;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'n1' (id 4, negate): negate: the program says the result is f32[3] but it is f32[2]", FromProtoError(p));

        p = SmallProto();
        Ins(p, "x").Shape.Layout.MinorToMajor[0] = 5;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'x' (id 3, parameter): layout {5} is not a permutation of the 1 dimensions of f32[2]", FromProtoError(p));

        p = SmallProto();
        Ins(p, "n1").Shape = null;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'n1' (id 4, negate) has no shape", FromProtoError(p));

        p = SmallProto();
        Ins(p, "x").Shape.ElementType = P.PrimitiveType.F8E4M3Fn;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'x' (id 3, parameter): element type F8E4M3Fn is not supported", FromProtoError(p));
    }

    [Fact]
    public void LiteralDoesNotFitItsShape()
    {
        var p = SmallProto();
        Ins(p, "k").Literal.F32S.Add(3);
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8), instruction 'k' (id 6, constant): the literal has 3 f32s values but shape f32[2] needs 2", FromProtoError(p));
    }

    [Fact]
    public void CalledComputationProblems()
    {
        var p = SmallProto();
        Ins(p, "r").CalledComputationIds[0] = 77;
        Assert.Equal("HloModuleProto 'small': instruction 'r' (id 8) in computation 'main' calls computation id 77, which is not in the module", FromProtoError(p));

        p = SmallProto();
        Ins(p, "s").CalledComputationIds.Add(p.Computations[0].Id);
        Assert.Equal("HloModuleProto 'small': computation 'add_f32' (id 2) calls itself (through instruction 's' in 'add_f32')", FromProtoError(p));

        p = SmallProto();
        p.Computations[1].RootId = 42;
        Assert.Equal("HloModuleProto 'small', computation 'main' (id 8): root_id 42 is not one of its instruction ids (3, 4, 5, 6, 7, 8)", FromProtoError(p));
    }

    [Fact]
    public void CalleesListedAfterCallersAreReordered()
    {
        var p = SmallProto();
        var callee = p.Computations[0];
        p.Computations.RemoveAt(0);
        p.Computations.Add(callee);
        var m = HloProto.FromProto(p);
        Assert.Equal(new[] { "add_f32", "main" }, m.Computations.Select(c => c.Name));
    }

    [Fact]
    public void InstructionsOutOfDependencyOrderAreLookedUpById()
    {
        var p = SmallProto();
        var main = p.Computations[1];
        var reversed = main.Instructions.Reverse().ToList();
        main.Instructions.Clear();
        main.Instructions.AddRange(reversed);
        var m = HloProto.FromProto(p);
        var original = HloTextParser.Parse(Small);
        string Wiring(HloModule x) => string.Join("; ", x.AllInstructions.OrderBy(i => i.Id).Select(i => $"{i.Id}:{i.Name}({string.Join(",", i.Operands.Select(o => o.Name))})"));
        Assert.Equal(Wiring(original), Wiring(m));
        Assert.Equal("r", m.Entry.Root.Name);
        Assert.Equal(0, m.Computations[0].Parameters[0].Id);   // id 0 (absent on the wire) is a valid id
    }
}
