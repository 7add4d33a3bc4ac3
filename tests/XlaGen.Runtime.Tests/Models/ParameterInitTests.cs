using XlaGen.Hlo;

namespace XlaGen.Tests.Models;

/// <summary>
/// Every initialiser against its formula (Keras' definitions, written out here from the documentation, not taken from
/// ParameterInit): bounds, mean and standard deviation. Tolerances are 5 standard errors of the statistic for the
/// sample size (at least 60 000 draws): the mean's SE is σ/√n; the sample std's relative SE is √((κ-1)/(4n)) with
/// kurtosis κ ≤ 3 for every distribution here (uniform 1.8, normal 3, normal truncated at 2σ ≈ 2.36), so ≤ 1/√(2n).
/// A value this deterministic stream gives that is more than 5 SE off would have probability below 1e-6 if the
/// implementation were right; a wrong fan, factor or truncation moves these statistics by far more.
/// </summary>
public class ParameterInitTests
{
    static readonly (Init Init, long[] Dims, double Value)[] Rows =
    {
        (Init.Zeros, new long[] { 300, 200 }, 0),
        (Init.Ones, new long[] { 300, 200 }, 0),
        (Init.Constant, new long[] { 300, 200 }, 0.25),
        (Init.Constant, new long[] { 5, 5, 48, 64 }, -1.5),
        (Init.Uniform, new long[] { 60000 }, 0.5),
        (Init.Uniform, new long[] { 5, 5, 48, 64 }, 0.05),
        (Init.Normal, new long[] { 60000 }, 0.3),
        (Init.Normal, new long[] { 5, 5, 48, 64 }, 0.02),
        (Init.GlorotUniform, new long[] { 300, 200 }, 0),
        (Init.GlorotUniform, new long[] { 5, 5, 48, 64 }, 0),
        (Init.HeUniform, new long[] { 300, 200 }, 0),
        (Init.HeUniform, new long[] { 5, 5, 48, 64 }, 0),
        (Init.GlorotNormal, new long[] { 300, 200 }, 0),
        (Init.GlorotNormal, new long[] { 5, 5, 48, 64 }, 0),
        (Init.HeNormal, new long[] { 300, 200 }, 0),
        (Init.HeNormal, new long[] { 5, 5, 48, 64 }, 0),
        (Init.HeNormal, new long[] { 60000 }, 0),
    };

    public static TheoryData<Init, long[], double> Cases()
    {
        var data = new TheoryData<Init, long[], double>();
        foreach (var (init, dims, value) in Rows) data.Add(init, dims, value);
        return data;
    }

    [Fact]
    public void TheCasesCoverEveryInitialiser() =>
        Assert.Equal(Enum.GetValues<Init>().Order(), Rows.Select(row => row.Init).Distinct().Order());

    /// <summary>Keras' fans, written out: a vector uses its length for both; a matrix [in, out]; a conv kernel
    /// (H, W, in, out) multiplies the receptive field H·W into both.</summary>
    [Theory]
    [InlineData(new long[] { }, 1, 1)]
    [InlineData(new long[] { 7 }, 7, 7)]
    [InlineData(new long[] { 300, 200 }, 300, 200)]
    [InlineData(new long[] { 3, 3, 16, 32 }, 144, 288)]
    [InlineData(new long[] { 5, 5, 48, 64 }, 1200, 1600)]
    [InlineData(new long[] { 2, 3, 4, 5, 6 }, 120, 144)]   // 3-D conv kernel DHWIO: receptive field 2·3·4
    public void FansFollowKeras(long[] dims, double fanIn, double fanOut) =>
        Assert.Equal((fanIn, fanOut), ParameterInit.Fans(dims));

    /// <summary>Standard deviation of N(0, 1) truncated to [-2, 2], by Simpson's rule (the constant Keras divides by).</summary>
    static readonly double TruncatedStd = ComputeTruncatedStd();

    static double ComputeTruncatedStd()
    {
        const int Steps = 20000;
        double h = 4.0 / Steps, mass = 0, second = 0;
        for (int i = 0; i <= Steps; i++)
        {
            double x = -2 + i * h, w = i == 0 || i == Steps ? 1 : i % 2 == 1 ? 4 : 2;
            double pdf = Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
            mass += w * pdf;
            second += w * x * x * pdf;
        }
        return Math.Sqrt(second / mass);
    }

    [Fact]
    public void TheTruncationConstantIsTheStdOfANormalTruncatedAtTwoSigma() =>
        Assert.Equal(0.87962566103423978, TruncatedStd, 1e-9);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValuesFollowTheFormula(Init init, long[] dims, double value)
    {
        var spec = new ParameterSpec("layer.kernel", ElementType.F32, dims, init, value);
        var data = ((Tensor<float>)ParameterInit.Create(spec, seed: 11)).Data.Select(v => (double)v).ToArray();
        int n = data.Length;
        Assert.Equal(dims.Aggregate(1L, (a, b) => a * b), n);

        // Fans written out independently of ParameterInit.Fans.
        double receptive = dims.Length > 2 ? dims.Take(dims.Length - 2).Aggregate(1.0, (a, b) => a * b) : 1;
        double fanIn = dims.Length == 1 ? dims[0] : dims[^2] * receptive;
        double fanOut = dims.Length == 1 ? dims[0] : dims[^1] * receptive;

        switch (init)
        {
            case Init.Zeros: Assert.All(data, v => Assert.Equal(0.0, v)); return;
            case Init.Ones: Assert.All(data, v => Assert.Equal(1.0, v)); return;
            case Init.Constant: Assert.All(data, v => Assert.Equal(value, v)); return;
        }

        // (std of the result, bound on |x| or null, is it uniform).
        var (std, bound, uniform) = init switch
        {
            Init.Uniform => (value / Math.Sqrt(3), (double?)value, true),
            Init.GlorotUniform => (Math.Sqrt(6 / (fanIn + fanOut)) / Math.Sqrt(3), Math.Sqrt(6 / (fanIn + fanOut)), true),
            Init.HeUniform => (Math.Sqrt(6 / fanIn) / Math.Sqrt(3), Math.Sqrt(6 / fanIn), true),
            // Keras: truncated normal with stddev sqrt(scale / fan) / .8796, cut at 2 of that stddev, so that the
            // result has std sqrt(scale / fan) (glorot: scale 1, fan_avg = (in + out) / 2; he: scale 2, fan_in).
            Init.GlorotNormal => (Math.Sqrt(2 / (fanIn + fanOut)), 2 * Math.Sqrt(2 / (fanIn + fanOut)) / TruncatedStd, false),
            Init.HeNormal => (Math.Sqrt(2 / fanIn), 2 * Math.Sqrt(2 / fanIn) / TruncatedStd, false),
            Init.Normal => (value, null, false),
            _ => throw new InvalidOperationException($"no formula for {init}"),
        };

        double mean = data.Average();
        double sampleStd = Math.Sqrt(data.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        Assert.True(Math.Abs(mean) <= 5 * std / Math.Sqrt(n), $"{init} {string.Join("x", dims)}: mean {mean:G6}, allowed ±{5 * std / Math.Sqrt(n):G3}");
        double relative = 5 / Math.Sqrt(2.0 * n);
        Assert.True(Math.Abs(sampleStd / std - 1) <= relative, $"{init} {string.Join("x", dims)}: std {sampleStd:G6}, formula {std:G6} (±{relative:P2})");

        double maxAbs = data.Max(Math.Abs);
        if (bound is { } b)
        {
            // Inside the bound (float rounding of values at the edge allowed), and reaching close to it: the chance
            // that n draws all stay under b·(1 - 20/n) is below e^-20 for the uniform and smaller still for the
            // truncated normal, whose density at the edge is higher.
            Assert.True(maxAbs <= b * (1 + 1e-6), $"{init}: max |x| {maxAbs:G6} exceeds the bound {b:G6}");
            double reach = uniform ? 1 - 20.0 / n : 0.95;
            Assert.True(maxAbs >= b * reach, $"{init}: max |x| {maxAbs:G6} stays well under the bound {b:G6}");
        }
        else
        {
            // Untruncated: the share beyond 2σ is 4.55% (±5 SE of a proportion).
            double beyond = data.Count(v => Math.Abs(v) > 2 * std) / (double)n;
            double p = 0.0455003, se = Math.Sqrt(p * (1 - p) / n);
            Assert.True(Math.Abs(beyond - p) <= 5 * se, $"{init}: {beyond:P3} beyond 2σ, a normal has {p:P3}");
        }
    }

    [Fact]
    public void EachParameterHasItsOwnSeededStream()
    {
        var a = new ParameterSpec("a", ElementType.F32, new long[] { 100 }, Init.Normal, 1);
        var b = a with { Path = "b" };
        float[] Draw(ParameterSpec s, int seed) => ((Tensor<float>)ParameterInit.Create(s, seed)).Data;
        Assert.Equal(Draw(a, 1), Draw(a, 1));
        Assert.NotEqual(Draw(a, 1), Draw(a, 2));
        Assert.NotEqual(Draw(a, 1), Draw(b, 1));
    }

    [Fact]
    public void ARandomInitialiserOnAnIntegerParameterIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => ParameterInit.Create(new ParameterSpec("ids", ElementType.S32, new long[] { 4 }, Init.HeNormal, 0), 1));
        Assert.Contains("the random initialiser HeNormal needs a floating-point type", e.Message);
    }
}
