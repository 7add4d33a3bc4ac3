using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel. It multiplies an MR×kc packed panel of A (column p holds the MR values
/// A[0..MR-1, p] contiguously) by a kc×NR panel of B (row p holds B[p, 0..NR-1] contiguously at b + p*ldb: the
/// packed panel with ldb = NR, or B itself when it is not transposed) and writes the full MR×NR tile
/// C = alpha * acc + beta * C with C row stride ldc and unit column stride. When beta is zero, C is not read
/// (so NaN garbage is ignored).
/// </summary>
internal unsafe interface IGemmMicroKernel<T> where T : unmanaged
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract void Run(nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta);

    /// <summary>Like <see cref="Run"/> but for only the first <paramref name="rows"/> (1..MR) rows of the A panel
    /// (still packed with stride MR), writing rows×NR of C.</summary>
    static abstract void RunRows(int rows, nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta);
}

/// <summary>Fallback for kernels without dedicated partial-row variants.</summary>
internal static unsafe class GemmEdge
{
    public static void RowsViaTile<T, TK>(int rows, nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
        where T : unmanaged, INumber<T>
        where TK : IGemmMicroKernel<T>
    {
        if (rows == TK.MR)
        {
            TK.Run(kc, a, b, ldb, c, ldc, alpha, beta);
            return;
        }
        int nr = TK.NR;
        T* tile = stackalloc T[TK.MR * nr];
        TK.Run(kc, a, b, ldb, tile, nr, T.One, T.Zero);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < nr; j++)
            {
                T v = alpha * tile[i * nr + j];
                c[i * ldc + j] = beta == T.Zero ? v : v + beta * c[i * ldc + j];
            }
    }
}

/// <summary>Cache-blocking sizes in elements. MC is rounded to a multiple of MR and NC to a multiple of NR.</summary>
internal readonly record struct GemmBlocking(int MC, int KC, int NC);

/// <summary>
/// Goto/BLIS-style blocked driver, single-threaded. Loop nest (outer to inner):
/// ic over M by MC (packed A block, MC×KC, lives in L2/L3), pc over K by KC, jc over N by NC (packed B block,
/// KC×NC, lives in L2), ir over the block by MR (A micro-panel stays in L1), jr by NR (B micro-panels stream from L2).
/// C is addressed with general strides (rsc, csc) so the caller can compute a transposed product;
/// tiles of full NR width with csc == 1 are written directly (partial row panels by 1..MR-1-row kernels), the
/// rest go through a small tile buffer.
/// </summary>
internal static unsafe class GemmDriver<T, TK>
    where T : unmanaged, INumber<T>
    where TK : IGemmMicroKernel<T>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, nint lda, T* b, nint ldb, T beta, T* c, nint rsc, nint csc, GemmBlocking blocking)
    {
        int mr = TK.MR, nr = TK.NR;
        // Block sizes: at most the configured ones, balanced so that e.g. k = 512 with KC = 384 runs as 256 + 256
        // rather than 384 + 128.
        int mcMax = Balanced(m, Math.Max(mr, blocking.MC / mr * mr), mr);
        int ncMax = Balanced(n, Math.Max(nr, blocking.NC / nr * nr), nr);
        int kcMax = KBlock(k, blocking);

        int mcAlloc = Math.Min(mcMax, RoundUp(m, mr));
        int ncAlloc = Math.Min(ncMax, RoundUp(n, nr));
        int kcAlloc = Math.Min(kcMax, k);
        var buffers = GemmPackBuffers<T>.Get((nint)mcAlloc * kcAlloc, (nint)ncAlloc * kcAlloc, mr * nr);
        T* ap = buffers.A, bp = buffers.B, tile = buffers.Tile;
        var poll = new WorkPoll();

        for (int ic = 0; ic < m; ic += mcMax)
        {
            int mc = Math.Min(mcMax, m - ic);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                T betaEff = pc == 0 ? beta : T.One;
                if (transA)
                    PackATrans(a + (nint)pc * lda + ic, lda, mc, kc, ap);
                else
                    PackANoTrans(a + (nint)ic * lda + pc, lda, mc, kc, ap);

                for (int jc = 0; jc < n; jc += ncMax)
                {
                    int nc = Math.Min(ncMax, n - jc);
                    // With few row panels a packed B block is barely reused: read full-width panels of a
                    // non-transposed B in place instead (only the ragged last panel is packed).
                    bool direct = !transB && mc <= DirectBMaxRows * mr;
                    if (transB)
                        PackBTrans(b + (nint)jc * ldb + pc, ldb, kc, nc, bp);
                    else if (!direct)
                        PackBNoTrans(b + (nint)pc * ldb + jc, ldb, kc, nc, bp);
                    else if (nc % nr != 0)
                        PackBNoTrans(b + (nint)pc * ldb + jc + nc / nr * nr, ldb, kc, nc % nr, bp + (nint)(nc / nr * nr) * kc);

                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mrEff = Math.Min(mr, mc - ir);
                        poll.Add((long)mr * nc * kc);
                        T* apanel = ap + (nint)ir * kc;
                        T* crow = c + (nint)(ic + ir) * rsc + (nint)jc * csc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nrEff = Math.Min(nr, nc - jr);
                            T* bpanel;
                            nint bstride;
                            if (direct && nrEff == nr)
                            {
                                bpanel = b + (nint)pc * ldb + jc + jr;
                                bstride = ldb;
                            }
                            else
                            {
                                bpanel = bp + (nint)jr * kc;
                                bstride = nr;
                            }
                            T* ct = crow + (nint)jr * csc;
                            if (nrEff == nr && csc == 1)
                            {
                                if (mrEff == mr)
                                    TK.Run(kc, apanel, bpanel, bstride, ct, rsc, alpha, betaEff);
                                else
                                    TK.RunRows(mrEff, kc, apanel, bpanel, bstride, ct, rsc, alpha, betaEff);
                            }
                            else
                            {
                                TK.RunRows(mrEff, kc, apanel, bpanel, bstride, tile, nr, T.One, T.Zero);
                                MergeTile(tile, nr, ct, rsc, csc, mrEff, nrEff, alpha, betaEff);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The k-block the driver uses for depth <paramref name="k"/> (every block this long but the last).</summary>
    public static int KBlock(int k, GemmBlocking blocking) => Math.Min(k, Balanced(k, Math.Max(8, blocking.KC / 8 * 8), 8));

    /// <summary>A block of at most this many row panels reads non-transposed B in place instead of packing it.</summary>
    private const int DirectBMaxRows = 2;

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    /// <summary>The step (a multiple of unit, at most max) that cuts extent into the fewest, most even blocks.</summary>
    private static int Balanced(int extent, int max, int unit)
    {
        if (extent <= max)
            return max;
        int blocks = (extent + max - 1) / max;
        return Math.Min(max, RoundUp((extent + blocks - 1) / blocks, unit));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeTile(T* tile, nint ldt, T* c, nint rsc, nint csc, int rows, int cols, T alpha, T beta)
    {
        if (csc <= rsc)
        {
            for (int i = 0; i < rows; i++)
            {
                T* t = tile + i * ldt;
                T* ci = c + i * rsc;
                if (beta == T.Zero)
                    for (int j = 0; j < cols; j++)
                        ci[j * csc] = alpha * t[j];
                else
                    for (int j = 0; j < cols; j++)
                        ci[j * csc] = alpha * t[j] + beta * ci[j * csc];
            }
        }
        else
        {
            // Transposed C (rsc == 1): walk columns of the tile so that writes to C are contiguous.
            int j = 0;
            if (typeof(T) == typeof(float) && rows == 8 && rsc == 1 && Avx.IsSupported)
            {
                j = cols & ~7;
                GemmPack.StoreTransposed8((float*)tile, ldt, (float*)c, csc, j, float.CreateTruncating(alpha), float.CreateTruncating(beta));
            }
            for (; j < cols; j++)
            {
                T* t = tile + j;
                T* cj = c + j * csc;
                if (beta == T.Zero)
                    for (int i = 0; i < rows; i++)
                        cj[i * rsc] = alpha * t[i * ldt];
                else
                    for (int i = 0; i < rows; i++)
                        cj[i * rsc] = alpha * t[i * ldt] + beta * cj[i * rsc];
            }
        }
    }

    /// <summary>Packs op(A) rows [0, mc) × cols [0, kc) with A stored row-major (element (i,p) at a[i*lda+p]).</summary>
    private static void PackANoTrans(T* a, nint lda, int mc, int kc, T* dst) => PackTransposed(a, lda, mc, TK.MR, kc, dst);

    /// <summary>Packs op(A) rows [0, mc) × cols [0, kc) with A stored transposed (element (i,p) at a[p*lda+i]).</summary>
    private static void PackATrans(T* a, nint lda, int mc, int kc, T* dst) => PackCopied(a, lda, mc, TK.MR, kc, dst);

    /// <summary>Packs op(B) rows [0, kc) × cols [0, nc) with B stored row-major (element (p,j) at b[p*ldb+j]).</summary>
    private static void PackBNoTrans(T* b, nint ldb, int kc, int nc, T* dst) => PackCopied(b, ldb, nc, TK.NR, kc, dst);

    /// <summary>Packs op(B) rows [0, kc) × cols [0, nc) with B stored transposed (element (p,j) at b[j*ldb+p]).</summary>
    private static void PackBTrans(T* b, nint ldb, int kc, int nc, T* dst) => PackTransposed(b, ldb, nc, TK.NR, kc, dst);

    /// <summary>
    /// Packs <paramref name="count"/> lines of <paramref name="kc"/> elements, line l at src[l*ld], into panels of
    /// <paramref name="width"/> lines stored k-major (panel element (p, l) at panel[p*width + l]), the last panel padded
    /// with zeros. A's rows with A row-major and B's columns with B transposed are both this.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(T* src, nint ld, int count, int width, int kc, T* dst)
    {
        for (int first = 0; first < count; first += width)
        {
            int lines = Math.Min(width, count - first);
            T* d = dst + (nint)first * kc;
            T* s = src + first * ld;
            if (lines == width)
            {
                GemmPack.TransposeRowsToPanel(s, ld, d, width, kc);
                continue;
            }
            for (int l = 0; l < lines; l++)
            {
                T* line = s + l * ld;
                for (int p = 0; p < kc; p++)
                    d[(nint)p * width + l] = line[p];
            }
            for (int p = 0; p < kc; p++)
                for (int l = lines; l < width; l++)
                    d[(nint)p * width + l] = T.Zero;
        }
    }

    /// <summary>
    /// Packs <paramref name="count"/> lines stored contiguously along k (line l is src[l], src[ld + l], …) into
    /// zero-padded panels of <paramref name="width"/>: A's rows with A transposed and B's columns with B row-major.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackCopied(T* src, nint ld, int count, int width, int kc, T* dst)
    {
        for (int first = 0; first < count; first += width)
            GemmPack.CopyRowsPadded(src + first, ld, dst + (nint)first * kc, width, Math.Min(width, count - first), kc);
    }
}

/// <summary>
/// Per-thread pack buffers (pinned, 64-byte aligned), grown on demand and reused across calls, so a call allocates
/// nothing once a thread has seen its largest problem.
/// </summary>
internal sealed unsafe class GemmPackBuffers<T> where T : unmanaged
{
    private const int Align = 64;

    [ThreadStatic] private static GemmPackBuffers<T>? t_instance;

    private T[]? _storage;
    private nint _capacity;

    public T* A { get; private set; }
    public T* B { get; private set; }
    public T* Tile { get; private set; }

    public static GemmPackBuffers<T> Get(nint aElems, nint bElems, nint tileElems)
    {
        var inst = t_instance ??= new GemmPackBuffers<T>();
        inst.Ensure(aElems, bElems, tileElems);
        return inst;
    }

    private void Ensure(nint aElems, nint bElems, nint tileElems)
    {
        nint pad = Align / sizeof(T);
        aElems = RoundUp(aElems, pad);
        bElems = RoundUp(bElems, pad);
        tileElems = RoundUp(tileElems, pad);
        nint need = aElems + bElems + tileElems + pad;
        if (_storage is null || need > _capacity)
        {
            nint cap = Math.Max(need, _capacity + _capacity / 2);
            _storage = GC.AllocateUninitializedArray<T>(checked((int)cap), pinned: true);
            _capacity = cap;
        }
        T* basePtr = (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        nint mis = (nint)basePtr & (Align - 1);
        T* aligned = mis == 0 ? basePtr : (T*)((byte*)basePtr + (Align - mis));
        A = aligned;
        B = aligned + aElems;
        Tile = B + bElems;
    }

    private static nint RoundUp(nint x, nint to) => (x + to - 1) / to * to;
}
