using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// f32 2-D convolutions whose output is larger than their input (stride 1, no dilation, padding above (k − 1) / 2):
/// the input gradient of a convolution, written by XLA as a "full" convolution of dY with the reversed kernel. Im2col
/// gathers patches of the padded dY, a third of them zeros at 11×11 → 13×13, and multiplies those zeros too. Here the
/// product runs the other way (col2im): G = x·K, one row of kernel-position × output-feature products per input pixel
/// (a GEMM over the input features only), and each product is added into the output pixel it lands on. Only real
/// products are multiplied.
/// <para>
/// Images are split across cores (each writes its own outputs); within an image, input pixels in row order and for
/// each the kernel positions in order: a fixed order, so results are reproducible at any core count, but rounded
/// differently from im2col (each term sums over the input features, then terms are added in input order).
/// </para>
/// </summary>
internal static class ConvScatter
{
    /// <summary>Input pixels per GEMM tile.</summary>
    const int TileRows = 256;

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

    sealed record Plan(Convolution.Geometry G, int H, int W, int Ci, int Kh, int Kw, int Co, int OH, int OW, int PadH, int PadW,
        long KH, long KW, long KI, long KO);

    public static Kernel? TryCreate(Convolution.Geometry g, int lhs, int rhs, int dst, int n, Kernel fallback)
    {
        if (!Vector512.IsHardwareAccelerated || g.FeatureGroups != 1 || g.BatchGroups != 1 || g.Spatial != 2) return null;
        foreach (var w in g.WindowDims)
            if (w.Stride != 1 || w.WindowDilation != 1 || w.BaseDilation != 1 || w.WindowReversal || w.PaddingLow < 0 || w.PaddingHigh < 0) return null;
        var dn = g.Dn;
        var sl = StridedCopy.RowMajorStrides(g.Lhs);
        var sr = StridedCopy.RowMajorStrides(g.Rhs);
        var so = StridedCopy.RowMajorStrides(g.Out);
        long h = g.InSpatial[0], w0 = g.InSpatial[1], ci = g.InFeatures, co = g.OutFeatures, oh = g.OutSpatial[0], ow = g.OutSpatial[1];
        long kh = g.KernelSpatial[0], kw = g.KernelSpatial[1];
        // NHWC input and output
        if (sl[dn.InputFeatureDimension] != 1 || sl[dn.InputSpatialDimensions[1]] != ci || sl[dn.InputSpatialDimensions[0]] != w0 * ci || sl[dn.InputBatchDimension] != h * w0 * ci) return null;
        if (so[dn.OutputFeatureDimension] != 1 || so[dn.OutputSpatialDimensions[1]] != co || so[dn.OutputSpatialDimensions[0]] != ow * co || so[dn.OutputBatchDimension] != oh * ow * co) return null;
        // worth it: the output larger than the input in both dims (padding beyond half the kernel), enough work
        if (oh <= h || ow <= w0 || ci < 16 || co % 16 != 0 || g.Batch * h * w0 < 1024 || kh * kw * co > 4096) return null;
        var plan = new Plan(g, (int)h, (int)w0, (int)ci, (int)kh, (int)kw, (int)co, (int)oh, (int)ow,
            (int)g.WindowDims[0].PaddingLow, (int)g.WindowDims[1].PaddingLow,
            sr[dn.KernelSpatialDimensions[0]], sr[dn.KernelSpatialDimensions[1]], sr[dn.KernelInputFeatureDimension], sr[dn.KernelOutputFeatureDimension]);
        return Convolution.SwitchableF32(lhs, rhs, dst, n, () => Allow, fallback, (x, w, y, pool) => Run(plan, x, w, y, pool));
    }

    [ThreadStatic]
    static float[]? tile;

    static void Run(Plan p, float[] x, float[] k, float[] y, BufferPool pool)
    {
        RunsOnThisThread++;
        int width = p.Kh * p.Kw * p.Co;
        // K as [input feature, (row, column, output feature)]
        var b = pool.Rent<float>(p.Ci * width);
        for (int i = 0; i < p.Ci; i++)
            for (int a = 0; a < p.Kh; a++)
                for (int c = 0; c < p.Kw; c++)
                    for (int o = 0; o < p.Co; o++)
                        b[i * width + (a * p.Kw + c) * p.Co + o] = k[a * p.KH + c * p.KW + i * p.KI + o * p.KO];
        y.AsSpan().Clear();
        long images = p.G.Batch;
        Par.For(images, 1, (lo, hi) =>
        {
            var g = tile;
            if (g == null || g.Length < TileRows * width) tile = g = new float[TileRows * width];
            int pixels = p.H * p.W;
            for (long image = lo; image < hi; image++)
            {
                for (int r0 = 0; r0 < pixels; r0 += TileRows)
                {
                    int rs = Math.Min(TileRows, pixels - r0);
                    Gemm.Sgemm(false, false, rs, width, p.Ci, 1f, x.AsSpan((int)((image * pixels + r0) * p.Ci)), p.Ci, b, width, 0f, g, width);
                    Scatter(p, g, rs, r0, y, image);
                }
            }
        });
        pool.Return(b);
    }

    /// <summary>Adds tile row r (input pixel r0 + r of the image) at every kernel position into the output pixel it
    /// lands on: output (u − a + padH, v − c + padW) for input (u, v) and kernel position (a, c).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Scatter(Plan p, float[] g, int rows, int r0, float[] y, long image)
    {
        int width = p.Kh * p.Kw * p.Co, co = p.Co;
        fixed (float* pg = g, py = y)
        {
            float* outImage = py + image * p.OH * p.OW * co;
            for (int r = 0; r < rows; r++)
            {
                int pixel = r0 + r, u = pixel / p.W, v = pixel - u * p.W;
                float* src = pg + (long)r * width;
                for (int a = 0; a < p.Kh; a++)
                {
                    int oy = u - a + p.PadH;
                    if ((uint)oy >= (uint)p.OH) continue;
                    for (int c = 0; c < p.Kw; c++)
                    {
                        int ox = v - c + p.PadW;
                        if ((uint)ox >= (uint)p.OW) continue;
                        float* d = outImage + ((long)oy * p.OW + ox) * co;
                        float* s = src + (a * p.Kw + c) * co;
                        for (int j = 0; j < co; j += 16) Vector512.Store(Vector512.Load(d + j) + Vector512.Load(s + j), d + j);
                    }
                }
            }
        }
    }
}
