using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// The 2-D case of im2col's shallow path (<see cref="Im2Col"/>: a patch of at most 64 products, a first layer's 3×3
/// over one or three channels), on the canonical layouts (input [N, H, W, C], kernel [KH, KW, C, O], output
/// [N, OH, OW, O]) without gathering patches: along an output row, runs of four pixels whose windows lie inside the
/// image read their taps at fixed offsets from the window's first element and share each kernel row's loads, their
/// output features accumulated in registers and written once; pixels at a padded border check every tap.
/// <para>
/// Every output element is the chain of fused multiply-adds from zero over the taps in patch order (kernel positions
/// row-major, then channels) that the GEMM's micro-kernel runs for an inner dimension within one k-block, padding and
/// dilation holes contributing 0 × weight as the GEMM's zero patch entries do: bitwise the GEMM path (tested). Gathering
/// the patches first made the sample CNN's first convolution 1.1–1.3 ms; this takes 0.36 ms.
/// </para>
/// </summary>
internal static unsafe class ConvShallow
{
    /// <summary>The tap tables of a 2-D convolution on the canonical layouts, or null when its window dilates the input
    /// or is reversed (the general patch gather handles those).</summary>
    public static Plan? For(Convolution.Geometry g, int width)
    {
        if (g.Spatial != 2 || g.WindowDims.Count != 2 || g.WindowDims.Any(d => d.BaseDilation != 1 || d.WindowReversal)) return null;
        long kh = g.KernelSpatial[0], kw = g.KernelSpatial[1], c = g.InFeatures, o = g.OutFeatures;
        var wh = g.WindowDims[0];
        var ww = g.WindowDims[1];
        long lw = c, lh = g.InSpatial[1] * c;
        var kernelRow = new long[width];
        var inputOffset = new long[width];
        for (long i = 0, t = 0; i < kh; i++)
            for (long j = 0; j < kw; j++)
                for (long f = 0; f < c; f++, t++)
                {
                    kernelRow[t] = t * o;
                    inputOffset[t] = i * wh.WindowDilation * lh + j * ww.WindowDilation * lw + f;
                }
        return new Plan(g, (int)o, width, (int)c, kernelRow, inputOffset, lh, lw, wh.Stride, ww.Stride, wh.PaddingLow, ww.PaddingLow,
            (kh - 1) * wh.WindowDilation, (kw - 1) * ww.WindowDilation);
    }

    /// <summary>A shallow convolution's tap tables: per tap its kernel row and its input offset from the window's first
    /// element; input row and column strides; window strides, low padding, and the input rows and columns between a
    /// window's first and last element (SpanH, SpanW).</summary>
    internal sealed record Plan(Convolution.Geometry G, int O, int Taps, int C, long[] KernelRow, long[] InputOffset, long LH, long LW,
        long StrideH, long StrideW, long PadH, long PadW, long SpanH, long SpanW);

    /// <summary>Output rows [lo, hi) of (image, output row) pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(Plan p, float[] x, float[] w, float[] y, long lo, long hi)
    {
        var g = p.G;
        long oh = g.OutSpatial[0], ow = g.OutSpatial[1], inH = g.InSpatial[0], inW = g.InSpatial[1];
        long inImage = inH * p.LH, outRow = ow * p.O;
        int taps = p.Taps;
        // the output columns whose windows lie inside the image: [v0, v1)
        long v0 = Math.Min(ow, (p.PadW + p.StrideW - 1) / p.StrideW);
        long v1 = Math.Max(v0, Math.Min(ow, inW - 1 - p.SpanW + p.PadW < 0 ? 0 : (inW - 1 - p.SpanW + p.PadW) / p.StrideW + 1));
        long* kernelRow = stackalloc long[taps];
        long* inside = stackalloc long[taps];
        long* border = stackalloc long[taps];
        for (int t = 0; t < taps; t++)
        {
            kernelRow[t] = p.KernelRow[t];
            inside[t] = p.InputOffset[t];
        }
        fixed (float* px = x, pw = w, py = y)
        {
            for (long r = lo; r < hi; r++)
            {
                KernelCancellation.ThrowIfRequested();
                long b = r / oh, h = r % oh;
                float* image = px + b * inImage;
                float* dst = py + r * outRow;
                long ih = h * p.StrideH - p.PadH;
                long v = 0;
                if (ih >= 0 && ih + p.SpanH < inH)
                {
                    for (; v < v0; v++) Border(p, image, pw, kernelRow, border, h, v, dst + v * p.O);
                    for (; v + 4 <= v1; v += 4)
                        Four(p, image + ih * p.LH + (v * p.StrideW - p.PadW) * p.LW, p.StrideW * p.LW, pw, kernelRow, inside, dst + v * p.O);
                }
                for (; v < ow; v++) Border(p, image, pw, kernelRow, border, h, v, dst + v * p.O);
            }
        }
    }

    /// <summary>Four pixels whose windows start <paramref name="step"/> elements apart inside the image: 32- and 16-wide
    /// strips of output features in registers (each kernel row loaded once for the four), then single lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Four(Plan p, float* at, long step, float* w, long* kernelRow, long* offset, float* dst)
    {
        int taps = p.Taps, o = p.O, j = 0;
        float* p1 = at + step, p2 = at + 2 * step, p3 = at + 3 * step;
        for (; j + 16 <= o; j += 32)
        {
            bool wide = j + 32 <= o;
            Vector512<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
            for (int t = 0; t < taps; t++)
            {
                long off = offset[t];
                float* k = w + kernelRow[t] + j;
                var k0 = Vector512.Load(k);
                var k1 = wide ? Vector512.Load(k + 16) : default;
                var v = Vector512.Create(at[off]);
                a0 = Vector512.FusedMultiplyAdd(v, k0, a0);
                b0 = Vector512.FusedMultiplyAdd(v, k1, b0);
                v = Vector512.Create(p1[off]);
                a1 = Vector512.FusedMultiplyAdd(v, k0, a1);
                b1 = Vector512.FusedMultiplyAdd(v, k1, b1);
                v = Vector512.Create(p2[off]);
                a2 = Vector512.FusedMultiplyAdd(v, k0, a2);
                b2 = Vector512.FusedMultiplyAdd(v, k1, b2);
                v = Vector512.Create(p3[off]);
                a3 = Vector512.FusedMultiplyAdd(v, k0, a3);
                b3 = Vector512.FusedMultiplyAdd(v, k1, b3);
            }
            Vector512.Store(a0, dst + j);
            Vector512.Store(a1, dst + o + j);
            Vector512.Store(a2, dst + 2 * o + j);
            Vector512.Store(a3, dst + 3 * o + j);
            if (!wide) break;
            Vector512.Store(b0, dst + j + 16);
            Vector512.Store(b1, dst + o + j + 16);
            Vector512.Store(b2, dst + 2 * o + j + 16);
            Vector512.Store(b3, dst + 3 * o + j + 16);
        }
        j = o / 16 * 16;
        for (int q = 0; q < 4; q++) Lanes(at + q * step, w, kernelRow, offset, taps, o, j, dst + q * o);
    }

    /// <summary>One pixel, every tap checked against the image: padding and dilation holes read 0.</summary>
    static void Border(Plan p, float* image, float* w, long* kernelRow, long* offset, long h, long v, float* dst)
    {
        var g = p.G;
        int kh = (int)g.KernelSpatial[0], kw = (int)g.KernelSpatial[1], t = 0;
        for (int i = 0; i < kh; i++)
        {
            int ih = g.Window.Index(0, h, i);
            for (int j = 0; j < kw; j++)
            {
                int iw = ih < 0 ? -1 : g.Window.Index(1, v, j);
                long at = iw < 0 ? -1 : ih * p.LH + iw * p.LW;
                for (int c = 0; c < p.C; c++, t++) offset[t] = at < 0 ? -1 : at + c;
            }
        }
        int o = p.O, lane = 0;
        for (; lane + 16 <= o; lane += 16)
        {
            var a = Vector512<float>.Zero;
            for (int u = 0; u < p.Taps; u++)
            {
                long at = offset[u];
                a = Vector512.FusedMultiplyAdd(Vector512.Create(at < 0 ? 0f : image[at]), Vector512.Load(w + kernelRow[u] + lane), a);
            }
            Vector512.Store(a, dst + lane);
        }
        Lanes(image, w, kernelRow, offset, p.Taps, o, lane, dst);
    }

    /// <summary>Output features [<paramref name="lane"/>, o) of one pixel one at a time (offset -1 reads 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Lanes(float* at, float* w, long* kernelRow, long* offset, int taps, int o, int lane, float* dst)
    {
        for (; lane < o; lane++)
        {
            float s = 0;
            for (int t = 0; t < taps; t++)
            {
                long off = offset[t];
                s = MathF.FusedMultiplyAdd(off < 0 ? 0f : at[off], w[kernelRow[t] + lane], s);
            }
            dst[lane] = s;
        }
    }
}
