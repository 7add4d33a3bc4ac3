using System.Globalization;
using System.Text;
using XlaGen.Data;
using XlaGen.Hlo;

namespace XlaGen.Tool;

/// <summary><c>xlagen hlo print|convert|run</c>.</summary>
static class HloCommands
{
    public const string Help = """
        xlagen hlo: HLO modules as text (XLA's syntax) or serialized HloModuleProto

        usage:
          xlagen hlo print FILE             print the module as HLO text
          xlagen hlo convert IN OUT         HLO text <-> HloModuleProto; OUT's extension chooses the format
          xlagen hlo run FILE [options]     run the module on a device, inputs from .npy files or seeded random

        FILE and IN may be HLO text or a serialized HloModuleProto (or an HloProto wrapper, as XLA's tools write);
        the format is told from the bytes, not the name. Every module is shape-checked and verified on reading.
        OUT's extension: .hlo, .txt (HLO text); .pb, .binpb, .hlo.pb (HloModuleProto).

        hlo run options:
          --input NAME=FILE.npy   the value of the entry parameter NAME (or its index: 0=x.npy); repeat per parameter
          --seed N                random values for every parameter without --input (floats uniform in [-1, 1),
                                  signed integers in [-10, 10], unsigned in [0, 10], pred true or false), from seed N
          --out DIR               write the results as DIR/output-0.npy, output-1.npy … (one per element of a tuple
                                  result) and the seeded inputs as DIR/input-<index>.npy
          --device SPEC           cpu (default), pjrt, pjrt:/path/to/plugin.so, grpc://host:port, grpcs://host:port
        """ + DeviceOpener.OptionsHelp;

    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        if (args.Count == 0 || args[0] is "--help" or "-h" or "help")
        {
            output.WriteLine(Help);
            return args.Count == 0 ? ExitCode.Usage : ExitCode.Ok;
        }
        var rest = args.Skip(1).ToList();
        switch (args[0])
        {
            case "print":
            {
                var line = new CommandLine("xlagen hlo print", rest, Array.Empty<string>());
                if (line.Help) return Helped(output);
                var path = line.Expect("FILE")[0];
                var module = HloFiles.Read("xlagen hlo print", path, out _);
                output.Write(HloFiles.Text(module));
                return ExitCode.Ok;
            }
            case "convert":
            {
                var line = new CommandLine("xlagen hlo convert", rest, Array.Empty<string>());
                if (line.Help) return Helped(output);
                var paths = line.Expect("IN", "OUT");
                var format = HloFiles.FormatForOutput("xlagen hlo convert", paths[1]);
                var module = HloFiles.Read("xlagen hlo convert", paths[0], out var inputFormat);
                HloFiles.Write("xlagen hlo convert", paths[1], module, format);
                output.WriteLine($"{paths[0]} ({Name(inputFormat)}) -> {paths[1]} ({Name(format)}): module {module.Name}, {module.Computations.Count} computation(s), {module.AllInstructions.Count()} instruction(s)");
                return ExitCode.Ok;
            }
            case "run":
                return RunModule(rest, output);
            default:
                throw new UsageException($"xlagen hlo: unknown subcommand '{args[0]}' (it has print, convert, run)");
        }

        int Helped(TextWriter o)
        {
            o.WriteLine(Help);
            return ExitCode.Ok;
        }
    }

    static string Name(HloFiles.Format f) => f == HloFiles.Format.Text ? "HLO text" : "HloModuleProto";

    static int RunModule(List<string> args, TextWriter output)
    {
        const string command = "xlagen hlo run";
        var line = new CommandLine(command, args, new[] { "--input", "--seed", "--out", "--device" }.Concat(DeviceOpener.Options).ToArray());
        if (line.Help)
        {
            output.WriteLine(Help);
            return ExitCode.Ok;
        }
        var path = line.Expect("FILE")[0];
        int? seed = line.Int("--seed", 0);
        string? outDir = line.Value("--out");
        var spec = DeviceOpener.Parse(command, line.Value("--device") ?? "cpu");
        var module = HloFiles.Read(command, path, out _);
        var parameters = module.Entry.Parameters;

        // Which parameter each --input names, by name or index.
        var given = new Tensor?[parameters.Count];
        foreach (var input in line.Values("--input"))
        {
            int eq = input.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == input.Length - 1) throw new UsageException($"{command}: --input '{input}': write NAME=FILE.npy (NAME a parameter's name or index)");
            string key = input[..eq], file = input[(eq + 1)..];
            int index = ParameterIndex(module, key);
            if (index < 0)
                throw new UsageException($"{command}: --input {input}: the module has no parameter '{key}'; its parameters are {ParameterList(module)}");
            if (given[index] != null) throw new UsageException($"{command}: --input {input}: parameter {index} ({parameters[index].Name}) is given twice");
            given[index] = ReadInput(command, input, file, parameters[index]);
        }
        var missing = Enumerable.Range(0, parameters.Count).Where(i => given[i] == null).ToList();
        if (missing.Count > 0 && seed == null)
            throw new UsageException($"{command}: no value for {string.Join(", ", missing.Select(i => $"parameter {i} ({parameters[i].Name}: {parameters[i].Shape})"))}: give --input NAME=FILE.npy for each, or --seed N for random values");

        var random = new Random(seed ?? 0);
        var inputs = new Tensor[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            inputs[i] = given[i] ?? RandomValues.For(command, parameters[i].Name, parameters[i].Shape, random);
            if (given[i] == null && outDir != null) WriteNpy(command, Path.Combine(outDir, $"input-{i}.npy"), inputs[i]);
        }

        using var device = DeviceOpener.Open(command, spec, line);
        Tensor[] results;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var executable = device.CompileHlo(module);
            var buffers = inputs.Select(device.Upload).ToArray();
            try
            {
                var outputs = executable.Execute(buffers);
                try
                {
                    results = outputs.Select(device.Download).ToArray();
                }
                finally
                {
                    foreach (var b in outputs) b.Dispose();
                }
            }
            finally
            {
                foreach (var b in buffers) b.Dispose();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException and not UsageException and not BadInputException)
        {
            throw new ToolFailureException($"{command}: {path}: module {module.Name} failed on {spec}: {e.Message}", e);
        }
        clock.Stop();

        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{module.Name} on {device.Info.Platform} ({spec}): {parameters.Count} input(s), {results.Length} output(s), {clock.Elapsed.TotalMilliseconds:F1} ms (compile, transfers and run)"));
        for (int i = 0; i < inputs.Length; i++)
            output.WriteLine($"  input {i} {parameters[i].Name}: {inputs[i].ShapeText}{(given[i] == null ? $" random (seed {seed})" : " from file")}  {Summary(inputs[i])}");
        for (int i = 0; i < results.Length; i++)
        {
            string written = "";
            if (outDir != null)
            {
                var file = Path.Combine(outDir, $"output-{i}.npy");
                WriteNpy(command, file, results[i]);
                written = " -> " + file;
            }
            output.WriteLine($"  output {i}: {results[i].ShapeText}  {Summary(results[i])}{written}");
        }
        return ExitCode.Ok;
    }

    static int ParameterIndex(HloModule module, string key)
    {
        var parameters = module.Entry.Parameters;
        for (int i = 0; i < parameters.Count; i++)
            if (parameters[i].Name == key) return i;
        if (int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < parameters.Count) return index;
        return -1;
    }

    static string ParameterList(HloModule module) =>
        string.Join(", ", module.Entry.Parameters.Select((p, i) => $"{i} {p.Name} {p.Shape}"));

    static Tensor ReadInput(string command, string argument, string file, HloInstruction parameter)
    {
        var bytes = Files.ReadAll(command, file);
        Tensor tensor;
        try
        {
            tensor = Npy.Read(new MemoryStream(bytes, writable: false), file);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException or EndOfStreamException)
        {
            throw new BadInputException($"{command}: --input {argument}: {e.Message}", e);
        }
        var expected = parameter.Shape;
        if (!expected.IsArray || !expected.IsStatic)
            throw new BadInputException($"{command}: --input {argument}: parameter {parameter.Name} is {expected}; hlo run feeds arrays of static shape only");
        if (tensor.ElementType != expected.ElementType || !tensor.Shape.SequenceEqual(expected.ConcreteDims()))
            throw new BadInputException($"{command}: --input {argument}: {file} holds {tensor.ShapeText}, but parameter {parameter.Name} is {expected}");
        return tensor;
    }

    static void WriteNpy(string command, string path, Tensor tensor)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir != null) Directory.CreateDirectory(dir);
            Npy.Write(path, tensor);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new ToolFailureException($"{command}: cannot write {path}: {e.Message}", e);
        }
    }

    /// <summary>min, max, mean and the first values, or the count of true for pred.</summary>
    internal static string Summary(Tensor t)
    {
        var c = CultureInfo.InvariantCulture;
        if (t.ElementCount == 0) return "(empty)";
        if (t.Data is bool[] flags) return string.Create(c, $"{flags.Count(f => f)} of {flags.Length} true");
        var values = RandomValues.AsDoubles(t);
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
        }
        var first = string.Join(", ", values.Take(6).Select(v => v.ToString("G6", c)));
        return string.Create(c, $"min {min:G6} max {max:G6} mean {sum / values.Length:G6}  [{first}{(values.Length > 6 ? ", …" : "")}]");
    }
}

/// <summary>Seeded random parameter values for hlo run.</summary>
static class RandomValues
{
    public static Tensor For(string command, string name, Shape shape, Random random)
    {
        if (!shape.IsArray || !shape.IsStatic)
            throw new BadInputException($"{command}: parameter {name} is {shape}; hlo run makes random values for arrays of static shape only");
        var dims = shape.ConcreteDims();
        int n = checked((int)dims.Aggregate(1L, (a, d) => a * d));
        double Uniform() => random.NextDouble() * 2 - 1;
        long Signed() => random.NextInt64(-10, 11);
        long Unsigned() => random.NextInt64(0, 11);
        return shape.ElementType switch
        {
            ElementType.F32 => new Tensor<float>(dims, Fill(n, () => (float)Uniform())),
            ElementType.F64 => new Tensor<double>(dims, Fill(n, Uniform)),
            ElementType.F16 => new Tensor<Half>(dims, Fill(n, () => (Half)Uniform())),
            ElementType.S8 => new Tensor<sbyte>(dims, Fill(n, () => (sbyte)Signed())),
            ElementType.S16 => new Tensor<short>(dims, Fill(n, () => (short)Signed())),
            ElementType.S32 => new Tensor<int>(dims, Fill(n, () => (int)Signed())),
            ElementType.S64 => new Tensor<long>(dims, Fill(n, Signed)),
            ElementType.U8 => new Tensor<byte>(dims, Fill(n, () => (byte)Unsigned())),
            ElementType.U16 => new Tensor<ushort>(dims, Fill(n, () => (ushort)Unsigned())),
            ElementType.U32 => new Tensor<uint>(dims, Fill(n, () => (uint)Unsigned())),
            ElementType.U64 => new Tensor<ulong>(dims, Fill(n, () => (ulong)Unsigned())),
            ElementType.Pred => new Tensor<bool>(dims, Fill(n, () => random.Next(2) == 1)),
            _ => throw new BadInputException($"{command}: parameter {name} is {shape}; hlo run has no random values of {shape.ElementType.TextName()}: give it with --input {name}=FILE.npy"),
        };
    }

    static T[] Fill<T>(int n, Func<T> next)
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = next();
        return a;
    }

    public static double[] AsDoubles(Tensor t) => t.Data switch
    {
        float[] a => a.Select(v => (double)v).ToArray(),
        double[] a => a,
        Half[] a => a.Select(v => (double)v).ToArray(),
        sbyte[] a => a.Select(v => (double)v).ToArray(),
        short[] a => a.Select(v => (double)v).ToArray(),
        int[] a => a.Select(v => (double)v).ToArray(),
        long[] a => a.Select(v => (double)v).ToArray(),
        byte[] a => a.Select(v => (double)v).ToArray(),
        ushort[] a => a.Select(v => (double)v).ToArray(),
        uint[] a => a.Select(v => (double)v).ToArray(),
        ulong[] a => a.Select(v => (double)v).ToArray(),
        bool[] a => a.Select(v => v ? 1.0 : 0.0).ToArray(),
        _ => throw new NotSupportedException($"{t.ShapeText}: no summary for this element type"),
    };
}
