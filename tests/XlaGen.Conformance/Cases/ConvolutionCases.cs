using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>convolution: NHWC/HWIO and NCHW/OIHW layouts, unusual dim labels, padding (asymmetric and negative),
/// strides, lhs and rhs dilation, window reversal, feature groups (grouped and depthwise), batch groups, 1-D and 3-D,
/// 1×1, the kernel-gradient shape; f32 and f64 (im2col + GEMM) and integers (direct loop), s8 × s8 → s32.</summary>
public static class ConvolutionCases
{
    internal static WindowDimension W(long size, long stride = 1, long lo = 0, long hi = 0, long rhsDilation = 1, long lhsDilation = 1, bool reverse = false) =>
        new(size, stride, lo, hi, rhsDilation, lhsDilation, reverse);

    static ConformanceCase Case(string name, string labels, long[] lhsDims, long[] rhsDims, WindowDimension[] window,
        ElementType type = ElementType.F32, long featureGroups = 1, long batchGroups = 1, int seed = 0)
    {
        var dn = Labels(labels);
        int nl = (int)Count(lhsDims), nr = (int)Count(rhsDims);
        // integer-valued inputs keep f32 sums exact whatever the summation order
        var l = RandomS32(1000 + seed, nl, -4, 5).Select(v => (double)v).ToArray();
        var r = RandomS32(2000 + seed, nr, -3, 4).Select(v => (double)v).ToArray();
        var (want, outDims) = Convolution(l, lhsDims, r, rhsDims, dn, window, featureGroups, batchGroups);
        Tensor Make(double[] v, long[] dims, ElementType t) => t switch
        {
            ElementType.F32 => T(v.Select(x => (float)x).ToArray(), dims),
            ElementType.F64 => T(v, dims),
            ElementType.S32 => T(v.Select(x => (int)x).ToArray(), dims),
            ElementType.S8 => T(v.Select(x => (sbyte)x).ToArray(), dims),
            _ => throw new ArgumentException(t.ToString()),
        };
        var resultType = type == ElementType.S8 ? ElementType.S32 : type;
        var inputs = new[] { Make(l, lhsDims, type), Make(r, rhsDims, type) };
        return new($"convolution/{name}", CaseModule.Of("conv", inputs, (b, p) => b.AddInstruction("convolution", p,
                new HloAttributes { Window = window, Convolution = dn, FeatureGroupCount = featureGroups, BatchGroupCount = batchGroups },
                declared: type == ElementType.S8 ? Shape.Array(ElementType.S32, outDims.Select(d => (Dim)d).ToArray()) : null)),
            inputs, new[] { Make(want, outDims, resultType) });
    }

    public static IEnumerable<ConformanceCase> All()
    {
        var same3 = new[] { W(3, lo: 1, hi: 1), W(3, lo: 1, hi: 1) };
        yield return Case("nhwc-same-3x3", "b01f_01io->b01f", new long[] { 2, 5, 5, 3 }, new long[] { 3, 3, 3, 4 }, same3);
        yield return Case("nhwc-same-3x3-f64", "b01f_01io->b01f", new long[] { 2, 5, 5, 3 }, new long[] { 3, 3, 3, 4 }, same3, ElementType.F64);
        yield return Case("nhwc-stride2-asym-pad-rhs-dilation", "b01f_01io->b01f", new long[] { 2, 9, 8, 2 }, new long[] { 3, 2, 2, 3 },
            new[] { W(3, 2, 1, 0, rhsDilation: 2), W(2, 2, 0, 1) }, seed: 1);
        yield return Case("nhwc-stride2-asym-pad-rhs-dilation-f64", "b01f_01io->b01f", new long[] { 2, 9, 8, 2 }, new long[] { 3, 2, 2, 3 },
            new[] { W(3, 2, 1, 0, rhsDilation: 2), W(2, 2, 0, 1) }, ElementType.F64, seed: 1);
        yield return Case("nchw-oihw", "bf01_oi01->bf01", new long[] { 2, 3, 6, 5 }, new long[] { 4, 3, 3, 2 }, new[] { W(3, lo: 1, hi: 1), W(2, 1, 0, 1) }, seed: 2);
        yield return Case("nchw-oihw-s32", "bf01_oi01->bf01", new long[] { 2, 3, 6, 5 }, new long[] { 4, 3, 3, 2 }, new[] { W(3, lo: 1, hi: 1), W(2, 1, 0, 1) }, ElementType.S32, seed: 2);
        yield return Case("labels-shuffled-output-bf01", "0bf1_o1i0->f0b1", new long[] { 5, 2, 3, 4 }, new long[] { 4, 2, 3, 3 }, new[] { W(3, 1, 1, 1), W(2, 2, 0, 0) }, seed: 3);
        yield return Case("depthwise-multiplier2", "b01f_01io->b01f", new long[] { 2, 5, 5, 4 }, new long[] { 3, 3, 1, 8 }, same3, featureGroups: 4, seed: 4);
        yield return Case("depthwise-multiplier2-f64", "b01f_01io->b01f", new long[] { 2, 5, 5, 4 }, new long[] { 3, 3, 1, 8 }, same3, ElementType.F64, featureGroups: 4, seed: 4);
        yield return Case("groups2", "b01f_01io->b01f", new long[] { 1, 4, 4, 6 }, new long[] { 2, 2, 3, 4 }, new[] { W(2), W(2) }, featureGroups: 2, seed: 5);
        yield return Case("lhs-dilation-transposed", "b01f_01io->b01f", new long[] { 1, 3, 4, 2 }, new long[] { 3, 3, 2, 2 },
            new[] { W(3, 1, 2, 2, lhsDilation: 2), W(3, 1, 1, 2, lhsDilation: 3) }, seed: 6);
        yield return Case("lhs-dilation-transposed-f64", "b01f_01io->b01f", new long[] { 1, 3, 4, 2 }, new long[] { 3, 3, 2, 2 },
            new[] { W(3, 1, 2, 2, lhsDilation: 2), W(3, 1, 1, 2, lhsDilation: 3) }, ElementType.F64, seed: 6);
        yield return Case("window-reversal", "b01f_01io->b01f", new long[] { 1, 4, 5, 2 }, new long[] { 2, 3, 2, 2 },
            new[] { W(2, reverse: true), W(3, 1, 1, 1, reverse: true) }, seed: 7);
        yield return Case("window-reversal-f64", "b01f_01io->b01f", new long[] { 1, 4, 5, 2 }, new long[] { 2, 3, 2, 2 },
            new[] { W(2, reverse: true), W(3, 1, 1, 1, reverse: true) }, ElementType.F64, seed: 7);
        yield return Case("batch-groups2", "b01f_01io->b01f", new long[] { 4, 4, 4, 3 }, new long[] { 2, 2, 3, 4 }, new[] { W(2), W(2, 2) }, batchGroups: 2, seed: 8);
        yield return Case("batch-groups-pointwise", "b01f_01io->b01f", new long[] { 6, 3, 2, 2 }, new long[] { 1, 1, 2, 6 }, new[] { W(1), W(1) }, batchGroups: 3, seed: 19);
        yield return Case("batch-groups3-f64", "bf01_io01->bf01", new long[] { 6, 2, 3, 3 }, new long[] { 2, 3, 2, 2 }, new[] { W(2), W(2) }, ElementType.F64, batchGroups: 3, seed: 9);
        yield return Case("pointwise-1x1", "b01f_01io->b01f", new long[] { 2, 4, 3, 5 }, new long[] { 1, 1, 5, 6 }, new[] { W(1), W(1) }, seed: 10);
        yield return Case("conv1d", "b0f_0io->b0f", new long[] { 2, 10, 3 }, new long[] { 4, 3, 2 }, new[] { W(4, 3, 2, 1) }, seed: 11);
        yield return Case("conv3d", "b012f_012io->b012f", new long[] { 1, 4, 3, 5, 2 }, new long[] { 2, 2, 3, 2, 3 }, new[] { W(2), W(2, 1, 1, 0), W(3, 2) }, seed: 12);
        yield return Case("negative-padding", "b01f_01io->b01f", new long[] { 1, 7, 6, 2 }, new long[] { 2, 2, 2, 2 }, new[] { W(2, 1, -1, -2), W(2, 2, 1, -1) }, seed: 13);
        yield return Case("negative-padding-f64", "b01f_01io->b01f", new long[] { 1, 7, 6, 2 }, new long[] { 2, 2, 2, 2 }, new[] { W(2, 1, -1, -2), W(2, 2, 1, -1) }, ElementType.F64, seed: 13);
        yield return Case("s8-to-s32", "b01f_01io->b01f", new long[] { 1, 4, 4, 2 }, new long[] { 2, 2, 2, 3 }, new[] { W(2), W(2) }, ElementType.S8, seed: 14);
        yield return Case("no-spatial-dims", "bf_io->bf", new long[] { 3, 4 }, new long[] { 4, 5 }, Array.Empty<WindowDimension>(), seed: 15);
        yield return Case("window-larger-than-input", "b01f_01io->b01f", new long[] { 1, 2, 2, 1 }, new long[] { 3, 3, 1, 1 }, new[] { W(3), W(3) }, seed: 16);
        // the direct loop (integers) on the same configurations as the im2col path
        yield return Case("stride2-asym-pad-rhs-dilation-s32", "b01f_01io->b01f", new long[] { 2, 9, 8, 2 }, new long[] { 3, 2, 2, 3 },
            new[] { W(3, 2, 1, 0, rhsDilation: 2), W(2, 2, 0, 1) }, ElementType.S32, seed: 1);
        yield return Case("depthwise-s32", "b01f_01io->b01f", new long[] { 2, 5, 5, 4 }, new long[] { 3, 3, 1, 8 }, same3, ElementType.S32, featureGroups: 4, seed: 4);
        yield return Case("lhs-dilation-s32", "b01f_01io->b01f", new long[] { 1, 3, 4, 2 }, new long[] { 3, 3, 2, 2 },
            new[] { W(3, 1, 2, 2, lhsDilation: 2), W(3, 1, 1, 2, lhsDilation: 3) }, ElementType.S32, seed: 6);
        yield return Case("window-reversal-s32", "b01f_01io->b01f", new long[] { 1, 4, 5, 2 }, new long[] { 2, 3, 2, 2 },
            new[] { W(2, reverse: true), W(3, 1, 1, 1, reverse: true) }, ElementType.S32, seed: 7);
        yield return Case("batch-groups2-s32", "b01f_01io->b01f", new long[] { 4, 4, 4, 3 }, new long[] { 2, 2, 3, 4 }, new[] { W(2), W(2, 2) }, ElementType.S32, batchGroups: 2, seed: 8);
        yield return Case("negative-padding-s32", "b01f_01io->b01f", new long[] { 1, 7, 6, 2 }, new long[] { 2, 2, 2, 2 }, new[] { W(2, 1, -1, -2), W(2, 2, 1, -1) }, ElementType.S32, seed: 13);
        yield return Case("labels-shuffled-s32", "0bf1_o1i0->f0b1", new long[] { 5, 2, 3, 4 }, new long[] { 4, 2, 3, 3 }, new[] { W(3, 1, 1, 1), W(2, 2, 0, 0) }, ElementType.S32, seed: 3);
        // big enough that cpu-split cuts the patches into several row blocks
        yield return Case("nhwc-blocks", "b01f_01io->b01f", new long[] { 4, 12, 12, 8 }, new long[] { 3, 3, 8, 16 }, same3, seed: 17);
        yield return Case("nhwc-blocks-f64", "b01f_01io->b01f", new long[] { 4, 12, 12, 8 }, new long[] { 3, 3, 8, 16 }, same3, ElementType.F64, seed: 17);
        // the shape of a kernel gradient: the "kernel" is the whole output gradient (long rows, split along kernel positions)
        yield return Case("kernel-gradient-shape", "f01b_i01o->01bf", new long[] { 32, 8, 8, 2 }, new long[] { 32, 6, 6, 3 }, new[] { W(6), W(6) }, seed: 18);
    }
}
