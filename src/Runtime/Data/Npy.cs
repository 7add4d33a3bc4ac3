using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using XlaGen.Checkpoints;
using XlaGen.Hlo;

namespace XlaGen.Data;

/// <summary>
/// NumPy's <c>.npy</c> format (<c>np.save</c> / <c>np.load</c>), versions 1.0, 2.0 and 3.0: the magic
/// <c>\x93NUMPY</c>, a version, a little-endian header length (2 bytes in 1.0, 4 in 2.0 and 3.0), a Python dict
/// literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (5, 1), }</c> (Latin-1, UTF-8 in 3.0) padded with
/// spaces and a newline, then the elements.
/// <para>Reading accepts little- and big-endian (<c>&lt;</c>, <c>&gt;</c>, <c>=</c>, <c>|</c>) bool, signed and
/// unsigned integers of 1–8 bytes and floats of 2, 4 and 8 bytes, any rank (shape <c>()</c> is a scalar). Arrays stored
/// in Fortran order are transposed into C order on reading, so a tensor always has the same logical values that
/// <c>np.load</c> returns. Writing is what <c>np.save</c> writes: version 1.0 (2.0 when the header does not fit),
/// little-endian, C order, the header padded to a multiple of 64 bytes; the file is replaced atomically.</para>
/// <para>Every problem is an <see cref="InvalidDataException"/> "<c>FILE: what is wrong</c>": bad magic, an unknown
/// version, a header that is too long or not the dict NumPy writes, an unsupported dtype (complex, strings, objects,
/// structured), a truncated file, or bytes after the data.</para>
/// </summary>
public static class Npy
{
    /// <summary>The longest header read: NumPy's own <c>np.load</c> default (<c>max_header_size=10000</c>), which guards
    /// the dict parser against hostile files.</summary>
    public const int MaxHeaderBytes = 10_000;

    static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array in <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">the file is not a .npy file XlaGen can read; the message names the file and the problem.</exception>
    public static Tensor Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return Read(file, path);
    }

    /// <summary>Reads the array in <paramref name="path"/>, which must hold <typeparamref name="T"/> elements.</summary>
    public static Tensor<T> Read<T>(string path) where T : unmanaged
    {
        var t = Read(path);
        return t as Tensor<T> ?? throw new InvalidDataException(
            $"{path}: the array is {t.ShapeText}, not {Tensor.ElementTypeOf<T>().TextName()}");
    }

    /// <summary>Reads one array from <paramref name="stream"/>, which must end where the array ends;
    /// <paramref name="source"/> names it in messages (a file name, a zip member).</summary>
    public static Tensor Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".npy reading supports little-endian machines only");
        Span<byte> preamble = stackalloc byte[12];
        int got = stream.ReadAtLeast(preamble[..10], 10, throwOnEndOfStream: false);
        if (got < 10)
            throw Fail(source, $"the file is truncated: it has {got} bytes, fewer than the 10 (magic, version, header length) every .npy file starts with");
        if (!preamble[..6].SequenceEqual(Magic))
            throw Fail(source, $"not a .npy file: it starts with {Hex(preamble[..6])}, not the magic 93 4e 55 4d 50 59 (\\x93NUMPY)");
        byte major = preamble[6], minor = preamble[7];
        if (major is not (1 or 2 or 3) || minor != 0)
            throw Fail(source, $"unsupported .npy format version {major}.{minor} (versions 1.0, 2.0 and 3.0 exist)");
        long headerLength = BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..10]);
        if (major >= 2)
        {
            if (stream.ReadAtLeast(preamble[10..12], 2, throwOnEndOfStream: false) < 2)
                throw Fail(source, $"the file is truncated inside the 4-byte header length of format version {major}.0");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..12]);
        }
        if (headerLength > MaxHeaderBytes)
            throw Fail(source, $"the header is {headerLength} bytes, more than the {MaxHeaderBytes}-byte limit (NumPy's np.load refuses it too)");
        var headerBytes = new byte[headerLength];
        if (stream.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false) < headerBytes.Length)
            throw Fail(source, $"the file is truncated: it ends inside the {headerLength}-byte header");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (descr, fortranOrder, dims) = NpyHeader.Parse(source, header);
        var (type, size, bigEndian) = ParseDescr(source, descr);

        long count = 1;
        foreach (var d in dims)
        {
            if (d != 0 && count > Array.MaxLength / d)
                throw Fail(source, $"shape ({string.Join(", ", dims)}) has more elements than a host tensor can hold ({Array.MaxLength})");
            count *= d;
        }
        var data = HostArrays.New(type, (int)count);
        long byteCount = count * size;
        try
        {
            Safetensors.ReadElements(stream, data, byteCount);
        }
        catch (EndOfStreamException e)
        {
            throw Fail(source, $"the file is truncated: {descr} shape ({string.Join(", ", dims)}) needs {byteCount} bytes of data after the header, and the file ends before them", e);
        }
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
            throw Fail(source, $"the file has bytes after the {byteCount} bytes of data that {descr} shape ({string.Join(", ", dims)}) needs: it is not one array as np.save writes it");

        if (bigEndian && size > 1) SwapBytes(data, size, byteCount);
        if (type == ElementType.Pred)
        {
            var flags = MemoryMarshal.CreateSpan(ref HostArrays.Bytes(data), (int)count);
            for (int i = 0; i < flags.Length; i++)
                if (flags[i] > 1) flags[i] = 1; // NumPy bools are bytes; a .NET bool must be exactly 0 or 1
        }
        if (fortranOrder && dims.Length > 1) data = ToCOrder(data, type, dims, size);
        return HostArrays.Wrap(type, dims, data);
    }

    /// <summary>Writes <paramref name="tensor"/> to <paramref name="path"/> as <c>np.save</c> does, replacing the file
    /// atomically (a temporary file, fsync, rename; a failure leaves the previous file as it was).</summary>
    public static void Write(string path, Tensor tensor)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensor);
        var header = HeaderBytes(tensor); // before the temp file: an unwritable dtype must not touch the disk
        AtomicFile.Write(path, output =>
        {
            output.Write(header);
            Safetensors.WriteElements(output, tensor);
        });
    }

    /// <summary>Writes <paramref name="tensor"/> to <paramref name="stream"/> as <c>np.save</c> does.</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        stream.Write(HeaderBytes(tensor));
        Safetensors.WriteElements(stream, tensor);
    }

    /// <summary>The NumPy dtype string XlaGen writes for <paramref name="type"/> (<c>&lt;f4</c>, <c>|b1</c> …).</summary>
    public static string DescrOf(ElementType type) => type switch
    {
        ElementType.F16 => "<f2",
        ElementType.F32 => "<f4",
        ElementType.F64 => "<f8",
        ElementType.S8 => "|i1",
        ElementType.S16 => "<i2",
        ElementType.S32 => "<i4",
        ElementType.S64 => "<i8",
        ElementType.U8 => "|u1",
        ElementType.U16 => "<u2",
        ElementType.U32 => "<u4",
        ElementType.U64 => "<u8",
        ElementType.Pred => "|b1",
        _ => throw new NotSupportedException($"element type {type.TextName()} has no NumPy dtype that XlaGen writes"),
    };

    static byte[] HeaderBytes(Tensor tensor)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".npy writing supports little-endian machines only");
        var shape = tensor.Shape.Count == 1
            ? "(" + tensor.Shape[0].ToString(CultureInfo.InvariantCulture) + ",)"
            : "(" + string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
        var dict = $"{{'descr': '{DescrOf(tensor.ElementType)}', 'fortran_order': False, 'shape': {shape}, }}";
        // NumPy's _wrap_header: pad with spaces so that magic, version, length and header end on a 64-byte boundary.
        int lengthBytes = 2;
        int padding = 64 - (8 + lengthBytes + dict.Length + 1) % 64;
        if (dict.Length + padding + 1 > ushort.MaxValue)
        {
            lengthBytes = 4; // version 2.0
            padding = 64 - (8 + lengthBytes + dict.Length + 1) % 64;
        }
        int headerLength = dict.Length + padding + 1;
        var result = new byte[8 + lengthBytes + headerLength];
        Magic.CopyTo(result);
        result[6] = lengthBytes == 2 ? (byte)1 : (byte)2;
        if (lengthBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)headerLength);
        else BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)headerLength);
        int at = 8 + lengthBytes;
        Encoding.Latin1.GetBytes(dict, result.AsSpan(at));
        result.AsSpan(at + dict.Length, padding).Fill((byte)' ');
        result[^1] = (byte)'\n';
        return result;
    }

    const string SupportedDtypes = "supported: bool b1, signed i1/i2/i4/i8, unsigned u1/u2/u4/u8, float f2/f4/f8, either byte order";

    static (ElementType Type, int Size, bool BigEndian) ParseDescr(string source, string descr)
    {
        int size = 0;
        bool wellFormed = descr.Length >= 2 && descr[0] is '<' or '>' or '=' or '|'
            && (descr.Length == 2 || int.TryParse(descr.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out size));
        if (!wellFormed)
            throw Fail(source, $"unsupported dtype '{descr}' ({SupportedDtypes})");
        ElementType? type = (descr[1], size) switch
        {
            ('b', 1) => ElementType.Pred,
            ('i', 1) => ElementType.S8,
            ('i', 2) => ElementType.S16,
            ('i', 4) => ElementType.S32,
            ('i', 8) => ElementType.S64,
            ('u', 1) => ElementType.U8,
            ('u', 2) => ElementType.U16,
            ('u', 4) => ElementType.U32,
            ('u', 8) => ElementType.U64,
            ('f', 2) => ElementType.F16,
            ('f', 4) => ElementType.F32,
            ('f', 8) => ElementType.F64,
            _ => null,
        };
        if (type is null)
        {
            string kind = descr[1] switch
            {
                'c' => "complex numbers", 'U' => "Unicode strings", 'S' or 'a' => "byte strings", 'O' => "Python objects (pickled)",
                'V' => "raw void records", 'M' => "datetimes", 'm' => "timedeltas", 'f' => $"{size * 8}-bit floats",
                'i' or 'u' => $"{size * 8}-bit integers", 'b' => $"{size}-byte booleans", _ => $"values of kind '{descr[1]}'",
            };
            throw Fail(source, $"unsupported dtype '{descr}': {kind} are not supported ({SupportedDtypes})");
        }
        return (type.Value, size, descr[0] == '>');
    }

    static void SwapBytes(Array data, int size, long byteCount)
    {
        ref byte start = ref HostArrays.Bytes(data);
        long chunk = (1L << 30) / size * size; // spans are int-sized; arrays of 8-byte elements may exceed 2 GiB
        for (long done = 0; done < byteCount; done += chunk)
        {
            var bytes = MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref start, (nint)done), (int)Math.Min(chunk, byteCount - done));
            for (int i = 0; i < bytes.Length; i += size) bytes.Slice(i, size).Reverse();
        }
    }

    /// <summary>Fortran order stores element (i0, …, in−1) at i0 + d0·(i1 + d1·(…)); returns the same values in C order.</summary>
    static Array ToCOrder(Array fortran, ElementType type, long[] dims, int size)
    {
        int count = fortran.Length;
        var c = HostArrays.New(type, count);
        ref byte source = ref HostArrays.Bytes(fortran);
        ref byte target = ref HostArrays.Bytes(c);
        var index = new long[dims.Length];
        var fortranStride = new long[dims.Length];
        long stride = 1;
        for (int k = 0; k < dims.Length; k++)
        {
            fortranStride[k] = stride;
            stride *= dims[k];
        }
        for (long i = 0; i < count; i++)
        {
            long offset = 0;
            for (int k = 0; k < dims.Length; k++) offset += index[k] * fortranStride[k];
            Unsafe.CopyBlockUnaligned(ref Unsafe.AddByteOffset(ref target, (nint)(i * size)), ref Unsafe.AddByteOffset(ref source, (nint)(offset * size)), (uint)size);
            for (int k = dims.Length - 1; k >= 0; k--)
            {
                if (++index[k] < dims[k]) break;
                index[k] = 0;
            }
        }
        return c;
    }

    static string Hex(ReadOnlySpan<byte> bytes) => string.Join(" ", bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    internal static InvalidDataException Fail(string source, string problem, Exception? inner = null) =>
        new($"{source}: {problem}", inner);
}
