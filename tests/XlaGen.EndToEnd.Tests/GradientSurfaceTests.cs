using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Gradients the generator derived through the new lowerings (GradZoo's loss: Conv2D with SAME, stride and
/// groups, both pools, GlobalAvgPool2D, Gelu, Elu, Silu, Softplus, LeakyRelu, Flatten, Take over a symbolic batch,
/// Slice, Concat, Stack, Pad, Reverse, Embedding, DynamicSlice/DynamicUpdateSlice, Clamp, %, Var, Std, LayerNorm),
/// checked per parameter against central differences of the same compiled loss; and a small CNN that trains.</summary>
public class GradientSurfaceTests
{
    const int N = 4;

    static (Tensor<double> X, Tensor<int> Ids, Tensor<int> Labels) Data(int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new Tensor<double>(new long[] { N, 6, 6, 2 }, Enumerable.Range(0, N * 72).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var ids = new Tensor<int>(new long[] { N, 2 }, Enumerable.Range(0, N * 2).Select(_ => rng.NextInt(5)).ToArray());
        var labels = new Tensor<int>(new long[] { N }, Enumerable.Range(0, N).Select(_ => rng.NextInt(3)).ToArray());
        return (x, ids, labels);
    }

    [Fact]
    public void GradientsThroughEveryNewLoweringMatchFiniteDifferences()
    {
        using var model = GradZoo.Create(seed: 3);
        var (x, ids, labels) = Data(1);
        var device = Devices.Cpu();
        using var program = device.CompileHlo(GradZoo.BuildLossProgram(N));
        var specs = GradZoo.ParameterSpecs;
        var parameters = model.GetParameters();

        List<Tensor> Run(IReadOnlyDictionary<string, Tensor> p)
        {
            var args = new List<Tensor> { x, ids, labels };
            args.AddRange(specs.Select(s => p[s.Path]));
            args.Add(Naive.Ones(N));   // sample_weight
            var buffers = args.Select(device.Upload).ToList();
            try
            {
                return program.Execute(buffers).Select(device.Download).ToList();
            }
            finally
            {
                foreach (var b in buffers) b.Dispose();
            }
        }

        var outputs = Run(parameters);
        double loss = ((Tensor<double>)outputs[0]).Data[0];
        Assert.True(double.IsFinite(loss) && loss > 0, $"loss {loss}");
        var rng = new SplitMix64(99);
        const double h = 1e-6;
        int nonZero = 0;
        for (int k = 0; k < specs.Count; k++)
        {
            var spec = specs[k];
            var g = ((Tensor<double>)outputs[2 + k]).Data;   // after the loss and the accuracy metric
            var v = Enumerable.Range(0, (int)spec.ElementCount).Select(_ => rng.NextDouble() - 0.5).ToArray();
            double analytic = g.Select((gi, i) => gi * v[i]).Sum();
            IReadOnlyDictionary<string, Tensor> Shifted(double eps) => specs.ToDictionary(s => s.Path, s => s.Path != spec.Path ? parameters[s.Path]
                : new Tensor<double>(s.Dims, ((Tensor<double>)parameters[s.Path]).Data.Select((value, i) => value + eps * v[i]).ToArray()));
            double numeric = (((Tensor<double>)Run(Shifted(h))[0]).Data[0] - ((Tensor<double>)Run(Shifted(-h))[0]).Data[0]) / (2 * h);
            Assert.True(Math.Abs(analytic - numeric) <= 1e-6 * Math.Max(1, Math.Abs(numeric)),
                $"{spec.Path}: gradient·v {analytic:R} vs central difference {numeric:R}");
            if (Math.Abs(numeric) > 1e-4) nonZero++;
        }
        // every parameter but 'corner' (only read through Cast<int>) carries gradient
        Assert.Equal(specs.Count - 1, nonZero);
        Assert.True(Gradient(outputs, specs, "corner").All(v => v == 0));
    }

    static double[] Gradient(List<Tensor> outputs, IReadOnlyList<ParameterSpec> specs, string path) =>
        ((Tensor<double>)outputs[2 + specs.Select(s => s.Path).ToList().IndexOf(path)]).Data;

    static (Tensor<float> X, Tensor<int> Y) Stripes(int n, int seed)
    {
        // three classes of 8×8 images: a horizontal, a vertical or a diagonal bar at a random offset, in noise
        var rng = new SplitMix64((ulong)seed);
        var x = new float[n * 64];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = y[i] = rng.NextInt(3), at = rng.NextInt(8);
            for (int r = 0; r < 8; r++)
            for (int q = 0; q < 8; q++)
            {
                bool on = c == 0 ? r == at : c == 1 ? q == at : (r + q) % 8 == at;
                x[i * 64 + r * 8 + q] = (on ? 1f : 0f) + (float)(rng.NextDouble() - 0.5) * 0.6f;
            }
        }
        return (new Tensor<float>(new long[] { n, 8, 8, 1 }, x), new Tensor<int>(new long[] { n }, y));
    }

    [Fact]
    public void SmallCnnTrainsWithFit()
    {
        var (x, y) = Stripes(600, 1);
        var (vx, vy) = Stripes(200, 2);
        using var model = TinyCnn.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        var before = model.Evaluate(vx, vy);
        var history = model.Fit(x, y, new FitOptions { Epochs = 4, BatchSize = 32, Validation = new Dataset(vx, vy), Verbose = false });
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss, history.ToTable());
        Assert.True(history.Epochs[^1].ValidationMetrics!["accuracy"] > 0.9, $"before training: {before}\n" + history.ToTable());
    }
}
