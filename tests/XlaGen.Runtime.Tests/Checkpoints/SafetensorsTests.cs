using System.Buffers.Binary;
using System.Collections;
using System.Text;
using XlaGen.Checkpoints;
using XlaGen.Hlo;

namespace XlaGen.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "xlagen-safetensors-tests", Guid.NewGuid().ToString("N"));

    public SafetensorsTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => Path.Combine(dir, name);

    static KeyValuePair<string, Tensor> T(string name, Tensor t) => new(name, t);

    static byte[] BytesOf(Tensor t) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref HostArrays.Bytes(t.Data), (int)(t.ElementCount * t.ElementType.ByteSize())).ToArray();

    [Fact]
    public void RoundTripsEveryDtypeAndTheMetadata()
    {
        var tensors = new[]
        {
            T("f32", new Tensor<float>(new long[] { 2, 3 }, new[] { 1f, -2.5f, float.MaxValue, float.Epsilon, float.NaN, -0f })),
            T("f64", new Tensor<double>(new long[] { 2 }, new[] { Math.PI, double.NegativeInfinity })),
            T("f16", new Tensor<Half>(new long[] { 3 }, new[] { (Half)1.5f, Half.MaxValue, (Half)(-0.25f) })),
            T("i64", new Tensor<long>(new long[] { 2 }, new[] { long.MinValue, long.MaxValue })),
            T("i32", new Tensor<int>(new long[] { 1, 2, 2 }, new[] { int.MinValue, -1, 0, int.MaxValue })),
            T("i16", new Tensor<short>(new long[] { 2 }, new short[] { short.MinValue, 12345 })),
            T("i8", new Tensor<sbyte>(new long[] { 3 }, new sbyte[] { -128, 0, 127 })),
            T("u64", new Tensor<ulong>(new long[] { 1 }, new[] { ulong.MaxValue })),
            T("u32", new Tensor<uint>(new long[] { 2 }, new[] { 0u, uint.MaxValue })),
            T("u16", new Tensor<ushort>(new long[] { 2 }, new ushort[] { 1, ushort.MaxValue })),
            T("u8", new Tensor<byte>(new long[] { 4 }, new byte[] { 0, 1, 128, 255 })),
            T("bool", new Tensor<bool>(new long[] { 2, 2 }, new[] { true, false, false, true })),
            T("scalar", Tensor<float>.Scalar(42f)),
            T("empty", new Tensor<float>(new long[] { 0, 5 }, Array.Empty<float>())),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = "1200", ["note"] = "ünïcødé \"quoted\" <tag>" };
        var path = PathOf("all.safetensors");

        Safetensors.Save(path, tensors, metadata);
        var file = Safetensors.Load(path);

        Assert.Equal(path, file.Path);
        Assert.Equal(tensors.Select(t => t.Key), file.Names);
        Assert.Equal(tensors.Select(t => t.Key), file.Tensors.Keys);
        foreach (var (name, expected) in tensors)
        {
            var actual = file[name];
            Assert.Equal(expected.ElementType, actual.ElementType);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(BytesOf(expected), BytesOf(actual)); // bitwise: NaN payloads and -0 included
        }
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(-2.5f, file.Get<float>("f32").Data[1]);
    }

    [Fact]
    public void WritesExactlyTheBytesTheSpecificationDescribes()
    {
        var path = PathOf("tiny.safetensors");
        Safetensors.Save(path,
            new[] { T("a", new Tensor<float>(new long[] { 2 }, new[] { 1f, -2f })), T("b", Tensor<int>.Scalar(7)) },
            new Dictionary<string, string> { ["k"] = "v" });

        // 132 bytes of compact JSON, padded with 4 spaces to 136 (a multiple of 8), as the reference writer does.
        const string json = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}";
        var expected = new List<byte> { 136, 0, 0, 0, 0, 0, 0, 0 };
        expected.AddRange(Encoding.ASCII.GetBytes(json));
        expected.AddRange(Encoding.ASCII.GetBytes("    "));
        expected.AddRange(new byte[] { 0x00, 0x00, 0x80, 0x3F }); // 1.0f, little-endian
        expected.AddRange(new byte[] { 0x00, 0x00, 0x00, 0xC0 }); // -2.0f
        expected.AddRange(new byte[] { 0x07, 0x00, 0x00, 0x00 }); // 7
        Assert.Equal(132, json.Length);
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    /// <summary>What <c>safetensors.torch.save_file({"weight": [[1,2],[3,4]], "bias": [0.5,-0.5]}, metadata={"format": "pt"})</c> writes.</summary>
    static byte[] ReferenceWriterFile()
    {
        var bytes = new List<byte>();
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}   ";
        bytes.AddRange(new byte[] { 152, 0, 0, 0, 0, 0, 0, 0 });
        bytes.AddRange(Encoding.ASCII.GetBytes(json));
        foreach (var f in new[] { 0.5f, -0.5f, 1f, 2f, 3f, 4f })
            bytes.AddRange(BitConverter.GetBytes(f));
        return bytes.ToArray();
    }

    [Fact]
    public void LoadsAFileAsTheReferenceWriterLaysItOut()
    {
        var path = PathOf("reference.safetensors");
        File.WriteAllBytes(path, ReferenceWriterFile());

        var file = Safetensors.Load(path);

        Assert.Equal(new[] { "bias", "weight" }, file.Names);
        Assert.Equal(new[] { 0.5f, -0.5f }, file.Get<float>("bias").Data);
        Assert.Equal(new long[] { 2, 2 }, file["weight"].Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, file.Get<float>("weight").Data);
        Assert.Equal("pt", file.Metadata["format"]);

        // Our writer produces the same bytes for the same tensors in the same order.
        var ours = PathOf("ours.safetensors");
        Safetensors.Save(ours, file.Names.Select(n => T(n, file[n])).ToList(), file.Metadata);
        Assert.Equal(ReferenceWriterFile(), File.ReadAllBytes(ours));
    }

    [Fact]
    public void LoadsAHeaderWhoseOrderDiffersFromTheDataOrder()
    {
        // Older writers ordered the header by name, not by offset; names keep header order, data its offsets.
        var path = PathOf("unordered.safetensors");
        var data = new List<byte>();
        data.AddRange(BitConverter.GetBytes(10L));
        data.AddRange(BitConverter.GetBytes((Half)2.5f));
        data.Add(1);
        data.Add(0);
        File.WriteAllBytes(path, Build(
            "{\"z_flags\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[10,12]},\"a_count\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},\"m_half\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}",
            data.ToArray()));

        var file = Safetensors.Load(path);

        Assert.Equal(new[] { "z_flags", "a_count", "m_half" }, file.Names);
        Assert.Equal(new[] { true, false }, file.Get<bool>("z_flags").Data);
        Assert.Equal(10L, file.Get<long>("a_count").Data[0]);
        Assert.Equal((Half)2.5f, file.Get<Half>("m_half").Data[0]);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void ReadsAnyNonZeroBoolByteAsTrue()
    {
        var path = PathOf("bools.safetensors");
        File.WriteAllBytes(path, Build("{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", new byte[] { 0, 1, 7 }));
        var flags = Safetensors.Load(path).Get<bool>("b").Data;
        Assert.Equal(new[] { false, true, true }, flags);
        Assert.True(flags[2] == true); // a normalised bool compares equal to the literal true
    }

    /// <summary>A file from a header text (padded with spaces to 8 bytes unless told) and data bytes.</summary>
    static byte[] Build(string header, byte[] data, bool pad = true)
    {
        var json = Encoding.UTF8.GetBytes(header).ToList();
        while (pad && json.Count % 8 != 0) json.Add((byte)' ');
        var bytes = new byte[8 + json.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Count);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Count);
        return bytes;
    }

    static string Info(string dtype, string shape, long begin, long end) =>
        $"{{\"dtype\":\"{dtype}\",\"shape\":[{shape}],\"data_offsets\":[{begin},{end}]}}";

    public static TheoryData<string, byte[], string> CorruptFiles() => new()
    {
        { "empty file", Array.Empty<byte>(), "the file is truncated: it has 0 bytes, fewer than the 8-byte header length" },
        { "five bytes", new byte[] { 8, 0, 0, 0, 0 }, "it has 5 bytes, fewer than the 8-byte header length" },
        { "header length beyond the file", Build("{}", Array.Empty<byte>()).Take(8).Concat(new byte[] { 1, 2, 3 }).ToArray(),
            "the header length is 8 bytes, beyond the end of the file (11 bytes, leaving 3 after the length)" },
        { "huge header length", new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, (byte)'{' }, "the header length is 18446744073709551615 bytes, beyond the end of the file" },
        { "empty header", new byte[8], "the JSON header is empty" },
        { "header not an object", Build("[1,2]", Array.Empty<byte>()), "the JSON header does not start with '{' (it starts with byte 0x5b)" },
        { "invalid UTF-8", Build("{\"a\xff\":1}", Array.Empty<byte>()).Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray(), "the header is not valid UTF-8 (first bad byte at offset 11 of the file)" },
        { "invalid JSON", Build("{\"a\":{\"dtype\":\"F32\",", Array.Empty<byte>()), "the header is not valid JSON:" },
        { "trailing garbage", Build("{} x", Array.Empty<byte>()), "the header is not valid JSON:" },
        { "comment", Build("{/*c*/}", Array.Empty<byte>()), "the header is not valid JSON:" },
        { "unknown dtype", Build("{\"w\":" + Info("F33", "2", 0, 8) + "}", new byte[8]), "tensor 'w' has unknown dtype 'F33' (supported: F32, F64, F16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL)" },
        { "unsupported dtype", Build("{\"w\":" + Info("BF16", "2", 0, 4) + "}", new byte[4]), "tensor 'w' has dtype BF16, which XlaGen's host tensors do not represent" },
        { "dtype not a string", Build("{\"w\":{\"dtype\":1,\"shape\":[],\"data_offsets\":[0,4]}}", new byte[4]), "tensor 'w' has a dtype that is 1, not a string" },
        { "tensor info not an object", Build("{\"w\":[1]}", Array.Empty<byte>()), "tensor 'w' is an array in the header, but it must be an object with dtype, shape and data_offsets" },
        { "missing shape", Build("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]), "tensor 'w' has no shape" },
        { "missing offsets", Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", Array.Empty<byte>()), "tensor 'w' has no data_offsets" },
        { "three offsets", Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}", new byte[4]), "tensor 'w' has 3 data_offsets, but needs exactly 2" },
        { "negative dim", Build("{\"w\":" + Info("F32", "-1", 0, 4) + "}", new byte[4]), "tensor 'w' has shape entry -1, but entries must be non-negative integers" },
        { "fractional dim", Build("{\"w\":" + Info("F32", "1.5", 0, 4) + "}", new byte[4]), "tensor 'w' has shape entry 1.5, but entries must be non-negative integers" },
        { "shape and offsets disagree", Build("{\"w\":" + Info("F32", "3", 0, 8) + "}", new byte[8]), "tensor 'w' is F32[3], 12 bytes, but its data_offsets [0, 8] span 8 bytes" },
        { "shape overflows", Build("{\"w\":" + Info("F32", "4294967296,4294967296", 0, 8) + "}", new byte[8]), "tensor 'w' has shape [4294967296,4294967296], whose element count overflows" },
        { "reversed offsets", Build("{\"w\":" + Info("U8", "0", 8, 0) + "}", new byte[8]), "tensor 'w' has data_offsets [8, 0]: the end is before the begin" },
        { "overlapping offsets", Build("{\"a\":" + Info("F32", "2", 0, 8) + ",\"b\":" + Info("F32", "2", 4, 12) + "}", new byte[12]),
            "tensor 'b' (bytes [4, 12)) overlaps tensor 'a' (bytes [0, 8))" },
        { "offsets out of range", Build("{\"a\":" + Info("F32", "2", 0, 8) + ",\"b\":" + Info("F32", "2", 8, 16) + "}", new byte[12]),
            "tensor 'b' has data_offsets [8, 16], beyond the 12 bytes of data in the file: the file is truncated" },
        { "gap", Build("{\"a\":" + Info("F32", "2", 0, 8) + ",\"b\":" + Info("F32", "2", 12, 20) + "}", new byte[20]),
            "bytes [8, 12) of the data belong to no tensor: a gap before tensor 'b'" },
        { "trailing data", Build("{\"a\":" + Info("F32", "2", 0, 8) + "}", new byte[11]), "the data is 11 bytes but the tensors cover only 8: 3 bytes at the end belong to no tensor" },
        { "duplicate name", Build("{\"a\":" + Info("F32", "1", 0, 4) + ",\"a\":" + Info("F32", "1", 4, 8) + "}", new byte[8]), "the header names tensor 'a' twice" },
        { "duplicate field", Build("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", new byte[4]), "tensor 'a' has 'dtype' twice" },
        { "non-string metadata", Build("{\"__metadata__\":{\"step\":3}}", Array.Empty<byte>()), "metadata 'step' is 3, but safetensors metadata values must be strings" },
        { "metadata not an object", Build("{\"__metadata__\":\"x\"}", Array.Empty<byte>()), "'__metadata__' is the string \"x\", but it must be an object of string values" },
        { "duplicate metadata", Build("{\"__metadata__\":{},\"__metadata__\":{}}", Array.Empty<byte>()), "the header has '__metadata__' twice" },
        { "duplicate metadata key", Build("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", Array.Empty<byte>()), "metadata 'k' appears twice in the header" },
    };

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void ACorruptFileGivesAMessageNamingTheFileAndTheProblem(string what, byte[] bytes, string message)
    {
        var path = PathOf("corrupt.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AHeaderAboveTheReferenceLimitIsRefused()
    {
        var path = PathOf("huge-header.safetensors");
        using (var f = File.Create(path))
        {
            var prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, Safetensors.MaxHeaderBytes + 8UL);
            f.Write(prefix);
            f.SetLength(8 + Safetensors.MaxHeaderBytes + 16L); // sparse: no 100 MB written
        }
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Load(path));
        Assert.Equal($"{path}: the header length is 100000008 bytes, more than the 100000000-byte limit safetensors readers accept", e.Message);
    }

    [Fact]
    public void NullMetadataMeansNoMetadataKeyAndAJsonNullIsAccepted()
    {
        var path = PathOf("nometa.safetensors");
        Safetensors.Save(path, new[] { T("x", Tensor<byte>.Scalar(1)) });
        Assert.DoesNotContain("__metadata__", Encoding.ASCII.GetString(File.ReadAllBytes(path)));
        File.WriteAllBytes(path, Build("{\"__metadata__\":null}", Array.Empty<byte>()));
        var file = Safetensors.Load(path);
        Assert.Empty(file.Names);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void EveryTruncationAndEveryHeaderByteCorruptionIsACheckpointExceptionOrLoads()
    {
        var good = ReferenceWriterFile();
        var path = PathOf("fuzz.safetensors");
        for (int length = 0; length < good.Length; length++)
        {
            File.WriteAllBytes(path, good.AsSpan(0, length).ToArray());
            Assert.Throws<CheckpointException>(() => Safetensors.Load(path));
        }
        var rng = new SplitMix64(7);
        for (int trial = 0; trial < 300; trial++)
        {
            var bytes = (byte[])good.Clone();
            int at = rng.NextInt(8 + 152);
            bytes[at] = (byte)rng.NextInt(256);
            File.WriteAllBytes(path, bytes);
            try
            {
                Safetensors.Load(path);
            }
            catch (CheckpointException)
            {
            }
        }
    }

    [Fact]
    public void IndexingAMissingTensorOrTheWrongTypeNamesTheFile()
    {
        var path = PathOf("small.safetensors");
        Safetensors.Save(path, new[] { T("w", Tensor<float>.Zeros(2)) });
        var file = Safetensors.Load(path);
        Assert.Equal($"{path} has no tensor 'b'", Assert.Throws<CheckpointException>(() => file["b"]).Message);
        Assert.Equal($"{path}: tensor 'w' is f32[2], not s32", Assert.Throws<CheckpointException>(() => file.Get<int>("w")).Message);
    }

    // ───────── atomic save ─────────

    string SaveFirstVersion(string path)
    {
        Safetensors.Save(path, new[] { T("w", new Tensor<float>(new long[] { 3 }, new[] { 1f, 2f, 3f })) }, new Dictionary<string, string> { ["v"] = "1" });
        return path;
    }

    void AssertOnlyFile(string path, byte[] expected)
    {
        Assert.Equal(expected, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(dir));
    }

    static KeyValuePair<string, Tensor>[] SecondVersion() =>
    [
        T("w", new Tensor<float>(new long[] { 3 }, new[] { 9f, 9f, 9f })),
        T("big", Tensor<double>.Zeros(1000)),
    ];

    sealed class FailingStream(Stream inner, long failAfter) : Stream
    {
        long written;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (written + buffer.Length > failAfter) throw new IOException("No space left on device (simulated)");
            inner.Write(buffer);
            written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public void AFailureMidWriteLeavesThePreviousCheckpointAndNoTemporaryFile()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        var before = File.ReadAllBytes(path);

        var e = Assert.Throws<CheckpointException>(() =>
            Safetensors.Save(path, SecondVersion(), null, stream => new FailingStream(stream, failAfter: 500)));

        Assert.Contains($"could not save {path} (any previous file there is unchanged): No space left on device (simulated)", e.Message);
        Assert.IsType<IOException>(e.InnerException);
        AssertOnlyFile(path, before);
        Safetensors.Load(path); // still a valid checkpoint
    }

    sealed class ThrowingList(int failAt) : IReadOnlyList<KeyValuePair<string, Tensor>>
    {
        readonly KeyValuePair<string, Tensor>[] items = SecondVersion();

        public int Count => items.Length;

        public KeyValuePair<string, Tensor> this[int index] => index < failAt ? items[index] : throw new InvalidOperationException("the model was disposed while saving");

        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
        {
            for (int i = 0; i < items.Length; i++) yield return this[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void ATensorSourceThatThrowsLeavesThePreviousCheckpointAndNoTemporaryFile()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        var before = File.ReadAllBytes(path);

        var e = Assert.Throws<InvalidOperationException>(() => Safetensors.Save(path, new ThrowingList(failAt: 1)));

        Assert.Equal("the model was disposed while saving", e.Message);
        AssertOnlyFile(path, before);
    }

    [Fact]
    public void AFailingRenameRemovesTheTemporaryFile()
    {
        var target = PathOf("model.safetensors");
        Directory.CreateDirectory(target); // renaming a file onto a directory fails after all bytes are written
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Save(target, SecondVersion()));
        Assert.StartsWith($"could not save {target}", e.Message);
        Assert.Equal(new[] { target }, Directory.GetFileSystemEntries(dir));
        Assert.True(Directory.Exists(target));
    }

    [Fact]
    public void InvalidTensorListsAreRefusedBeforeAnythingIsWritten()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        var before = File.ReadAllBytes(path);
        Assert.Contains("two tensors are named 'w'", Assert.Throws<ArgumentException>(() =>
            Safetensors.Save(path, new[] { T("w", Tensor<float>.Zeros(1)), T("w", Tensor<float>.Zeros(1)) })).Message);
        Assert.Contains("'__metadata__' is reserved", Assert.Throws<ArgumentException>(() =>
            Safetensors.Save(path, new[] { T("__metadata__", Tensor<float>.Zeros(1)) })).Message);
        Assert.Contains("tensor 'x' is null", Assert.Throws<ArgumentException>(() =>
            Safetensors.Save(path, new[] { new KeyValuePair<string, Tensor>("x", null!) })).Message);
        AssertOnlyFile(path, before);
    }

    [Fact]
    public void ASuccessfulSaveReplacesTheFileAndLeavesNoTemporaryFile()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        Safetensors.Save(path, SecondVersion());
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(dir));
        Assert.Equal(new[] { "w", "big" }, Safetensors.Load(path).Names);
    }

    [Fact]
    public void ASuccessfulSaveSyncsTheDirectoryAfterTheRename()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        var synced = new List<string>();
        Safetensors.Save(path, SecondVersion(), null, null, directory =>
        {
            // Called once the new file is in place under its final name and the temporary file is gone.
            Assert.Equal(new[] { "w", "big" }, Safetensors.Load(path).Names);
            Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(dir));
            synced.Add(directory);
            return Safetensors.SyncDirectory(directory);
        });
        Assert.Equal(new[] { Path.GetFullPath(dir) }, synced);
    }

    [Fact]
    public void AFailedSaveDoesNotSyncTheDirectory()
    {
        var path = SaveFirstVersion(PathOf("model.safetensors"));
        var synced = new List<string>();
        Assert.Throws<CheckpointException>(() => Safetensors.Save(path, SecondVersion(), null,
            stream => new FailingStream(stream, failAfter: 500), d => { synced.Add(d); return true; }));
        Assert.Empty(synced);
    }

    [Fact]
    public void SyncDirectoryFsyncsOnUnixAndNeverThrows()
    {
        // On Linux (and macOS) a directory opened read-only can be fsynced; elsewhere the sync is skipped.
        Assert.Equal(!OperatingSystem.IsWindows(), Safetensors.SyncDirectory(dir));
        Assert.False(Safetensors.SyncDirectory(Path.Combine(dir, "no-such-directory")));
    }

    // ───────── Verify ─────────

    [Fact]
    public void VerifyListsEveryDifference()
    {
        var path = PathOf("checkpoint.safetensors");
        Safetensors.Save(path, new[]
        {
            T("w1", Tensor<float>.Zeros(784, 128)),
            T("b1", Tensor<float>.Zeros(128)),
            T("steps", Tensor<int>.Scalar(3)),
            T("extra", Tensor<float>.Zeros(1)),
        });
        var file = Safetensors.Load(path);
        var model = new (string, ElementType, long[])[]
        {
            ("w1", ElementType.F32, new long[] { 784, 256 }),
            ("b1", ElementType.F32, new long[] { 128 }),
            ("steps", ElementType.S64, Array.Empty<long>()),
            ("w3", ElementType.F32, new long[] { 10 }),
        };

        var e = Assert.Throws<CheckpointException>(() => Safetensors.Verify(file, model, "FashionMlp"));

        Assert.Equal(
            $"{path} does not fit FashionMlp: 'w1' is f32[784,128] in the file, f32[784,256] expected; " +
            "'steps' is s32[] in the file, s64[] expected; 'w3' (f32[10]) is missing; " +
            "'extra' (f32[1]) is not expected",
            e.Message);
    }

    [Fact]
    public void VerifyAcceptsAnExactMatch()
    {
        var path = PathOf("ok.safetensors");
        Safetensors.Save(path, new[] { T("w", Tensor<float>.Zeros(2, 3)), T("n", Tensor<long>.Scalar(1)) });
        Safetensors.Verify(Safetensors.Load(path),
            new (string, ElementType, long[])[] { ("n", ElementType.S64, Array.Empty<long>()), ("w", ElementType.F32, new long[] { 2, 3 }) }, "Model");
    }
}
