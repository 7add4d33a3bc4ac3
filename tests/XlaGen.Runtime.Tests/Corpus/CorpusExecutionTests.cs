using System.Globalization;
using System.Text.Json;
using XlaGen.Hlo;

namespace XlaGen.Tests.CorpusExecution;

/// <summary>
/// The real XLA corpus run on the CPU executor: every HLO text case (../shared/xla-corpus/cases/NN-*.hlo) with the
/// inputs of its .json, compared with the values XLA's own tests state (exactly when the source compared exactly,
/// else |got - want| &lt;= abs + rel·|want|), and every proto fixture that states input/output pairs (expected_io).
/// Tuple inputs and results are flattened to their leaves, as the executor takes and returns them.
/// </summary>
public class CorpusExecutionTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("cases", "*.hlo")) data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    public static TheoryData<string, int> ProtoPairs()
    {
        var data = new TheoryData<string, int>();
        foreach (var f in Corpus.Files("pb", "*.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(f));
            if (!doc.RootElement.TryGetProperty("expected_io", out var io)) continue;
            for (int i = 0; i < io.GetArrayLength(); i++) data.Add(Path.GetFileNameWithoutExtension(f), i);
        }
        return data;
    }

    [Fact]
    public void CorpusHasTheCasesThisTestRuns()
    {
        Corpus.Require();
        Assert.Equal(29, Corpus.Files("cases", "*.hlo").Count());
        Assert.Equal(11, ProtoPairs().Count);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Cases))]
    public void HloCaseGivesTheExpectedValues(string name)
    {
        Corpus.Require();
        var module = HloTextParser.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "cases", name + ".hlo")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "cases", name + ".json")));
        var json = doc.RootElement;
        var inputs = json.GetProperty("inputs").EnumerateArray().SelectMany(Leaves).ToList();
        var expected = Leaves(json.GetProperty("expected")).ToList();
        var (abs, rel) = Tolerance(json.GetProperty("tolerance"));
        Run(name, module, inputs, expected, abs, rel);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(ProtoPairs))]
    public void ProtoFixtureGivesItsStatedOutput(string name, int pair)
    {
        Corpus.Require();
        var module = HloProto.Read(File.ReadAllBytes(Path.Combine(Corpus.Root!, "pb", name + ".pb")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Corpus.Root!, "pb", name + ".json")));
        var io = doc.RootElement.GetProperty("expected_io")[pair];
        var inputs = io.GetProperty("inputs").EnumerateArray().SelectMany(Leaves).ToList();
        var expected = Leaves(io.GetProperty("expected")).ToList();
        var (abs, rel) = io.TryGetProperty("tolerance", out var t) ? Tolerance(t) : (0.0, 0.0);
        Run($"{name} pair {pair}", module, inputs, expected, abs, rel);
    }

    static void Run(string what, HloModule module, List<Tensor> inputs, List<Tensor> expected, double abs, double rel)
    {
        var device = Devices.Cpu();
        using var exe = device.Compile(module);
        var args = inputs.Select(device.Upload).ToArray();
        var results = exe.Execute(args);
        Assert.True(results.Length == expected.Count, $"{what}: {results.Length} results, expected {expected.Count}");
        for (int i = 0; i < results.Length; i++)
        {
            var got = device.Download(results[i]);
            var want = expected[i];
            Assert.True(want.ShapeText == got.ShapeText, $"{what} result {i}: expected {want.ShapeText}, got {got.ShapeText}");
            for (long e = 0; e < want.ElementCount; e++)
            {
                var w = want.Data.GetValue(e)!;
                var g = got.Data.GetValue(e)!;
                Assert.True(Close(w, g, abs, rel), $"{what} result {i} element {e}: got {Show(g)}, expected {Show(w)} (abs {abs}, rel {rel})");
            }
        }
        foreach (var b in args.Concat(results)) b.Dispose();
    }

    static bool Close(object w, object g, double abs, double rel)
    {
        if (w is float or double)
        {
            double wd = Convert.ToDouble(w, CultureInfo.InvariantCulture), gd = Convert.ToDouble(g, CultureInfo.InvariantCulture);
            if (double.IsNaN(wd)) return double.IsNaN(gd);
            if (abs == 0 && rel == 0) return wd == gd;
            return Math.Abs(gd - wd) <= abs + rel * Math.Abs(wd);
        }
        return w.Equals(g);
    }

    static string Show(object v) => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "null";

    static (double Abs, double Rel) Tolerance(JsonElement t)
    {
        if (t.ValueKind == JsonValueKind.Number) return (t.GetDouble(), 0);
        double abs = t.TryGetProperty("abs", out var a) ? a.GetDouble() : 0;
        double rel = t.TryGetProperty("rel", out var r) ? r.GetDouble() : 0;
        return (abs, rel);
    }

    /// <summary>A json value {shape, values} or {shape, tuple: […]} as the tensors of its array leaves.</summary>
    static IEnumerable<Tensor> Leaves(JsonElement v)
    {
        if (v.TryGetProperty("tuple", out var tuple))
        {
            foreach (var e in tuple.EnumerateArray())
            {
                foreach (var leaf in Leaves(e)) yield return leaf;
            }
            yield break;
        }
        var shape = HloTextParser.ParseShape(v.GetProperty("shape").GetString()!);
        var dims = shape.ConcreteDims();
        var values = v.GetProperty("values").EnumerateArray().ToList();
        yield return shape.ElementType switch
        {
            ElementType.F32 => new Tensor<float>(dims, values.Select(x => x.GetSingle()).ToArray()),
            ElementType.F64 => new Tensor<double>(dims, values.Select(x => x.GetDouble()).ToArray()),
            ElementType.S32 => new Tensor<int>(dims, values.Select(x => x.GetInt32()).ToArray()),
            ElementType.S64 => new Tensor<long>(dims, values.Select(x => x.GetInt64()).ToArray()),
            ElementType.S16 => new Tensor<short>(dims, values.Select(x => x.GetInt16()).ToArray()),
            ElementType.S8 => new Tensor<sbyte>(dims, values.Select(x => x.GetSByte()).ToArray()),
            ElementType.U8 => new Tensor<byte>(dims, values.Select(x => x.GetByte()).ToArray()),
            ElementType.U16 => new Tensor<ushort>(dims, values.Select(x => x.GetUInt16()).ToArray()),
            ElementType.U32 => new Tensor<uint>(dims, values.Select(x => x.GetUInt32()).ToArray()),
            ElementType.Pred => new Tensor<bool>(dims, values.Select(x => x.GetBoolean()).ToArray()),
            _ => throw new NotSupportedException($"the test does not read {shape} values"),
        };
    }
}
