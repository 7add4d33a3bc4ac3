using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using XlaGen.Hlo;

namespace XlaGen.Checkpoints;

/// <summary>A checkpoint file that cannot be read, or that does not fit what it is loaded into.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>An error with <paramref name="message"/>, which names the file and what is wrong.</summary>
    public CheckpointException(string message) : base(message)
    {
    }

    /// <summary>An error with <paramref name="message"/>, caused by <paramref name="innerException"/> (an I/O or JSON error).</summary>
    public CheckpointException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>The contents of a safetensors file: tensors in header order, and the <c>__metadata__</c> strings.</summary>
public sealed class SafetensorsFile
{
    internal SafetensorsFile(string path, IReadOnlyList<string> names, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Names = names;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The path the file was loaded from, as given; error messages name it.</summary>
    public string Path { get; }

    /// <summary>Tensor names in the order of the JSON header (without <c>__metadata__</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The tensors by name (without <c>__metadata__</c>); use the indexer for an error that names the file.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>The <c>__metadata__</c> string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>; a <see cref="CheckpointException"/> names the file when there is none.</summary>
    public Tensor this[string name] =>
        Tensors.TryGetValue(name, out var t) ? t : throw new CheckpointException($"{Path} has no tensor '{name}'");

    /// <summary>The tensor called <paramref name="name"/>, which must hold <typeparamref name="T"/> elements.</summary>
    public Tensor<T> Get<T>(string name) where T : unmanaged
    {
        var t = this[name];
        return t as Tensor<T> ?? throw new CheckpointException(
            $"{Path}: tensor '{name}' is {t.ShapeText}, not {Tensor.ElementTypeOf<T>().TextName()}");
    }
}

/// <summary>
/// The safetensors format (Hugging Face; read by PyTorch, JAX, Flax, candle …): an 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …,
/// "__metadata__": {string: string}}</c>, padded with spaces to a multiple of 8 bytes), then the tensor bytes,
/// little-endian, with offsets relative to the end of the header. Writing follows the reference writer (compact
/// JSON, <c>__metadata__</c> first, space padding), except that tensors keep the caller's order instead of being
/// sorted by dtype and name; reading applies the reference's checks (the data must be covered exactly, without
/// gaps or overlaps) and names the file and the problem.
/// </summary>
public static class Safetensors
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we.</summary>
    public const int MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";

    static readonly (string Name, ElementType Type)[] Dtypes =
    {
        ("F32", ElementType.F32), ("F64", ElementType.F64), ("F16", ElementType.F16),
        ("I64", ElementType.S64), ("I32", ElementType.S32), ("I16", ElementType.S16), ("I8", ElementType.S8),
        ("U64", ElementType.U64), ("U32", ElementType.U32), ("U16", ElementType.U16), ("U8", ElementType.U8),
        ("BOOL", ElementType.Pred),
    };

    /// <summary>Dtypes the format defines that host tensors cannot hold (yet), to tell them apart from garbage.</summary>
    static readonly string[] KnownUnsupportedDtypes =
        { "BF16", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64" };

    static string SupportedDtypeList => string.Join(", ", Dtypes.Select(d => d.Name));

    /// <summary>The safetensors spelling of an element type (F32, I64, BOOL …).</summary>
    public static string DtypeName(ElementType type)
    {
        foreach (var (name, t) in Dtypes)
            if (t == type) return name;
        throw new NotSupportedException($"element type {type} has no safetensors dtype that XlaGen writes");
    }

    // ───────────────────────────── writing ─────────────────────────────

    /// <summary>
    /// Writes <paramref name="tensors"/> (in this order) and <paramref name="metadata"/> to <paramref name="path"/>
    /// atomically: the bytes go to a temporary file in the same directory, are flushed to disk, and the file is
    /// then renamed over <paramref name="path"/>. If anything fails, the previous file is untouched and the
    /// temporary file is removed; temporary files of earlier saves to the same path that were killed mid-write are
    /// removed first.
    /// </summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) => Save(path, tensors, metadata, interceptWrites: null);

    /// <summary>As <see cref="Save(string, IReadOnlyList{KeyValuePair{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/>, with a hook that wraps the file stream (tests inject failures)
    /// and one that replaces the directory sync after the rename (tests observe it).</summary>
    internal static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata, Func<Stream, Stream>? interceptWrites, Func<string, bool>? syncDirectory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this reader/writer supports little-endian machines only");

        // One pass over the caller's list, so the header and the data cannot disagree.
        var entries = new List<(string Name, Tensor Tensor, string Dtype)>(tensors.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new ArgumentException($"tensor {entries.Count} has a null name", nameof(tensors));
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for metadata and cannot name a tensor", nameof(tensors));
            if (!seen.Add(name)) throw new ArgumentException($"two tensors are named '{name}'", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"tensor '{name}' is null", nameof(tensors));
            entries.Add((name, tensor, DtypeName(tensor.ElementType)));
        }
        if (metadata != null)
            foreach (var (key, value) in metadata)
                if (value is null) throw new ArgumentException($"metadata '{key}' is null; safetensors metadata values are strings", nameof(metadata));

        byte[] header = BuildHeader(entries, metadata);

        AtomicFile.Write(path, output =>
        {
            output.Write(header);
            foreach (var (_, tensor, _) in entries)
                WriteElements(output, tensor);
        }, interceptWrites, syncDirectory);
    }

    /// <summary>See <see cref="AtomicFile.SyncDirectory"/> (kept here for the tests that call it by this name).</summary>
    internal static bool SyncDirectory(string directory) => AtomicFile.SyncDirectory(directory);

    /// <summary>The 8-byte length and the padded JSON header, as the reference writer produces them.</summary>
    static byte[] BuildHeader(List<(string Name, Tensor Tensor, string Dtype)> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>();
        // serde_json escapes only quotes, backslashes and control characters; the relaxed encoder is the closest.
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata != null)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) w.WriteString(key, value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor, dtype) in entries)
            {
                long bytes = tensor.ElementCount * tensor.ElementType.ByteSize();
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (var d in tensor.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int padded = (json.WrittenCount + 7) / 8 * 8;
        var result = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded);
        json.WrittenSpan.CopyTo(result.AsSpan(8));
        result.AsSpan(8 + json.WrittenCount).Fill((byte)' ');
        return result;
    }

    internal static void WriteElements(Stream output, Tensor tensor)
    {
        long total = tensor.ElementCount * tensor.ElementType.ByteSize();
        ref byte start = ref HostArrays.Bytes(tensor.Data);
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(1 << 30, total - done);
            output.Write(MemoryMarshal.CreateReadOnlySpan(ref System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref start, (nint)done), n));
            done += n;
        }
    }

    // ───────────────────────────── reading ─────────────────────────────

    sealed class Entry
    {
        public required string Name;
        public string? Dtype;
        public ElementType Type;
        public long[]? Dims;
        public long Begin = -1, End = -1;
        public long ByteCount;
    }

    /// <summary>Reads and validates a whole safetensors file.</summary>
    /// <exception cref="CheckpointException">the file is not valid safetensors, or holds a dtype XlaGen cannot represent; the message names the file and the problem.</exception>
    public static SafetensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this reader/writer supports little-endian machines only");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return Load(stream, path);
    }

    /// <summary>Reads and validates the safetensors file in <paramref name="stream"/> (seekable; the fuzz harness reads
    /// from memory); <paramref name="path"/> names it in messages.</summary>
    internal static SafetensorsFile Load(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw Fail(path, $"the file is truncated: it has {fileLength} bytes, fewer than the 8-byte header length every safetensors file starts with");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw Fail(path, $"the header length is {headerLength} bytes, beyond the end of the file ({fileLength} bytes, leaving {fileLength - 8} after the length): the file is truncated or is not safetensors");
        if (headerLength > MaxHeaderBytes)
            throw Fail(path, $"the header length is {headerLength} bytes, more than the {MaxHeaderBytes}-byte limit safetensors readers accept");
        var header = new byte[headerLength];
        stream.ReadExactly(header);

        var (entries, metadata) = ParseHeader(path, header);
        long dataStart = 8 + (long)headerLength;
        CheckLayout(path, entries, fileLength - dataStart);

        var tensors = new Dictionary<string, Tensor>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            stream.Position = dataStart + e.Begin;
            var data = HostArrays.New(e.Type, (int)(e.ByteCount / e.Type.ByteSize()));
            try
            {
                ReadElements(stream, data, e.ByteCount);
            }
            catch (EndOfStreamException ex)
            {
                throw Fail(path, $"the file ended while reading tensor '{e.Name}' (it was shortened while being read)", ex);
            }
            if (data is bool[] flags) NormalizeBools(flags);
            tensors.Add(e.Name, HostArrays.Wrap(e.Type, e.Dims!, data));
        }
        // Header order for both the list and the dictionary's enumeration.
        var names = entries.Select(e => e.Name).ToArray();
        var ordered = new Dictionary<string, Tensor>(names.Length, StringComparer.Ordinal);
        foreach (var n in names) ordered.Add(n, tensors[n]);
        return new SafetensorsFile(path, names, ordered, metadata);
    }

    internal static void ReadElements(Stream stream, Array data, long byteCount)
    {
        ref byte start = ref HostArrays.Bytes(data);
        for (long done = 0; done < byteCount;)
        {
            int n = (int)Math.Min(1 << 30, byteCount - done);
            stream.ReadExactly(MemoryMarshal.CreateSpan(ref System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref start, (nint)done), n));
            done += n;
        }
    }

    /// <summary>Safetensors booleans are bytes; anything but 0 is true, and a .NET bool must hold exactly 0 or 1.</summary>
    static void NormalizeBools(bool[] flags)
    {
        var bytes = MemoryMarshal.AsBytes(flags.AsSpan());
        for (int i = 0; i < bytes.Length; i++)
            if (bytes[i] > 1) bytes[i] = 1;
    }

    static (List<Entry> Entries, IReadOnlyDictionary<string, string> Metadata) ParseHeader(string path, byte[] header)
    {
        if (header.Length == 0) throw Fail(path, "the JSON header is empty (header length 0)");
        if (!Utf8.IsValid(header))
            throw Fail(path, $"the header is not valid UTF-8 (first bad byte at offset {8 + FirstInvalidUtf8(header)} of the file)");
        if (header[0] != (byte)'{')
            throw Fail(path, $"the JSON header does not start with '{{' (it starts with byte 0x{header[0]:x2})");

        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        bool sawMetadata = false;
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                if (name == MetadataKey)
                {
                    if (sawMetadata) throw Fail(path, $"the header has '{MetadataKey}' twice");
                    sawMetadata = true;
                    metadata = ReadMetadata(path, ref reader);
                    continue;
                }
                if (!names.Add(name)) throw Fail(path, $"the header names tensor '{name}' twice");
                entries.Add(ReadTensorInfo(path, name, ref reader));
            }
            // The root object is complete; only whitespace (the reference writer's padding) may follow.
            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            throw Fail(path, $"the header is not valid JSON: {e.Message}", e);
        }
        return (entries, metadata ?? new Dictionary<string, string>());
    }

    static int FirstInvalidUtf8(byte[] bytes)
    {
        Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    static Dictionary<string, string>? ReadMetadata(string path, ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"'{MetadataKey}' is {Describe(ref reader)}, but it must be an object of string values");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(path, $"metadata '{key}' is {Describe(ref reader)}, but safetensors metadata values must be strings");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Fail(path, $"metadata '{key}' appears twice in the header");
        }
        return metadata;
    }

    static Entry ReadTensorInfo(string path, string name, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"tensor '{name}' is {Describe(ref reader)} in the header, but it must be an object with dtype, shape and data_offsets");
        var e = new Entry { Name = name };
        bool hasOffsets = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            switch (key)
            {
                case "dtype":
                    if (e.Dtype != null) throw Fail(path, $"tensor '{name}' has 'dtype' twice");
                    if (reader.TokenType != JsonTokenType.String)
                        throw Fail(path, $"tensor '{name}' has a dtype that is {Describe(ref reader)}, not a string");
                    e.Dtype = reader.GetString()!;
                    e.Type = ParseDtype(path, name, e.Dtype);
                    break;
                case "shape":
                    if (e.Dims != null) throw Fail(path, $"tensor '{name}' has 'shape' twice");
                    e.Dims = ReadIntegers(path, name, "shape", ref reader).ToArray();
                    break;
                case "data_offsets":
                    if (hasOffsets) throw Fail(path, $"tensor '{name}' has 'data_offsets' twice");
                    var offsets = ReadIntegers(path, name, "data_offsets", ref reader);
                    if (offsets.Count != 2)
                        throw Fail(path, $"tensor '{name}' has {offsets.Count} data_offsets, but needs exactly 2 ([begin, end])");
                    (e.Begin, e.End) = (offsets[0], offsets[1]);
                    hasOffsets = true;
                    break;
                default:
                    reader.Skip(); // the reference reader ignores unknown fields too
                    break;
            }
        }
        if (e.Dtype == null) throw Fail(path, $"tensor '{name}' has no dtype");
        if (e.Dims == null) throw Fail(path, $"tensor '{name}' has no shape");
        if (!hasOffsets) throw Fail(path, $"tensor '{name}' has no data_offsets");
        return e;
    }

    static List<long> ReadIntegers(string path, string name, string field, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(path, $"tensor '{name}' has a {field} that is {Describe(ref reader)}, not an array of integers");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong v) || v > long.MaxValue)
                throw Fail(path, $"tensor '{name}' has {field} entry {Describe(ref reader)}, but entries must be non-negative integers");
            values.Add((long)v);
        }
        return values;
    }

    static ElementType ParseDtype(string path, string name, string dtype)
    {
        foreach (var (n, t) in Dtypes)
            if (n == dtype) return t;
        if (KnownUnsupportedDtypes.Contains(dtype))
            throw Fail(path, $"tensor '{name}' has dtype {dtype}, which XlaGen's host tensors do not represent (supported: {SupportedDtypeList})");
        throw Fail(path, $"tensor '{name}' has unknown dtype '{dtype}' (supported: {SupportedDtypeList})");
    }

    static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => $"the string \"{reader.GetString()}\"",
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        var t => t.ToString(),
    };

    /// <summary>Sizes agree with shapes, and the tensors tile the data exactly: no gap, no overlap, nothing beyond it.</summary>
    static void CheckLayout(string path, List<Entry> entries, long dataLength)
    {
        foreach (var e in entries)
        {
            if (e.Begin > e.End)
                throw Fail(path, $"tensor '{e.Name}' has data_offsets [{e.Begin}, {e.End}]: the end is before the begin");
            long count = 1;
            foreach (var d in e.Dims!)
            {
                if (d != 0 && count > long.MaxValue / d)
                    throw Fail(path, $"tensor '{e.Name}' has shape [{string.Join(",", e.Dims)}], whose element count overflows");
                count *= d;
            }
            int size = e.Type.ByteSize();
            if (count > long.MaxValue / size)
                throw Fail(path, $"tensor '{e.Name}' has shape [{string.Join(",", e.Dims)}], whose byte size overflows");
            e.ByteCount = count * size;
            if (e.End - e.Begin != e.ByteCount)
                throw Fail(path, $"tensor '{e.Name}' is {e.Dtype}[{string.Join(",", e.Dims)}], {e.ByteCount} bytes, but its data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes");
            if (count > Array.MaxLength)
                throw Fail(path, $"tensor '{e.Name}' has {count} elements, more than a host tensor can hold ({Array.MaxLength})");
        }
        long covered = 0;
        Entry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
                throw Fail(path, $"tensor '{e.Name}' has data_offsets [{e.Begin}, {e.End}], beyond the {dataLength} bytes of data in the file: the file is truncated");
            if (e.Begin < covered)
                throw Fail(path, $"tensor '{e.Name}' (bytes [{e.Begin}, {e.End})) overlaps tensor '{previous!.Name}' (bytes [{previous.Begin}, {previous.End}))");
            if (e.Begin > covered)
                throw Fail(path, $"bytes [{covered}, {e.Begin}) of the data belong to no tensor: a gap before tensor '{e.Name}'");
            covered = e.End;
            previous = e;
        }
        if (covered != dataLength)
            throw Fail(path, $"the data is {dataLength} bytes but the tensors cover only {covered}: {dataLength - covered} bytes at the end belong to no tensor");
    }

    static CheckpointException Fail(string path, string problem, Exception? inner = null) =>
        inner == null ? new CheckpointException($"{path}: {problem}") : new CheckpointException($"{path}: {problem}", inner);

    // ───────────────────────────── checking against a model ─────────────────────────────

    /// <summary>
    /// Checks that <paramref name="file"/> holds exactly the tensors <paramref name="expected"/> lists, with the
    /// same dtypes and shapes; otherwise throws a <see cref="CheckpointException"/> that lists every difference.
    /// </summary>
    /// <param name="file">The file as read.</param>
    /// <param name="expected">Every tensor the file must hold: name, element type and dims.</param>
    /// <param name="what">What the file is loaded into, for the message ("FashionMlp").</param>
    public static void Verify(SafetensorsFile file, IReadOnlyList<(string Name, ElementType Type, long[] Dims)> expected, string what)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(expected);
        var problems = new List<string>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, type, dims) in expected)
        {
            if (!wanted.Add(name)) throw new ArgumentException($"'{name}' is expected twice", nameof(expected));
            var expectedText = $"{type.TextName()}[{string.Join(",", dims)}]";
            if (!file.Tensors.TryGetValue(name, out var t))
                problems.Add($"'{name}' ({expectedText}) is missing");
            else if (t.ElementType != type || !t.Shape.SequenceEqual(dims))
                problems.Add($"'{name}' is {t.ShapeText} in the file, {expectedText} expected");
        }
        foreach (var name in file.Names)
            if (!wanted.Contains(name))
                problems.Add($"'{name}' ({file.Tensors[name].ShapeText}) is not expected");
        if (problems.Count == 0) return;
        const int Shown = 20;
        var text = string.Join("; ", problems.Take(Shown));
        if (problems.Count > Shown) text += string.Format(CultureInfo.InvariantCulture, "; and {0} more differences", problems.Count - Shown);
        throw new CheckpointException($"{file.Path} does not fit {what}: {text}");
    }
}
