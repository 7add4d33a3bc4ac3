using System.Text;
using System.Text.Json;
using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

public class HloTextParserTests
{
    public static TheoryData<string> CorpusHlo()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("cases", "*.hlo").Concat(Corpus.Files("lit", "*.hlo"))) data.Add(Path.GetFileName(f));
        return data;
    }

    public static TheoryData<string> CorpusCases()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("cases", "*.hlo")) data.Add(Path.GetFileName(f));
        return data;
    }

    static string CorpusText(string file) =>
        File.ReadAllText(Path.Combine(Corpus.Root!, file.StartsWith("xla-", StringComparison.Ordinal) ? "lit" : "cases", file));

    [Fact]
    public void CorpusHasTheExpectedHloFiles()
    {
        Corpus.Require();
        Assert.Equal(29, Corpus.Files("cases", "*.hlo").Count());
        Assert.Equal(2, Corpus.Files("lit", "*.hlo").Count());
    }

    /// <summary>Every corpus module parses (all their ops are in the catalogue), and print → parse → print is stable.</summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(CorpusHlo))]
    public void CorpusModuleParsesAndReprintsStably(string file)
    {
        Corpus.Require();
        var module = HloTextParser.Parse(CorpusText(file));
        HloVerifier.Verify(module);
        var printed = HloPrinter.Print(module);
        Assert.Equal(printed, HloPrinter.Print(HloTextParser.Parse(printed)));
    }

    /// <summary>The parameter and result shapes agree with the inputs and expected values the case's source states.</summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(CorpusCases))]
    public void CorpusCaseSignatureMatchesItsJson(string file)
    {
        Corpus.Require();
        var module = HloTextParser.Parse(CorpusText(file));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "cases", Path.ChangeExtension(file, ".json"))));
        var inputs = json.RootElement.GetProperty("inputs").EnumerateArray().Select(i => HloTextParser.ParseShape(i.GetProperty("shape").GetString()!)).ToList();
        Assert.Equal(inputs, module.ParameterShapes);
        Assert.Equal(HloTextParser.ParseShape(json.RootElement.GetProperty("expected").GetProperty("shape").GetString()!), module.ResultShape);
    }

    /// <summary>What the corpus reads as, printed: XLA's syntax with every layout explicit (a regression net for printer and parser).</summary>
    [Fact]
    public void CorpusPrintsAsSnapshot()
    {
        Corpus.Require();
        var sb = new StringBuilder();
        foreach (var f in Corpus.Files("cases", "*.hlo").Concat(Corpus.Files("lit", "*.hlo")))
        {
            sb.Append("// ").Append(Path.GetFileName(f)).Append('\n');
            sb.Append(HloPrinter.Print(HloTextParser.Parse(File.ReadAllText(f)))).Append('\n');
        }
        Snapshot.Match(sb.ToString());
    }

    [Fact]
    public void LitRoundTripPrintsWhatXlaPrints()
    {
        Corpus.Require();
        // CHECK-ROUNDTRIP lines of xla-hlo_opt_emit_proto.hlo, and the CHECK lines of the protobinary lit test.
        var printed = HloPrinter.Print(HloTextParser.Parse(CorpusText("xla-hlo_opt_emit_proto.hlo")));
        Assert.StartsWith("HloModule test_module, entry_computation_layout={(f32[], f32[])->f32[]}\n", printed);
        Assert.Contains("ENTRY %main (a: f32[], b: f32[]) -> f32[] {\n  %a = f32[] parameter(0)\n  %b = f32[] parameter(1)\n  ROOT %res = f32[] multiply(%a, %b)\n}", printed);
        var headerless = HloPrinter.Print(HloTextParser.Parse(CorpusText("xla-hlo_opt_hlo_protobinary_to_hlotext.hlo")));
        Assert.Contains("ENTRY %mod1 () -> s8[] {\n  ROOT %a = s8[] constant(0)\n}", headerless);
    }

    public static TheoryData<string> AllSamples()
    {
        var d = new TheoryData<string>();
        foreach (var n in SampleModules.StaticNames.Concat(SampleModules.SymbolicNames)) d.Add(n);
        return d;
    }

    [Theory]
    [MemberData(nameof(AllSamples))]
    public void PrintParsePrintIsIdentical(string sample)
    {
        var module = SampleModules.Get(sample);
        var printed = HloPrinter.Print(module);
        var parsed = HloTextParser.Parse(printed);
        Assert.Equal(printed, HloPrinter.Print(parsed));
        var before = module.AllInstructions.ToList();
        var after = parsed.AllInstructions.ToList();
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            Assert.True(before[i].Shape.EqualsWithLayout(after[i].Shape), $"{before[i].Describe()}: {before[i].Shape.ToString(true)} vs {after[i].Shape.ToString(true)}");
            Assert.Equal(before[i].Metadata, after[i].Metadata);
            if (before[i].Attributes.Literal != null) Assert.True(before[i].Attributes.Literal!.ValueEquals(after[i].Attributes.Literal!));
        }
        Assert.Equal(module.InputOutputAliases.Count, parsed.InputOutputAliases.Count);
    }

    /// <summary>The sample modules printed: one place to review the printer's XLA syntax for every op and attribute.</summary>
    [Fact]
    public void SamplesPrintAsSnapshot()
    {
        var sb = new StringBuilder();
        foreach (var n in SampleModules.StaticNames.Concat(SampleModules.SymbolicNames))
            sb.Append(HloPrinter.Print(SampleModules.Get(n))).Append('\n');
        Snapshot.Match(sb.ToString());
    }

    [Fact]
    public void SymbolicShapesSurviveText()
    {
        var parsed = HloTextParser.Parse(HloPrinter.Print(SampleModules.Get("symbolic_reshape_concat")));
        var b = Dim.Symbol("B");
        Assert.Equal(Shape.Array(ElementType.F32, b, 2), parsed.ParameterShapes[0]);
        Assert.Equal(Shape.Tuple(Shape.Array(ElementType.F32, b * 4), Shape.Array(ElementType.F32, 2, b)), parsed.ResultShape);
        Assert.Equal(Shape.Array(ElementType.F32, b * 2, 3), HloTextParser.ParseShape("f32[2*B,3]"));
    }

    const string Syntax = """
        // a comment before the header
        HloModule syntax, is_scheduled=true, entry_computation_layout={(f32[2]{0})->f32[2]{0}}, input_output_alias={ {0}: (0, {}, may-alias), {1}: (0, {}, must-alias) }, frontend_attributes={xla.sdy.meshes="{mesh = #sdy.mesh<[]>}"}

        /* a block
           comment */
        add_f32 {
          lhs = f32[] parameter(0)
          rhs = f32[] parameter(1)
          ROOT add = f32[] add(f32[] lhs, f32[] rhs)   // inline operand shapes
        }

        ENTRY %main (x: f32[2]) -> (f32[2], f32[2]) {
          %x = f32[2]{0:T(128)} parameter(0), sharding={devices=[2,1]0,1}, metadata={op_type="Add" op_name="jit(f)/add" source_file="/tmp/a \"b\".py" source_line=12 source_end_line=14 deduplicated_name="x"}
          c = f32[2] constant({-1.5e-3, inf}), backend_config={"operation_queue_id":"0","wait_on_operation_queues":[]}
          n = f32[2] constant({nan, -inf}), frontend_attributes={_xla_stream_annotation="1,2}"}
          s = f32[] reduce(f32[2] add(f32[2]{0} %x, c), f32[] constant(0)), dimensions={0}, to_apply=add_f32, backend_config="{\"a\": 1}"
          b = f32[2] broadcast(s), dimensions={}, control-predecessors={%c}
          ROOT t = (f32[2], f32[2]) tuple(b, n)
        }
        """;

    [Fact]
    public void ReadsXlaSyntaxFeatures()
    {
        var m = HloTextParser.Parse(Syntax);
        Assert.Equal("syntax", m.Name);
        Assert.Equal("main", m.Entry.Name);
        Assert.Equal(2, m.InputOutputAliases.Count);
        Assert.False(m.InputOutputAliases[0].MustAlias);
        Assert.True(m.InputOutputAliases[1].MustAlias);
        Assert.Equal(new long[] { 1 }, m.InputOutputAliases[1].OutputIndex);

        var x = m.Entry.Parameters[0];
        Assert.Equal(new OpMetadata("Add", "jit(f)/add", "/tmp/a \"b\".py", 12), x.Metadata);
        Assert.Equal(new long[] { 0 }, x.Shape.Layout);   // tiles after ':' are dropped

        var byName = m.AllInstructions.ToDictionary(i => i.Name);
        var c = byName["c"].Attributes.Literal!;
        Assert.Equal(new[] { -1.5e-3f, float.PositiveInfinity }, (float[])c.Data!);
        var n = (float[])byName["n"].Attributes.Literal!.Data!;
        Assert.True(float.IsNaN(n[0]));
        Assert.Equal(float.NegativeInfinity, n[1]);

        // nested instructions become instructions of their own, before the one that uses them
        var reduce = byName["s"];
        Assert.Equal("add", reduce.Operands[0].Opcode);
        Assert.Equal("constant", reduce.Operands[1].Opcode);
        Assert.Equal(new[] { "x", "c", "n", reduce.Operands[0].Name, reduce.Operands[1].Name, "s", "b", "t" }, m.Entry.Instructions.Select(i => i.Name));
        Assert.Equal("t", m.Entry.Root.Name);

        // ids as XLA's parser numbers them: instructions in module order, a computation takes its root's id
        Assert.Equal(Enumerable.Range(0, 11).Select(i => (long)i), m.AllInstructions.Select(i => i.Id));
        Assert.Equal(2, m.Computations[0].Id);
        Assert.Equal(10, m.Entry.Id);
    }

    [Fact]
    public void HeaderlessModuleTakesXlasNameAndLastInstructionIsRoot()
    {
        var m = HloTextParser.Parse("""
            helper { p = f32[] parameter(0) }
            mod1 {
              a = s8[] constant(0)
              b = s8[2] broadcast(a), dimensions={}
            }
            """);
        Assert.Equal("module_mod1", m.Name);
        Assert.Same(m.Computations[1], m.Entry);
        Assert.Equal("b", m.Entry.Root.Name);
        Assert.Equal("p", m.Computations[0].Root.Name);
    }

    [Fact]
    public void ConstantsOfEveryForm()
    {
        var m = HloTextParser.Parse("""
            HloModule c
            ENTRY e {
              a = pred[2] constant({true, false})
              b = s64[2] constant({-9223372036854775808, 9223372036854775807})
              c = u64[] constant(18446744073709551615)
              d = f64[3] constant({1E+300, -2.5e-10, 7})
              e = bf16[2] constant({0.5, -2})
              f = f32[2,0] constant({ {}, {} })
              g = (f32[], s32[2]) constant((1.5, {3, -4}))
              ROOT t = (pred[2], s64[2], u64[], f64[3], bf16[2], f32[2,0], (f32[], s32[2])) tuple(a, b, c, d, e, f, g)
            }
            """);
        var lit = m.Entry.Instructions.ToDictionary(i => i.Name, i => i.Attributes.Literal);
        Assert.Equal(new[] { true, false }, (bool[])lit["a"]!.Data!);
        Assert.Equal(new[] { long.MinValue, long.MaxValue }, (long[])lit["b"]!.Data!);
        Assert.Equal(new[] { ulong.MaxValue }, (ulong[])lit["c"]!.Data!);
        Assert.Equal(new[] { 1e300, -2.5e-10, 7 }, (double[])lit["d"]!.Data!);
        Assert.Equal(new[] { 0.5, -2 }, new[] { lit["e"]!.GetDouble(0), lit["e"]!.GetDouble(1) });
        Assert.Empty(lit["f"]!.Data!);
        Assert.Equal(-4, (int)lit["g"]!.TupleElements[1].Data!.GetValue(1)!);
    }

    [Fact]
    public void ShapeErrorsAreReportedAtTheInstruction()
    {
        var e = Assert.Throws<HloParseException>(() => HloTextParser.Parse("""
            HloModule m
            ENTRY e {
              x = f32[2] parameter(0)
              ROOT y = f32[3] add(x, x)
            }
            """));
        Assert.Equal(4, e.Line);
        Assert.Equal(8, e.Column);   // the instruction's name
        Assert.Equal("%y (add): add: the program says the result is f32[3] but it is f32[2] at line 4, column 8", e.Message);
    }

    public static TheoryData<string, int, int, string> BadInputs() => new()
    {
        { "HloModule m\nENTRY e {\n  x = f32[2] parameter(0)\n  ROOT y = f32[2] fft(x)\n}", 4, 19, "unknown opcode 'fft' at line 4, column 19" },
        { "HloModule m\nENTRY e {\n  x f32[2] parameter(0)\n}", 3, 5, "expected '=' after the instruction name %x, found 'f32' at line 3, column 5" },
        { "HloModule m\nENTRY e {\n  ROOT y = f32[2] negate(z)\n}", 3, 26, "operand %z is not defined (earlier) in this computation at line 3, column 26" },
        { "HloModule m\nENTRY e {\n  x = f32[2,-] parameter(0)\n}", 3, 13, "expected a dimension (a size like 784 or a symbolic product like B or 2*B), found '-' at line 3, column 13" },
        { "HloModule m\nENTRY e {\n  x = f32[2] parameter(0)\n", 4, 1, "computation %e is not closed with '}' at line 4, column 1" },
        { "HloModule m\nENTRY e {\n  x = f32[3] constant({1, 2})\n}", 3, 23, "the constant has 2 elements in dimension 0 but the shape says 3 at line 3, column 23" },
        { "HloModule m\nENTRY e {\n  x = f32[] constant(1)\n  ROOT a = f32[] negate(x)\n  ROOT b = f32[] negate(x)\n}", 5, 3, "computation %e has two ROOT instructions (%a and %b) at line 5, column 3" },
        { "HloModule m\nENTRY e {\n  x = q32[] parameter(0)\n}", 3, 7, "unknown element type 'q32' at line 3, column 7" },
        { "HloModule m\nENTRY e {\n  x = f32[2] parameter(0)\n  ROOT r = f32[] reduce(x, x), dimensions={0}, to_apply=sum\n}", 4, 57, "computation %sum is not defined before its use (callees come before their callers) at line 4, column 57" },
        { "HloModule m\nENTRY e {\n  x = f32[2] parameter(1)\n}", 2, 7, "computation %e has 1 parameters but no parameter(0) at line 2, column 7" },
        { "HloModule m\nENTRY e {\n  x = f32[2]{0,0} parameter(0)\n}", 3, 13, "layout {0,0} is not a permutation of the 1 dimensions of f32[2] at line 3, column 13" },
        { "HloModule m\nENTRY e {\n  x = s8[] constant(300)\n}", 3, 21, "300 does not fit in s8 at line 3, column 21" },
        { "HloModule m\nENTRY e {\n  x = f32[] constant(1), metadata={op_name=\"a}\n}", 3, 44, "a string is not closed with '\"' at line 3, column 44" },
        { "HloModule m\n/* open", 2, 1, "a /* comment is not closed with */ at line 2, column 1" },
        { "HloModule m\nENTRY e {\n  x = f32[<=4] parameter(0)\n}", 3, 11, "dynamic dimension '<=4' is not supported (XlaGen shapes are static or symbolic) at line 3, column 11" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadTextGivesLineColumnAndWhatWasExpected(string text, int line, int column, string message)
    {
        var e = Assert.Throws<HloParseException>(() => HloTextParser.Parse(text));
        Assert.Equal(message, e.Message);
        Assert.Equal(line, e.Line);
        Assert.Equal(column, e.Column);
    }

    [Fact]
    public void OperandShapeWrittenInlineMustMatch()
    {
        var e = Assert.Throws<HloParseException>(() => HloTextParser.Parse("ENTRY e {\n  x = f32[2] parameter(0)\n  ROOT y = f32[2] negate(s32[2] x)\n}"));
        Assert.Equal("operand %x is written as s32[2] but it is f32[2] at line 3, column 26", e.Message);
    }

    [Fact]
    public void ParseShapeRejectsTrailingText()
    {
        var e = Assert.Throws<HloParseException>(() => HloTextParser.ParseShape("f32[2] x"));
        Assert.Equal("unexpected 'x' after the shape at line 1, column 8", e.Message);
        Assert.True(HloTextParser.ParseShape("(f32[2]{0}, token[], pred[])").EqualsWithLayout(
            Shape.Tuple(Shape.Array(ElementType.F32, 2), Shape.Token(), Shape.Scalar(ElementType.Pred))));
    }
}
