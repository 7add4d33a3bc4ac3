using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using XlaGen.Hlo;
using P = Xla;

namespace XlaGen.Tests.Hlo;

/// <summary>Real protos written by XLA and JAX (../shared/xla-corpus/pb) read and compared with the summary in each .json.</summary>
public class HloProtoCorpusTests
{
    public static TheoryData<string> PbFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("pb", "*.pb")) data.Add(Path.GetFileName(f));
        return data;
    }

    static byte[] Bytes(string file) => File.ReadAllBytes(Path.Combine(Corpus.Root!, "pb", file));

    static JsonElement Decoded(string file) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "pb", Path.ChangeExtension(file, ".json")))).RootElement.GetProperty("decoded");

    [Fact]
    public void CorpusHasTheEightProtos()
    {
        Corpus.Require();
        Assert.Equal(8, Corpus.Files("pb", "*.pb").Count());
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(PbFiles))]
    public void ReadsAndMatchesItsJson(string file)
    {
        Corpus.Require();
        var d = Decoded(file);
        var module = HloProto.Read(Bytes(file));

        Assert.Equal(d.GetProperty("name").GetString(), module.Name);
        Assert.Equal(d.GetProperty("module_id").GetInt64(), module.Id);
        Assert.Equal(d.GetProperty("entry_computation_name").GetString(), module.Entry.Name);
        Assert.Equal(d.GetProperty("entry_computation_id").GetInt64(), module.Entry.Id);
        var comps = d.GetProperty("computations").EnumerateArray().ToList();
        Assert.Equal(comps.Count, module.Computations.Count);
        foreach (var cj in comps)
        {
            var c = module.Computations.Single(x => x.Name == cj.GetProperty("name").GetString());
            Assert.Equal(cj.GetProperty("id").GetInt64(), c.Id);
            Assert.Equal(cj.GetProperty("root_id").GetInt64(), c.Root.Id);
            // program_shape.parameter_names may differ from the parameter instructions' names (x vs x.1); the IR keeps the latter.
            Assert.Equal(cj.GetProperty("parameter_names").GetArrayLength(), c.Parameters.Count);
            var ins = cj.GetProperty("instructions").EnumerateArray().ToList();
            Assert.Equal(ins.Count, c.Instructions.Count);
            foreach (var ij in ins)
            {
                long id = ij.GetProperty("id").GetInt64();
                var i = c.Instructions.Single(x => x.Id == id);
                Assert.Equal(ij.GetProperty("name").GetString(), i.Name);
                Assert.Equal(ij.GetProperty("opcode").GetString(), i.Opcode);
                var shape = HloTextParser.ParseShape(ij.GetProperty("shape").GetString()!);
                Assert.True(shape.EqualsWithLayout(i.Shape), $"{i.Describe()}: {i.Shape.ToString(true)}, json says {shape.ToString(true)}");
                var operandIds = ij.TryGetProperty("operand_ids", out var ops) ? ops.EnumerateArray().Select(o => o.GetInt64()).ToArray() : new long[0];
                Assert.Equal(operandIds, i.Operands.Select(o => o.Id));
                if (ij.TryGetProperty("parameter_number", out var pn)) Assert.Equal(pn.GetInt64(), i.Attributes.ParameterNumber);
                if (ij.TryGetProperty("metadata_op_name", out var on)) Assert.Equal(on.GetString(), i.Metadata?.OpName);
                if (ij.TryGetProperty("literal", out var lit)) AssertLiteral(lit, i.Attributes.Literal!);
            }
        }
    }

    /// <summary>The json writes literals as protoc's text: numbers as strings, bytes fields C-escaped.</summary>
    static void AssertLiteral(JsonElement json, Literal literal)
    {
        var field = json.EnumerateObject().Single();
        var values = field.Value.EnumerateArray().Select(v => v.GetString()!).ToList();
        switch (field.Name)
        {
            case "f32s": Assert.Equal(values.Select(v => float.Parse(v, CultureInfo.InvariantCulture)), (float[])literal.Data!); break;
            case "s32s": Assert.Equal(values.Select(v => int.Parse(v, CultureInfo.InvariantCulture)), (int[])literal.Data!); break;
            case "s8s": Assert.Equal(Unescape(Assert.Single(values)).Select(b => (sbyte)b), (sbyte[])literal.Data!); break;
            default: Assert.Fail($"the test does not know literal field {field.Name}"); break;
        }
    }

    static byte[] Unescape(string s)
    {
        var r = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && char.IsDigit(s[i + 1]))
            {
                r.Add(Convert.ToByte(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                r.Add((byte)s[i]);
            }
        }
        return r.ToArray();
    }

    /// <summary>Writing what was read gives XLA's structure back: names, ids, opcodes, operands, shapes with layouts, roots.</summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(PbFiles))]
    public void RewritesTheSameStructure(string file)
    {
        Corpus.Require();
        var original = HloProto.ParseModuleProto(Bytes(file));
        var module = HloProto.FromProto(original);
        var rewritten = P.HloModuleProto.Parser.ParseFrom(HloProto.Write(module));
        Assert.Equal(original.Name, rewritten.Name);
        Assert.Equal(original.Id, rewritten.Id);
        Assert.Equal(original.EntryComputationId, rewritten.EntryComputationId);
        Assert.Equal(original.EntryComputationName, rewritten.EntryComputationName);
        Assert.Equal(original.Computations.Count, rewritten.Computations.Count);
        for (int c = 0; c < original.Computations.Count; c++)
        {
            var a = original.Computations[c];
            var b = rewritten.Computations[c];
            Assert.Equal((a.Name, a.Id, a.RootId), (b.Name, b.Id, b.RootId));
            Assert.Equal(a.ProgramShape.Parameters.Count, b.ProgramShape.Parameters.Count);
            for (int k = 0; k < a.ProgramShape.Parameters.Count; k++)
                Assert.True(HloProto.ShapeFromProto(a.ProgramShape.Parameters[k]).EqualsWithLayout(HloProto.ShapeFromProto(b.ProgramShape.Parameters[k])));
            Assert.True(HloProto.ShapeFromProto(a.ProgramShape.Result).EqualsWithLayout(HloProto.ShapeFromProto(b.ProgramShape.Result)));
            var byId = b.Instructions.ToDictionary(i => i.Id);
            foreach (var ia in a.Instructions)
            {
                var ib = byId[ia.Id];
                Assert.Equal((ia.Name, ia.Opcode, ia.ParameterNumber), (ib.Name, ib.Opcode, ib.ParameterNumber));
                Assert.Equal(ia.OperandIds, ib.OperandIds);
                Assert.Equal(ia.CalledComputationIds, ib.CalledComputationIds);
                Assert.True(HloProto.ShapeFromProto(ia.Shape).EqualsWithLayout(HloProto.ShapeFromProto(ib.Shape)));
                Assert.Equal(ia.Literal?.F32S ?? new Google.Protobuf.Collections.RepeatedField<float>(), ib.Literal?.F32S ?? new Google.Protobuf.Collections.RepeatedField<float>());
                Assert.Equal(ia.Metadata?.OpName ?? "", ib.Metadata?.OpName ?? "");
            }
        }
    }

    [Fact]
    public void HloProtoWrappersAreUnwrapped()
    {
        Corpus.Require();
        foreach (var file in new[] { "xla-hlo_opt_hlo_protobinary.pb", "xla-multihost_hlo_runner-test_hlo.pb" })
        {
            var bytes = Bytes(file);
            // Read as a module directly, field 1 (the wrapped module) would be taken for the module's name.
            Assert.NotEqual(Decoded(file).GetProperty("name").GetString(), NaiveModuleName(bytes));
            Assert.Equal(Decoded(file).GetProperty("name").GetString(), HloProto.ParseModuleProto(bytes).Name);
        }
        // A module wrapped by us reads the same as the bare module.
        var bare = File.ReadAllBytes(Path.Combine(Corpus.Root!, "pb", "gopjrt-test_jax_hlo.pb"));
        var wrapped = new P.HloProto { HloModule = P.HloModuleProto.Parser.ParseFrom(bare) }.ToByteArray();
        Assert.Equal(HloPrinter.Print(HloProto.Read(bare)), HloPrinter.Print(HloProto.Read(wrapped)));
    }

    static string? NaiveModuleName(byte[] bytes)
    {
        try
        {
            return P.HloModuleProto.Parser.ParseFrom(bytes).Name;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    /// <summary>The multihost runner's convolution, as XLA prints it in the .txt beside the .pb.</summary>
    [Fact]
    public void MultihostConvolutionPrintsAsXlaDoes()
    {
        Corpus.Require();
        var module = HloProto.Read(Bytes("xla-multihost_hlo_runner-test_hlo.pb"));
        var conv = module.Entry.Root;
        Assert.Equal("convolution", conv.Opcode);
        Assert.Contains("window={size=32x128 stride=31x1 lhs_dilate=32x1}, dim_labels=0bf1_0oi1->0bf1", HloPrinter.Print(conv));
        var text = File.ReadAllText(Path.Combine(Corpus.Root!, "pb", "xla-multihost_hlo_runner-test_hlo.txt"));
        Assert.Equal(HloPrinter.Print(HloTextParser.Parse(text)), HloPrinter.Print(module));
    }

    /// <summary>An op outside the catalogue: the proto still reads, the IR conversion names the instruction and the opcode.</summary>
    [Fact]
    public void UnsupportedOpcodeInARealProtoIsNamed()
    {
        Corpus.Require();
        var proto = HloProto.ParseModuleProto(Bytes("xla-multihost_hlo_runner-test_hlo.pb"));
        proto.Computations[0].Instructions[2].Opcode = "fft";
        var e = Assert.Throws<HloProtoException>(() => HloProto.FromProto(proto));
        Assert.StartsWith("HloModuleProto 'hlo_runner_test_0.1', computation 'hlo_runner_test_0.1' (id 2), instruction 'conv' (id 2, fft): unsupported opcode 'fft' (XlaGen supports: ", e.Message);
    }

    static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "XlaGen.sln"))) return d.FullName;
        }
        return null;
    }

    /// <summary>protoc from the Grpc.Tools package the runtime builds with (in the NuGet cache), or null.</summary>
    static string? Protoc()
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var tools = Path.Combine(cache, "grpc.tools");
        if (!Directory.Exists(tools) || !OperatingSystem.IsLinux()) return null;
        return Directory.GetFiles(tools, "protoc", SearchOption.AllDirectories).Where(f => f.Contains("linux_x64", StringComparison.Ordinal)).OrderByDescending(f => f, StringComparer.Ordinal).FirstOrDefault();
    }

    /// <summary>
    /// Our protos/xla decodes every corpus file (with protoc) to fields that the corpus's typed decode, made with
    /// OpenXLA's full protos, also has with the same name and value: a wrong number or name in our subset would
    /// show up as a field OpenXLA's decode does not have.
    /// </summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(PbFiles))]
    public void OurSchemaDecodesLikeOpenXlasSchema(string file)
    {
        Corpus.Require();
        var protoc = Protoc();
        Assert.SkipWhen(protoc == null, "protoc (from the Grpc.Tools NuGet package, linux_x64) is not in the NuGet cache");
        var message = Decoded(file).GetProperty("message").GetString()!;
        var psi = new ProcessStartInfo(protoc!, $"--decode={message} xla/hlo.proto")
        {
            WorkingDirectory = Path.Combine(RepoRoot()!, "protos"),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var bytes = Bytes(file);
        process.StandardInput.BaseStream.Write(bytes, 0, bytes.Length);
        process.StandardInput.Close();
        var ours = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, errors);

        var theirs = File.ReadAllLines(Path.Combine(Corpus.Root!, "pb", Path.ChangeExtension(file, ".textproto"))).Select(l => l.Trim())
            .GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        var named = ours.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l != "}" && !char.IsDigit(l[0])).ToList();
        foreach (var group in named.GroupBy(l => l))
        {
            Assert.True(theirs.TryGetValue(group.Key, out var n) && n >= group.Count(), $"our schema decodes '{group.Key}' x{group.Count()}, OpenXLA's decode has it x{(theirs.TryGetValue(group.Key, out var m) ? m : 0)}");
        }
        Assert.True(named.Count(l => l.StartsWith("instructions", StringComparison.Ordinal)) > 0, "no instructions decoded");
    }

    /// <summary>lit/xla-hlo_opt_emit_proto.hlo: the CHECK lines state the HloProto that hlo-opt --emit-proto writes.</summary>
    [Fact]
    public void EmitProtoLitTestStructure()
    {
        Corpus.Require();
        var module = HloTextParser.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "lit", "xla-hlo_opt_emit_proto.hlo")));
        var p = HloProto.ToProto(module);
        Assert.Equal("test_module", p.Name);
        Assert.Equal("main", p.EntryComputationName);
        Assert.Equal(0, p.Id);                              // "no module id"
        Assert.Equal(2, p.EntryComputationId);
        var c = Assert.Single(p.Computations);
        Assert.Equal(("main", 2L, 2L), (c.Name, c.Id, c.RootId));
        Assert.Equal(new[] { ("a", "parameter", 0L, 0L), ("b", "parameter", 1L, 1L), ("res", "multiply", 2L, 0L) },
            c.Instructions.Select(i => (i.Name, i.Opcode, i.Id, i.ParameterNumber)));
        Assert.Equal(new long[] { 0, 1 }, c.Instructions[2].OperandIds);
        Assert.All(c.Instructions, i => Assert.Equal(P.PrimitiveType.F32, i.Shape.ElementType));
        Assert.All(c.Instructions, i => Assert.Empty(i.Shape.Dimensions));
        // "layout { tail_padding_alignment_in_elements: 1 }": a scalar's layout has no minor_to_major entries
        Assert.All(c.Instructions, i => Assert.Equal((0, 1L), (i.Shape.Layout.MinorToMajor.Count, i.Shape.Layout.TailPaddingAlignmentInElements)));
        Assert.Equal(new[] { "a", "b" }, c.ProgramShape.ParameterNames);
        Assert.Equal(2, c.ProgramShape.Parameters.Count);
        Assert.Equal(P.PrimitiveType.F32, c.ProgramShape.Result.ElementType);
        Assert.Equal(new[] { "p0", "p1" }, p.HostProgramShape.ParameterNames);
        // id 0 is the proto3 default, so instruction "a" carries no id field on the wire, as in XLA's output.
        Assert.Equal(0, c.Instructions[0].CalculateSize() - new P.HloInstructionProto { Name = "a", Opcode = "parameter", Shape = c.Instructions[0].Shape }.CalculateSize());
    }
}
