using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using XlaGen.Data;
using XlaGen.Hlo;

namespace XlaGen.Tests.Data;

public class NpyTests
{
    /// <summary>A .npy file as NumPy lays it out: magic, version, header length (2 bytes in 1.0, else 4), the dict, the data.</summary>
    static byte[] File(string dict, byte[] data, int major = 1, int align = 64)
    {
        int lengthBytes = major == 1 ? 2 : 4;
        int padding = align - (8 + lengthBytes + dict.Length + 1) % align;
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(dict + new string(' ', padding) + "\n");
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.Latin1.GetBytes("\x93NUMPY"));
        bytes.Add((byte)major);
        bytes.Add(0);
        var length = new byte[lengthBytes];
        if (lengthBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        bytes.AddRange(length);
        bytes.AddRange(header);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    static string Dict(string descr, string shape, bool fortran = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";

    static Tensor Read(byte[] bytes) => Npy.Read(new MemoryStream(bytes), "test.npy");

    static string ReadError(byte[] bytes) => Assert.Throws<InvalidDataException>(() => Read(bytes)).Message;

    public static IEnumerable<object[]> CorpusFiles() => KerasCorpus.Files("*.npy").Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void ReadsEveryCorpusFileWithTheValuesItsReadmeStates(string relative)
    {
        var path = KerasCorpus.Require(relative);
        var tensor = Npy.Read(path);
        // expected.json beside the file holds the same arrays as JSON (README: "the two .npy files as JSON").
        var expected = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Path.GetDirectoryName(path)!, "expected.json")))
            .RootElement.GetProperty(Path.GetFileNameWithoutExtension(path));
        Assert.Equal(expected.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), tensor.Shape);
        var values = expected.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        double[] read = tensor switch
        {
            Tensor<float> f => f.Data.Select(v => (double)v).ToArray(),
            Tensor<double> d => d.Data,
            _ => throw new Xunit.Sdk.XunitException($"{relative} is {tensor.ShapeText}; the corpus has only f4 and f8 arrays"),
        };
        Assert.Equal(expected.GetProperty("dtype").GetString() == "float32" ? ElementType.F32 : ElementType.F64, tensor.ElementType);
        Assert.Equal(values, read);

        // Written back and read again: the same tensor; the header is np.save's (64-byte aligned, version 1.0).
        var copy = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(copy, tensor);
            var again = Npy.Read(copy);
            Assert.Equal(tensor.ShapeText, again.ShapeText);
            Assert.Equal(read, again is Tensor<float> f2 ? f2.Data.Select(v => (double)v).ToArray() : ((Tensor<double>)again).Data);
            var bytes = System.IO.File.ReadAllBytes(copy);
            Assert.Equal(0, (bytes.Length - tensor.ElementCount * tensor.ElementType.ByteSize()) % 64);
        }
        finally
        {
            System.IO.File.Delete(copy);
        }
    }

    [Fact]
    public void WritesTheHeaderNpSaveWrites()
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, Tensor<float>.FromArray(new[] { 1f, 2f, 3f, 4f, 5f }, 5, 1));
        var bytes = stream.ToArray();
        Assert.Equal(128 + 20, bytes.Length);
        Assert.Equal("\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (5, 1), }" + new string(' ', 58) + "\n",
            Encoding.Latin1.GetString(bytes, 0, 128));
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(128)));

        stream.SetLength(0);
        Npy.Write(stream, Tensor<bool>.Scalar(true));
        Assert.Contains("{'descr': '|b1', 'fortran_order': False, 'shape': (), }", Encoding.Latin1.GetString(stream.ToArray()));
        stream.SetLength(0);
        Npy.Write(stream, Tensor<long>.FromArray(new[] { 7L, 8L, 9L }, 3));
        Assert.Contains("'shape': (3,), }", Encoding.Latin1.GetString(stream.ToArray()));
    }

    public static IEnumerable<object[]> AllTypes() => new[]
    {
        new object[] { Tensor<bool>.FromArray(new[] { true, false, true, true, false, false }, 2, 3) },
        new object[] { Tensor<sbyte>.FromArray(new sbyte[] { -128, 127, 0, -1, 5, 6 }, 3, 2) },
        new object[] { Tensor<short>.FromArray(new short[] { short.MinValue, short.MaxValue, -2 }, 3) },
        new object[] { Tensor<int>.FromArray(new[] { int.MinValue, int.MaxValue, -2, 0 }, 2, 1, 2) },
        new object[] { Tensor<long>.FromArray(new[] { long.MinValue, long.MaxValue }, 2) },
        new object[] { Tensor<byte>.FromArray(new byte[] { 0, 255, 17 }, 3) },
        new object[] { Tensor<ushort>.FromArray(new ushort[] { 0, 65535 }, 2) },
        new object[] { Tensor<uint>.FromArray(new[] { 0u, uint.MaxValue }, 2) },
        new object[] { Tensor<ulong>.FromArray(new[] { 0ul, ulong.MaxValue }, 1, 2) },
        new object[] { Tensor<Half>.FromArray(new[] { (Half)1.5, (Half)(-0.25) }, 2) },
        new object[] { Tensor<float>.FromArray(new[] { 1.5f, -0f, float.NaN, float.PositiveInfinity }, 2, 2) },
        new object[] { Tensor<double>.Scalar(Math.PI) },
        new object[] { Tensor<float>.Zeros(0, 3) },
    };

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void RoundTripsEveryTypeThroughAFileAtomically(Tensor tensor)
    {
        var dir = Directory.CreateTempSubdirectory("npy-").FullName;
        try
        {
            var path = Path.Combine(dir, "a.npy");
            System.IO.File.WriteAllText(path, "an older file, replaced whole");
            Npy.Write(path, tensor);
            var read = Npy.Read(path);
            Assert.Equal(tensor.ShapeText, read.ShapeText);
            Assert.Equal(Bytes(tensor), Bytes(read));
            Assert.Equal(new[] { path }, Directory.GetFiles(dir)); // no temporary file left beside it
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static double[] Values(Tensor t) => t switch
    {
        Tensor<bool> b => b.Data.Select(v => v ? 1.0 : 0).ToArray(),
        Tensor<sbyte> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<byte> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<short> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<ushort> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<int> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<uint> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<long> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<ulong> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<Half> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<float> v => v.Data.Select(x => (double)x).ToArray(),
        Tensor<double> v => v.Data,
        _ => throw new ArgumentException(t.ShapeText),
    };

    static byte[] Bytes(Tensor t)
    {
        using var s = new MemoryStream();
        Npy.Write(s, t);
        return s.ToArray();
    }

    /// <summary>Hand-built files, one per dtype, in both byte orders: the values must come out the same.</summary>
    [Theory]
    [InlineData("b1", 1)]
    [InlineData("i1", 1)]
    [InlineData("u1", 1)]
    [InlineData("i2", 2)]
    [InlineData("u2", 2)]
    [InlineData("i4", 4)]
    [InlineData("u4", 4)]
    [InlineData("i8", 8)]
    [InlineData("u8", 8)]
    [InlineData("f2", 2)]
    [InlineData("f4", 4)]
    [InlineData("f8", 8)]
    public void ReadsHandBuiltBytesOfEachDtypeInBothByteOrders(string kind, int size)
    {
        // Three elements: 1, 2 and the largest value whose bytes differ when reversed, little-endian first.
        var little = new byte[3 * size];
        void Put(int i, double value)
        {
            var span = little.AsSpan(i * size, size);
            switch (kind)
            {
                case "b1": span[0] = (byte)value; break;
                case "i1": case "u1": span[0] = (byte)(sbyte)value; break;
                case "i2": case "u2": BinaryPrimitives.WriteInt16LittleEndian(span, (short)value); break;
                case "i4": case "u4": BinaryPrimitives.WriteInt32LittleEndian(span, (int)value); break;
                case "i8": case "u8": BinaryPrimitives.WriteInt64LittleEndian(span, (long)value); break;
                case "f2": BinaryPrimitives.WriteHalfLittleEndian(span, (Half)value); break;
                case "f4": BinaryPrimitives.WriteSingleLittleEndian(span, (float)value); break;
                case "f8": BinaryPrimitives.WriteDoubleLittleEndian(span, value); break;
            }
        }
        double third = kind == "b1" ? 0 : kind.EndsWith('1') ? 100 : 258;
        Put(0, 1);
        Put(1, kind == "b1" ? 1 : 2);
        Put(2, third);
        var big = (byte[])little.Clone();
        for (int i = 0; i < big.Length; i += size) big.AsSpan(i, size).Reverse();

        var fromLittle = Read(File(Dict((size == 1 ? "|" : "<") + kind, "(3,)"), little));
        var fromBig = Read(File(Dict((size == 1 ? "|" : ">") + kind, "(3,)"), big));
        Assert.Equal(new long[] { 3 }, fromLittle.Shape);
        Assert.Equal(Bytes(fromLittle), Bytes(fromBig));
        Assert.Equal(kind == "b1" ? new[] { 1.0, 1, 0 } : new[] { 1, 2, third }, Values(fromBig));
        if (size > 1) // an explicit byte order on one-byte types is legal too, and '=' is native (little-endian here)
            Assert.Equal(Bytes(fromLittle), Bytes(Read(File(Dict("=" + kind, "(3,)"), little))));
    }

    [Fact]
    public void FortranOrderIsTransposedIntoCOrder()
    {
        // np.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores the columns: 1 4 2 5 3 6.
        var data = new[] { 1, 4, 2, 5, 3, 6 }.SelectMany(BitConverter.GetBytes).ToArray();
        var t = (Tensor<int>)Read(File(Dict("<i4", "(2, 3)", fortran: true), data));
        Assert.Equal(new long[] { 2, 3 }, t.Shape);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, t.Data);
        // Rank 3: element (i, j, k) of shape (2, 3, 2) is stored at i + 2·(j + 3·k).
        var values = new int[12];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 2; k++) values[i + 2 * (j + 3 * k)] = 100 * i + 10 * j + k;
        var t3 = (Tensor<int>)Read(File(Dict("<i4", "(2, 3, 2)", fortran: true), values.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(121, t3[1, 2, 1]);
        Assert.Equal(10, t3[0, 1, 0]);
    }

    [Fact]
    public void ReadsVersions2And3AndPython2Longs()
    {
        var data = BitConverter.GetBytes(2.5);
        Assert.Equal(2.5, ((Tensor<double>)Read(File(Dict("<f8", "(1,)"), data, major: 2))).Data[0]);
        Assert.Equal(2.5, ((Tensor<double>)Read(File(Dict("<f8", "(1,)"), data, major: 3))).Data[0]);
        Assert.Equal(new long[] { 1, 1 }, Read(File("{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 1L), }", data, align: 16)).Shape);
        Assert.Equal(2.5, ((Tensor<double>)Read(File(Dict("<f8", "()"), data))).Data[0]);
    }

    [Fact]
    public void MalformedFilesAreRefusedNamingTheFileAndTheProblem()
    {
        var good = File(Dict("<f4", "(2,)"), new byte[8]);
        Assert.Equal("test.npy: not a .npy file: it starts with 89 48 44 46 0d 0a, not the magic 93 4e 55 4d 50 59 (\\x93NUMPY)",
            ReadError(Encoding.Latin1.GetBytes("\x89HDF\r\n\x1a\n\0\0\0\0")));
        Assert.Equal("test.npy: the file is truncated: it has 4 bytes, fewer than the 10 (magic, version, header length) every .npy file starts with",
            ReadError(good[..4]));
        Assert.Equal("test.npy: the file is truncated: it ends inside the 118-byte header", ReadError(good[..50]));
        Assert.Equal("test.npy: the file is truncated: <f4 shape (2) needs 8 bytes of data after the header, and the file ends before them",
            ReadError(good[..^1]));
        Assert.Equal("test.npy: the file has bytes after the 8 bytes of data that <f4 shape (2) needs: it is not one array as np.save writes it",
            ReadError([.. good, 0]));
        var v4 = (byte[])good.Clone();
        v4[6] = 4;
        Assert.Equal("test.npy: unsupported .npy format version 4.0 (versions 1.0, 2.0 and 3.0 exist)", ReadError(v4));
        var tooLong = File(Dict("<f4", "(2,)") + new string(' ', 20_000), new byte[8], major: 2);
        Assert.Equal("test.npy: the header is 20084 bytes, more than the 10000-byte limit (NumPy's np.load refuses it too)", ReadError(tooLong));

        Assert.StartsWith("test.npy: unsupported dtype '<c8': complex numbers are not supported (supported: bool b1,", ReadError(File(Dict("<c8", "(1,)"), new byte[8])));
        Assert.StartsWith("test.npy: unsupported dtype '|O': ", ReadError(File(Dict("|O", "(1,)"), new byte[8])));
        Assert.StartsWith("test.npy: unsupported dtype '<U3': Unicode strings are not supported", ReadError(File(Dict("<U3", "(1,)"), new byte[12])));
        Assert.StartsWith("test.npy: unsupported dtype '<f16': 128-bit floats are not supported", ReadError(File(Dict("<f16", "(1,)"), new byte[16])));
        Assert.StartsWith("test.npy: 'descr' is a list: structured dtypes (records with named fields) are not supported",
            ReadError(File("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4])));
        Assert.StartsWith("test.npy: the header lacks 'shape' (header: {'descr': '<f4', 'fortran_order': False, }",
            ReadError(File("{'descr': '<f4', 'fortran_order': False, }", new byte[4])));
        Assert.StartsWith("test.npy: the header has the key 'extra'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'",
            ReadError(File("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", new byte[4])));
        Assert.StartsWith("test.npy: 'shape' must be a tuple of non-negative integers", ReadError(File(Dict("<f4", "(-1,)"), new byte[4])));
        Assert.StartsWith("test.npy: 'fortran_order' must be True or False", ReadError(File("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", new byte[4])));
    }

    [Fact]
    public void AFileNamedOnDiskIsNamedInTheError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            System.IO.File.WriteAllBytes(path, "PK\x03\x04 not numpy"u8.ToArray());
            var e = Assert.Throws<InvalidDataException>(() => Npy.Read(path));
            Assert.StartsWith(path + ": not a .npy file: it starts with 50 4b 03 04 20 6e", e.Message);
            Npy.Write(path, Tensor<int>.Scalar(3));
            Assert.Equal($"{path}: the array is s32[], not f32", Assert.Throws<InvalidDataException>(() => Npy.Read<float>(path)).Message);
            Assert.Equal(3, Npy.Read<int>(path).Data[0]);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }
}
