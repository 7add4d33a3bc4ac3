using System.Numerics.Tensors;
using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// f32 2-D convolutions in the form of a kernel gradient, dW = Pᵀ·dY: the "kernel" operand is the output gradient dY in
/// NHWC order (its input-feature dim, the images, outermost and its output features innermost, so it already is the
/// matrix [N·positions, O]), the input's batch dim is x's channel dim (contiguous in NHWC), and the result is HWIO.
/// P is the forward convolution's patch matrix of x ([N·positions, kernel positions × C]). Im2col would first copy
/// x and dY into canonical order (the feature and batch dims swapped) and gather a 16 MiB patch block per GEMM;
/// here fixed chunks of <see cref="ChunkRows"/> rows of P are gathered straight from x into a per-core buffer that
/// stays in cache, each multiplied as Pᵀ·dY by a GEMM on that core, and the chunks' products are added in chunk order.
/// <para>
/// The chunking is fixed (not by core count), so results are reproducible at any number of cores; they are rounded
/// differently from the im2col path (the reduction over N·positions is split at chunk edges). Padding and dilation
/// holes read a zero, as the im2col patches do.
/// </para>
/// </summary>
internal static class ConvKernelGradient
{
    /// <summary>Rows of P (images × gradient positions) per chunk.</summary>
    internal const int ChunkRows = 512;

    /// <summary>Calls that took this path on the current thread (tests check that a shape they mean to cover did).</summary>
    [ThreadStatic]
    internal static long RunsOnThisThread;

    [ThreadStatic]
    static bool off;

    /// <summary>Whether convolutions run on the calling thread take this path (tests and the bench turn it off to compare
    /// with im2col). Per thread: it rounds differently from im2col, so a switch seen by other threads would change the
    /// results of tests running beside.</summary>
    internal static bool Allow
    {
        get => !off;
        set => off = !value;
    }

    sealed record Plan(Convolution.Geometry G, int Rows, int Width, int C, int O, long Images, long XImage, long XH, long XW);

    /// <summary>The kernel for this form, or null; <paramref name="fallback"/> runs when tests turn the path off.</summary>
    public static Kernel? TryCreate(Convolution.Geometry g, int lhs, int rhs, int dst, int n, Kernel fallback)
    {
        if (g.FeatureGroups != 1 || g.BatchGroups != 1 || g.Spatial != 2) return null;
        var dn = g.Dn;
        var sl = StridedCopy.RowMajorStrides(g.Lhs);
        var sr = StridedCopy.RowMajorStrides(g.Rhs);
        var so = StridedCopy.RowMajorStrides(g.Out);
        long c = g.Batch, o = g.OutFeatures, images = g.GroupInFeatures, kh = g.KernelSpatial[0], kw = g.KernelSpatial[1];
        long oh = g.OutSpatial[0], ow = g.OutSpatial[1];
        // dY row-major as (image, kernel row, kernel column, feature): the matrix [N·positions, O]
        if (sr[dn.KernelOutputFeatureDimension] != 1 || sr[dn.KernelSpatialDimensions[1]] != o || sr[dn.KernelSpatialDimensions[0]] != kw * o
            || sr[dn.KernelInputFeatureDimension] != kh * kw * o) return null;
        // x's channels contiguous; the result HWIO: (row, column, channel, feature)
        if (sl[dn.InputBatchDimension] != 1) return null;
        if (so[dn.OutputFeatureDimension] != 1 || so[dn.OutputBatchDimension] != o || so[dn.OutputSpatialDimensions[1]] != c * o || so[dn.OutputSpatialDimensions[0]] != ow * c * o) return null;
        long rows = images * kh * kw, width = oh * ow * c;
        if (rows < 2 * ChunkRows || width < 16 || width * ChunkRows > int.MaxValue / 2 || o < 16) return null;
        var plan = new Plan(g, (int)rows, (int)width, (int)c, (int)o, images,
            sl[dn.InputFeatureDimension], sl[dn.InputSpatialDimensions[0]], sl[dn.InputSpatialDimensions[1]]);
        return Convolution.SwitchableF32(lhs, rhs, dst, n, () => Allow, fallback, (x, w, y, pool) => Run(plan, x, w, y, pool));
    }

    [ThreadStatic]
    static float[]? chunkPatches;

    static void Run(Plan p, float[] x, float[] dy, float[] y, BufferPool pool)
    {
        RunsOnThisThread++;
        int chunks = (p.Rows + ChunkRows - 1) / ChunkRows;
        int product = p.Width * p.O;
        var partial = pool.Rent<float>(chunks * product);
        Par.For(chunks, 1, (lo, hi) =>
        {
            var patches = chunkPatches;
            if (patches == null || patches.Length < ChunkRows * p.Width) chunkPatches = patches = new float[ChunkRows * p.Width];
            for (long chunk = lo; chunk < hi; chunk++)
            {
                int k0 = (int)chunk * ChunkRows, count = Math.Min(ChunkRows, p.Rows - k0);
                Gather(p, x, patches, k0, count);
                // partial[chunk] = P_chunkᵀ · dY_chunk: [width, O]
                Gemm.Sgemm(true, false, p.Width, p.O, count, 1f, patches, p.Width, dy.AsSpan(k0 * p.O), p.O, 0f,
                    partial.AsSpan((int)chunk * product, product), p.O);
            }
        });
        var sum = y.AsSpan(0, product);
        partial.AsSpan(0, product).CopyTo(sum);
        for (int chunk = 1; chunk < chunks; chunk++) TensorPrimitives.Add(sum, partial.AsSpan(chunk * product, product), sum);
        pool.Return(partial);
    }

    /// <summary>Rows k0 … k0 + count of P: row (image, i, j) holds, for every output position (u, v) and channel, x at
    /// the input position the window maps (u, i) and (v, j) to, or 0 in padding and dilation holes.</summary>
    static unsafe void Gather(Plan p, float[] x, float[] patches, int k0, int count)
    {
        var g = p.G;
        long kh = g.KernelSpatial[0], kw = g.KernelSpatial[1], oh = g.OutSpatial[0], ow = g.OutSpatial[1];
        int c = p.C;
        fixed (float* px = x, pp = patches)
        {
            float* dst = pp;
            for (int k = k0; k < k0 + count; k++)
            {
                long image = k / (kh * kw), rem = k - image * kh * kw, i = rem / kw, j = rem - i * kw;
                float* src = px + image * p.XImage;
                for (long u = 0; u < oh; u++)
                {
                    int ih = g.Window.Index(0, u, i);
                    for (long v = 0; v < ow; v++, dst += c)
                    {
                        int iw = ih < 0 ? -1 : g.Window.Index(1, v, j);
                        if (iw < 0) new Span<float>(dst, c).Clear();
                        else new ReadOnlySpan<float>(src + ih * p.XH + iw * p.XW, c).CopyTo(new Span<float>(dst, c));
                    }
                }
            }
        }
    }
}
