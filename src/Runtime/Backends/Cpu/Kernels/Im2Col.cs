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
        long[][] KernelIndex, long[] InSpatialStrides);

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
        var plan = new Plan(g, IsIdentity(lhsPerm) ? null : Pack(g.Lhs, lhsPerm), IsIdentity(rhsPerm) ? null : Pack(g.Rhs, rhsPerm), outUnpack, pointwise,
            kernelIndex, StridedCopy.RowMajorStrides(g.InSpatial));
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
