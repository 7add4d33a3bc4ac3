using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The shallow f32 convolution path (a first layer's 3×3×1 patches computed in registers, <c>Im2Col.ShallowF32</c>)
/// against the im2col + GEMM path it replaces, bitwise: VALID and SAME padding, strides, dilation, 1 to 7 input
/// channels, output channel counts around the 16- and 32-lane strips, NaN and signed zeros, NHWC and NCHW layouts,
/// with and without the multi-core split. Also the tiled im2col path (patches gathered per core in cache-sized tiles)
/// against the blocked one.
/// </summary>
public class ConvolutionKernelTests
{
    /// <summary>The first result of <paramref name="exe"/> on the shallow path (asserting that it took it) and with the
    /// shallow path off (the GEMM path), to be compared bitwise.</summary>
    static (byte[] Shallow, byte[] Gemm) ShallowAndGemm(IExecutable exe, Tensor[] args)
    {
        long before = Im2Col.ShallowRunsOnThisThread;
        var shallow = ResultBytes.Of(Cpu, exe, args)[0];
        Assert.Equal(before + 1, Im2Col.ShallowRunsOnThisThread);   // the case covers the shallow path
        Im2Col.AllowShallow = false;
        try
        {
            return (shallow, ResultBytes.Of(Cpu, exe, args)[0]);
        }
        finally
        {
            Im2Col.AllowShallow = true;
        }
    }

    static readonly CpuDevice Cpu = new();

    [Theory]
    [InlineData(4, 28, 1, 32, "size=3x3", false)]
    [InlineData(4, 28, 1, 32, "size=3x3", true)]
    [InlineData(3, 17, 3, 16, "size=3x3 pad=1_1x1_1", false)]
    [InlineData(2, 15, 2, 40, "size=5x5 stride=2x2 pad=2_2x2_2", true)]
    [InlineData(2, 12, 1, 7, "size=3x3 rhs_dilate=2x2", false)]
    [InlineData(5, 9, 7, 33, "size=3x3 stride=2x1", true)]
    [InlineData(1, 30, 1, 64, "size=7x7 pad=3_3x3_3", false)]
    public void ShallowPathIsBitwiseTheGemmPath(int batch, int size, int channels, int outChannels, string window, bool split)
    {
        var rng = new Random(batch * 31 + size * 7 + channels);
        int kh = int.Parse(window.Split('=')[1].Split('x')[0]);
        var x = new float[batch * size * size * channels];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(40) == 0 ? -0f : (float)(rng.NextDouble() * 2 - 1);
        x[x.Length / 3] = float.NaN;
        var w = Enumerable.Range(0, kh * kh * channels * outChannels).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var module = HloTextParser.Parse($$"""
            HloModule shallow

            ENTRY main {
              x = f32[{{batch}},{{size}},{{size}},{{channels}}] parameter(0)
              w = f32[{{kh}},{{kh}},{{channels}},{{outChannels}}] parameter(1)
              ROOT y = convolution(x, w), window={{{window}}}, dim_labels=b01f_01io->b01f
            }
            """);
        var args = new Tensor[] { Tensor<float>.FromArray(x, batch, size, size, channels), Tensor<float>.FromArray(w, kh, kh, channels, outChannels) };
        var exe = Cpu.CompileHlo(module);
        byte[] shallow, gemm;
        using (split ? Par.ScaleGrainsForTesting(14) : null)
            (shallow, gemm) = ShallowAndGemm(exe, args);
        Assert.Equal(gemm, shallow);
    }

    /// <summary>Shallow convolutions the direct 2-D kernel (<c>ConvShallow</c>) does not take, which gather patches
    /// first: 1-D, 3-D, and a 2-D window that dilates its input (a transposed convolution). Bitwise the GEMM path.</summary>
    [Theory]
    [InlineData("f32[3,40,2]", "f32[5,2,32]", "size=5 pad=2_2", "b0f_0io->b0f")]
    [InlineData("f32[2,6,6,6,1]", "f32[3,3,3,1,16]", "size=3x3x3", "b012f_012io->b012f")]
    [InlineData("f32[2,9,9,1]", "f32[3,3,1,16]", "size=3x3 pad=1_1x1_1 lhs_dilate=2x2", "b01f_01io->b01f")]
    public void ShallowPathThatGathersPatchesIsBitwiseTheGemmPath(string xShape, string wShape, string window, string labels)
    {
        var module = HloTextParser.Parse($$"""
            HloModule shallow_gather

            ENTRY main {
              x = {{xShape}} parameter(0)
              w = {{wShape}} parameter(1)
              ROOT y = convolution(x, w), window={{{window}}}, dim_labels={{labels}}
            }
            """);
        var rng = new Random(xShape.Length * 7 + window.Length);
        var args = module.Entry.Parameters.Select(p => (Tensor)Tensor<float>.FromArray(
            Enumerable.Range(0, (int)p.Shape.ElementCount).Select(_ => rng.Next(30) == 0 ? -0f : (float)(rng.NextDouble() * 2 - 1)).ToArray(), p.Shape.ConcreteDims())).ToArray();
        var (shallow, gemm) = ShallowAndGemm(Cpu.CompileHlo(module), args);
        Assert.Equal(gemm, shallow);
    }

    /// <summary>The CNN's second-layer convolution and its input gradient (a padded convolution with a transposed
    /// kernel layout) on tiles of rows gathered per core (<c>Im2Col.RunTiles</c>) against the blocked path, bitwise.</summary>
    [Theory]
    [InlineData(13, 32, 11, 64, "size=3x3", "b01f_01io->b01f")]
    [InlineData(11, 64, 13, 32, "size=3x3 pad=2_2x2_2", "b01f_01oi->b01f")]
    [InlineData(9, 9, 9, 5, "size=3x3 pad=1_1x1_1", "b01f_01io->b01f")]   // 81 products: above the shallow path
    public void TiledPathIsBitwiseTheBlockedPath(int size, int channels, int outSize, int outChannels, string window, string labels)
    {
        // enough rows for two tiles per core at the widest tile (512 rows)
        int batch = 2 * Par.Workers * 512 / (outSize * outSize) + 1;
        var rng = new Random(size * 7 + channels);
        var x = new float[batch * size * size * channels];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(40) == 0 ? -0f : (float)(rng.NextDouble() * 2 - 1);
        x[x.Length / 3] = float.NaN;
        var w = Enumerable.Range(0, 9 * channels * outChannels).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        bool oi = labels.Contains("01oi");
        var module = HloTextParser.Parse($$"""
            HloModule tiled

            ENTRY main {
              x = f32[{{batch}},{{size}},{{size}},{{channels}}] parameter(0)
              w = f32[3,3,{{(oi ? outChannels : channels)}},{{(oi ? channels : outChannels)}}] parameter(1)
              ROOT y = convolution(x, w), window={{{window}}}, dim_labels={{labels}}
            }
            """);
        var args = new Tensor[]
        {
            Tensor<float>.FromArray(x, batch, size, size, channels),
            Tensor<float>.FromArray(w, 3, 3, oi ? outChannels : channels, oi ? channels : outChannels),
        };
        var exe = Cpu.CompileHlo(module);
        long before = Im2Col.TiledRunsOnThisThread;
        byte[] tiled;
        ConvScatter.Allow = false;   // the input-gradient form takes col2im otherwise
        try
        {
            tiled = ResultBytes.Of(Cpu, exe, args)[0];
        }
        finally
        {
            ConvScatter.Allow = true;
        }
        Assert.Equal(before + 1, Im2Col.TiledRunsOnThisThread);   // the case covers the tiled path
        byte[] blocked;
        Im2Col.Tiled = false;
        ConvScatter.Allow = false;
        try
        {
            blocked = ResultBytes.Of(Cpu, exe, args)[0];
        }
        finally
        {
            Im2Col.Tiled = true;
            ConvScatter.Allow = true;
        }
        Assert.Equal(blocked, tiled);
    }

    /// <summary>The kernel gradient as Pᵀ·dY (<c>ConvKernelGradient</c>): the CNN's second-layer dW, a padded and a
    /// strided variant, against a double-precision loop (within 1e-5 of the magnitude sum), and bitwise the same on
    /// one core and on all of them (fixed chunks).</summary>
    [Theory]
    [InlineData(64, 13, 32, 3, 64, 0, 1)]    // [64,13,13,32] ⊛ [64,11,11,64] -> [3,3,32,64]
    [InlineData(20, 12, 16, 3, 32, 1, 1)]    // SAME padding
    [InlineData(30, 15, 24, 3, 16, 0, 2)]    // stride 2: the gradient reads dY with rhs dilation
    public void KernelGradientMatchesADoubleReference(int batch, int size, int channels, int k, int outChannels, int pad, int stride)
    {
        int outSize = (size + 2 * pad - k) / stride + 1;
        var rng = new Random(batch + size + channels);
        var x = Enumerable.Range(0, batch * size * size * channels).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var dy = Enumerable.Range(0, batch * outSize * outSize * outChannels).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // XLA's kernel-gradient convolution: x's batch as the input feature, dY as the kernel
        string window = $"size={outSize}x{outSize}" + (pad > 0 ? $" pad={pad}_{pad + (size + 2 * pad - k) % stride}x{pad}_{pad + (size + 2 * pad - k) % stride}" : "")
            + (stride > 1 ? $" rhs_dilate={stride}x{stride}" : "");
        if (pad == 0 && (size - k) % stride != 0) window = $"size={outSize}x{outSize} pad=0_{-((size - k) % stride)}x0_{-((size - k) % stride)} rhs_dilate={stride}x{stride}";
        var module = HloTextParser.Parse($$"""
            HloModule kernel_gradient

            ENTRY main {
              x = f32[{{batch}},{{size}},{{size}},{{channels}}] parameter(0)
              dy = f32[{{batch}},{{outSize}},{{outSize}},{{outChannels}}] parameter(1)
              ROOT dw = f32[{{k}},{{k}},{{channels}},{{outChannels}}] convolution(x, dy), window={{{window}}}, dim_labels=f01b_i01o->01bf
            }
            """);
        var args = new Tensor[] { Tensor<float>.FromArray(x, batch, size, size, channels), Tensor<float>.FromArray(dy, batch, outSize, outSize, outChannels) };
        var exe = Cpu.CompileHlo(module);
        long before = ConvKernelGradient.RunsOnThisThread;
        var got = ((Tensor<float>)Cpu.Download(exe.Execute(args.Select(Cpu.Upload).ToArray())[0])).Data;
        Assert.Equal(before + 1, ConvKernelGradient.RunsOnThisThread);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                for (int c = 0; c < channels; c++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double sum = 0, magnitude = 0;
                        for (int n = 0; n < batch; n++)
                            for (int u = 0; u < outSize; u++)
                                for (int v = 0; v < outSize; v++)
                                {
                                    int ih = u * stride + i - pad, iw = v * stride + j - pad;
                                    if (ih < 0 || iw < 0 || ih >= size || iw >= size) continue;
                                    double term = (double)x[((n * size + ih) * size + iw) * channels + c] * dy[((n * outSize + u) * outSize + v) * outChannels + o];
                                    sum += term;
                                    magnitude += Math.Abs(term);
                                }
                        float actual = got[((i * k + j) * channels + c) * outChannels + o];
                        Assert.True(Math.Abs(actual - sum) <= 1e-5 * magnitude + 1e-30, $"dw[{i},{j},{c},{o}] = {actual}, expected {sum} (magnitude {magnitude})");
                    }
        byte[] serial;
        using (CpuThreadPool.Serial()) serial = ResultBytes.Of(Cpu, exe, args)[0];
        Assert.Equal(serial, ResultBytes.Of(Cpu, exe, args)[0]);
    }

    /// <summary>Convolutions whose output outgrows their input (an input gradient: dY ⊛ reversed K with full padding)
    /// as col2im (<c>ConvScatter</c>): against a double-precision loop (within 1e-5 of the magnitude sum), the im2col
    /// path within the same bound, and bitwise the same on one core and on all of them.</summary>
    [Theory]
    [InlineData(16, 11, 64, 32, "size=3x3 pad=2_2x2_2", "b01f_01oi->b01f")]   // the CNN's conv2 input gradient
    [InlineData(20, 8, 32, 16, "size=3x3 pad=1_2x2_1", "b01f_01io->b01f")]    // asymmetric padding, HWIO kernel
    [InlineData(30, 6, 16, 48, "size=5x5 pad=4_4x4_4", "b01f_01io->b01f")]
    public void ScatterPathMatchesADoubleReference(int batch, int size, int channels, int outChannels, string window, string labels)
    {
        int k = int.Parse(window.Split('=')[1].Split('x')[0]);
        var pads = window.Split("pad=")[1].Split('x').Select(d => d.Split('_').Select(int.Parse).ToArray()).ToArray();
        int outH = size + pads[0][0] + pads[0][1] - k + 1, outW = size + pads[1][0] + pads[1][1] - k + 1;
        var rng = new Random(batch * 3 + size);
        var x = Enumerable.Range(0, batch * size * size * channels).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        bool oi = labels.Contains("01oi");
        // kernel element (a, b, input feature i, output feature o) in the operand's layout
        var w = Enumerable.Range(0, k * k * channels * outChannels).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float K(int a, int b, int i, int o) => oi ? w[((a * k + b) * outChannels + o) * channels + i] : w[((a * k + b) * channels + i) * outChannels + o];
        var module = HloTextParser.Parse($$"""
            HloModule scatter

            ENTRY main {
              x = f32[{{batch}},{{size}},{{size}},{{channels}}] parameter(0)
              w = f32[{{k}},{{k}},{{(oi ? outChannels : channels)}},{{(oi ? channels : outChannels)}}] parameter(1)
              ROOT y = convolution(x, w), window={{{window}}}, dim_labels={{labels}}
            }
            """);
        var args = new Tensor[]
        {
            Tensor<float>.FromArray(x, batch, size, size, channels),
            Tensor<float>.FromArray(w, k, k, oi ? outChannels : channels, oi ? channels : outChannels),
        };
        var exe = Cpu.CompileHlo(module);
        long before = ConvScatter.RunsOnThisThread;
        var got = ((Tensor<float>)Cpu.Download(exe.Execute(args.Select(Cpu.Upload).ToArray())[0])).Data;
        Assert.Equal(before + 1, ConvScatter.RunsOnThisThread);
        float[] im2col;
        ConvScatter.Allow = false;
        try
        {
            im2col = ((Tensor<float>)Cpu.Download(exe.Execute(args.Select(Cpu.Upload).ToArray())[0])).Data;
        }
        finally
        {
            ConvScatter.Allow = true;
        }
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double sum = 0, magnitude = 0;
                        for (int a = 0; a < k; a++)
                            for (int b = 0; b < k; b++)
                            {
                                int iy = oy + a - pads[0][0], ix = ox + b - pads[1][0];
                                if (iy < 0 || ix < 0 || iy >= size || ix >= size) continue;
                                for (int i = 0; i < channels; i++)
                                {
                                    double term = (double)x[((n * size + iy) * size + ix) * channels + i] * K(a, b, i, o);
                                    sum += term;
                                    magnitude += Math.Abs(term);
                                }
                            }
                        int at = ((n * outH + oy) * outW + ox) * outChannels + o;
                        Assert.True(Math.Abs(got[at] - sum) <= 1e-5 * magnitude + 1e-30, $"y[{n},{oy},{ox},{o}] = {got[at]}, expected {sum}");
                        Assert.True(Math.Abs(im2col[at] - sum) <= 1e-5 * magnitude + 1e-30, $"im2col y[{n},{oy},{ox},{o}] = {im2col[at]}, expected {sum}");
                    }
        byte[] serial;
        using (CpuThreadPool.Serial()) serial = ResultBytes.Of(Cpu, exe, args)[0];
        Assert.Equal(serial, ResultBytes.Of(Cpu, exe, args)[0]);
    }

    /// <summary>NCHW input and OIHW kernel (PyTorch's layouts) go through the canonicalising copies first.</summary>
    [Fact]
    public void ShallowPathWithTorchLayouts()
    {
        var rng = new Random(3);
        var x = Enumerable.Range(0, 2 * 1 * 20 * 20).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var w = Enumerable.Range(0, 24 * 1 * 3 * 3).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var module = HloTextParser.Parse("""
            HloModule nchw

            ENTRY main {
              x = f32[2,1,20,20] parameter(0)
              w = f32[24,1,3,3] parameter(1)
              ROOT y = convolution(x, w), window={size=3x3 pad=1_1x1_1}, dim_labels=bf01_oi01->bf01
            }
            """);
        var args = new Tensor[] { Tensor<float>.FromArray(x, 2, 1, 20, 20), Tensor<float>.FromArray(w, 24, 1, 3, 3) };
        var (shallow, gemm) = ShallowAndGemm(Cpu.CompileHlo(module), args);
        Assert.Equal(gemm, shallow);
    }

    /// <summary>The kernel gradient of a shallow layer (few output rows, a long patch) runs <c>ConvFewRows</c>: its sum
    /// is split into fixed parts, so it rounds differently from im2col (checked within 2e-6 relative to the sum of
    /// magnitudes, against a double reference) but is the same with and without the multi-core split, bit for bit.
    /// Every case has a patch of at least 1024 products, the path's threshold.</summary>
    [Theory]
    [InlineData(16, 28, 3, 32, "size=26x26", 1)]
    [InlineData(12, 12, 3, 16, "size=10x10", 1)]
    [InlineData(8, 14, 3, 32, "size=14x14 pad=1_1x1_1", 1)]
    [InlineData(8, 15, 4, 16, "size=12x13", 1)]
    [InlineData(13, 11, 3, 32, "size=9x9", 1)]
    public void FewRowsKernelGradient(int batch, int size, int k, int outChannels, string window, int channels)
    {
        var rng = new Random(batch * 13 + size);
        var dims = window.Split(' ')[0].Split('=')[1].Split('x').Select(int.Parse).ToArray();
        bool padded = window.Contains("pad", StringComparison.Ordinal);
        int kh = padded ? 3 : size - dims[0] + 1, kw = padded ? 3 : size - dims[1] + 1;
        var x = Enumerable.Range(0, batch * size * size * channels).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var dy = Enumerable.Range(0, batch * dims[0] * dims[1] * outChannels).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var module = HloTextParser.Parse($$"""
            HloModule dw

            ENTRY main {
              x = f32[{{batch}},{{size}},{{size}},{{channels}}] parameter(0)
              dy = f32[{{batch}},{{dims[0]}},{{dims[1]}},{{outChannels}}] parameter(1)
              ROOT dw = convolution(x, dy), window={{{window}}}, dim_labels=f01b_i01o->01bf
            }
            """);
        Assert.Equal(new long[] { kh, kw, channels, outChannels }, module.Entry.Root.Shape.ConcreteDims());
        var args = new Tensor[] { Tensor<float>.FromArray(x, batch, size, size, channels), Tensor<float>.FromArray(dy, batch, dims[0], dims[1], outChannels) };
        var exe = Cpu.CompileHlo(module);
        long runs = ConvFewRows.RunsOnThisThread;
        var fast = ResultBytes.Of(Cpu, exe, args)[0];
        Assert.Equal(runs + 1, ConvFewRows.RunsOnThisThread);   // the case covers the few-row path
        byte[] split;
        using (Par.ScaleGrainsForTesting(20))
            split = ResultBytes.Of(Cpu, exe, args)[0];
        Assert.Equal(fast, split);
        var got = new float[fast.Length / 4];
        Buffer.BlockCopy(fast, 0, got, 0, fast.Length);
        int pad = padded ? 1 : 0;
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                for (int o = 0; o < outChannels; o++)
                {
                    double s = 0, mag = 0;
                    for (int n = 0; n < batch; n++)
                        for (int a = 0; a < dims[0]; a++)
                            for (int b = 0; b < dims[1]; b++)
                            {
                                int ih = a + i - pad, iw = b + j - pad;
                                if (ih < 0 || iw < 0 || ih >= size || iw >= size) continue;
                                double v = (double)x[(n * size + ih) * size + iw] * dy[((n * dims[0] + a) * dims[1] + b) * outChannels + o];
                                s += v;
                                mag += Math.Abs(v);
                            }
                    double e = got[(i * kw + j) * outChannels + o];
                    Assert.True(Math.Abs(e - s) <= 2e-6 * mag + 1e-12, $"dw[{i},{j},0,{o}] = {e}, expected {s} (magnitude {mag})");
                }
    }
}
