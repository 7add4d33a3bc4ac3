using XlaGen.Checkpoints;
using XlaGen.Hlo;

namespace XlaGen.Fuzz;

/// <summary>
/// Seed inputs of each harness: the XLA corpus (../shared/xla-corpus beside the repository, or XLAGEN_CORPUS: every
/// HLO text case, every serialized module, and each one converted to the other form where it converts), a few
/// modules written here, a checkpoint written by a model's Save after two training steps (<see cref="SeedNet"/>), and
/// files written by <see cref="Safetensors.Save"/> (every dtype, scalars, empty tensors, an optimizer step counter and
/// the training metadata a checkpoint carries).
/// </summary>
public static class Seeds
{
    /// <summary>The corpus folder, or null when it is not there.</summary>
    public static string? CorpusRoot { get; } = FindCorpus();

    static string? FindCorpus()
    {
        var env = Environment.GetEnvironmentVariable("XLAGEN_CORPUS");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "XlaGen.sln"))) continue;
            var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "xla-corpus"));
            return Directory.Exists(candidate) ? candidate : null;
        }
        return null;
    }

    static IEnumerable<string> CorpusFiles(string folder, string pattern) =>
        CorpusRoot == null || !Directory.Exists(Path.Combine(CorpusRoot, folder)) ? Enumerable.Empty<string>()
            : Directory.GetFiles(Path.Combine(CorpusRoot, folder), pattern).OrderBy(f => f, StringComparer.Ordinal);

    /// <summary>Modules written here, so the harnesses have seeds without the corpus: parameters, a constant with
    /// nesting, a tuple, a called computation, metadata.</summary>
    static readonly string[] BuiltInTexts =
    {
        """
        HloModule add, entry_computation_layout={(f32[2,3]{1,0}, f32[2,3]{1,0})->f32[2,3]{1,0}}

        ENTRY %main (a: f32[2,3], b: f32[2,3]) -> f32[2,3] {
          %a = f32[2,3]{1,0} parameter(0)
          %b = f32[2,3]{1,0} parameter(1)
          ROOT %add = f32[2,3]{1,0} add(f32[2,3]{1,0} %a, f32[2,3]{1,0} %b), metadata={op_name="x + y" source_file="Model.cs" source_line=12}
        }
        """,
        """
        HloModule reduce

        %sum (x: f32[], y: f32[]) -> f32[] {
          %x = f32[] parameter(0)
          %y = f32[] parameter(1)
          ROOT %s = f32[] add(f32[] %x, f32[] %y)
        }

        ENTRY %main (p: f32[4,2]) -> (f32[4], s32[2,2]) {
          %p = f32[4,2]{1,0} parameter(0)
          %zero = f32[] constant(0)
          %r = f32[4]{0} reduce(f32[4,2]{1,0} %p, f32[] %zero), dimensions={1}, to_apply=%sum
          %c = s32[2,2]{1,0} constant({ { 1, -2 }, { 3, 4 } })
          ROOT %t = (f32[4]{0}, s32[2,2]{1,0}) tuple(f32[4]{0} %r, s32[2,2]{1,0} %c)
        }
        """,
    };

    public static List<byte[]> For(string target) => target switch
    {
        "hlo-text" => HloTexts().Select(t => System.Text.Encoding.UTF8.GetBytes(t)).ToList(),
        "hlo-proto" => HloProtos(),
        "safetensors" => SafetensorsFiles(),
        _ => throw new ArgumentException($"unknown target '{target}'"),
    };

    static List<string> HloTexts()
    {
        var texts = BuiltInTexts.Concat(CorpusFiles("cases", "*.hlo").Concat(CorpusFiles("lit", "*.hlo")).Select(File.ReadAllText)).ToList();
        foreach (var file in CorpusFiles("pb", "*.pb"))
            if (TryRead(file) is { } module) texts.Add(HloPrinter.Print(module));
        return texts;
    }

    static List<byte[]> HloProtos()
    {
        var protos = CorpusFiles("pb", "*.pb").Select(File.ReadAllBytes).ToList();
        foreach (var text in HloTexts())
        {
            try
            {
                protos.Add(HloProto.Write(HloTextParser.Parse(text)));
            }
            catch (Exception e) when (e is HloParseException or HloVerificationException or HloProtoException or NotSupportedException or InvalidOperationException)
            {
                // A case that does not convert (a symbolic dimension has no proto form) seeds the text harness only.
            }
        }
        return protos;
    }

    static HloModule? TryRead(string file)
    {
        try
        {
            return HloProto.Read(File.ReadAllBytes(file));
        }
        catch (Exception e) when (e is HloProtoException or HloVerificationException)
        {
            return null;
        }
    }

    static List<byte[]> SafetensorsFiles()
    {
        var dir = Directory.CreateTempSubdirectory("xlagen-fuzz-seeds-").FullName;
        try
        {
            var files = new List<byte[]>();
            byte[] Write(string name, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, Dictionary<string, string>? metadata = null)
            {
                var path = Path.Combine(dir, name);
                Safetensors.Save(path, tensors, metadata);
                return File.ReadAllBytes(path);
            }
            static KeyValuePair<string, Tensor> T(string name, Tensor tensor) => new(name, tensor);

            // A model's checkpoint after two steps of Adam, written by the model's Save.
            var checkpoint = Path.Combine(dir, "seednet.safetensors");
            using (var model = SeedNet.Create(Devices.Cpu(), seed: 3))
            {
                model.Compile(new XlaGen.Training.Adam(1e-2));
                var x = new Tensor<float>(new long[] { 8, 3 }, Enumerable.Range(0, 24).Select(i => (i % 7) * 0.3f - 1).ToArray());
                var labels = new Tensor<int>(new long[] { 8 }, Enumerable.Range(0, 8).Select(i => i % 4).ToArray());
                model.Fit(x, labels, new XlaGen.Training.FitOptions { Epochs = 1, BatchSize = 4, Verbose = false });
                model.Save(checkpoint);
            }
            files.Add(File.ReadAllBytes(checkpoint));
            // The same shape of file written directly: parameters, Adam's moments and step, the training metadata.
            files.Add(Write("checkpoint.safetensors", new[]
            {
                T("w1", new Tensor<float>(new long[] { 3, 4 }, Enumerable.Range(0, 12).Select(i => i * 0.25f - 1).ToArray())),
                T("b1", new Tensor<float>(new long[] { 4 }, new[] { 0f, 0.5f, -0.5f, 1f })),
                T("optimizer.adam.m.w1", new Tensor<float>(new long[] { 3, 4 }, new float[12])),
                T("optimizer.adam.v.w1", new Tensor<float>(new long[] { 3, 4 }, Enumerable.Repeat(1e-3f, 12).ToArray())),
                T("optimizer.adam.step", new Tensor<int>(Array.Empty<long>(), new[] { 120 })),
            }, new Dictionary<string, string>
            {
                ["format"] = "xlagen-checkpoint/1", ["model"] = "Mlp", ["seed"] = "1", ["epoch"] = "3", ["step"] = "120", ["shuffle_seed"] = "42",
                ["learning_rate"] = "cosine(0.001, decay_steps=4690, alpha=0)", ["optimizer"] = "adam(beta1=0.9, beta2=0.999, epsilon=1e-07)",
            }));
            // Every dtype the reader maps, a scalar, an empty tensor.
            files.Add(Write("dtypes.safetensors", new[]
            {
                T("f64", new Tensor<double>(new long[] { 2 }, new[] { 1.5, -2.25 })),
                T("f16", new Tensor<Half>(new long[] { 2 }, new[] { (Half)1, (Half)(-0.5) })),
                T("s64", new Tensor<long>(new long[] { 2 }, new[] { long.MaxValue, -1L })),
                T("s16", new Tensor<short>(new long[] { 1, 2 }, new short[] { 7, -7 })),
                T("s8", new Tensor<sbyte>(new long[] { 2, 1 }, new sbyte[] { 1, -1 })),
                T("u64", new Tensor<ulong>(new long[] { 1 }, new[] { ulong.MaxValue })),
                T("u32", new Tensor<uint>(new long[] { 1 }, new[] { 3u })),
                T("u16", new Tensor<ushort>(new long[] { 1 }, new ushort[] { 9 })),
                T("u8", new Tensor<byte>(new long[] { 3 }, new byte[] { 0, 1, 255 })),
                T("pred", new Tensor<bool>(new long[] { 2 }, new[] { true, false })),
                T("scalar", new Tensor<float>(Array.Empty<long>(), new[] { 3f })),
                T("empty", new Tensor<int>(new long[] { 0, 5 }, Array.Empty<int>())),
            }));
            files.Add(Write("empty.safetensors", Array.Empty<KeyValuePair<string, Tensor>>(), new Dictionary<string, string> { ["note"] = "nothing" }));
            return files;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
