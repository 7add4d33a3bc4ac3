using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Single-precision AVX-512 path for one row of A (m = 1, neither operand transposed): the dense layer of batch-1
/// inference, 1×784 · 784×256. The blocked driver would pack A, walk B in 32-column panels once per k-block and
/// store and reload the row of C between k-blocks; here B streams once, row after row, into up to eight 16-lane
/// accumulators per 128 columns, and the columns are split across the pool's threads when there is enough of B.
/// <para>
/// Bitwise the driver's result: every element of C is summed in the driver's order. The driver cuts k into the same
/// balanced blocks (<see cref="GemmDriver{T, TK}.KBlock"/>), sums each block from zero with one fused multiply-add per
/// term, and merges the block into C: full 32-column panels with fma(acc, alpha, beta·C) (beta·C not read when beta is
/// 0; later blocks use beta = 1), the ragged last panel through its tile as alpha·t + beta·C. This kernel does the same
/// per column (tested against the driver over k-block edges, ragged columns, alpha, beta and leading dimensions).
/// </para>
/// </summary>
internal static unsafe class GemmRowVector
{
    /// <summary>The driver's micro-panel width: columns past the last full panel merge through its tile.</summary>
    const int PanelWidth = 32;

    /// <summary>Multiply-adds from which the columns are split across threads (B no longer fits one core's L1/L2 budget
    /// per call: 1×784×256 is 200 K).</summary>
    const long ParallelThreshold = 64 * 1024;

    public static bool Applies(bool transA, bool transB, int m, int n) =>
        m == 1 && !transA && !transB && n >= 1 && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>C[0, 0..n) = alpha · a[0..k) · B + beta · C, B k×n with row stride ldb, <paramref name="kc"/> the
    /// driver's k-block, split over at most <paramref name="maxThreads"/> from <paramref name="threshold"/>
    /// multiply-adds (default <see cref="ParallelThreshold"/>). <paramref name="bLength"/>: elements readable from
    /// <paramref name="b"/> (the narrow path reads whole 16-lane rows where they stay inside it).</summary>
    public static void Run(int n, int k, float alpha, float* a, float* b, nint ldb, long bLength, float beta, float* c, int kc, int maxThreads, long? threshold = null)
    {
        if (n < 16)
        {
            Narrow(n, k, alpha, a, b, ldb, bLength, beta, c, kc);
            return;
        }
        int groups = (n + 127) / 128;
        if (groups > 1 && (long)n * k >= (threshold ?? ParallelThreshold) && maxThreads > 1)
        {
            // the job is reused per thread (a closure per call would allocate); a nested call takes a fresh one
            var job = Job.Cached ?? new Job();
            Job.Cached = null;
            try
            {
                job.Set(Math.Min(groups, maxThreads), groups, n, k, alpha, a, b, ldb, beta, c, kc);
                if (CpuThreadPool.TryRun(job.Parts, job.Body))
                    return;
            }
            finally
            {
                job.A = job.B = job.C = null;
                Job.Cached = job;
            }
        }
        Columns(0, n, n, k, alpha, a, b, ldb, beta, c, kc);
    }

    /// <summary>One call's arguments for the pool's threads: part p takes a contiguous run of 128-column groups.</summary>
    sealed class Job
    {
        [ThreadStatic]
        public static Job? Cached;

        public readonly Action<int> Body;
        public int Parts, Groups, N, K, Kc;
        public float Alpha, Beta;
        public float* A, B, C;
        public nint Ldb;

        public Job() => Body = RunPart;

        public void Set(int parts, int groups, int n, int k, float alpha, float* a, float* b, nint ldb, float beta, float* c, int kc)
        {
            Parts = parts; Groups = groups; N = n; K = k; Alpha = alpha; A = a; B = b; Ldb = ldb; Beta = beta; C = c; Kc = kc;
        }

        void RunPart(int part)
        {
            int j0 = Groups * part / Parts * 128, j1 = Math.Min(N, Groups * (part + 1) / Parts * 128);
            Columns(j0, j1, N, K, Alpha, A, B, Ldb, Beta, C, Kc);
        }
    }

    /// <summary>Fewer than 16 columns, all in the driver's ragged panel (merged through its tile): each row of B is read
    /// as 16 lanes in place while those stay inside B (the lanes past n belong to the next row and are never stored);
    /// the last rows are copied into a zero-padded row first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Narrow(int n, int k, float alpha, float* a, float* b, nint ldb, long bLength, float beta, float* c, int kc)
    {
        float* lanes = stackalloc float[16];
        float* padded = stackalloc float[16];
        // rows p < direct can be loaded whole: p·ldb + 16 <= bLength
        long direct = bLength < 16 ? 0 : Math.Min(k, (bLength - 16) / Math.Max(1, ldb) + 1);
        for (int pc = 0; pc < k; pc += kc)
        {
            int end = Math.Min(k, pc + kc);
            Vector512<float> s = default;
            for (int p = pc; p < end; p++)
            {
                Vector512<float> row;
                if (p < direct) row = Vector512.Load(b + (nint)p * ldb);
                else
                {
                    new Span<float>(padded, 16).Clear();
                    new ReadOnlySpan<float>(b + (nint)p * ldb, n).CopyTo(new Span<float>(padded, n));
                    row = Vector512.Load(padded);
                }
                s = Vector512.FusedMultiplyAdd(Vector512.Create(a[p]), row, s);
            }
            Vector512.Store(s, lanes);
            float betaEff = pc == 0 ? beta : 1f;
            for (int j = 0; j < n; j++)
                c[j] = betaEff == 0 ? alpha * lanes[j] : alpha * lanes[j] + betaEff * c[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns(int j0, int j1, int n, int k, float alpha, float* a, float* b, nint ldb, float beta, float* c, int kc)
    {
        int full = n / PanelWidth * PanelWidth;   // columns merged as the driver's full panels
        int j = j0;
        for (; j + 128 <= Math.Min(j1, full); j += 128) Block8(j, k, alpha, a, b, ldb, beta, c, kc);
        for (; j + 16 <= Math.Min(j1, full); j += 16) Block1(j, k, alpha, a, b, ldb, beta, c, kc, tileMerge: false);
        for (; j + 16 <= j1; j += 16) Block1(j, k, alpha, a, b, ldb, beta, c, kc, tileMerge: true);
        for (; j < j1; j++) Scalar(j, k, alpha, a, b, ldb, beta, c, kc);
    }

    /// <summary>128 columns from <paramref name="j"/>, all inside the driver's full panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8(int j, int k, float alpha, float* a, float* b, nint ldb, float beta, float* c, int kc)
    {
        var va = Vector512.Create(alpha);
        float* cj = c + j;
        for (int pc = 0; pc < k; pc += kc)
        {
            int end = Math.Min(k, pc + kc);
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            float* row = b + (nint)pc * ldb + j;
            for (int p = pc; p < end; p++, row += ldb)
            {
                var x = Vector512.Create(a[p]);
                s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row), s0);
                s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 48), s3);
                s4 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 64), s4);
                s5 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 80), s5);
                s6 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 96), s6);
                s7 = Vector512.FusedMultiplyAdd(x, Vector512.Load(row + 112), s7);
            }
            float betaEff = pc == 0 ? beta : 1f;
            Merge(s0, cj, va, betaEff);
            Merge(s1, cj + 16, va, betaEff);
            Merge(s2, cj + 32, va, betaEff);
            Merge(s3, cj + 48, va, betaEff);
            Merge(s4, cj + 64, va, betaEff);
            Merge(s5, cj + 80, va, betaEff);
            Merge(s6, cj + 96, va, betaEff);
            Merge(s7, cj + 112, va, betaEff);
        }
    }

    /// <summary>16 columns from <paramref name="j"/>; <paramref name="tileMerge"/> when they lie in the driver's ragged
    /// last panel, which it merges through a tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1(int j, int k, float alpha, float* a, float* b, nint ldb, float beta, float* c, int kc, bool tileMerge)
    {
        var va = Vector512.Create(alpha);
        for (int pc = 0; pc < k; pc += kc)
        {
            int end = Math.Min(k, pc + kc);
            Vector512<float> s = default;
            float* row = b + (nint)pc * ldb + j;
            for (int p = pc; p < end; p++, row += ldb)
                s = Vector512.FusedMultiplyAdd(Vector512.Create(a[p]), Vector512.Load(row), s);
            float betaEff = pc == 0 ? beta : 1f;
            if (!tileMerge) Merge(s, c + j, va, betaEff);
            else if (betaEff == 0) Vector512.Store(va * s, c + j);
            else Vector512.Store(va * s + Vector512.Create(betaEff) * Vector512.Load(c + j), c + j);
        }
    }

    /// <summary>One column of the ragged last panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scalar(int j, int k, float alpha, float* a, float* b, nint ldb, float beta, float* c, int kc)
    {
        for (int pc = 0; pc < k; pc += kc)
        {
            int end = Math.Min(k, pc + kc);
            float s = 0;
            for (int p = pc; p < end; p++) s = MathF.FusedMultiplyAdd(a[p], b[(nint)p * ldb + j], s);
            float betaEff = pc == 0 ? beta : 1f;
            c[j] = betaEff == 0 ? alpha * s : alpha * s + betaEff * c[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Merge(Vector512<float> s, float* c, Vector512<float> alpha, float beta)
    {
        if (beta == 0) Vector512.Store(s * alpha, c);
        else Vector512.Store(Vector512.FusedMultiplyAdd(s, alpha, Vector512.Load(c) * Vector512.Create(beta)), c);
    }
}
