// Register-blocked double-precision micro-kernels (generated; see IGemmMicroKernel for the contract).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// 8×16 double micro-kernel: 8 broadcast rows of packed A times 2 Vector512&lt;double&gt; columns of packed B
/// (16 accumulators). Partial row panels use dedicated 1..7-row kernels.
/// </summary>
internal unsafe struct F64Avx512K8x16 : IGemmMicroKernel<double>
{
    public static int MR => 8;
    public static int NR => 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> c3_0 = default; Vector512<double> c3_1 = default;
        Vector512<double> c4_0 = default; Vector512<double> c4_1 = default;
        Vector512<double> c5_0 = default; Vector512<double> c5_1 = default;
        Vector512<double> c6_0 = default; Vector512<double> c6_1 = default;
        Vector512<double> c7_0 = default; Vector512<double> c7_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 8);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0);
            Vector512.Store(c6_1 * va, c + 6 * ldc + 8);
            Vector512.Store(c7_0 * va, c + 7 * ldc + 0);
            Vector512.Store(c7_1 * va, c + 7 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 8) * vb), c + 4 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 8) * vb), c + 5 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb), c + 6 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 8) * vb), c + 6 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc + 0) * vb), c + 7 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 8) * vb), c + 7 * ldc + 8);
        }
    }

    public static void RunRows(int rows, nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
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
    private static void Rows1(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            a += 8;
            b += ldb;
        }

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
            av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            a += 8;
            b += ldb;
        }

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> c3_0 = default; Vector512<double> c3_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows5(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> c3_0 = default; Vector512<double> c3_1 = default;
        Vector512<double> c4_0 = default; Vector512<double> c4_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 8) * vb), c + 4 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> c3_0 = default; Vector512<double> c3_1 = default;
        Vector512<double> c4_0 = default; Vector512<double> c4_1 = default;
        Vector512<double> c5_0 = default; Vector512<double> c5_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 8) * vb), c + 4 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 8) * vb), c + 5 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows7(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector512<double> c0_0 = default; Vector512<double> c0_1 = default;
        Vector512<double> c1_0 = default; Vector512<double> c1_1 = default;
        Vector512<double> c2_0 = default; Vector512<double> c2_1 = default;
        Vector512<double> c3_0 = default; Vector512<double> c3_1 = default;
        Vector512<double> c4_0 = default; Vector512<double> c4_1 = default;
        Vector512<double> c5_0 = default; Vector512<double> c5_1 = default;
        Vector512<double> c6_0 = default; Vector512<double> c6_1 = default;
        Vector512<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b + 0);
            Vector512<double> b1 = Vector512.Load(b + 8);
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

        Vector512<double> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 8);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0);
            Vector512.Store(c6_1 * va, c + 6 * ldc + 8);
        }
        else
        {
            Vector512<double> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 8) * vb), c + 0 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 8) * vb), c + 1 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 8) * vb), c + 2 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 8) * vb), c + 3 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 8) * vb), c + 4 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 8) * vb), c + 5 * ldc + 8);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb), c + 6 * ldc + 0);
            Vector512.Store(Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 8) * vb), c + 6 * ldc + 8);
        }
    }
}

/// <summary>
/// 6×8 double micro-kernel: 6 broadcast rows of packed A times 2 Vector256&lt;double&gt; columns of packed B
/// (12 accumulators).
/// </summary>
internal unsafe struct F64Avx2K6x8 : IGemmMicroKernel<double>
{
    public static int MR => 6;
    public static int NR => 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
    {
        Vector256<double> c0_0 = default; Vector256<double> c0_1 = default;
        Vector256<double> c1_0 = default; Vector256<double> c1_1 = default;
        Vector256<double> c2_0 = default; Vector256<double> c2_1 = default;
        Vector256<double> c3_0 = default; Vector256<double> c3_1 = default;
        Vector256<double> c4_0 = default; Vector256<double> c4_1 = default;
        Vector256<double> c5_0 = default; Vector256<double> c5_1 = default;
        Vector256<double> av;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<double> b0 = Vector256.Load(b + 0);
            Vector256<double> b1 = Vector256.Load(b + 4);
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

        Vector256<double> va = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector256.Store(c0_1 * va, c + 0 * ldc + 4);
            Vector256.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector256.Store(c1_1 * va, c + 1 * ldc + 4);
            Vector256.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector256.Store(c2_1 * va, c + 2 * ldc + 4);
            Vector256.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector256.Store(c3_1 * va, c + 3 * ldc + 4);
            Vector256.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector256.Store(c4_1 * va, c + 4 * ldc + 4);
            Vector256.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector256.Store(c5_1 * va, c + 5 * ldc + 4);
        }
        else
        {
            Vector256<double> vb = Vector256.Create(beta);
            Vector256.Store(Vector256.FusedMultiplyAdd(c0_0, va, Vector256.Load(c + 0 * ldc + 0) * vb), c + 0 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c0_1, va, Vector256.Load(c + 0 * ldc + 4) * vb), c + 0 * ldc + 4);
            Vector256.Store(Vector256.FusedMultiplyAdd(c1_0, va, Vector256.Load(c + 1 * ldc + 0) * vb), c + 1 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c1_1, va, Vector256.Load(c + 1 * ldc + 4) * vb), c + 1 * ldc + 4);
            Vector256.Store(Vector256.FusedMultiplyAdd(c2_0, va, Vector256.Load(c + 2 * ldc + 0) * vb), c + 2 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c2_1, va, Vector256.Load(c + 2 * ldc + 4) * vb), c + 2 * ldc + 4);
            Vector256.Store(Vector256.FusedMultiplyAdd(c3_0, va, Vector256.Load(c + 3 * ldc + 0) * vb), c + 3 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c3_1, va, Vector256.Load(c + 3 * ldc + 4) * vb), c + 3 * ldc + 4);
            Vector256.Store(Vector256.FusedMultiplyAdd(c4_0, va, Vector256.Load(c + 4 * ldc + 0) * vb), c + 4 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c4_1, va, Vector256.Load(c + 4 * ldc + 4) * vb), c + 4 * ldc + 4);
            Vector256.Store(Vector256.FusedMultiplyAdd(c5_0, va, Vector256.Load(c + 5 * ldc + 0) * vb), c + 5 * ldc + 0);
            Vector256.Store(Vector256.FusedMultiplyAdd(c5_1, va, Vector256.Load(c + 5 * ldc + 4) * vb), c + 5 * ldc + 4);
        }
    }

    public static void RunRows(int rows, nint kc, double* a, double* b, nint ldb, double* c, nint ldc, double alpha, double beta)
        => GemmEdge.RowsViaTile<double, F64Avx2K6x8>(rows, kc, a, b, ldb, c, ldc, alpha, beta);
}
