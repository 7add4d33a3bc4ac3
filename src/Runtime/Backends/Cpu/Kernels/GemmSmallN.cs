using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Single-precision AVX-512 path for narrow outputs (n ≤ <see cref="MaxN"/>) with a non-transposed A, e.g. the
/// logits layer of an MLP (128×256 · 256×10). The broadcast kernels would have to transpose all of A into panels
/// and fill at most n of 16 lanes; here every C element is a dot product along k of a row of A (read in place)
/// and a row of op(B)ᵀ (B read in place when transposed, else transposed into a small n×k buffer), computed in
/// 4×5 blocks of 16-lane accumulators and reduced horizontally at the end.
/// </summary>
internal static unsafe class GemmSmallN
{
    public const int MaxN = 16;

    /// <summary>Rows per block (and the unit of the thread split).</summary>
    public const int RowBlock = 4;

    /// <summary>Columns of C per block: 4×5 accumulators need 9 loads per 20 FMAs.</summary>
    public const int ColBlock = 5;

    public static bool Applies(bool transA, int m, int n, int k) =>
        !transA && n <= MaxN && k >= 32 && m >= RowBlock && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// Rows [rowStart, rowEnd) of C = alpha * A · Btᵀ + beta * C, where A is m×k (row stride lda) and Bt is n×k
    /// (row stride ldbt), i.e. Bt holds op(B)ᵀ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int rowStart, int rowEnd, int m, int n, int k, float alpha, float* a, nint lda,
        float* bt, nint ldbt, float beta, float* c, nint ldc)
    {
        int k16 = k & ~15;
        int tail = k - k16;
        float* tailA = stackalloc float[RowBlock * 16];
        float* tailB = stackalloc float[ColBlock * 16];
        float** bRows = stackalloc float*[ColBlock];

        for (int i = rowStart; i < rowEnd; i += RowBlock)
        {
            int rows = Math.Min(RowBlock, rowEnd - i);
            // Rows past the end repeat the last valid row; their results are discarded.
            float* a0 = a + (nint)i * lda;
            float* a1 = a + (nint)(i + Math.Min(1, rows - 1)) * lda;
            float* a2 = a + (nint)(i + Math.Min(2, rows - 1)) * lda;
            float* a3 = a + (nint)(i + Math.Min(3, rows - 1)) * lda;
            if (tail != 0)
            {
                new Span<float>(tailA, RowBlock * 16).Clear();
                CopyTail(a0, k16, tail, tailA);
                CopyTail(a1, k16, tail, tailA + 16);
                CopyTail(a2, k16, tail, tailA + 32);
                CopyTail(a3, k16, tail, tailA + 48);
            }

            for (int j = 0; j < n; j += ColBlock)
            {
                int cols = Math.Min(ColBlock, n - j);
                for (int q = 0; q < ColBlock; q++)
                    bRows[q] = bt + (nint)(j + Math.Min(q, cols - 1)) * ldbt;
                if (tail != 0)
                {
                    new Span<float>(tailB, ColBlock * 16).Clear();
                    for (int q = 0; q < ColBlock; q++)
                        CopyTail(bRows[q], k16, tail, tailB + 16 * q);
                }

                Block(k16, a0, a1, a2, a3, bRows, tail != 0, tailA, tailB, c + (nint)i * ldc + j, ldc, rows, cols, alpha, beta);
            }
        }
    }

    private static void CopyTail(float* row, int k16, int tail, float* dst)
        => new ReadOnlySpan<float>(row + k16, tail).CopyTo(new Span<float>(dst, tail));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(int k16, float* a0, float* a1, float* a2, float* a3, float** b, bool hasTail, float* tailA, float* tailB,
        float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        float* b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4];
        Vector512<float> c00 = default; Vector512<float> c01 = default; Vector512<float> c02 = default; Vector512<float> c03 = default; Vector512<float> c04 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default; Vector512<float> c12 = default; Vector512<float> c13 = default; Vector512<float> c14 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default; Vector512<float> c22 = default; Vector512<float> c23 = default; Vector512<float> c24 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default; Vector512<float> c32 = default; Vector512<float> c33 = default; Vector512<float> c34 = default;
        int p = 0;
        while (true)
        {
            float* x0p, x1p, x2p, x3p, y0p, y1p, y2p, y3p, y4p;
            if (p < k16)
            {
                x0p = a0 + p; x1p = a1 + p; x2p = a2 + p; x3p = a3 + p;
                y0p = b0 + p; y1p = b1 + p; y2p = b2 + p; y3p = b3 + p; y4p = b4 + p;
                p += 16;
            }
            else if (hasTail)
            {
                x0p = tailA; x1p = tailA + 16; x2p = tailA + 32; x3p = tailA + 48;
                y0p = tailB; y1p = tailB + 16; y2p = tailB + 32; y3p = tailB + 48; y4p = tailB + 64;
                hasTail = false;
            }
            else
            {
                break;
            }
            Vector512<float> x0 = Vector512.Load(x0p), x1 = Vector512.Load(x1p), x2 = Vector512.Load(x2p), x3 = Vector512.Load(x3p);
            Vector512<float> y;
            y = Vector512.Load(y0p);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00);
            c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20);
            c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            y = Vector512.Load(y1p);
            c01 = Vector512.FusedMultiplyAdd(x0, y, c01);
            c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, y, c21);
            c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            y = Vector512.Load(y2p);
            c02 = Vector512.FusedMultiplyAdd(x0, y, c02);
            c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, y, c22);
            c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            y = Vector512.Load(y3p);
            c03 = Vector512.FusedMultiplyAdd(x0, y, c03);
            c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, y, c23);
            c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
            y = Vector512.Load(y4p);
            c04 = Vector512.FusedMultiplyAdd(x0, y, c04);
            c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
            c24 = Vector512.FusedMultiplyAdd(x2, y, c24);
            c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
        }
        // Column 4 of the four rows in one reduction; then each row's first four columns.
        Vector128<float> col4 = Reduce4(c04, c14, c24, c34);
        Store(c, cols, Reduce4(c00, c01, c02, c03), col4.GetElement(0), alpha, beta);
        if (rows > 1) Store(c + ldc, cols, Reduce4(c10, c11, c12, c13), col4.GetElement(1), alpha, beta);
        if (rows > 2) Store(c + 2 * ldc, cols, Reduce4(c20, c21, c22, c23), col4.GetElement(2), alpha, beta);
        if (rows > 3) Store(c + 3 * ldc, cols, Reduce4(c30, c31, c32, c33), col4.GetElement(3), alpha, beta);
    }

    /// <summary>Writes a row's first min(cols, 5) results: C = alpha * v + beta * C (C unread when beta is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* ci, int cols, Vector128<float> v, float v4, float alpha, float beta)
    {
        if (cols >= 4)
        {
            var outv = v * alpha;
            float out4 = v4 * alpha;
            if (beta != 0)
            {
                outv += Vector128.Load(ci) * beta;
                if (cols == 5)
                    out4 += ci[4] * beta;
            }
            outv.Store(ci);
            if (cols == 5)
                ci[4] = out4;
            return;
        }
        for (int q = 0; q < cols; q++)
            ci[q] = beta == 0 ? alpha * v.GetElement(q) : alpha * v.GetElement(q) + beta * ci[q];
    }

    /// <summary>(sum v0, sum v1, sum v2, sum v3) of four 16-lane vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Reduce4(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        Vector128<float> q0 = Fold(v0), q1 = Fold(v1), q2 = Fold(v2), q3 = Fold(v3);
        var s01 = Sse.UnpackLow(q0, q1) + Sse.UnpackHigh(q0, q1); // (q0[0]+q0[2], q1[0]+q1[2], q0[1]+q0[3], q1[1]+q1[3])
        var s23 = Sse.UnpackLow(q2, q3) + Sse.UnpackHigh(q2, q3);
        return Sse.MoveLowToHigh(s01, s23) + Sse.MoveHighToLow(s23, s01);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Fold(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        return h.GetLower() + h.GetUpper();
    }
}
