using System.Buffers.Binary;
using System.Globalization;
using XlaGen.Checkpoints;
using XlaGen.Data;
using XlaGen.Hlo;

namespace XlaGen.Tool;

/// <summary><c>xlagen inspect FILE</c>: every tensor of a safetensors checkpoint, a Keras file or a .npy array.</summary>
static class InspectCommand
{
    public const string Help = """
        xlagen inspect: the tensors in a weight file, with name, dtype, shape and byte size

        usage: xlagen inspect FILE

        FILE is a safetensors file (XlaGen checkpoints, Hugging Face), a Keras file (Keras 2 .h5 from model.save or
        save_weights, Keras 3 .weights.h5, a Keras 3 .keras archive) or a NumPy .npy array. The format is told from
        the file's first bytes, never its name.
        """;

    const string Command = "xlagen inspect";

    enum Format { Safetensors, Hdf5, Zip, Npy }

    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var line = new CommandLine(Command, args, Array.Empty<string>());
        if (line.Help)
        {
            output.WriteLine(Help);
            return ExitCode.Ok;
        }
        var path = line.Expect("FILE")[0];
        var format = Detect(path);
        var rows = new List<(string Name, Tensor Value, string? Where)>();
        try
        {
            switch (format)
            {
                case Format.Safetensors:
                {
                    var file = Safetensors.Load(path);
                    output.WriteLine($"{path}: safetensors, {file.Names.Count} tensor(s)");
                    foreach (var (key, value) in file.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                        output.WriteLine($"  metadata {key}: {Shorten(value)}");
                    rows.AddRange(file.Names.Select(n => (n, file.Tensors[n], (string?)null)));
                    break;
                }
                case Format.Hdf5:
                case Format.Zip:
                {
                    var file = KerasWeightsFile.Read(path);
                    output.WriteLine($"{path}: Keras {Describe(file.Format)}{(file.KerasVersion != null ? $", keras_version {file.KerasVersion}" : "")}, {file.Layers.Count} layer(s), {file.Weights.Count()} weight(s){(file.HasOptimizerState ? "; optimizer state present (not listed)" : "")}");
                    if (file.LayerOrderUnknownBecause != null) output.WriteLine($"  layer order unknown: {file.LayerOrderUnknownBecause}");
                    rows.AddRange(file.Weights.Select(w => ($"{w.Layer}/{w.Name}", w.Value, (string?)w.Path)));
                    break;
                }
                case Format.Npy:
                {
                    var tensor = Npy.Read(path);
                    output.WriteLine($"{path}: NumPy .npy, one array");
                    rows.Add(("(array)", tensor, null));
                    break;
                }
            }
        }
        catch (Exception e) when (e is CheckpointException or InvalidDataException or NotSupportedException or EndOfStreamException)
        {
            throw new BadInputException($"{Command}: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{Command}: {path}: cannot be read: {e.Message}", e);
        }
        Table(output, rows);
        return ExitCode.Ok;
    }

    static string Describe(KerasFormat f) => f switch
    {
        KerasFormat.Keras2FullModel => "2 HDF5 full model (model.save)",
        KerasFormat.Keras2Weights => "2 HDF5 weights (save_weights)",
        KerasFormat.Keras3Weights => "3 .weights.h5",
        _ => "3 .keras archive",
    };

    static string Shorten(string s) => s.Length > 100 ? s[..100] + $"… ({s.Length} chars)" : s;

    static void Table(TextWriter output, List<(string Name, Tensor Value, string? Where)> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var cells = rows.Select(r => (r.Name, Dtype: r.Value.ElementType.TextName(), Shape: "[" + string.Join(",", r.Value.Shape) + "]",
            Bytes: r.Value.ElementCount * r.Value.ElementType.ByteSize(), r.Where)).ToList();
        int nameWidth = Math.Max(4, cells.Select(x => x.Name.Length).DefaultIfEmpty(0).Max());
        int shapeWidth = Math.Max(5, cells.Select(x => x.Shape.Length).DefaultIfEmpty(0).Max());
        bool where = cells.Any(x => x.Where != null);
        output.WriteLine($"  {"name".PadRight(nameWidth)}  dtype  {"shape".PadRight(shapeWidth)}  {"bytes",12}{(where ? "  stored at" : "")}");
        foreach (var x in cells)
            output.WriteLine(string.Create(c, $"  {x.Name.PadRight(nameWidth)}  {x.Dtype,-5}  {x.Shape.PadRight(shapeWidth)}  {x.Bytes,12:N0}{(x.Where != null ? "  " + x.Where : "")}"));
        long total = cells.Sum(x => x.Bytes);
        long elements = rows.Sum(r => r.Value.ElementCount);
        output.WriteLine(string.Create(c, $"  total: {cells.Count} tensor(s), {elements:N0} element(s), {total:N0} bytes"));
    }

    static Format Detect(string path)
    {
        var head = new byte[9];
        int got;
        long length;
        if (Directory.Exists(path)) throw new BadInputException($"{Command}: {path}: is a folder, not a file");
        if (!File.Exists(path)) throw new BadInputException($"{Command}: {path}: no such file");
        try
        {
            using var f = File.OpenRead(path);
            length = f.Length;
            got = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{Command}: {path}: cannot be read: {e.Message}", e);
        }
        if (got >= 8 && head.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a })) return Format.Hdf5;
        if (got >= 4 && head.AsSpan(0, 4).SequenceEqual(new byte[] { (byte)'P', (byte)'K', 3, 4 })) return Format.Zip;
        if (got >= 6 && head.AsSpan(0, 6).SequenceEqual(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' })) return Format.Npy;
        // safetensors: an 8-byte little-endian header length that fits in the file, then the JSON header's '{'.
        if (got >= 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) <= (ulong)(length - 8)) return Format.Safetensors;
        var start = string.Join(" ", head.Take(got).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        throw new BadInputException($"{Command}: {path}: is not a format xlagen inspect reads (safetensors: an 8-byte header length then '{{'; "
            + $"HDF5: 89 48 44 46 0d 0a 1a 0a; .keras zip: 50 4b 03 04; .npy: 93 4e 55 4d 50 59); it starts with {(got == 0 ? "nothing (it is empty)" : start)}");
    }
}
