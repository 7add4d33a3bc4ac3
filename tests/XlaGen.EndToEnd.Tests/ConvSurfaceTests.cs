using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>Conv2D and the pools (the ConvZoo model, NHWC / HWIO) against naive loops that place the window by
/// TensorFlow's documented padding rule, plus a hand-computed AvgPool2D example.</summary>
public class ConvSurfaceTests
{
    static readonly ConvZoo.Runner Model = ConvZoo.Create(seed: 5);
    const int B = 3, H = 6, W = 7, C = 2;

    /// <summary>TensorFlow's padding (tf.nn.convolution docs): SAME gives ⌈n/s⌉ outputs and pads
    /// max((out−1)·s + (k−1)·d + 1 − n, 0) in total, half (rounded down) before; VALID pads nothing.</summary>
    static (int Out, int Before) Geometry(int n, int k, int stride, int dilation, bool same)
    {
        int span = (k - 1) * dilation + 1;
        if (!same) return ((n - span) / stride + 1, 0);
        int output = (n + stride - 1) / stride;
        int total = Math.Max((output - 1) * stride + span - n, 0);
        return (output, total / 2);
    }

    /// <summary>out[n,i,j,o] = Σ x[n, i·s − top + a·d, j·s − left + b·d, g·Cg + c] · k[a, b, c, o] over positions inside the image.</summary>
    static double[,,,] Conv(Tensor<float> x, Tensor<float> k, int stride, bool same, int dilation = 1, int groups = 1)
    {
        int n = (int)x.Shape[0], h = (int)x.Shape[1], w = (int)x.Shape[2];
        int kh = (int)k.Shape[0], kw = (int)k.Shape[1], cg = (int)k.Shape[2], outC = (int)k.Shape[3];
        var (oh, top) = Geometry(h, kh, stride, dilation, same);
        var (ow, left) = Geometry(w, kw, stride, dilation, same);
        var r = new double[n, oh, ow, outC];
        for (int b = 0; b < n; b++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int o = 0; o < outC; o++)
        {
            int g = o / (outC / groups);
            double s = 0;
            for (int a = 0; a < kh; a++)
            for (int bb = 0; bb < kw; bb++)
            {
                int y = i * stride - top + a * dilation, z = j * stride - left + bb * dilation;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                for (int c = 0; c < cg; c++) s += (double)x[b, y, z, g * cg + c] * k[a, bb, c, o];
            }
            r[b, i, j, o] = s;
        }
        return r;
    }

    /// <summary>Max or mean over the window positions inside the image (padding never counts).</summary>
    static double[,,,] Pool(Tensor<float> x, int window, int stride, bool same, bool max)
    {
        int n = (int)x.Shape[0], h = (int)x.Shape[1], w = (int)x.Shape[2], c = (int)x.Shape[3];
        var (oh, top) = Geometry(h, window, stride, 1, same);
        var (ow, left) = Geometry(w, window, stride, 1, same);
        var r = new double[n, oh, ow, c];
        for (int b = 0; b < n; b++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int ch = 0; ch < c; ch++)
        {
            double best = double.NegativeInfinity, sum = 0;
            int count = 0;
            for (int a = 0; a < window; a++)
            for (int bb = 0; bb < window; bb++)
            {
                int y = i * stride - top + a, z = j * stride - left + bb;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                double v = x[b, y, z, ch];
                best = Math.Max(best, v);
                sum += v;
                count++;
            }
            r[b, i, j, ch] = max ? best : sum / count;
        }
        return r;
    }

    static double[,,,] ConcatH(double[,,,] a, double[,,,] b)
    {
        int ha = a.GetLength(1);
        var r = new double[a.GetLength(0), ha + b.GetLength(1), a.GetLength(2), a.GetLength(3)];
        foreach (var i in Naive.Indices(new long[] { r.GetLength(0), r.GetLength(1), r.GetLength(2), r.GetLength(3) }))
            r[i[0], i[1], i[2], i[3]] = i[1] < ha ? a[i[0], i[1], i[2], i[3]] : b[i[0], i[1] - ha, i[2], i[3]];
        return r;
    }

    static void AssertClose(double[,,,] want, Tensor got, double tol = 1e-5) =>
        Naive.AssertAll(got, new long[] { want.GetLength(0), want.GetLength(1), want.GetLength(2), want.GetLength(3) }, i => want[i[0], i[1], i[2], i[3]], tol);

    static Tensor<float> Param(string name) => (Tensor<float>)Model.GetParameter(name);

    [Fact]
    public void ConvolutionValid()
    {
        var x = Naive.Random(1, B, H, W, C);
        var want = Conv(x, Param("k"), 1, same: false);
        Assert.Equal(new[] { B, 4, 5, 4 }, new[] { want.GetLength(0), want.GetLength(1), want.GetLength(2), want.GetLength(3) });
        AssertClose(want, Model.Valid(x));
    }

    [Fact]
    public void ConvolutionSameWithStride()
    {
        var x = Naive.Random(2, B, H, W, C);
        AssertClose(Conv(x, Param("k"), 2, same: true), Model.SameStrided(x));   // [B,3,4,4]: ⌈6/2⌉, ⌈7/2⌉
    }

    [Fact]
    public void ConvolutionSameWithAnEvenKernelPadsAfter()
    {
        var x = Naive.Random(3, B, H, W, C);
        var got = Model.SameEven(x);
        AssertClose(Conv(x, Param("k2"), 1, same: true), got);
        // a 2×2 kernel pads one row and column, after the image: output (0,0) reads x[0..1, 0..1] only
        var k = Param("k2");
        double corner = 0;
        for (int a = 0; a < 2; a++) for (int b = 0; b < 2; b++) for (int c = 0; c < C; c++) corner += (double)x[0, a, b, c] * k[a, b, c, 0];
        Assert.Equal(corner, got[0, 0, 0, 0], 1e-5);
    }

    [Fact]
    public void ConvolutionDilatedAndGrouped()
    {
        var x = Naive.Random(4, B, H, W, C);
        AssertClose(Conv(x, Param("grouped"), 1, same: true, dilation: 2, groups: 2), Model.DilatedGrouped(x));
    }

    [Fact]
    public void MaxPoolSameAndValid()
    {
        var x = Naive.Random(5, B, H, W, C);
        AssertClose(ConcatH(Pool(x, 3, 2, true, max: true), Pool(x, 2, 2, true, max: true)), Model.MaxPools(x));
        AssertClose(Pool(x, 2, 2, false, max: true), Model.MaxPoolValid(x));
    }

    [Fact]
    public void AvgPoolDividesByTheElementsInsideTheImage()
    {
        var x = Naive.Random(6, B, H, W, C);
        AssertClose(ConcatH(Pool(x, 3, 2, true, max: false), Pool(x, 2, 2, true, max: false)), Model.AvgPools(x));
        AssertClose(Pool(x, 3, 1, false, max: false), Model.AvgPoolValid(x));
    }

    /// <summary>TensorFlow's tf.nn.avg_pool2d(x, 2, 2, 'SAME') on [[1,2,3],[4,5,6],[7,8,9]] gives [[3, 4.5], [7.5, 9]]:
    /// the right/bottom windows hang over the border and average only what they cover (count_include_pad=False).</summary>
    [Fact]
    public void AvgPoolSameExampleComputedByHand()
    {
        var x = new Tensor<float>(new long[] { 1, 3, 3, 1 }, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 });
        var got = Model.AvgPoolSmall(x);
        Assert.Equal(new long[] { 1, 2, 2, 1 }, got.Shape);
        Assert.Equal(new float[] { 3, 4.5f, 7.5f, 9 }, got.Data);
    }

    [Fact]
    public void GlobalAveragePool()
    {
        var x = Naive.Random(7, B, H, W, C);
        Naive.AssertAll(Model.GlobalPool(x), new long[] { B, C }, i =>
        {
            double s = 0;
            for (int y = 0; y < H; y++) for (int z = 0; z < W; z++) s += x[i[0], y, z, i[1]];
            return s / (H * W);
        });
    }

    [Fact]
    public void EagerConvolutionAndPoolsAgreeWithTheCompiledProgram()
    {
        var host = Model.ToModel();
        var x = Naive.Random(8, 2, H, W, C);
        Naive.AssertSame(Model.Valid(x), host.Valid(x));
        Naive.AssertSame(Model.SameStrided(x), host.SameStrided(x));
        Naive.AssertSame(Model.SameEven(x), host.SameEven(x));
        Naive.AssertSame(Model.DilatedGrouped(x), host.DilatedGrouped(x));
        Naive.AssertSame(Model.MaxPools(x), host.MaxPools(x));
        Naive.AssertSame(Model.MaxPoolValid(x), host.MaxPoolValid(x));
        Naive.AssertSame(Model.AvgPools(x), host.AvgPools(x));
        Naive.AssertSame(Model.AvgPoolValid(x), host.AvgPoolValid(x));
        Naive.AssertSame(Model.GlobalPool(x), host.GlobalPool(x));
    }

    [Fact]
    public void EagerConvolutionErrorsNameTheLayouts()
    {
        var x = Tensor<float>.Zeros(2, 28, 28, 1);
        var k = Tensor<float>.Zeros(3, 3, 2, 16);
        Assert.Equal("Conv2D: input f32[2,28,28,1] has 1 channel but the kernel f32[3,3,2,16] expects 2 (HWIO)",
            Assert.Throws<Ops.ShapeException>(() => Nn.Conv2D(x, k)).Message);
        Assert.Equal("MaxPool2D: the 3×3 window does not fit the 2×2 input f32[1,2,2,1] with Padding.Valid",
            Assert.Throws<Ops.ShapeException>(() => Nn.MaxPool2D(Tensor<float>.Zeros(1, 2, 2, 1), 3)).Message);
    }
}
