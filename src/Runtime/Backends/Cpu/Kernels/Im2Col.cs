using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// f32 and f64 convolution as im2col + GEMM. The operands are first brought to a canonical layout (a strided copy, skipped
/// when the layout already is canonical, e.g. NHWC input and HWIO kernel): input [N, spatial…, C], kernel
/// [kernel spatial…, C/groups, O], output [N, out spatial…, O]. Then, per group and per block of output rows, the
/// patches [rows, kernel positions × C/groups] are gathered (zeros for padding and dilation holes; each
/// position copies a contiguous run of channels) and multiplied by the kernel with <c>Gemm.Sgemm</c> or
/// <c>Gemm.Dgemm</c>. Blocks
/// keep the patch buffer bounded; long kernels (the kernel gradient, whose "kernel" is the whole output) are also
/// split along the kernel positions and accumulated (beta = 1). A 1×1 stride-1 convolution is a single GEMM on the
/// input itself. Groups take consecutive columns of the kernel and the output: a feature group reads its slice of the
/// input channels, a batch group (the kernel gradient of a grouped convolution) its slice of the input batch.
/// </summary>
internal static class Im2Col
{
    /// <summary>C = A·B (or C += A·B when <paramref name="accumulate"/>), row-major with leading dimensions.</summary>
    public delegate void GemmFn<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, bool accumulate, Span<T> c, int ldc);

    public static readonly GemmFn<float> F32 = (m, n, k, a, lda, b, ldb, acc, c, ldc) => Gemm.Sgemm(false, false, m, n, k, 1f, a, lda, b, ldb, acc ? 1f : 0f, c, ldc);

    public static readonly GemmFn<double> F64 = (m, n, k, a, lda, b, ldb, acc, c, ldc) => Gemm.Dgemm(false, false, m, n, k, 1.0, a, lda, b, ldb, acc ? 1.0 : 0.0, c, ldc);

    /// <summary>Patch buffer budget in elements (16 MiB of f32).</summary>
    const long Budget = 1 << 22;

    sealed record Plan(Convolution.Geometry G, StridedCopy? LhsPack, StridedCopy? RhsPack, StridedCopy? OutUnpack, bool Pointwise,
        long[][] KernelIndex, long[] InSpatialStrides, ConvShallow.Plan? Shallow);

    public static Kernel Create<T>(Convolution.Geometry g, int lhs, int rhs, int dst, int n, GemmFn<T> gemm) where T : unmanaged
    {
        var dn = g.Dn;
        var lhsPerm = new[] { dn.InputBatchDimension }.Concat(dn.InputSpatialDimensions).Append(dn.InputFeatureDimension).ToArray();
        var rhsPerm = dn.KernelSpatialDimensions.Append(dn.KernelInputFeatureDimension).Append(dn.KernelOutputFeatureDimension).ToArray();
        var outPerm = new[] { dn.OutputBatchDimension }.Concat(dn.OutputSpatialDimensions).Append(dn.OutputFeatureDimension).ToArray();
        var outCanonical = outPerm.Select(d => g.Out[d]).ToArray();
        var outUnpack = IsIdentity(outPerm) ? null
            : new StridedCopy(outCanonical, StridedCopy.RowMajorStrides(outCanonical), outPerm.Select(d => StridedCopy.RowMajorStrides(g.Out)[d]).ToArray());
        bool pointwise = g.FeatureGroups == 1 && g.BatchGroups == 1 && g.WindowDims.All(XlaGen.Ops.WindowShapes.IsIdentity);
        long kp = g.KernelPositions;
        var kernelIndex = new long[kp][];
        var k = new long[g.Spatial];
        for (long i = 0; i < kp; i++)
        {
            kernelIndex[i] = (long[])k.Clone();
            ReduceWindow.Next(k, g.KernelSpatial);
        }
        if (g.GroupInFeatures > Array.MaxLength / 256) throw new NotSupportedException("the convolution has too many input features per group for the CPU executor");
        long width = kp * g.GroupInFeatures;
        var shallow = typeof(T) == typeof(float) && g.FeatureGroups == 1 && g.BatchGroups == 1 && width > 0 && width <= SmallKMax ? ConvShallow.For(g, (int)width) : null;
        var plan = new Plan(g, IsIdentity(lhsPerm) ? null : Pack(g.Lhs, lhsPerm), IsIdentity(rhsPerm) ? null : Pack(g.Rhs, rhsPerm), outUnpack, pointwise,
            kernelIndex, StridedCopy.RowMajorStrides(g.InSpatial), shallow);
        return f =>
        {
            var x = (T[])f.Data[lhs]!;
            var w = (T[])f.Data[rhs]!;
            var o = f.Alloc<T>(dst, n);
            if (n == 0) return;
            var pool = f.Context.Pool;
            var l = x;
            if (plan.LhsPack != null)
            {
                l = pool.Rent<T>(x.Length);
                plan.LhsPack.Run(x, l);
            }
            var kernel = w;
            if (plan.RhsPack != null)
            {
                kernel = pool.Rent<T>(w.Length);
                plan.RhsPack.Run(w, kernel);
            }
            var y = plan.OutUnpack == null ? o : pool.Rent<T>(n);
            Run(plan, l, kernel, y, pool, gemm);
            if (plan.OutUnpack != null)
            {
                plan.OutUnpack.Run(y, o);
                pool.Return(y);
            }
            if (!ReferenceEquals(l, x)) pool.Return(l);
            if (!ReferenceEquals(kernel, w)) pool.Return(kernel);
        };
    }

    static bool IsIdentity(long[] perm) => perm.Select((p, i) => p == i).All(b => b);

    static StridedCopy Pack(long[] dims, long[] perm)
    {
        var strides = StridedCopy.RowMajorStrides(dims);
        var packed = perm.Select(d => dims[d]).ToArray();
        return new StridedCopy(packed, perm.Select(d => strides[d]).ToArray(), StridedCopy.RowMajorStrides(packed));
    }

    static void Run<T>(Plan p, T[] l, T[] kernel, T[] y, BufferPool pool, GemmFn<T> gemm) where T : unmanaged
    {
        var g = p.G;
        bool batchGroups = g.BatchGroups > 1;
        int groups = (int)(batchGroups ? g.BatchGroups : g.FeatureGroups);
        int o = (int)g.OutFeatures, og = o / groups, cg = (int)g.GroupInFeatures, c = (int)g.InFeatures;
        long groupBatch = batchGroups ? g.Batch / groups : g.Batch;
        long rows = groupBatch * g.OutPositions;
        int kp = (int)g.KernelPositions;
        if (cg == 0 || kp == 0)
        {
            y.AsSpan().Clear();
            return;
        }
        if (p.Pointwise)
        {
            gemm((int)rows, o, c, l, c, kernel, o, false, y, o);
            return;
        }
        if (AllowShallow && typeof(T) == typeof(float) && groups == 1 && (long)kp * cg <= SmallKMax && Vector512.IsHardwareAccelerated
            && ReferenceEquals(gemm, F32) && ShallowF32(p, (float[])(object)l, (float[])(object)kernel, (float[])(object)y, rows, kp * cg, o, c, cg))
            return;
        if (Tiled && groups == 1 && TiledRows(rows, (long)kp * cg) is int tile and > 0)
        {
            RunTiles(p, l, kernel, y, rows, tile, kp, o, c, cg, gemm);
            return;
        }
        // blocks: at least a few hundred rows so the GEMM stays efficient, then as many kernel positions as fit
        long budget = Par.Scaled(Budget);
        int rowsPerBlock = (int)Math.Clamp(budget / ((long)kp * cg), Math.Min(rows, Par.Scaled(256)), rows);
        int positionsPerBlock = (int)Math.Clamp(budget / ((long)rowsPerBlock * cg), 1, kp);
        var patches = pool.Rent<T>(checked(rowsPerBlock * positionsPerBlock * cg));
        for (int group = 0; group < groups; group++)
        {
            int channel0 = batchGroups ? 0 : group * cg;
            long batch0 = batchGroups ? group * groupBatch : 0;
            for (long r0 = 0; r0 < rows; r0 += rowsPerBlock)
            {
                int rs = (int)Math.Min(rowsPerBlock, rows - r0);
                for (int k0 = 0; k0 < kp; k0 += positionsPerBlock)
                {
                    int ks = Math.Min(positionsPerBlock, kp - k0);
                    int width = ks * cg;
                    long work = (long)rs * width;
                    if (Par.Worth(work, Par.CheapGrain) && rs >= 2)
                        Par.For(rs, Math.Max(1, Par.CheapGrain / width), (lo, hi) => Fill(p, l, patches, r0, lo, hi, k0, ks, channel0, c, cg, batch0));
                    else Fill(p, l, patches, r0, 0, rs, k0, ks, channel0, c, cg, batch0);
                    gemm(rs, og, width, patches, width, kernel.AsSpan(k0 * cg * o + group * og), o, k0 > 0, y.AsSpan((int)(r0 * o + group * og)), o);
                }
            }
        }
        pool.Return(patches);
    }

    /// <summary>Tests and the bench turn the tiled path off to compare it with the blocked path (bitwise equal).</summary>
    internal static volatile bool Tiled = Environment.GetEnvironmentVariable("XLAGEN_CONV_TILED") is not ("0" or "false");

    /// <summary>Patch elements per tile: half of a core's L2 (512 KiB of f32), so a tile is still in cache when the
    /// GEMM packs it.</summary>
    const long TileBudget = 1 << 17;

    /// <summary>Rows per tile of <see cref="RunTiles"/>, or 0 when the blocked path fits better: a patch row wider than
    /// the tile budget allows at least 32 rows, or too few rows to give every core two tiles.</summary>
    static int TiledRows(long rows, long width)
    {
        long tile = TileBudget / Math.Max(1, width);
        if (tile < 32) return 0;
        tile = Math.Min(tile, 512) / 16 * 16;
        return rows >= 2L * Par.Workers * tile ? (int)tile : 0;
    }

    /// <summary>Convolutions that took the tiled path on the current thread (tests check that they covered it).</summary>
    [ThreadStatic]
    internal static long TiledRunsOnThisThread;

    static class TileBuffer<T>
    {
        [ThreadStatic]
        public static T[]? Patches;
    }

    /// <summary>
    /// Tiles of output rows, split across cores: each core gathers a tile's patches into its own L2-sized buffer and
    /// multiplies them by the whole kernel at once (its GEMM runs on that core alone), so the patches are written
    /// and packed while in cache instead of passing through memory as the blocked path's 16 MiB blocks do. Every
    /// output element is the same GEMM dot product over all kernel positions as in the blocked path (one GEMM over
    /// the full patch width), so the results are bitwise equal.
    /// </summary>
    static void RunTiles<T>(Plan p, T[] l, T[] kernel, T[] y, long rows, int tile, int kp, int o, int c, int cg, GemmFn<T> gemm) where T : unmanaged
    {
        int width = kp * cg;
        TiledRunsOnThisThread++;
        Par.For(rows, tile, (lo, hi) =>
        {
            var patches = TileBuffer<T>.Patches;
            if (patches == null || patches.Length < tile * width) TileBuffer<T>.Patches = patches = new T[tile * width];
            for (long r0 = lo; r0 < hi; r0 += tile)
            {
                int rs = (int)Math.Min(tile, hi - r0);
                Fill(p, l, patches, r0, 0, rs, 0, kp, 0, c, cg, 0);
                gemm(rs, o, width, patches, width, kernel, o, false, y.AsSpan((int)(r0 * o)), o);
            }
        });
    }

    /// <summary>Tests turn the shallow path off to compare it with the GEMM path (the results are bitwise equal, so
    /// other code running meanwhile sees no difference).</summary>
    internal static volatile bool AllowShallow = true;

    /// <summary>Convolutions that took the shallow path on the current thread (tests check that they covered it).</summary>
    [ThreadStatic]
    internal static long ShallowRunsOnThisThread;

    /// <summary>Patch widths (kernel positions × channels) up to which a convolution runs <see cref="ShallowF32"/>.</summary>
    const int SmallKMax = 64;

    /// <summary>Rows of patches gathered at a time by <see cref="ShallowF32"/> (in L1 with their outputs' inputs).</summary>
    const int ShallowRows = 128;

    [ThreadStatic]
    static float[]? shallowPatches;

    /// <summary>
    /// A shallow convolution (few input channels: the first layer of an image model, 3×3×1 = 9 products per output):
    /// the GEMM over its patches would be as deep as the patch (k = 9), so packing and storing C dominate and the patch
    /// matrix (k floats per output pixel) is written and read once more. A 2-D one runs <see cref="ConvShallow"/>
    /// straight from the image; others gather patches 128 rows at a time into a small buffer and compute each output
    /// row in registers. Either way every element is the same chain of fused multiply-adds from zero over the patch, in
    /// patch order, that the GEMM's micro-kernel runs for a k within one k-block (alpha 1, beta 0), so the result is
    /// bitwise the GEMM's. Rows are split across cores.
    /// </summary>
    static bool ShallowF32(Plan p, float[] l, float[] kernel, float[] y, long rows, int width, int o, int c, int cg)
    {
        if (width > Gemm.SingleKBlockF32) return false;
        ShallowRunsOnThisThread++;
        int kp = width / cg;
        var g = p.G;
        if (p.Shallow is { } plan)
        {
            // 2-D: straight from the image (ConvShallow), split over (image, output row) pairs
            long outRows = g.Batch * g.OutSpatial[0], perRow = Math.Max(1, g.OutSpatial[1] * width * o);
            if (Par.Worth(outRows * perRow, Par.CheapGrain) && outRows >= 2) Par.For(outRows, Math.Max(1, Par.CheapGrain / perRow), (lo, hi) => ConvShallow.Rows(plan, l, kernel, y, lo, hi));
            else ConvShallow.Rows(plan, l, kernel, y, 0, outRows);
            return true;
        }
        void Body(long lo, long hi)
        {
            var patches = shallowPatches ??= new float[ShallowRows * SmallKMax];
            for (long r0 = lo; r0 < hi; r0 += ShallowRows)
            {
                int count = (int)Math.Min(ShallowRows, hi - r0);
                Fill(p, l, patches, r0, 0, count, 0, kp, 0, c, cg, 0);
                ShallowRowsF32(patches, count, width, kernel, o, y, r0 * o);
            }
        }
        long work = rows * width * o;
        if (Par.Worth(work, Par.CheapGrain) && rows >= 2 * ShallowRows) Par.For(rows, Math.Max(ShallowRows, Par.CheapGrain / Math.Max(1, (long)width * o)), Body);
        else Body(0, rows);
        return true;
    }

    /// <summary>y[yOff + i·o + j] = Σ_t patches[i·width + t] · kernel[t·o + j], fused multiply-adds in t order from zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void ShallowRowsF32(float[] patches, int count, int width, float[] kernel, int o, float[] y, long yOff)
    {
        fixed (float* pp = patches, pk = kernel, py = y)
        {
            for (int i = 0; i < count; i++)
            {
                float* a = pp + (nint)i * width;
                float* dst = py + yOff + (nint)i * o;
                int j = 0;
                for (; j + 32 <= o; j += 32)
                {
                    Vector512<float> s0 = default, s1 = default;
                    float* b = pk + j;
                    for (int t = 0; t < width; t++, b += o)
                    {
                        var x = Vector512.Create(a[t]);
                        s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), s0);
                        s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 16), s1);
                    }
                    Vector512.Store(s0, dst + j);
                    Vector512.Store(s1, dst + j + 16);
                }
                for (; j + 16 <= o; j += 16)
                {
                    Vector512<float> s0 = default;
                    float* b = pk + j;
                    for (int t = 0; t < width; t++, b += o) s0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[t]), Vector512.Load(b), s0);
                    Vector512.Store(s0, dst + j);
                }
                for (; j < o; j++)
                {
                    float s = 0;
                    for (int t = 0; t < width; t++) s = MathF.FusedMultiplyAdd(a[t], pk[(nint)t * o + j], s);
                    dst[j] = s;
                }
            }
        }
    }

    /// <summary>Patch rows [lo, hi) of the block starting at output row <paramref name="r0"/>: for each kernel
    /// position in [k0, k0 + ks), the group's <paramref name="cg"/> channels at the input position it reads, or zeros.
    /// When a row of kernel positions along the innermost spatial dim reads consecutive input positions (no dilation
    /// or reversal there) and all channels (no feature groups), the row is one contiguous copy between zeroed edges.</summary>
    static void Fill<T>(Plan p, T[] l, T[] patches, long r0, long lo, long hi, int k0, int ks, int channel0, int c, int cg, long batch0) where T : unmanaged
    {
        var g = p.G;
        int sp = g.Spatial;
        long outPositions = g.OutPositions, inPositions = g.InPositions;
        int width = ks * cg;
        int last = sp - 1;
        var wl = sp > 0 ? g.WindowDims[last] : null;
        bool runs = wl != null && cg == c && wl.WindowDilation == 1 && wl.BaseDilation == 1 && !wl.WindowReversal;
        int outerDims = runs ? last : sp;
        long kLast = sp > 0 ? g.KernelSpatial[last] : 1, inLast = sp > 0 ? g.InSpatial[last] : 1;
        Span<long> os = stackalloc long[Math.Max(1, sp)];
        long first = r0 + lo;
        ReduceWindow.Unravel(first % Math.Max(1, outPositions), g.OutSpatial, os);
        long batch = batch0 + first / Math.Max(1, outPositions);
        for (long r = lo; r < hi; r++)
        {
            var row = patches.AsSpan((int)(r * width), width);
            long inBase = batch * inPositions;
            for (int kk = 0; kk < ks;)
            {
                var k = p.KernelIndex[k0 + kk];
                long lin = 0;
                bool inside = true;
                for (int s = 0; s < outerDims; s++)
                {
                    int u = g.Window.Index(s, os[s], k[s]);
                    if (u < 0)
                    {
                        inside = false;
                        break;
                    }
                    lin += u * p.InSpatialStrides[s];
                }
                if (!runs)
                {
                    var cell = row.Slice(kk * cg, cg);
                    if (!inside) cell.Clear();
                    else if (cg == 1) cell[0] = l[(inBase + lin) * c + channel0];
                    else l.AsSpan((int)((inBase + lin) * c + channel0), cg).CopyTo(cell);
                    kk++;
                    continue;
                }
                // kernel positions kk … kk + len - 1 differ only in the innermost index, which reads input u0 + t
                int len = (int)Math.Min(kLast - k[last], ks - kk);
                var cells = row.Slice(kk * cg, len * cg);
                kk += len;
                if (!inside)
                {
                    cells.Clear();
                    continue;
                }
                long u0 = os[last] * wl!.Stride - wl.PaddingLow + k[last];
                int tLo = (int)Math.Clamp(-u0, 0, len), tHi = (int)Math.Clamp(inLast - u0, tLo, len);
                cells[..(tLo * cg)].Clear();
                if (tHi > tLo) l.AsSpan((int)((inBase + lin + u0 + tLo) * c), (tHi - tLo) * cg).CopyTo(cells[(tLo * cg)..]);
                cells[(tHi * cg)..].Clear();
            }
            for (int s = sp - 1; s >= 0; s--)
            {
                if (++os[s] < g.OutSpatial[s]) goto next;
                os[s] = 0;
            }
            batch++;
            next:;
        }
    }
}
