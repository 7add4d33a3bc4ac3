using System.IO.Compression;
using XlaGen.Data;

namespace XlaGen.Tests.Data;

public class IdxTests
{
    static byte[] Header(byte type, params int[] dims)
    {
        var b = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (var d in dims) b.AddRange(new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d });
        return b.ToArray();
    }

    [Fact]
    public void ReadsUnsignedBytesAndBigEndianInts()
    {
        var bytes = Header(0x08, 2, 3).Concat(new byte[] { 1, 2, 3, 4, 5, 255 }).ToArray();
        var t = (Tensor<byte>)Idx.Read(new MemoryStream(bytes));
        Assert.Equal(new long[] { 2, 3 }, t.Shape);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 255 }, t.Data);
        var ints = Header(0x0C, 2).Concat(new byte[] { 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFE }).ToArray();
        Assert.Equal(new[] { 256, -2 }, ((Tensor<int>)Idx.Read(new MemoryStream(ints))).Data);
        var floats = Header(0x0D, 1).Concat(new byte[] { 0x3F, 0xC0, 0, 0 }).ToArray();
        Assert.Equal(new[] { 1.5f }, ((Tensor<float>)Idx.Read(new MemoryStream(floats))).Data);
    }

    [Fact]
    public void ReadsGzipFiles()
    {
        var path = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}-labels.gz");
        try
        {
            using (var f = File.Create(path))
            using (var gz = new GZipStream(f, CompressionLevel.Fastest))
            {
                gz.Write(Header(0x08, 4));
                gz.Write(new byte[] { 9, 8, 7, 6 });
            }
            Assert.Equal(new byte[] { 9, 8, 7, 6 }, ((Tensor<byte>)Idx.Read(path)).Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MalformedInputGivesClearErrors()
    {
        Assert.Equal("not an IDX file: the magic number starts with 1f 8b, expected 00 00",
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(new byte[] { 0x1f, 0x8b, 8, 1 }))).Message);
        Assert.Equal("the file ends early: 2 of 4 bytes of the 4-byte magic number",
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(new byte[] { 0, 0 }))).Message);
        Assert.Equal("the file ends early: 3 of 6 bytes of 6 unsigned bytes",
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(Header(0x08, 2, 3).Concat(new byte[] { 1, 2, 3 }).ToArray()))).Message);
        Assert.Equal("unknown IDX element type 0x07 (expected 08, 09, 0B, 0C, 0D or 0E)",
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(Header(0x07, 1).Concat(new byte[] { 1 }).ToArray()))).Message);
        Assert.Equal("dimension 0 is negative (-1)",
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(Header(0x08, -1)))).Message);
        var missing = Assert.Throws<FileNotFoundException>(() => Idx.Read("/nonexistent/t10k-labels-idx1-ubyte.gz"));
        Assert.Contains("/nonexistent/t10k-labels-idx1-ubyte.gz", missing.Message);
    }

    [Fact]
    public void FashionMnistFromTheDebianPackage()
    {
        Required.Data(FashionMnist.IsInstalled(), $"Fashion-MNIST is not installed in {FashionMnist.Directory} (apt-get install dataset-fashion-mnist; test.sh does it)");
        var test = FashionMnist.LoadTest();
        Assert.Equal(new long[] { 10000, 784 }, test.Images.Shape);
        Assert.All(test.Images.Data, v => Assert.InRange(v, 0f, 1f));
        var counts = new int[10];
        foreach (var l in test.Labels.Data) counts[l]++;
        Assert.All(counts, c => Assert.Equal(1000, c));   // the test split is balanced
        Assert.Equal(9, test.Labels.Data[0]);               // the first test image is an ankle boot
    }
}
