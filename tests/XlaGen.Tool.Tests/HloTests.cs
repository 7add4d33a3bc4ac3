using System.Text.Json;
using XlaGen.Data;
using XlaGen.Hlo;

using XlaGen.Tests;

namespace XlaGen.Tool.Tests;

/// <summary><c>xlagen hlo print|convert|run</c> on the real XLA corpus (../shared/xla-corpus): text and proto round
/// trips, runs checked against values the corpus states and against the same arithmetic done here.</summary>
public class HloTests
{
    static string Pb(string name) => Path.Combine(Corpus.Root!, "pb", name);

    static string Case(string name) => Path.Combine(Corpus.Root!, "cases", name);

    /// <summary>HLO text as the tool writes it: ending with one newline.</summary>
    static string Normalized(string text) => text.EndsWith('\n') ? text : text + "\n";

    public static TheoryData<string> ProtoFiles() => new(Corpus.Files("pb", "*.pb").Select(f => Path.GetFileName(f)!));

    public static TheoryData<string> TextCases() => new(Corpus.Files("cases", "*.hlo").Select(f => Path.GetFileName(f)!));

    [Theory]
    [MemberData(nameof(ProtoFiles))]
    public void EveryCorpusProtoRoundTripsThroughText(string name)
    {
        Corpus.Require();
        var dir = Xlagen.TempDir();
        string text1 = Path.Combine(dir, "a.hlo"), proto = Path.Combine(dir, "b.pb"), text2 = Path.Combine(dir, "c.txt");
        var r = Xlagen.Run("hlo", "convert", Pb(name), text1);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("(HloModuleProto) -> ", r.Stdout);
        Assert.True(Xlagen.Run("hlo", "convert", text1, proto).Code == 0);
        Assert.True(Xlagen.Run("hlo", "convert", proto, text2).Code == 0);
        string first = File.ReadAllText(text1);
        Assert.StartsWith("HloModule ", first);
        Assert.Equal(first, File.ReadAllText(text2));
        // The proto the tool wrote is an HloModuleProto this runtime (and XLA) reads, holding the same module.
        Assert.Equal(first, Normalized(HloProto.Read(File.ReadAllBytes(proto)).ToString()));
        Assert.Equal(Normalized(HloProto.Read(File.ReadAllBytes(Pb(name))).ToString()), first);
        var print = Xlagen.Run("hlo", "print", Pb(name));
        Assert.True(print.Code == 0, print.ToString());
        Assert.Equal(first, print.Stdout);
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [MemberData(nameof(TextCases))]
    public void EveryCorpusTextCaseRoundTripsThroughTheProto(string name)
    {
        Corpus.Require();
        var dir = Xlagen.TempDir();
        string proto = Path.Combine(dir, "m.binpb"), text = Path.Combine(dir, "m.hlo");
        var r = Xlagen.Run("hlo", "convert", Case(name), proto);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("(HLO text) -> ", r.Stdout);
        Assert.True(Xlagen.Run("hlo", "convert", proto, text).Code == 0);
        var expected = HloTextParser.Parse(File.ReadAllText(Case(name))).ToString();
        Assert.Equal(Normalized(expected), File.ReadAllText(text));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void RunWithInputFilesReproducesTheValuesTheCorpusStates()
    {
        Corpus.Require();
        // README: xla-rs-fn_hlo.pb computes (dot(x, y) / 2,); x = {{1,2},{3,4}}, y = ones -> {{1.5,1.5},{3.5,3.5}}.
        var dir = Xlagen.TempDir();
        Npy.Write(Path.Combine(dir, "x.npy"), Tensor<float>.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2));
        Npy.Write(Path.Combine(dir, "y.npy"), Tensor<float>.FromArray(new float[] { 1, 1, 1, 1 }, 2, 2));
        var outDir = Path.Combine(dir, "out");
        var r = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"), "--input", $"Arg_0.1={dir}/x.npy", "--input", $"1={dir}/y.npy", "--out", outDir);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("output 0: f32[2,2]  min 1.5 max 3.5 mean 2.5", r.Stdout);
        var result = Npy.Read<float>(Path.Combine(outDir, "output-0.npy"));
        Assert.Equal(new long[] { 2, 2 }, result.Shape);
        Assert.Equal(new float[] { 1.5f, 1.5f, 3.5f, 3.5f }, result.Data);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void SeededRunsWriteTheirInputsAndTheResultsMatchTheArithmeticDoneHere()
    {
        Corpus.Require();
        var dir = Xlagen.TempDir();
        var r = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"), "--seed", "7", "--out", dir);
        Assert.True(r.Code == 0, r.ToString());
        var x = Npy.Read<float>(Path.Combine(dir, "input-0.npy"));
        var y = Npy.Read<float>(Path.Combine(dir, "input-1.npy"));
        var z = Npy.Read<float>(Path.Combine(dir, "output-0.npy"));
        Assert.All(x.Data.Concat(y.Data), v => Assert.InRange(v, -1f, 1f));
        Assert.NotEqual(x.Data, y.Data);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                Assert.Equal((x[i, 0] * y[0, j] + x[i, 1] * y[1, j]) / 2, z[i, j], 1e-6f);

        // The same seed gives the same inputs; x*x + 1 (gopjrt-test_jax_hlo.pb, per the corpus README).
        var again = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"), "--seed", "7", "--out", Path.Combine(dir, "again"));
        Assert.True(again.Code == 0, again.ToString());
        Assert.Equal(x.Data, Npy.Read<float>(Path.Combine(dir, "again", "input-0.npy")).Data);
        var square = Xlagen.Run("hlo", "run", Pb("gopjrt-test_jax_hlo.pb"), "--seed", "11", "--out", Path.Combine(dir, "sq"));
        Assert.True(square.Code == 0, square.ToString());
        float v = Npy.Read<float>(Path.Combine(dir, "sq", "input-0.npy")).Data.Single();
        Assert.Equal(v * v + 1, Npy.Read<float>(Path.Combine(dir, "sq", "output-0.npy")).Data.Single(), 1e-6f);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void AModuleWithoutParametersRunsToTheStatedValues()
    {
        Corpus.Require();
        using var json = JsonDocument.Parse(File.ReadAllText(Case("01-transpose-s32-const.json")));
        var expected = json.RootElement.GetProperty("expected");
        var dir = Xlagen.TempDir();
        var r = Xlagen.Run("hlo", "run", Case("01-transpose-s32-const.hlo"), "--out", dir);
        Assert.True(r.Code == 0, r.ToString());
        var result = Npy.Read<int>(Path.Combine(dir, "output-0.npy"));
        Assert.Equal(expected.GetProperty("shape").GetString(), result.ShapeText);
        Assert.Equal(expected.GetProperty("values").EnumerateArray().Select(e => e.GetInt32()), result.Data);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void BadInputsNameTheFileOrArgumentAndExitWithTheirCodes()
    {
        Corpus.Require();
        var dir = Xlagen.TempDir();
        Npy.Write(Path.Combine(dir, "wrong.npy"), Tensor<float>.FromArray(new float[] { 1, 2, 3 }, 3));
        var r = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"), "--input", $"0={dir}/wrong.npy", "--seed", "1");
        Assert.Equal(3, r.Code);
        Assert.Contains($"{dir}/wrong.npy holds f32[3], but parameter Arg_0.1 is f32[2,2]", r.Stderr);

        r = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"), "--input", $"z={dir}/wrong.npy");
        Assert.Equal(2, r.Code);
        Assert.Contains("the module has no parameter 'z'; its parameters are 0 Arg_0.1 f32[2,2], 1 Arg_1.2 f32[2,2]", r.Stderr);

        r = Xlagen.Run("hlo", "run", Pb("xla-rs-fn_hlo.pb"));
        Assert.Equal(2, r.Code);
        Assert.Contains("no value for parameter 0 (Arg_0.1: f32[2,2]), parameter 1 (Arg_1.2: f32[2,2]): give --input NAME=FILE.npy for each, or --seed N", r.Stderr);

        r = Xlagen.Run("hlo", "run", Case("29-tuple-param-add-tuple-result.hlo"), "--seed", "1");
        Assert.Equal(3, r.Code);
        Assert.Contains("hlo run makes random values for arrays of static shape only", r.Stderr);

        var garbage = Path.Combine(dir, "garbage.pb");
        File.WriteAllBytes(garbage, new byte[] { 0x0a, 0xff, 0x01, 0x02, 0x03 });
        r = Xlagen.Run("hlo", "print", garbage);
        Assert.Equal(3, r.Code);
        Assert.Contains($"xlagen hlo print: {garbage}: is neither HLO text nor a readable HloModuleProto (5 bytes)", r.Stderr);

        var badText = Path.Combine(dir, "bad.hlo");
        File.WriteAllText(badText, "HloModule m\n\nENTRY e {\n  p = f32[2] parameter(0)\n  ROOT a = f32[3] add(p, p)\n}\n");
        r = Xlagen.Run("hlo", "print", badText);
        Assert.Equal(3, r.Code);
        Assert.Matches($@"xlagen hlo print: {System.Text.RegularExpressions.Regex.Escape(badText)}:5:\d+: ", r.Stderr);

        r = Xlagen.Run("hlo", "print", Path.Combine(dir, "missing.hlo"));
        Assert.Equal(3, r.Code);
        Assert.Contains("missing.hlo: no such file", r.Stderr);

        r = Xlagen.Run("hlo", "convert", Pb("xla-rs-fn_hlo.pb"), Path.Combine(dir, "out.json"));
        Assert.Equal(2, r.Code);
        Assert.Contains("cannot tell the format to write from the name", r.Stderr);
        Directory.Delete(dir, recursive: true);
    }
}
