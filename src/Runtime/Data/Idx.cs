using System.Buffers.Binary;
using System.IO.Compression;

namespace XlaGen.Data;

/// <summary>
/// Reads IDX files (the MNIST/Fashion-MNIST format), plain or gzip-compressed: a 4-byte magic (0, 0, element
/// type, rank), big-endian int32 dims, then the elements row-major, big-endian.
/// </summary>
public static class Idx
{
    /// <summary>Reads the IDX file at <paramref name="path"/>, decompressing it when the name ends in .gz.</summary>
    /// <returns>A tensor of the file's dims: Tensor&lt;byte&gt; (0x08), &lt;sbyte&gt; (0x09), &lt;short&gt; (0x0B), &lt;int&gt; (0x0C), &lt;float&gt; (0x0D) or &lt;double&gt; (0x0E).</returns>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not valid IDX (the message starts with the path).</exception>
    public static Tensor Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using var file = File.OpenRead(path);
        Stream stream = file;
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) stream = new GZipStream(file, CompressionMode.Decompress);
        using (stream)
        {
            try
            {
                return Read(stream);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{path}: {e.Message}", e);
            }
        }
    }

    /// <summary>Reads one IDX file from <paramref name="stream"/> (already decompressed), as <see cref="Read(string)"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not valid IDX: a bad magic number, an unknown element type, a negative dim, more than <see cref="int.MaxValue"/> elements, or too few bytes.</exception>
    public static Tensor Read(Stream stream)
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, "the 4-byte magic number");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"not an IDX file: the magic number starts with {header[0]:x2} {header[1]:x2}, expected 00 00");
        byte type = header[2];
        int rank = header[3];
        var dims = new long[rank];
        Span<byte> dim = stackalloc byte[4];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            ReadExactly(stream, dim, $"dimension {i}");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dim);
            if (dims[i] < 0) throw new InvalidDataException($"dimension {i} is negative ({dims[i]})");
            count *= dims[i];
        }
        if (count > int.MaxValue) throw new InvalidDataException($"{count} elements are more than this reader supports");
        int n = (int)count;
        switch (type)
        {
            case 0x08:
            {
                var data = new byte[n];
                ReadExactly(stream, data, $"{n} unsigned bytes");
                return new Tensor<byte>(dims, data);
            }
            case 0x09:
            {
                var data = new sbyte[n];
                ReadExactly(stream, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()), $"{n} signed bytes");
                return new Tensor<sbyte>(dims, data);
            }
            case 0x0B: return ReadBigEndian(stream, dims, n, 2, (b) => BinaryPrimitives.ReadInt16BigEndian(b));
            case 0x0C: return ReadBigEndian(stream, dims, n, 4, (b) => BinaryPrimitives.ReadInt32BigEndian(b));
            case 0x0D: return ReadBigEndian(stream, dims, n, 4, (b) => BinaryPrimitives.ReadSingleBigEndian(b));
            case 0x0E: return ReadBigEndian(stream, dims, n, 8, (b) => BinaryPrimitives.ReadDoubleBigEndian(b));
            default: throw new InvalidDataException($"unknown IDX element type 0x{type:x2} (expected 08, 09, 0B, 0C, 0D or 0E)");
        }
    }

    delegate T Decode<T>(ReadOnlySpan<byte> bytes);

    static Tensor<T> ReadBigEndian<T>(Stream stream, long[] dims, int n, int size, Decode<T> decode) where T : unmanaged
    {
        var bytes = new byte[checked(n * size)];
        ReadExactly(stream, bytes, $"{n} elements of {size} bytes");
        var data = new T[n];
        for (int i = 0; i < n; i++) data[i] = decode(bytes.AsSpan(i * size, size));
        return new Tensor<T>(dims, data);
    }

    static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int r = stream.Read(buffer[read..]);
            if (r == 0) throw new InvalidDataException($"the file ends early: {read} of {buffer.Length} bytes of {what}");
            read += r;
        }
    }
}
