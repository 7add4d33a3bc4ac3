using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>Type-generic packing primitives shared by the GEMM drivers.</summary>
internal static unsafe class GemmPack
{
    /// <summary>
    /// For p in [0, kc): dst[p*w + 0..cols) = src[p*ld + 0..cols), dst[p*w + cols..w) = 0.
    /// Used when the panel's short dimension is contiguous in the source.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CopyRowsPadded<T>(T* src, nint ld, T* dst, int w, int cols, int kc) where T : unmanaged
    {
        nint bytes = (nint)cols * sizeof(T);
        nint rowBytes = (nint)w * sizeof(T);
        nint srcStride = ld * sizeof(T);
        byte* s = (byte*)src;
        byte* d = (byte*)dst;
        if (cols == w && (rowBytes & 31) == 0)
        {
            for (int p = 0; p < kc; p++, s += srcStride, d += rowBytes)
                for (nint i = 0; i < bytes; i += 32)
                    Vector256.Store(Vector256.Load(s + i), d + i);
            return;
        }
        for (int p = 0; p < kc; p++, s += srcStride, d += rowBytes)
        {
            // Zero the whole destination row (panels are 32-byte multiples in practice), then copy the columns.
            nint z = 0;
            for (; z + 32 <= rowBytes; z += 32)
                Vector256.Store(Vector256<byte>.Zero, d + z);
            for (; z < rowBytes; z++)
                d[z] = 0;
            nint i = 0;
            for (; i + 32 <= bytes; i += 32)
                Vector256.Store(Vector256.Load(s + i), d + i);
            T* st = (T*)(s + i);
            T* dt = (T*)(d + i);
            for (nint e = 0, n = (bytes - i) / sizeof(T); e < n; e++)
                dt[e] = st[e];
        }
    }

    /// <summary>
    /// For r in [0, w), p in [0, kc): dst[p*w + r] = src[r*ld + p]. Used when the panel's long dimension (k) is
    /// contiguous in the source, i.e. a transpose of w full rows into an interleaved panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransposeRowsToPanel<T>(T* src, nint ld, T* dst, int w, int kc) where T : unmanaged
    {
        int done = 0;
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float) && w % 8 == 0)
                done = TransposeF32((float*)src, ld, (float*)dst, w, kc);
            else if (typeof(T) == typeof(double) && w % 4 == 0)
                done = TransposeF64((double*)src, ld, (double*)dst, w, kc);
        }
        if (done == kc)
            return;
        for (int r = 0; r < w; r++)
        {
            T* s = src + r * ld;
            T* d = dst + r;
            for (int p = done; p < kc; p++)
                d[(nint)p * w] = s[p];
        }
    }

    /// <summary>
    /// Transposed write-back of an 8-row tile (row stride ldt) into C with unit row stride and column stride csc:
    /// C[j*csc + i] = alpha * tile[i, j] (+ beta * C when beta is not zero) for i in [0, 8), j in [0, cols8),
    /// cols8 a multiple of 8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreTransposed8(float* tile, nint ldt, float* c, nint csc, int cols8, float alpha, float beta)
    {
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (int j0 = 0; j0 < cols8; j0 += 8)
        {
            float* s = tile + j0;
            var t0 = Avx.UnpackLow(Avx.LoadVector256(s), Avx.LoadVector256(s + ldt));
            var t1 = Avx.UnpackHigh(Avx.LoadVector256(s), Avx.LoadVector256(s + ldt));
            var t2 = Avx.UnpackLow(Avx.LoadVector256(s + 2 * ldt), Avx.LoadVector256(s + 3 * ldt));
            var t3 = Avx.UnpackHigh(Avx.LoadVector256(s + 2 * ldt), Avx.LoadVector256(s + 3 * ldt));
            var t4 = Avx.UnpackLow(Avx.LoadVector256(s + 4 * ldt), Avx.LoadVector256(s + 5 * ldt));
            var t5 = Avx.UnpackHigh(Avx.LoadVector256(s + 4 * ldt), Avx.LoadVector256(s + 5 * ldt));
            var t6 = Avx.UnpackLow(Avx.LoadVector256(s + 6 * ldt), Avx.LoadVector256(s + 7 * ldt));
            var t7 = Avx.UnpackHigh(Avx.LoadVector256(s + 6 * ldt), Avx.LoadVector256(s + 7 * ldt));
            var s0 = Avx.Shuffle(t0, t2, 0x44);
            var s1 = Avx.Shuffle(t0, t2, 0xEE);
            var s2 = Avx.Shuffle(t1, t3, 0x44);
            var s3 = Avx.Shuffle(t1, t3, 0xEE);
            var s4 = Avx.Shuffle(t4, t6, 0x44);
            var s5 = Avx.Shuffle(t4, t6, 0xEE);
            var s6 = Avx.Shuffle(t5, t7, 0x44);
            var s7 = Avx.Shuffle(t5, t7, 0xEE);
            float* d = c + j0 * csc;
            Put(d, Avx.Permute2x128(s0, s4, 0x20), va, vb, beta);
            Put(d + csc, Avx.Permute2x128(s1, s5, 0x20), va, vb, beta);
            Put(d + 2 * csc, Avx.Permute2x128(s2, s6, 0x20), va, vb, beta);
            Put(d + 3 * csc, Avx.Permute2x128(s3, s7, 0x20), va, vb, beta);
            Put(d + 4 * csc, Avx.Permute2x128(s0, s4, 0x31), va, vb, beta);
            Put(d + 5 * csc, Avx.Permute2x128(s1, s5, 0x31), va, vb, beta);
            Put(d + 6 * csc, Avx.Permute2x128(s2, s6, 0x31), va, vb, beta);
            Put(d + 7 * csc, Avx.Permute2x128(s3, s7, 0x31), va, vb, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* d, Vector256<float> v, Vector256<float> va, Vector256<float> vb, float beta)
    {
        v *= va;
        if (beta != 0)
            v += Vector256.Load(d) * vb;
        v.Store(d);
    }

    /// <summary>8×8 AVX transposes over columns [0, kc rounded down to 8); returns the columns done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TransposeF32(float* src, nint ld, float* dst, int w, int kc)
    {
        int kc8 = kc & ~7;
        for (int r0 = 0; r0 < w; r0 += 8)
        {
            float* s = src + r0 * ld;
            float* d = dst + r0;
            for (int p0 = 0; p0 < kc8; p0 += 8, s += 8, d += 8 * w)
            {
                var r0v = Avx.LoadVector256(s);
                var r1v = Avx.LoadVector256(s + ld);
                var r2v = Avx.LoadVector256(s + 2 * ld);
                var r3v = Avx.LoadVector256(s + 3 * ld);
                var r4v = Avx.LoadVector256(s + 4 * ld);
                var r5v = Avx.LoadVector256(s + 5 * ld);
                var r6v = Avx.LoadVector256(s + 6 * ld);
                var r7v = Avx.LoadVector256(s + 7 * ld);
                var t0 = Avx.UnpackLow(r0v, r1v);
                var t1 = Avx.UnpackHigh(r0v, r1v);
                var t2 = Avx.UnpackLow(r2v, r3v);
                var t3 = Avx.UnpackHigh(r2v, r3v);
                var t4 = Avx.UnpackLow(r4v, r5v);
                var t5 = Avx.UnpackHigh(r4v, r5v);
                var t6 = Avx.UnpackLow(r6v, r7v);
                var t7 = Avx.UnpackHigh(r6v, r7v);
                var s0 = Avx.Shuffle(t0, t2, 0x44);
                var s1 = Avx.Shuffle(t0, t2, 0xEE);
                var s2 = Avx.Shuffle(t1, t3, 0x44);
                var s3 = Avx.Shuffle(t1, t3, 0xEE);
                var s4 = Avx.Shuffle(t4, t6, 0x44);
                var s5 = Avx.Shuffle(t4, t6, 0xEE);
                var s6 = Avx.Shuffle(t5, t7, 0x44);
                var s7 = Avx.Shuffle(t5, t7, 0xEE);
                Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
                Avx.Store(d + w, Avx.Permute2x128(s1, s5, 0x20));
                Avx.Store(d + 2 * w, Avx.Permute2x128(s2, s6, 0x20));
                Avx.Store(d + 3 * w, Avx.Permute2x128(s3, s7, 0x20));
                Avx.Store(d + 4 * w, Avx.Permute2x128(s0, s4, 0x31));
                Avx.Store(d + 5 * w, Avx.Permute2x128(s1, s5, 0x31));
                Avx.Store(d + 6 * w, Avx.Permute2x128(s2, s6, 0x31));
                Avx.Store(d + 7 * w, Avx.Permute2x128(s3, s7, 0x31));
            }
        }
        return kc8;
    }

    /// <summary>4×4 AVX transposes over columns [0, kc rounded down to 4); returns the columns done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TransposeF64(double* src, nint ld, double* dst, int w, int kc)
    {
        int kc4 = kc & ~3;
        for (int r0 = 0; r0 < w; r0 += 4)
        {
            double* s = src + r0 * ld;
            double* d = dst + r0;
            for (int p0 = 0; p0 < kc4; p0 += 4, s += 4, d += 4 * w)
            {
                var r0v = Avx.LoadVector256(s);
                var r1v = Avx.LoadVector256(s + ld);
                var r2v = Avx.LoadVector256(s + 2 * ld);
                var r3v = Avx.LoadVector256(s + 3 * ld);
                var t0 = Avx.UnpackLow(r0v, r1v);
                var t1 = Avx.UnpackHigh(r0v, r1v);
                var t2 = Avx.UnpackLow(r2v, r3v);
                var t3 = Avx.UnpackHigh(r2v, r3v);
                Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20));
                Avx.Store(d + w, Avx.Permute2x128(t1, t3, 0x20));
                Avx.Store(d + 2 * w, Avx.Permute2x128(t0, t2, 0x31));
                Avx.Store(d + 3 * w, Avx.Permute2x128(t1, t3, 0x31));
            }
        }
        return kc4;
    }
}
