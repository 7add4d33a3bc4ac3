using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// A tensor's elements as raw bytes: row-major, little-endian, each element at its type's natural width (pred one byte,
/// 0 or 1; f16 IEEE binary16). This is the layout device transfers use (xlagen-server's wire format). Offsets are
/// 64-bit, so tensors above 2 GiB are read and written in runs.
/// </summary>
public static class TensorBytes
{
    static TensorBytes()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("XlaGen's tensor byte format is little-endian; this machine is big-endian");
    }

    /// <summary>Bytes of the tensor's elements.</summary>
    public static long ByteCount(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.ElementCount * tensor.ElementType.ByteSize();
    }

    /// <summary>Bytes of an array of <paramref name="elementType"/> with <paramref name="dims"/>; throws on overflow.</summary>
    public static long ByteCount(ElementType elementType, IReadOnlyList<long> dims)
    {
        long n = elementType.ByteSize();
        foreach (var d in dims) n = checked(n * d);
        return n;
    }

    /// <summary>Whether tensors of this element type exist on the host (the element types <see cref="Tensor{T}"/> takes).</summary>
    public static bool IsSupported(ElementType elementType) => elementType switch
    {
        ElementType.Pred or ElementType.S8 or ElementType.S16 or ElementType.S32 or ElementType.S64 or ElementType.U8 or ElementType.U16
            or ElementType.U32 or ElementType.U64 or ElementType.F16 or ElementType.F32 or ElementType.F64 => true,
        _ => false,
    };

    /// <summary>A 64-bit fingerprint (XXH3) of the tensor's element type, dims and bytes: equal contents give equal
    /// fingerprints; a change to any element changes it with overwhelming probability.</summary>
    public static ulong Fingerprint(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var hash = new System.IO.Hashing.XxHash3();
        Span<byte> header = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(header, (long)tensor.ElementType);
        hash.Append(header);
        foreach (var d in tensor.Dims)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(header, d);
            hash.Append(header);
        }
        long total = ByteCount(tensor);
        const int run = 1 << 30;
        for (long offset = 0; offset < total; offset += run)
            hash.Append(Span(tensor.Data, offset, (int)Math.Min(run, total - offset)));
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>A tensor of the element type and dims, zero-filled unless <paramref name="zeroed"/> is false (then its
    /// contents are whatever memory held: only for tensors about to be overwritten entirely).</summary>
    public static Tensor Allocate(ElementType elementType, long[] dims, bool zeroed = true)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long n = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ArgumentException($"dimension {d} is negative in [{string.Join(",", dims)}]");
            n = checked(n * d);
        }
        return elementType switch
        {
            ElementType.F32 => new Tensor<float>(dims, NewArray<float>(n, zeroed)),
            ElementType.F64 => new Tensor<double>(dims, NewArray<double>(n, zeroed)),
            ElementType.S32 => new Tensor<int>(dims, NewArray<int>(n, zeroed)),
            ElementType.S64 => new Tensor<long>(dims, NewArray<long>(n, zeroed)),
            ElementType.Pred => new Tensor<bool>(dims, NewArray<bool>(n, zeroed)),
            ElementType.S8 => new Tensor<sbyte>(dims, NewArray<sbyte>(n, zeroed)),
            ElementType.S16 => new Tensor<short>(dims, NewArray<short>(n, zeroed)),
            ElementType.U8 => new Tensor<byte>(dims, NewArray<byte>(n, zeroed)),
            ElementType.U16 => new Tensor<ushort>(dims, NewArray<ushort>(n, zeroed)),
            ElementType.U32 => new Tensor<uint>(dims, NewArray<uint>(n, zeroed)),
            ElementType.U64 => new Tensor<ulong>(dims, NewArray<ulong>(n, zeroed)),
            ElementType.F16 => new Tensor<Half>(dims, NewArray<Half>(n, zeroed)),
            _ => throw new NotSupportedException($"element type {elementType} has no host tensor type"),
        };
    }

    static T[] NewArray<T>(long n, bool zeroed) where T : unmanaged =>
        zeroed || n > int.MaxValue ? new T[n] : GC.AllocateUninitializedArray<T>((int)n);

    /// <summary>A copy of the tensor (its own elements array).</summary>
    public static Tensor Clone(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var copy = Allocate(tensor.ElementType, tensor.Shape.ToArray(), zeroed: false);
        System.Array.Copy(tensor.Data, copy.Data, tensor.Data.LongLength);
        return copy;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the tensor's elements starting at byte <paramref name="byteOffset"/>.
    /// Runs need not align with elements. Pred bytes must be 0 or 1.
    /// </summary>
    public static void Write(Tensor tensor, long byteOffset, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long total = ByteCount(tensor);
        if (byteOffset < 0 || byteOffset > total - source.Length)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"bytes {byteOffset}..{byteOffset + source.Length} are outside the {total} bytes of {tensor.ShapeText}");
        if (tensor.ElementType == ElementType.Pred)
        {
            int bad = source.IndexOfAnyExcept((byte)0, (byte)1);
            if (bad >= 0) throw new ArgumentException($"pred element {byteOffset + bad} of {tensor.ShapeText} has byte value {source[bad]}; pred elements are 0 or 1");
        }
        source.CopyTo(Span(tensor.Data, byteOffset, source.Length));
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes of the tensor from byte <paramref name="byteOffset"/>.</summary>
    public static void Read(Tensor tensor, long byteOffset, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long total = ByteCount(tensor);
        if (byteOffset < 0 || byteOffset > total - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"bytes {byteOffset}..{byteOffset + destination.Length} are outside the {total} bytes of {tensor.ShapeText}");
        Span(tensor.Data, byteOffset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// A view of <paramref name="length"/> bytes of the tensor's elements from <paramref name="byteOffset"/>, without
    /// copying. The view is valid while the tensor is; writes through it change the tensor.
    /// </summary>
    public static Memory<byte> Slice(Tensor tensor, long byteOffset, int length)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long total = ByteCount(tensor);
        if (length < 0 || byteOffset < 0 || byteOffset > total - length)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"bytes {byteOffset}..{byteOffset + length} are outside the {total} bytes of {tensor.ShapeText}");
        return new ArrayBytesMemory(tensor.Data, byteOffset, length).Memory;
    }

    static Span<byte> Span(Array array, long byteOffset, int length)
    {
        ref byte start = ref MemoryMarshal.GetArrayDataReference(array);
        return MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref start, (nint)byteOffset), length);
    }

    /// <summary>Bytes of an unmanaged-element array as Memory (pinned on demand).</summary>
    sealed class ArrayBytesMemory : MemoryManager<byte>
    {
        readonly Array array;
        readonly long offset;
        readonly int length;

        public ArrayBytesMemory(Array array, long offset, int length)
        {
            this.array = array;
            this.offset = offset;
            this.length = length;
        }

        public override Span<byte> GetSpan() => Span(array, offset, length);

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
            return new MemoryHandle(start + offset + elementIndex, handle, this);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
