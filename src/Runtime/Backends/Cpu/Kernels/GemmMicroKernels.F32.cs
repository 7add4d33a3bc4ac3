// Register-blocked single-precision micro-kernels (generated; see IGemmMicroKernel for the contract).
// MR broadcast rows × NV vectors of B; keep MR * NV + NV + 1 within the register file (32 zmm / 16 ymm).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// 8×32 float micro-kernel: 8 broadcast rows of packed A times 2 Vector512&lt;float&gt; columns of packed B
/// (16 accumulators). Partial row panels use dedicated 1..7-row kernels.
/// </summary>
internal unsafe struct F32Avx512K8x32 : IGemmMicroKernel<float>
{
    public static int MR => 8;
    public static int NR => 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0);
            c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            av = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(av, b0, c6_0);
            c6_1 = Vector512.FusedMultiplyAdd(av, b1, c6_1);
            av = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(av, b0, c7_0);
            c7_1 = Vector512.FusedMultiplyAdd(av, b1, c7_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 16);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0);
            Vector512.Store(c6_1 * va, c + 6 * ldc + 16);
            Vector512.Store(c7_0 * va, c + 7 * ldc + 0);
            Vector512.Store(c7_1 * va, c + 7 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb), c + 3 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb), c + 4 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb), c + 5 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb), c + 6 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16) * vb), c + 6 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc + 0) * vb), c + 7 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 16) * vb), c + 7 * ldc + 16);
        }
    }

    public static void RunRows(int rows, nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        switch (rows)
        {
            case 1: Rows1(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 2: Rows2(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 3: Rows3(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 4: Rows4(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 5: Rows5(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 6: Rows6(kc, a, b, ldb, c, ldc, alpha, beta); break;
            case 7: Rows7(kc, a, b, ldb, c, ldc, alpha, beta); break;
            default: Run(kc, a, b, ldb, c, ldc, alpha, beta); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows1(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb), c + 3 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows5(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb), c + 3 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb), c + 4 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0);
            c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb), c + 3 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb), c + 4 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb), c + 5 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows7(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0);
            c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            av = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(av, b0, c6_0);
            c6_1 = Vector512.FusedMultiplyAdd(av, b1, c6_1);
            a += 8;
            b += ldb;
        }

        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 16);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0);
            Vector512.Store(c6_1 * va, c + 6 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb), c + 0 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb), c + 1 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb), c + 2 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb), c + 3 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb), c + 4 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb), c + 5 * ldc + 16);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb), c + 6 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16) * vb), c + 6 * ldc + 16);
        }
    }
}

/// <summary>
/// 6×16 float micro-kernel: 6 broadcast rows of packed A times 2 Vector256&lt;float&gt; columns of packed B
/// (12 accumulators).
/// </summary>
internal unsafe struct F32Avx2K6x16 : IGemmMicroKernel<float>
{
    public static int MR => 6;
    public static int NR => 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        Vector256<float> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            av = Vector256.Create(a[0]);
            c0_0 = Vector256.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector256.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector256.Create(a[1]);
            c1_0 = Vector256.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector256.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector256.Create(a[2]);
            c2_0 = Vector256.FusedMultiplyAdd(av, b0, c2_0);
            c2_1 = Vector256.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector256.Create(a[3]);
            c3_0 = Vector256.FusedMultiplyAdd(av, b0, c3_0);
            c3_1 = Vector256.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector256.Create(a[4]);
            c4_0 = Vector256.FusedMultiplyAdd(av, b0, c4_0);
            c4_1 = Vector256.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector256.Create(a[5]);
            c5_0 = Vector256.FusedMultiplyAdd(av, b0, c5_0);
            c5_1 = Vector256.FusedMultiplyAdd(av, b1, c5_1);
            a += 6;
            b += ldb;
        }

        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector256.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector256.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector256.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector256.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector256.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector256.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector256.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector256.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector256.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector256.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector256.Store(c5_1 * va, c + 5 * ldc + 8);
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            Vector256.Store(Vector256.FusedMultiplyAdd(c0_0, va, Vector256.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c0_1, va, Vector256.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector256.Store(Vector256.FusedMultiplyAdd(c1_0, va, Vector256.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c1_1, va, Vector256.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector256.Store(Vector256.FusedMultiplyAdd(c2_0, va, Vector256.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c2_1, va, Vector256.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector256.Store(Vector256.FusedMultiplyAdd(c3_0, va, Vector256.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c3_1, va, Vector256.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
            Vector256.Store(Vector256.FusedMultiplyAdd(c4_0, va, Vector256.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c4_1, va, Vector256.Load(c + 4 * ldc + 8) * vb), c + 4 * ldc + 8);
            Vector256.Store(Vector256.FusedMultiplyAdd(c5_0, va, Vector256.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c5_1, va, Vector256.Load(c + 5 * ldc + 8) * vb), c + 5 * ldc + 8);
        }
    }

    public static void RunRows(int rows, nint kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
        => GemmEdge.RowsViaTile<float, F32Avx2K6x16>(rows, kc, a, b, ldb, c, ldc, alpha, beta);
}
