using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// f32 2-D convolutions with at most 12 output rows (batch × output positions) and 16 or 32 output features, summed over
/// a long patch: the kernel gradient of a first layer (dW of a 3×3 convolution over one input channel, [N,28,28,1] ⊛
/// [N,26,26,32] → [3,3,1,32], a patch of 676 positions × 128 images). Im2col would first copy the whole "kernel" (the
/// output gradient, 11 MB at batch 128) into canonical order and then run a GEMM of 9 rows; here both operands are read
/// in their own layouts and every output row's 32 lanes stay in registers while the kernel streams past once.
/// <para>
/// The sum is split into four fixed parts over the input features, added in order at the end, whatever the number of
/// cores: results are reproducible, but rounded differently from the im2col GEMM (the patch order and its k-blocks
/// differ). Padding and dilation holes read a zero, as the GEMM's zero patch entries do.
/// </para>
/// </summary>
internal static unsafe class ConvFewRows
{
    const int MaxRows = 12;
    const int Parts = 4;

    /// <summary>Calls that took this path on the current thread (tests check that a shape they mean to cover did).</summary>
    [ThreadStatic]
    internal static long RunsOnThisThread;

    public static Kernel? TryCreate(Convolution.Geometry g, int lhs, int rhs, int dst, int n)
    {
        if (!Vector512.IsHardwareAccelerated || g.FeatureGroups != 1 || g.BatchGroups != 1 || g.Spatial != 2) return null;
        long rows = g.Batch * g.OutPositions;
        int o = (int)g.OutFeatures, cg = (int)g.GroupInFeatures;
        if (rows < 1 || rows > MaxRows || (o != 16 && o != 32) || g.KernelPositions * cg < 1024) return null;
        var dn = g.Dn;
        var sl = StridedCopy.RowMajorStrides(g.Lhs);
        var sr = StridedCopy.RowMajorStrides(g.Rhs);
        var so = StridedCopy.RowMajorStrides(g.Out);
        if (sr[dn.KernelOutputFeatureDimension] != 1 || so[dn.OutputFeatureDimension] != 1) return null;
        long lBatch = sl[dn.InputBatchDimension], lh = sl[dn.InputSpatialDimensions[0]], lw = sl[dn.InputSpatialDimensions[1]];
        long kh = sr[dn.KernelSpatialDimensions[0]], kw = sr[dn.KernelSpatialDimensions[1]];
        // per kernel position q and output row r: the input offset it reads (feature 0) and a mask, zero for a padding or
        // dilation hole and for the unused rows of the 12-row block; and per q its kernel row's offset
        int positions = (int)g.KernelPositions, kernelW = (int)g.KernelSpatial[1];
        var offsets = new long[positions * MaxRows];
        var masks = new int[positions * MaxRows];
        var kernelRows = new long[positions];
        long outW = g.OutSpatial[1], plane = g.OutPositions;
        for (int q = 0; q < positions; q++)
        {
            int i = q / kernelW, j = q % kernelW;
            kernelRows[q] = i * kh + j * kw;
            for (int r = 0; r < rows; r++)
            {
                long b = r / plane, rem = r % plane, oh = rem / outW, ow = rem % outW;
                int ih = g.Window.Index(0, oh, i), iw = ih < 0 ? -1 : g.Window.Index(1, ow, j);
                if (iw < 0) continue;
                offsets[q * MaxRows + r] = b * lBatch + ih * lh + iw * lw;
                masks[q * MaxRows + r] = -1;
            }
        }
        var plan = new Plan(g, (int)rows, o, cg, sl[dn.InputFeatureDimension], sr[dn.KernelInputFeatureDimension],
            so[dn.OutputBatchDimension], so[dn.OutputSpatialDimensions[0]], so[dn.OutputSpatialDimensions[1]], offsets, masks, kernelRows);
        return f =>
        {
            var x = (float[])f.Data[lhs]!;
            var w = (float[])f.Data[rhs]!;
            var y = f.Alloc<float>(dst, n);
            Run(plan, x, w, y, f.Context.Pool);
        };
    }

    sealed record Plan(Convolution.Geometry G, int Rows, int O, int Cg, long LFeature, long KFeature, long OBatch, long OH, long OW,
        long[] Offsets, int[] Masks, long[] KernelRows);

    /// <summary>Row r's input value, broadcast; +0 where its mask is clear (a padding or dilation hole, or a row past the
    /// convolution's, whose sums are dropped), as the im2col GEMM multiplies a zero patch entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Value(float* xc, long* off, int* mask, int r) => Vector512.Create(xc[off[r]]) & Vector512.Create(mask[r]).AsSingle();

    static void Run(Plan p, float[] x, float[] w, float[] y, BufferPool pool)
    {
        RunsOnThisThread++;
        int parts = Math.Min(Parts, p.Cg);
        int rowWidth = p.Rows * p.O;
        var partial = pool.Rent<float>(parts * rowWidth);
        long work = p.G.KernelPositions * p.Cg * rowWidth;
        if (Par.Worth(work, Par.CheapGrain)) Par.For(parts, 1, (lo, hi) => RunParts(p, x, w, partial, (int)lo, (int)hi, parts));
        else RunParts(p, x, w, partial, 0, parts, parts);
        // the parts in order, then the output in its own layout
        var g = p.G;
        long outW = g.OutSpatial[1], plane = g.OutPositions;
        for (int r = 0; r < p.Rows; r++)
        {
            long b = r / plane, rem = r % plane, oh = rem / outW, ow = rem % outW;
            long at = b * p.OBatch + oh * p.OH + ow * p.OW;
            for (int j = 0; j < p.O; j++)
            {
                float s = partial[r * p.O + j];
                for (int q = 1; q < parts; q++) s += partial[q * rowWidth + r * p.O + j];
                y[at + j] = s;
            }
        }
        pool.Return(partial);
    }

    static void RunParts(Plan p, float[] x, float[] w, float[] partial, int lo, int hi, int parts)
    {
        for (int q = lo; q < hi; q++)
        {
            int c0 = (int)((long)p.Cg * q / parts), c1 = (int)((long)p.Cg * (q + 1) / parts);
            Part(p, x, w, partial, q * p.Rows * p.O, c0, c1);
        }
    }

    /// <summary>Output rows' sums over input features [c0, c1) and every kernel position, into partial[at…]: feature by
    /// feature, kernel positions in order within each, so the kernel (the output gradient, [N, H, W, O] with N as the
    /// features) streams past in memory order instead of one row per image at a stride of a whole image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Part(Plan p, float[] x, float[] w, float[] partial, int at, int c0, int c1)
    {
        int positions = p.KernelRows.Length;
        // allocated before the loop: a stackalloc after it made the JIT store every accumulator to the stack at each
        // multiply-add (0.84 -> 0.19 ms for the sample CNN's first-layer kernel gradient)
        float* all = stackalloc float[MaxRows * 32];
        Vector512<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default,
            a4 = default, b4 = default, a5 = default, b5 = default, a6 = default, b6 = default, a7 = default, b7 = default,
            a8 = default, b8 = default, a9 = default, b9 = default, a10 = default, b10 = default, a11 = default, b11 = default;
        bool wide = p.O == 32;
        fixed (float* px = x, pw = w)
        fixed (long* offsets = p.Offsets, kernelRows = p.KernelRows)
        fixed (int* masks = p.Masks)
        {
            // one flat loop over (feature, kernel position), no calls inside: the 24 accumulators stay in registers
            float* xc = px + c0 * p.LFeature;
            float* kc = pw + c0 * p.KFeature;
            long* off = offsets;
            int* mask = masks;
            int q = 0;
            for (long step = 0, steps = (long)(c1 - c0) * positions; step < steps; step++)
            {
                    float* k = kc + kernelRows[q];
                    var k0 = Vector512.Load(k);
                    var k1 = wide ? Vector512.Load(k + 16) : default;
                    Vector512<float> v;
                    v = Value(xc, off, mask, 0); a0 = Vector512.FusedMultiplyAdd(v, k0, a0); b0 = Vector512.FusedMultiplyAdd(v, k1, b0);
                    v = Value(xc, off, mask, 1); a1 = Vector512.FusedMultiplyAdd(v, k0, a1); b1 = Vector512.FusedMultiplyAdd(v, k1, b1);
                    v = Value(xc, off, mask, 2); a2 = Vector512.FusedMultiplyAdd(v, k0, a2); b2 = Vector512.FusedMultiplyAdd(v, k1, b2);
                    v = Value(xc, off, mask, 3); a3 = Vector512.FusedMultiplyAdd(v, k0, a3); b3 = Vector512.FusedMultiplyAdd(v, k1, b3);
                    v = Value(xc, off, mask, 4); a4 = Vector512.FusedMultiplyAdd(v, k0, a4); b4 = Vector512.FusedMultiplyAdd(v, k1, b4);
                    v = Value(xc, off, mask, 5); a5 = Vector512.FusedMultiplyAdd(v, k0, a5); b5 = Vector512.FusedMultiplyAdd(v, k1, b5);
                    v = Value(xc, off, mask, 6); a6 = Vector512.FusedMultiplyAdd(v, k0, a6); b6 = Vector512.FusedMultiplyAdd(v, k1, b6);
                    v = Value(xc, off, mask, 7); a7 = Vector512.FusedMultiplyAdd(v, k0, a7); b7 = Vector512.FusedMultiplyAdd(v, k1, b7);
                    v = Value(xc, off, mask, 8); a8 = Vector512.FusedMultiplyAdd(v, k0, a8); b8 = Vector512.FusedMultiplyAdd(v, k1, b8);
                    v = Value(xc, off, mask, 9); a9 = Vector512.FusedMultiplyAdd(v, k0, a9); b9 = Vector512.FusedMultiplyAdd(v, k1, b9);
                    v = Value(xc, off, mask, 10); a10 = Vector512.FusedMultiplyAdd(v, k0, a10); b10 = Vector512.FusedMultiplyAdd(v, k1, b10);
                    v = Value(xc, off, mask, 11); a11 = Vector512.FusedMultiplyAdd(v, k0, a11); b11 = Vector512.FusedMultiplyAdd(v, k1, b11);
                    off += MaxRows;
                    mask += MaxRows;
                    if (++q == positions)
                    {
                        q = 0;
                        off = offsets;
                        mask = masks;
                        xc += p.LFeature;
                        kc += p.KFeature;
                    }
            }
        }
        Vector512.Store(a0, all + 0 * 32); Vector512.Store(b0, all + 0 * 32 + 16);
        Vector512.Store(a1, all + 1 * 32); Vector512.Store(b1, all + 1 * 32 + 16);
        Vector512.Store(a2, all + 2 * 32); Vector512.Store(b2, all + 2 * 32 + 16);
        Vector512.Store(a3, all + 3 * 32); Vector512.Store(b3, all + 3 * 32 + 16);
        Vector512.Store(a4, all + 4 * 32); Vector512.Store(b4, all + 4 * 32 + 16);
        Vector512.Store(a5, all + 5 * 32); Vector512.Store(b5, all + 5 * 32 + 16);
        Vector512.Store(a6, all + 6 * 32); Vector512.Store(b6, all + 6 * 32 + 16);
        Vector512.Store(a7, all + 7 * 32); Vector512.Store(b7, all + 7 * 32 + 16);
        Vector512.Store(a8, all + 8 * 32); Vector512.Store(b8, all + 8 * 32 + 16);
        Vector512.Store(a9, all + 9 * 32); Vector512.Store(b9, all + 9 * 32 + 16);
        Vector512.Store(a10, all + 10 * 32); Vector512.Store(b10, all + 10 * 32 + 16);
        Vector512.Store(a11, all + 11 * 32); Vector512.Store(b11, all + 11 * 32 + 16);
        for (int r = 0; r < p.Rows; r++)
            new ReadOnlySpan<float>(all + r * 32, p.O).CopyTo(partial.AsSpan(at + r * p.O, p.O));
    }
}
