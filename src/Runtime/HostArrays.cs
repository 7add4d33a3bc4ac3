using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// Untyped helpers over the element arrays of host tensors (float[], int[], Half[] …), without reflection or
/// generic instantiation at run time, so they stay trimming- and AOT-safe. Used where code handles tensors of any
/// element type as bytes: checkpoints and batch gathering.
/// </summary>
internal static class HostArrays
{
    /// <summary>A zeroed element array of <paramref name="type"/> with <paramref name="length"/> elements.</summary>
    public static Array New(ElementType type, int length) => type switch
    {
        ElementType.F32 => new float[length],
        ElementType.F64 => new double[length],
        ElementType.S32 => new int[length],
        ElementType.S64 => new long[length],
        ElementType.Pred => new bool[length],
        ElementType.S8 => new sbyte[length],
        ElementType.S16 => new short[length],
        ElementType.U8 => new byte[length],
        ElementType.U16 => new ushort[length],
        ElementType.U32 => new uint[length],
        ElementType.U64 => new ulong[length],
        ElementType.F16 => new Half[length],
        _ => throw new NotSupportedException($"host tensors do not represent element type {type}"),
    };

    /// <summary>Wraps <paramref name="data"/> (an array made by <see cref="New"/>) as a tensor of shape <paramref name="dims"/> (no copy).</summary>
    public static Tensor Wrap(ElementType type, long[] dims, Array data) => type switch
    {
        ElementType.F32 => new Tensor<float>(dims, (float[])data),
        ElementType.F64 => new Tensor<double>(dims, (double[])data),
        ElementType.S32 => new Tensor<int>(dims, (int[])data),
        ElementType.S64 => new Tensor<long>(dims, (long[])data),
        ElementType.Pred => new Tensor<bool>(dims, (bool[])data),
        ElementType.S8 => new Tensor<sbyte>(dims, (sbyte[])data),
        ElementType.S16 => new Tensor<short>(dims, (short[])data),
        ElementType.U8 => new Tensor<byte>(dims, (byte[])data),
        ElementType.U16 => new Tensor<ushort>(dims, (ushort[])data),
        ElementType.U32 => new Tensor<uint>(dims, (uint[])data),
        ElementType.U64 => new Tensor<ulong>(dims, (ulong[])data),
        ElementType.F16 => new Tensor<Half>(dims, (Half[])data),
        _ => throw new NotSupportedException($"host tensors do not represent element type {type}"),
    };

    /// <summary>The first byte of an array's elements; valid for any array of unmanaged elements.</summary>
    public static ref byte Bytes(Array data) => ref MemoryMarshal.GetArrayDataReference(data);

    /// <summary>
    /// Copies <paramref name="byteCount"/> bytes (memmove), in pieces below 2 GiB because spans are int-indexed.
    /// </summary>
    public static void Copy(ref byte source, ref byte destination, long byteCount)
    {
        const int Chunk = 1 << 30;
        long done = 0;
        while (done < byteCount)
        {
            int n = (int)Math.Min(Chunk, byteCount - done);
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AddByteOffset(ref source, (nint)done), n)
                .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref destination, (nint)done), n));
            done += n;
        }
    }
}
