using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The direct NHWC pooling kernels (max-pool reduce-window and its select-and-scatter gradient) against the rows
/// kernel they replace and the scalar-program kernel, bitwise: data with many ties, NaNs and signed zeros, odd
/// sizes that VALID pooling leaves a row/column of, windows that tile the image exactly (written once, not filled
/// first), a sum-pool beside the max-pool (register accumulation of whole vectors), overlapping windows (stride &lt; size, where one element
/// collects several adds in order), SAME padding, channel counts around the vector width, f32 and f64, with and
/// without the multi-core split.
/// </summary>
public class PoolingKernelTests
{
    static readonly CpuDevice Cpu = new();

    static string Module(string t, long n, long h, long w, long c, int k, int s, bool same, bool swappedSelect, string scatter = "add")
    {
        long oh, ow, padH = 0, padW = 0;
        if (same)
        {
            oh = (h + s - 1) / s;
            ow = (w + s - 1) / s;
            padH = Math.Max((oh - 1) * s + k - h, 0);
            padW = Math.Max((ow - 1) * s + k - w, 0);
        }
        else
        {
            oh = (h - k) / s + 1;
            ow = (w - k) / s + 1;
        }
        string pad = same ? $" pad=0_0x{padH / 2}_{padH - padH / 2}x{padW / 2}_{padW - padW / 2}x0_0" : "";
        string win = $"window={{size=1x{k}x{k}x1 stride=1x{s}x{s}x1{pad}}}";
        string compare = swappedSelect ? "ROOT c = pred[] compare(b, a), direction=LE" : "ROOT c = pred[] compare(a, b), direction=GE";
        return $$"""
            HloModule pool

            sel {
              a = {{t}}[] parameter(0)
              b = {{t}}[] parameter(1)
              {{compare}}
            }

            sca {
              a = {{t}}[] parameter(0)
              b = {{t}}[] parameter(1)
              ROOT r = {{t}}[] {{scatter}}(a, b)
            }

            mx {
              a = {{t}}[] parameter(0)
              b = {{t}}[] parameter(1)
              ROOT r = {{t}}[] maximum(a, b)
            }

            ENTRY main {
              x = {{t}}[{{n}},{{h}},{{w}},{{c}}] parameter(0)
              g = {{t}}[{{n}},{{oh}},{{ow}},{{c}}] parameter(1)
              i0 = {{t}}[] parameter(2)
              i1 = {{t}}[] parameter(3)
              rw = {{t}}[{{n}},{{oh}},{{ow}},{{c}}] reduce-window(x, i1), {{win}}, to_apply=mx
              ss = {{t}}[{{n}},{{h}},{{w}},{{c}}] select-and-scatter(x, g, i0), {{win}}, select=sel, scatter=sca
              rs = {{t}}[{{n}},{{oh}},{{ow}},{{c}}] reduce-window(x, i0), {{win}}, to_apply=sca
              ROOT o = ({{t}}[{{n}},{{oh}},{{ow}},{{c}}], {{t}}[{{n}},{{h}},{{w}},{{c}}], {{t}}[{{n}},{{oh}},{{ow}},{{c}}]) tuple(rw, ss, rs)
            }
            """;
    }

    /// <summary>Few distinct levels (so windows tie), about 2 % NaN, and both zeros.</summary>
    static double Value(Random rng, bool nans)
    {
        double r = rng.NextDouble();
        if (nans && r < 0.02) return double.NaN;
        if (r < 0.06) return -0.0;
        if (r < 0.10) return 0.0;
        return Math.Round(rng.NextDouble() * 6 - 3) * 0.25;
    }

    static Tensor Random(ElementType t, long[] dims, int seed, bool nans)
    {
        var rng = new Random(seed);
        long n = dims.Aggregate(1L, (a, b) => a * b);
        return t == ElementType.F32
            ? Tensor<float>.FromArray(Enumerable.Range(0, (int)n).Select(_ => (float)Value(rng, nans)).ToArray(), dims)
            : Tensor<double>.FromArray(Enumerable.Range(0, (int)n).Select(_ => Value(rng, nans)).ToArray(), dims);
    }

    static byte[][] Run(HloModule module, Tensor[] args, PoolShape.Path path, int grainShift)
    {
        using var _ = PoolShape.ForceForTesting(path);
        using var exe = Cpu.CompileHlo(module);
        using var __ = Par.ScaleGrainsForTesting(grainShift);
        return ResultBytes.Of(Cpu, exe, args);
    }

    static void Check(string t, long n, long h, long w, long c, int k, int s, bool same = false, bool swappedSelect = false,
        bool nans = true, string scatter = "add", int seed = 1)
    {
        var module = HloTextParser.Parse(Module(t, n, h, w, c, k, s, same, swappedSelect, scatter));
        var type = t == "f32" ? ElementType.F32 : ElementType.F64;
        var ps = module.Entry.Parameters;
        var args = new[]
        {
            Random(type, ps[0].Shape.ConcreteDims(), seed, nans),
            Random(type, ps[1].Shape.ConcreteDims(), seed + 1, nans),
            Random(type, [], seed + 2, false),
            Random(type, [], seed + 3, false),
        };
        var rows = Run(module, args, PoolShape.Path.Rows, 0);
        var generic = Run(module, args, PoolShape.Path.Generic, 0);
        foreach (int shift in new[] { 0, 14 })
        {
            var direct = Run(module, args, PoolShape.Path.Direct, shift);
            Assert.True(rows[0].AsSpan().SequenceEqual(direct[0]), $"reduce-window differs from the rows kernel (grain shift {shift})");
            Assert.True(rows[1].AsSpan().SequenceEqual(direct[1]), $"select-and-scatter differs from the rows kernel (grain shift {shift})");
            Assert.True(generic[1].AsSpan().SequenceEqual(direct[1]), $"select-and-scatter differs from the scalar kernel (grain shift {shift})");
            Assert.True(rows[2].AsSpan().SequenceEqual(direct[2]), $"reduce-window with the scatter's op ({scatter}) differs from the rows kernel (grain shift {shift})");
        }
    }

    [Theory]
    [InlineData("f32", 1L)]
    [InlineData("f32", 3L)]
    [InlineData("f32", 16L)]
    [InlineData("f32", 32L)]
    [InlineData("f32", 33L)]
    [InlineData("f32", 64L)]
    [InlineData("f64", 1L)]
    [InlineData("f64", 3L)]
    [InlineData("f64", 5L)]
    [InlineData("f64", 33L)]
    public void MaxPool2x2Stride2MatchesTheOtherKernels(string t, long c)
    {
        Check(t, 3, 8, 8, c, 2, 2);
        Check(t, 3, 11, 11, c, 2, 2, seed: 7);
    }

    [Theory]
    [InlineData("f32", 1L)]
    [InlineData("f32", 17L)]
    [InlineData("f32", 32L)]
    [InlineData("f64", 3L)]
    [InlineData("f64", 16L)]
    public void OverlappingWindowsAddInTheSameOrder(string t, long c)
    {
        Check(t, 2, 11, 11, c, 3, 2);
        Check(t, 2, 9, 10, c, 3, 1, seed: 3);
    }

    [Theory]
    [InlineData("f32", 7L, 3, 2)]
    [InlineData("f32", 32L, 2, 2)]
    [InlineData("f32", 9L, 3, 3)]
    [InlineData("f64", 4L, 3, 2)]
    public void SamePaddingMatchesTheOtherKernels(string t, long c, int k, int s)
    {
        Check(t, 2, 11, 11, c, k, s, same: true);
        Check(t, 2, 12, 7, c, k, s, same: true, seed: 5);
    }

    [Theory]
    [InlineData("f32", 8L)]
    [InlineData("f32", 33L)]
    [InlineData("f64", 9L)]
    public void SwappedSelectAndOtherScatterOpsMatch(string t, long c)
    {
        Check(t, 2, 11, 11, c, 3, 2, swappedSelect: true);
        Check(t, 2, 11, 11, c, 3, 2, scatter: "multiply", nans: false, seed: 9);
        Check(t, 2, 8, 8, c, 2, 2, scatter: "maximum", seed: 11);
    }

    /// <summary>The sample CNN's shapes, large enough that the batch split runs without scaled grains.</summary>
    [Fact]
    public void CnnShapesMatchTheOtherKernels()
    {
        Check("f32", 8, 26, 26, 32, 2, 2);
        Check("f32", 8, 11, 11, 64, 2, 2, seed: 3);
    }
}
