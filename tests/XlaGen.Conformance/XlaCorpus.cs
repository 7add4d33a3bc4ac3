using System.Text.Json;
using XlaGen.Hlo;

namespace XlaGen.Tests.Conformance;

/// <summary>One value case of the real XLA corpus: a module written by XLA or JAX (or an XLA engineer's HLO text
/// test), its inputs and the values XLA's own tests state, with their tolerance. Tuple inputs and results are
/// flattened to their leaves, as executors take and return them.</summary>
public sealed record CorpusCase(string Name, string File, Func<HloModule> Load, IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Expected, Tolerance Tolerance)
{
    public override string ToString() => Name;

    /// <summary>Compiles and runs the module on <paramref name="device"/> and returns its results on the host.</summary>
    public Tensor[] Run(IDevice device) => DeviceRun.Run(device, Load(), Inputs);

    /// <summary>One message per result that differs from the stated values; empty when all match.</summary>
    public List<string> Check(IReadOnlyList<Tensor> results) => TensorComparison.Mismatches(Expected, results, _ => Tolerance, Name);

    /// <summary>Runs on <paramref name="device"/> and throws a <see cref="ConformanceMismatchException"/> naming every differing result.</summary>
    public void RunOn(IDevice device)
    {
        var problems = Check(Run(device));
        if (problems.Count > 0) throw new ConformanceMismatchException(string.Join(Environment.NewLine, problems));
    }
}

/// <summary>
/// Reads the value cases of an xla-corpus folder (../shared/xla-corpus): every HLO text case <c>cases/NN-*.hlo</c> with
/// the inputs, expected values and tolerance of its <c>.json</c> (exact when the source compared exactly, else
/// |got − want| ≤ abs + rel·|want|), and every input/output pair (<c>expected_io</c>) of a proto fixture <c>pb/*.pb</c>.
/// Errors name the file and what was wrong in it.
/// </summary>
public static class XlaCorpus
{
    /// <summary>Names of the HLO text cases (file names without .hlo), in ordinal order.</summary>
    public static IReadOnlyList<string> HloCaseNames(string root) =>
        Directory.GetFiles(Folder(root, "cases"), "*.hlo").Select(f => Path.GetFileNameWithoutExtension(f)!)
            .OrderBy(n => n, StringComparer.Ordinal).ToList();

    /// <summary>(fixture name, pair index) of every stated input/output pair of the proto fixtures, in ordinal order.</summary>
    public static IReadOnlyList<(string Name, int Pair)> ProtoPairs(string root)
    {
        var pairs = new List<(string, int)>();
        foreach (var f in Directory.GetFiles(Folder(root, "pb"), "*.json").OrderBy(f => f, StringComparer.Ordinal))
        {
            using var doc = ParseJson(f);
            if (!doc.RootElement.TryGetProperty("expected_io", out var io)) continue;
            for (int i = 0; i < io.GetArrayLength(); i++) pairs.Add((Path.GetFileNameWithoutExtension(f), i));
        }
        return pairs;
    }

    /// <summary>Every value case of the corpus: the HLO text cases, then the proto pairs.</summary>
    public static IReadOnlyList<CorpusCase> All(string root) =>
        HloCaseNames(root).Select(n => HloCase(root, n)).Concat(ProtoPairs(root).Select(p => ProtoPair(root, p.Name, p.Pair))).ToList();

    public static CorpusCase HloCase(string root, string name)
    {
        var hlo = Path.Combine(Folder(root, "cases"), name + ".hlo");
        var jsonFile = Path.ChangeExtension(hlo, ".json");
        using var doc = ParseJson(jsonFile);
        var json = doc.RootElement;
        return Read(jsonFile, () =>
        {
            var inputs = json.GetProperty("inputs").EnumerateArray().SelectMany(Leaves).ToList();
            var expected = Leaves(json.GetProperty("expected")).ToList();
            return new CorpusCase(name, hlo, () => HloTextParser.Parse(System.IO.File.ReadAllText(hlo)), inputs, expected, ToleranceOf(json.GetProperty("tolerance")));
        });
    }

    public static CorpusCase ProtoPair(string root, string name, int pair)
    {
        var pb = Path.Combine(Folder(root, "pb"), name + ".pb");
        var jsonFile = Path.ChangeExtension(pb, ".json");
        using var doc = ParseJson(jsonFile);
        return Read(jsonFile, () =>
        {
            var io = doc.RootElement.GetProperty("expected_io")[pair];
            var inputs = io.GetProperty("inputs").EnumerateArray().SelectMany(Leaves).ToList();
            var expected = Leaves(io.GetProperty("expected")).ToList();
            var tolerance = io.TryGetProperty("tolerance", out var t) ? ToleranceOf(t) : Tolerance.Exact;
            return new CorpusCase($"{name} pair {pair}", pb, () => HloProto.Read(System.IO.File.ReadAllBytes(pb)), inputs, expected, tolerance);
        });
    }

    static string Folder(string root, string folder)
    {
        var path = Path.Combine(root, folder);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path} does not exist: is {root} an xla-corpus folder (it holds cases/ and pb/)?");
        return path;
    }

    static JsonDocument ParseJson(string file)
    {
        try
        {
            return JsonDocument.Parse(System.IO.File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads values out of a case's JSON, turning a missing or mistyped property into an error naming the file.</summary>
    static CorpusCase Read(string file, Func<CorpusCase> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or NotSupportedException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{file}: {e.Message}", e);
        }
    }

    static Tolerance ToleranceOf(JsonElement t)
    {
        if (t.ValueKind == JsonValueKind.Number) return Tolerance.AbsRel(t.GetDouble(), 0);
        double abs = t.TryGetProperty("abs", out var a) ? a.GetDouble() : 0;
        double rel = t.TryGetProperty("rel", out var r) ? r.GetDouble() : 0;
        return Tolerance.AbsRel(abs, rel);
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
            _ => throw new NotSupportedException($"the corpus reader does not read {shape} values"),
        };
    }
}
