namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, all row-major.
/// op(A) is m×k: A itself (m×k, row stride lda) or, when <paramref name="transA"/>, the transpose of A stored k×m.
/// op(B) is k×n: B itself (k×n, row stride ldb) or, when transB, the transpose of B stored n×k.
/// </summary>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        // Reference implementation; replaced by the blocked SIMD kernel.
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    s += av * bv;
                }
                c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
        }
    }
}
