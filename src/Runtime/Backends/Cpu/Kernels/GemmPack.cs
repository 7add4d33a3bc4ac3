using System.Runtime.Intrinsics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>Type-generic packing primitives shared by the GEMM drivers.</summary>
internal static unsafe class GemmPack
{
    /// <summary>
    /// For p in [0, kc): dst[p*w + 0..cols) = src[p*ld + 0..cols), dst[p*w + cols..w) = 0.
    /// Used when the panel's short dimension is contiguous in the source.
    /// </summary>
    public static void CopyRowsPadded<T>(T* src, nint ld, T* dst, int w, int cols, int kc) where T : unmanaged
    {
        nint bytes = (nint)cols * sizeof(T);
        nint padBytes = (nint)(w - cols) * sizeof(T);
        nint dstStride = (nint)w * sizeof(T);
        nint srcStride = ld * sizeof(T);
        byte* s = (byte*)src;
        byte* d = (byte*)dst;
        for (int p = 0; p < kc; p++, s += srcStride, d += dstStride)
        {
            nint i = 0;
            for (; i + 32 <= bytes; i += 32)
                Vector256.Store(Vector256.Load(s + i), d + i);
            for (; i < bytes; i++)
                d[i] = s[i];
            for (nint z = 0; z < padBytes; z++)
                d[bytes + z] = 0;
        }
    }

    /// <summary>
    /// For r in [0, w), p in [0, kc): dst[p*w + r] = src[r*ld + p]. Used when the panel's long dimension (k) is
    /// contiguous in the source, i.e. a transpose of w full rows into an interleaved panel.
    /// </summary>
    public static void TransposeRowsToPanel<T>(T* src, nint ld, T* dst, int w, int kc) where T : unmanaged
    {
        const int Chunk = 64;
        for (int p0 = 0; p0 < kc; p0 += Chunk)
        {
            int pe = Math.Min(kc, p0 + Chunk);
            for (int r = 0; r < w; r++)
            {
                T* s = src + r * ld;
                T* d = dst + r;
                for (int p = p0; p < pe; p++)
                    d[(nint)p * w] = s[p];
            }
        }
    }
}
