using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Tests.Training;

/// <summary>Keras' clipvalue, clipnorm and global_clipnorm, emitted as HLO by <see cref="Optimizer.ClipGradients"/>
/// and run on the CPU executor, against naive loops in double over gradients of several shapes and both float types.</summary>
public class GradientClippingTests
{
    static readonly long[][] Shapes = { Array.Empty<long>(), new long[] { 5 }, new long[] { 2, 3 }, new long[] { 2, 2, 2 } };

    static double[][] Gradients(int seed, double scale)
    {
        var rng = new SplitMix64((ulong)seed);
        return Shapes.Select(s => Enumerable.Range(0, (int)s.Aggregate(1L, (a, d) => a * d)).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray()).ToArray();
    }

    static double[][] RunClip(Optimizer optimizer, double[][] gradients, ElementType type)
    {
        var b = new HloBuilder("clip");
        var ps = Shapes.Select((s, i) => b.Parameter(Shape.Array(type, s), "g" + i)).ToList();
        var clipped = optimizer.ClipGradients(b, ps);
        var device = Devices.Cpu();
        using var exe = device.CompileHlo(b.BuildModule(b.Tuple(clipped.ToArray())));
        var args = gradients.Select((g, i) => device.Upload(type == ElementType.F64
            ? new Tensor<double>(Shapes[i], g)
            : new Tensor<float>(Shapes[i], g.Select(v => (float)v).ToArray()))).ToList();
        return exe.Execute(args).Select(o => device.Download(o) switch
        {
            Tensor<double> d => d.Data,
            Tensor<float> f => f.Data.Select(v => (double)v).ToArray(),
            var t => throw new InvalidOperationException(t.ToString()),
        }).ToArray();
    }

    static double Norm(IEnumerable<double> values) => Math.Sqrt(values.Sum(v => v * v));

    static void AssertClose(double[][] want, double[][] got, double tolerance)
    {
        for (int i = 0; i < want.Length; i++)
        {
            for (int j = 0; j < want[i].Length; j++)
                Assert.True(Math.Abs(want[i][j] - got[i][j]) <= tolerance * Math.Max(1, Math.Abs(want[i][j])), $"gradient {i}[{j}]: HLO {got[i][j]:R}, naive {want[i][j]:R}");
        }
    }

    public static TheoryData<string, double, bool> Cases => new()
    {
        { "clipvalue", 0.3, true }, { "clipvalue", 10, false },
        { "clipnorm", 0.5, true }, { "clipnorm", 100, false },
        { "global_clipnorm", 1.0, true }, { "global_clipnorm", 100, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClippingMatchesTheNaiveDefinition(string kind, double limit, bool bites)
    {
        var g = Gradients(7, 2.0);
        double[][] want = kind switch
        {
            "clipvalue" => g.Select(t => t.Select(v => Math.Clamp(v, -limit, limit)).ToArray()).ToArray(),
            "clipnorm" => g.Select(t => t.Select(v => v * (limit / Math.Max(Norm(t), limit))).ToArray()).ToArray(),
            _ => g.Select(t => t.Select(v => v * (limit / Math.Max(Norm(g.SelectMany(x => x)), limit))).ToArray()).ToArray(),
        };
        Assert.Equal(bites, !want.Zip(g).All(p => p.First.SequenceEqual(p.Second)));   // the case does (or does not) clip
        var optimizer = kind switch
        {
            "clipvalue" => new Sgd(0.1) { ClipValue = limit },
            "clipnorm" => new Sgd(0.1) { ClipNorm = limit },
            _ => (Optimizer)new Sgd(0.1) { GlobalClipNorm = limit },
        };
        AssertClose(want, RunClip(optimizer, g, ElementType.F64), 1e-13);
        AssertClose(want, RunClip(optimizer, g, ElementType.F32), 2e-6);
        if (kind != "clipvalue" && bites)
        {
            double norm = kind == "clipnorm" ? want.Max(t => Norm(t)) : Norm(want.SelectMany(x => x));
            Assert.True(Math.Abs(norm - limit) < 1e-12 * limit, $"clipped norm {norm:R}, limit {limit:R}");
        }
    }

    [Fact]
    public void OnlyOneClippingAndPositiveLimits()
    {
        var both = new Adam(1e-3) { ClipNorm = 1, GlobalClipNorm = 1 };
        var e = Assert.Throws<ArgumentException>(() => both.CheckClipping());
        Assert.Contains("set at most one of ClipValue, ClipNorm and GlobalClipNorm", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1) { ClipValue = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1) { GlobalClipNorm = double.NaN });
        Assert.Equal("adam(beta1=0.9, beta2=0.999, epsilon=1E-08, global_clipnorm=1)", new Adam(1e-3) { GlobalClipNorm = 1 }.Describe());
        Assert.Equal("sgd(clipvalue=0.5)", new Sgd(0.1) { ClipValue = 0.5 }.Describe());
        Assert.Equal("sgd", new Sgd(0.1).Describe());
    }
}
