using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Hand-written SIMD for what TensorPrimitives does not cover: comparisons producing pred bytes, select on pred
/// bytes, and register-blocked transposes. Every routine handles the tail (and non-AVX2 machines) with scalar code
/// and returns how many leading elements it did with SIMD, or does the whole span.
/// </summary>
internal static class Simd
{
    /// <summary>Whether compare and select use 512-bit vectors where the CPU has them (the bench's HLO_SWITCH turns it
    /// off for an A/B; tests pass the width per call; the results are the same).</summary>
    internal static bool Wide = true;

    // ---- compare: 32 elements at a time, lane masks narrowed to 0/1 bytes ----

    /// <summary>Writes o[i] = x[i] DIR y[i] for the vectorisable prefix and returns its length (0 when the element
    /// type has no vector comparison here). A side flagged scalar is the one-element span's value for every i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Compare<T, TDir>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<bool> o, bool xScalar = false, bool yScalar = false, bool? wide = null)
        where TDir : struct, ICompareDirection
    {
        if (!Vector256.IsHardwareAccelerated || !Vector256<T>.IsSupported) return 0;
        int size = Unsafe.SizeOf<T>();
        if (size != 4 && size != 8) return 0;
        int n = o.Length, i = 0;
        var lanes = new Lanes<T>(x, y, xScalar, yScalar);
        ref byte orf = ref Unsafe.As<bool, byte>(ref MemoryMarshal.GetReference(o));
        var one = Vector256.Create((sbyte)1);
        if (size == 4 && (wide ?? Wide) && Avx512F.IsSupported && Vector512<T>.IsSupported)
        {
            // 16 lanes per mask, each narrowed to bytes by vpmovdb
            var xv = xScalar ? Vector512.Create(x[0]) : default;
            var yv = yScalar ? Vector512.Create(y[0]) : default;
            ref T x0 = ref MemoryMarshal.GetReference(x);
            ref T y0 = ref MemoryMarshal.GetReference(y);
            var one16 = Vector128.Create((sbyte)1);
            for (; i + 16 <= n; i += 16)
            {
                var a = xScalar ? xv : Vector512.LoadUnsafe(ref x0, (nuint)i);
                var b = yScalar ? yv : Vector512.LoadUnsafe(ref y0, (nuint)i);
                var m = Mask512<T, TDir>(a, b).AsInt32();
                (Avx512F.ConvertToVector128SByte(m) & one16).AsByte().StoreUnsafe(ref orf, (nuint)i);
            }
            return i;
        }
        if (size == 4)
        {
            for (; i + 32 <= n; i += 32)
            {
                var m0 = lanes.Mask<TDir>(i).AsInt32();
                var m1 = lanes.Mask<TDir>(i + 8).AsInt32();
                var m2 = lanes.Mask<TDir>(i + 16).AsInt32();
                var m3 = lanes.Mask<TDir>(i + 24).AsInt32();
                var bytes = Vector256.Narrow(Vector256.Narrow(m0, m1), Vector256.Narrow(m2, m3)) & one;
                bytes.AsByte().StoreUnsafe(ref orf, (nuint)i);
            }
        }
        else
        {
            for (; i + 32 <= n; i += 32)
            {
                var a = Vector256.Narrow(lanes.Mask<TDir>(i).AsInt64(), lanes.Mask<TDir>(i + 4).AsInt64());
                var b = Vector256.Narrow(lanes.Mask<TDir>(i + 8).AsInt64(), lanes.Mask<TDir>(i + 12).AsInt64());
                var c = Vector256.Narrow(lanes.Mask<TDir>(i + 16).AsInt64(), lanes.Mask<TDir>(i + 20).AsInt64());
                var d = Vector256.Narrow(lanes.Mask<TDir>(i + 24).AsInt64(), lanes.Mask<TDir>(i + 28).AsInt64());
                var bytes = Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)) & one;
                bytes.AsByte().StoreUnsafe(ref orf, (nuint)i);
            }
        }
        return i;
    }

    /// <summary>a DIR b per lane, as an all-ones or zero lane mask (512 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<T> Mask512<T, TDir>(Vector512<T> a, Vector512<T> b) where TDir : struct, ICompareDirection
    {
        if (typeof(TDir) == typeof(CmpEq)) return Vector512.Equals(a, b);
        if (typeof(TDir) == typeof(CmpNe)) return ~Vector512.Equals(a, b);
        if (typeof(TDir) == typeof(CmpLt)) return Vector512.LessThan(a, b);
        if (typeof(TDir) == typeof(CmpLe)) return Vector512.LessThanOrEqual(a, b);
        if (typeof(TDir) == typeof(CmpGt)) return Vector512.GreaterThan(a, b);
        return Vector512.GreaterThanOrEqual(a, b);
    }

    /// <summary>a DIR b per lane, as an all-ones or zero lane mask (256 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Mask256<T, TDir>(Vector256<T> a, Vector256<T> b) where TDir : struct, ICompareDirection
    {
        if (typeof(TDir) == typeof(CmpEq)) return Vector256.Equals(a, b);
        if (typeof(TDir) == typeof(CmpNe)) return ~Vector256.Equals(a, b);
        if (typeof(TDir) == typeof(CmpLt)) return Vector256.LessThan(a, b);
        if (typeof(TDir) == typeof(CmpLe)) return Vector256.LessThanOrEqual(a, b);
        if (typeof(TDir) == typeof(CmpGt)) return Vector256.GreaterThan(a, b);
        return Vector256.GreaterThanOrEqual(a, b);
    }

    /// <summary>The two compared operands, each an array or a broadcast scalar.</summary>
    readonly ref struct Lanes<T>
    {
        readonly ref T x;
        readonly ref T y;
        readonly Vector256<T> xv, yv;
        readonly bool xScalar, yScalar;

        public Lanes(ReadOnlySpan<T> xs, ReadOnlySpan<T> ys, bool xScalar, bool yScalar)
        {
            x = ref MemoryMarshal.GetReference(xs);
            y = ref MemoryMarshal.GetReference(ys);
            this.xScalar = xScalar;
            this.yScalar = yScalar;
            xv = xScalar ? Vector256.Create(xs[0]) : default;
            yv = yScalar ? Vector256.Create(ys[0]) : default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Mask<TDir>(int i) where TDir : struct, ICompareDirection
        {
            var a = xScalar ? xv : Vector256.LoadUnsafe(ref x, (nuint)i);
            var b = yScalar ? yv : Vector256.LoadUnsafe(ref y, (nuint)i);
            return Mask256<T, TDir>(a, b);
        }
    }

    // ---- select: pred bytes sign-extended to lane masks ----

    /// <summary>o[i] = p[i] ? x[i] : y[i] for the vectorisable prefix; returns its length. A side flagged scalar is
    /// its one-element span's value for every i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Select<T>(ReadOnlySpan<bool> p, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> o, bool xScalar = false, bool yScalar = false, bool? wide = null)
    {
        int size = Unsafe.SizeOf<T>();
        int n = p.Length, i = 0;
        if (!Avx2.IsSupported || n < 8) return 0;
        ref byte pr = ref Unsafe.As<bool, byte>(ref MemoryMarshal.GetReference(p));
        ref byte xr = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(x));
        ref byte yr = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(y));
        ref byte or = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(o));
        if (size == 4 && (wide ?? Wide) && Avx512F.IsSupported)
        {
            // 16 pred bytes sign-extended to 16 lane masks (vpmovsxbd)
            var xc = Vector512.Create(Unsafe.ReadUnaligned<int>(ref xr));
            var yc = Vector512.Create(Unsafe.ReadUnaligned<int>(ref yr));
            for (; i + 16 <= n; i += 16)
            {
                var pb = Vector128.LoadUnsafe(ref pr, (nuint)i).AsSByte();
                var isFalse = Vector512.Equals(Avx512F.ConvertToVector512Int32(pb), Vector512<int>.Zero);
                var a = xScalar ? xc : Vector512.LoadUnsafe(ref xr, (nuint)(i * 4)).AsInt32();
                var b = yScalar ? yc : Vector512.LoadUnsafe(ref yr, (nuint)(i * 4)).AsInt32();
                Vector512.ConditionalSelect(isFalse, b, a).AsByte().StoreUnsafe(ref or, (nuint)(i * 4));
            }
            return i;
        }
        if (size == 4)
        {
            var xc = Vector256.Create(Unsafe.ReadUnaligned<int>(ref xr));
            var yc = Vector256.Create(Unsafe.ReadUnaligned<int>(ref yr));
            for (; i + 8 <= n; i += 8)
            {
                var pb = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.Add(ref pr, i))).AsSByte();
                var isFalse = Vector256.Equals(Avx2.ConvertToVector256Int32(pb), Vector256<int>.Zero);
                var a = xScalar ? xc : Vector256.LoadUnsafe(ref xr, (nuint)(i * 4)).AsInt32();
                var b = yScalar ? yc : Vector256.LoadUnsafe(ref yr, (nuint)(i * 4)).AsInt32();
                Vector256.ConditionalSelect(isFalse, b, a).AsByte().StoreUnsafe(ref or, (nuint)(i * 4));
            }
            return i;
        }
        if (size == 8)
        {
            var xc = Vector256.Create(Unsafe.ReadUnaligned<long>(ref xr));
            var yc = Vector256.Create(Unsafe.ReadUnaligned<long>(ref yr));
            for (; i + 4 <= n; i += 4)
            {
                var pb = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref pr, i))).AsSByte();
                var isFalse = Vector256.Equals(Avx2.ConvertToVector256Int64(pb), Vector256<long>.Zero);
                var a = xScalar ? xc : Vector256.LoadUnsafe(ref xr, (nuint)(i * 8)).AsInt64();
                var b = yScalar ? yc : Vector256.LoadUnsafe(ref yr, (nuint)(i * 8)).AsInt64();
                Vector256.ConditionalSelect(isFalse, b, a).AsByte().StoreUnsafe(ref or, (nuint)(i * 8));
            }
            return i;
        }
        return 0;
    }

    // ---- transposes of register blocks ----

    /// <summary>True when <see cref="TransposeBlock"/> handles elements of this size.</summary>
    public static bool CanTransposeBlocks<T>() => Avx.IsSupported && (Unsafe.SizeOf<T>() == 4 || Unsafe.SizeOf<T>() == 8);

    /// <summary>Block edge of <see cref="TransposeBlock"/>: 8 for 4-byte elements, 4 for 8-byte ones.</summary>
    public static int BlockEdge<T>() => Unsafe.SizeOf<T>() == 4 ? 8 : 4;

    /// <summary>d[i·dstRow + j] = s[j·srcRow + i] for an edge×edge block (both row strides in elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransposeBlock<T>(ref T s, nint srcRow, ref T d, nint dstRow)
    {
        if (Unsafe.SizeOf<T>() == 4) Transpose8x8(ref Unsafe.As<T, float>(ref s), srcRow, ref Unsafe.As<T, float>(ref d), dstRow);
        else Transpose4x4(ref Unsafe.As<T, double>(ref s), srcRow, ref Unsafe.As<T, double>(ref d), dstRow);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(ref float s, nint srcRow, ref float d, nint dstRow)
    {
        var r0 = Vector256.LoadUnsafe(ref s);
        var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, srcRow));
        var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 2 * srcRow));
        var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 3 * srcRow));
        var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 4 * srcRow));
        var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 5 * srcRow));
        var r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 6 * srcRow));
        var r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 7 * srcRow));
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref d);
        Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref Unsafe.Add(ref d, dstRow));
        Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref Unsafe.Add(ref d, 2 * dstRow));
        Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref Unsafe.Add(ref d, 3 * dstRow));
        Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 4 * dstRow));
        Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 5 * dstRow));
        Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 6 * dstRow));
        Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 7 * dstRow));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose4x4(ref double s, nint srcRow, ref double d, nint dstRow)
    {
        var r0 = Vector256.LoadUnsafe(ref s);
        var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, srcRow));
        var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 2 * srcRow));
        var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 3 * srcRow));
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        Avx.Permute2x128(t0, t2, 0x20).StoreUnsafe(ref d);
        Avx.Permute2x128(t1, t3, 0x20).StoreUnsafe(ref Unsafe.Add(ref d, dstRow));
        Avx.Permute2x128(t0, t2, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 2 * dstRow));
        Avx.Permute2x128(t1, t3, 0x31).StoreUnsafe(ref Unsafe.Add(ref d, 3 * dstRow));
    }
}
