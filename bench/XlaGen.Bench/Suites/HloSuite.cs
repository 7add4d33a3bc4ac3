using System.Text.Json.Nodes;
using XlaGen.Backends.Cpu;
using XlaGen.Bench.Infrastructure;
using XlaGen.Hlo;

namespace XlaGen.Bench.Suites;

/// <summary>
/// Times HLO text modules on the CPU executor, interleaved in one process: every file named in <c>HLO</c>
/// (separated by the path separator, ':' on Linux), each with random arguments (floats in [-0.5, 0.5), random
/// predicates, small integers), fused as the executor fuses unless <c>HLO_FUSION=0</c>; <c>HLO_ROTATE=N</c> cycles
/// through N argument sets, so that a call finds its inputs out of cache as a step of a large program does;
/// <c>HLO_SWITCH=Namespace.Type.Field</c> times each file with that internal static bool of the runtime false and true,
/// interleaved (an A/B of a kernel change on a noisy machine). For trying a kernel change on
/// one instruction or a variant of a fused computation cut out of a real program (<c>XLAGEN_CPU_DUMP=DIR</c> writes
/// them).
/// </summary>
internal sealed class HloSuite : IBenchSuite
{
    public string Name => "hlo";

    public string Description => "HLO text modules named in HLO=FILE[:FILE...], each on the CPU executor with random arguments, interleaved: ms per call.";

    public JsonObject Run(BenchOptions options)
    {
        var files = (Environment.GetEnvironmentVariable("HLO") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        if (files.Length == 0) throw new ArgumentException("set HLO=FILE[:FILE...] to the HLO text modules to time");
        var device = new CpuDevice { Fusion = Environment.GetEnvironmentVariable("HLO_FUSION") != "0" };
        var rng = new Random(1);
        int rotate = int.TryParse(Environment.GetEnvironmentVariable("HLO_ROTATE"), out int r) && r > 0 ? r : 1;
        var calls = new List<Action>();
        var names = new List<string>();
        // HLO_SWITCH=Namespace.Type.Field: an internal static bool of the runtime, set false then true around the calls of
        // each file (an A/B of a kernel change, interleaved in one process)
        var field = Environment.GetEnvironmentVariable("HLO_SWITCH") is { Length: > 0 } sw
            ? typeof(CpuDevice).Assembly.GetType(sw[..sw.LastIndexOf('.')], throwOnError: true)!.GetField(sw[(sw.LastIndexOf('.') + 1)..],
                System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
                ?? throw new ArgumentException($"no static field {sw}")
            : null;
        foreach (var file in files)
        {
            var module = HloTextParser.Parse(File.ReadAllText(file));
            var sets = Enumerable.Range(0, rotate).Select(_ => module.Entry.Parameters.Select(p => device.Upload(RandomOf(p.Shape, rng))).ToArray()).ToArray();
            int next = 0;
            foreach (bool on in field == null ? new[] { true } : new[] { false, true })
            {
                field?.SetValue(null, on);   // compiled with the switch set too (it may act when compiling)
                var exe = device.CompileHlo(module);
                calls.Add(() =>
                {
                    field?.SetValue(null, on);
                    foreach (var o in exe.Execute(sets[next])) o.Dispose();
                    next = (next + 1) % sets.Length;
                });
                names.Add(field == null ? file : $"{file} ({field.Name}={on})");
            }
        }
        var stats = Timing.MeasureInterleaved(calls, options);
        var result = new JsonObject();
        Console.WriteLine($"{"ms",8} {"best",8}  file");
        for (int i = 0; i < names.Count; i++)
        {
            Console.WriteLine($"{stats[i].Median * 1e3,8:F3} {stats[i].Min * 1e3,8:F3}  {names[i]}");
            result[Path.GetFileName(names[i])] = new JsonObject { ["ms_median"] = stats[i].Median * 1e3, ["ms_best"] = stats[i].Min * 1e3 };
        }
        return result;
    }

    /// <summary>Random arguments: floats in [-0.5, 0.5), predicates, small integers.</summary>
    internal static Tensor RandomOf(Shape s, Random rng)
    {
        int n = (int)s.ElementCount;
        var dims = s.ConcreteDims();
        return s.ElementType switch
        {
            ElementType.F32 => Tensor<float>.FromArray(Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), dims),
            ElementType.F64 => Tensor<double>.FromArray(Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray(), dims),
            ElementType.Pred => Tensor<bool>.FromArray(Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToArray(), dims),
            ElementType.S32 => Tensor<int>.FromArray(Enumerable.Range(0, n).Select(_ => rng.Next(10)).ToArray(), dims),
            _ => throw new NotSupportedException($"no random {s} arguments"),
        };
    }
}
