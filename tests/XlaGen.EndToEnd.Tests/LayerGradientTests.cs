using System.Globalization;
using XlaGen.Hlo;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>The gradients the generated loss programs compute through each library layer (f32), element by element,
/// against central differences of the same loss written as naive loops in f64 (<see cref="NaiveLayers"/>); the loss
/// value is checked against the naive one too. Each model's loss is Σ layer(x + shift) · r, so the gradient of the
/// zero parameter <c>shift</c> is the input gradient summed over the batch.</summary>
public class LayerGradientTests
{
    const int N = 2;

    /// <summary>Runs <paramref name="program"/> on the inputs and the model's parameters, then checks the loss and every
    /// element of every trainable parameter's gradient against the naive loss's central differences.</summary>
    static void Check(HloModule program, IReadOnlyList<ParameterSpec> specs, LossDefinition loss, IReadOnlyList<Tensor> inputs,
        IReadOnlyDictionary<string, Tensor> parameters, Func<IReadOnlyDictionary<string, Nd>, double> naiveLoss, int expectedNonZero = -1)
    {
        var device = Devices.Cpu();
        using var executable = device.CompileHlo(program);
        var args = new List<Tensor>(inputs);
        args.AddRange(specs.Select(s => parameters[s.Path]));
        foreach (var extra in program.Entry.Parameters.Skip(args.Count))   // by name, in the order the generator made them
        {
            args.Add(extra.Name switch
            {
                "rng" => Tensor<ulong>.FromArray(new ulong[3], 3),
                "training" => Tensor<bool>.Scalar(true),
                _ => Naive.Ones((int)extra.Shape.Dims[0].Value),   // sample_weight
            });
        }
        var buffers = args.Select(device.Upload).ToList();
        List<Tensor> outputs;
        try
        {
            outputs = executable.Execute(buffers).Select(device.Download).ToList();
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }

        var at = specs.ToDictionary(s => s.Path, s => Nd.From(parameters[s.Path]));
        double want = naiveLoss(at);
        double got = Naive.Vector(outputs[0])[0];
        Assert.True(Math.Abs(got - want) <= 1e-4 * Math.Max(1, Math.Abs(want)), $"loss {got:R}, naive {want:R}");

        const double h = 1e-5;
        int nonZero = 0;
        for (int k = 0; k < loss.TrainableParameters.Count; k++)
        {
            string path = loss.TrainableParameters[k];
            var gradient = Naive.Vector(outputs[1 + loss.Metrics.Count + k]);
            var p = at[path];
            Assert.Equal(p.Data.Length, gradient.Length);
            bool any = false;
            for (int i = 0; i < p.Data.Length; i++)
            {
                double saved = p.Data[i];
                p.Data[i] = saved + h;
                double up = naiveLoss(at);
                p.Data[i] = saved - h;
                double down = naiveLoss(at);
                p.Data[i] = saved;
                double numeric = (up - down) / (2 * h);
                if (!(Math.Abs(gradient[i] - numeric) <= 2e-4 * Math.Max(1, Math.Abs(numeric))))
                    Assert.Fail(string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]: gradient {gradient[i]:R}, central difference {numeric:R}"));
                any |= Math.Abs(numeric) > 1e-3;
            }
            if (any) nonZero++;
        }
        // every trainable parameter must carry gradient, or the test proves little
        Assert.Equal(expectedNonZero < 0 ? loss.TrainableParameters.Count : expectedNonZero, nonZero);
    }

    /// <summary>A parameter with random values, so biases and norm parameters (zeros and ones at creation) are tested.</summary>
    static void Randomise(ModelRunner model, int seed, params string[] paths)
    {
        foreach (var path in paths)
        {
            var shape = model.GetParameter(path).Shape.ToArray();
            model.SetParameter(path, Naive.Random(seed++, shape));
        }
    }

    [Fact]
    public void DenseGradientsMatchFiniteDifferences()
    {
        using var model = DenseGrad.Create(seed: 1);
        Randomise(model, 10, "dense.bias", "shift");
        var x = Naive.Random(20, N, 4);
        var r = Naive.Random(21, N, 3);
        Check(DenseGrad.BuildLossProgram(N), DenseGrad.ParameterSpecs, DenseGrad.LossDefinition, new Tensor[] { x, r }, model.GetParameters(),
            p => NaiveLayers.Dense(Nd.From(x).Plus(p["shift"]), p["dense.kernel"], p["dense.bias"], Math.Tanh).Dot(Nd.From(r)));
    }

    [Fact]
    public void Conv2DGradientsWithStrideSamePaddingGroupsAndDilationMatchFiniteDifferences()
    {
        using var model = ConvGrad.Create(seed: 2);
        Randomise(model, 10, "conv.bias", "dilated.bias");
        var x = Naive.Random(22, N, 5, 5, 4);
        var r1 = Naive.Random(23, N, 3, 3, 4);
        var r2 = Naive.Random(24, N, 3, 3, 3);
        Check(ConvGrad.BuildLossProgram(N), ConvGrad.ParameterSpecs, ConvGrad.LossDefinition, new Tensor[] { x, r1, r2 }, model.GetParameters(), p =>
        {
            var s = Nd.From(x).Plus(p["shift"]);
            return NaiveLayers.Conv2D(s, p["conv.kernel"], p["conv.bias"], 2, true, 1, 2).Dot(Nd.From(r1))
                + NaiveLayers.Conv2D(s, p["dilated.kernel"], p["dilated.bias"], 1, false, 2, 1).Dot(Nd.From(r2));
        });
    }

    [Fact]
    public void DepthwiseConv2DGradientsMatchFiniteDifferences()
    {
        using var model = DepthwiseGrad.Create(seed: 3);
        Randomise(model, 10, "strided.bias");
        var x = Naive.Random(25, N, 5, 5, 3);
        var r1 = Naive.Random(26, N, 3, 3, 6);
        var r2 = Naive.Random(27, N, 3, 3, 3);
        // the unused layer 'relu' gets no gradient; 'dilated.bias' is not used (useBias: false)
        Check(DepthwiseGrad.BuildLossProgram(N), DepthwiseGrad.ParameterSpecs, DepthwiseGrad.LossDefinition, new Tensor[] { x, r1, r2 }, model.GetParameters(), p =>
        {
            var s = Nd.From(x).Plus(p["shift"]);
            return NaiveLayers.DepthwiseConv2D(s, p["strided.depthwiseKernel"], p["strided.bias"], 2, true, 1).Dot(Nd.From(r1))
                + NaiveLayers.DepthwiseConv2D(s, p["dilated.depthwiseKernel"], null, 1, false, 2).Dot(Nd.From(r2));
        }, expectedNonZero: 4);
    }

    [Fact]
    public void PoolingAndFlattenInputGradientsMatchFiniteDifferences()
    {
        using var model = PoolGrad.Create(seed: 4);
        var x = Naive.Random(28, N, 5, 5, 2);
        var r = new[] { Naive.Random(29, N, 2, 2, 2), Naive.Random(30, N, 3, 3, 2), Naive.Random(31, N, 2), Naive.Random(32, N, 50) };
        Check(PoolGrad.BuildLossProgram(N), PoolGrad.ParameterSpecs, PoolGrad.LossDefinition, new Tensor[] { x, r[0], r[1], r[2], r[3] }, model.GetParameters(), p =>
        {
            var s = Nd.From(x).Plus(p["shift"]);
            var flat = s.Map(v => v * v);   // Flatten is row-major: the same data as [N, 50]
            return NaiveLayers.Pool(s, 2, 2, false, true).Dot(Nd.From(r[0])) + NaiveLayers.Pool(s, 3, 2, true, false).Dot(Nd.From(r[1]))
                + NaiveLayers.GlobalAvgPool(s).Dot(Nd.From(r[2])) + flat.Data.Zip(Naive.Vector(r[3]), (a, b) => a * b).Sum();
        });
    }

    [Fact]
    public void LayerNormAndActivationGradientsMatchFiniteDifferences()
    {
        using var model = NormActivationGrad.Create(seed: 5);
        Randomise(model, 10, "norm.gamma", "norm.beta");
        var x = Naive.Random(33, 3, 5);
        var r = Naive.Random(34, 3, 5);
        Check(NormActivationGrad.BuildLossProgram(3), NormActivationGrad.ParameterSpecs, NormActivationGrad.LossDefinition, new Tensor[] { x, r },
            model.GetParameters(), p =>
        {
            var s = Nd.From(x).Plus(p["shift"]);
            var rr = Nd.From(r);
            var softmax = NaiveLayers.Softmax(s);
            var a = new Nd(s.Shape);
            for (int i = 0; i < s.Data.Length; i++)
            {
                double v = s.Data[i];
                a.Data[i] = Math.Max(v, 0) + NaiveLayers.Sigmoid(v) * 2 + Math.Tanh(v) * 3 + softmax.Data[i] * 4 + NaiveLayers.Gelu(v) * 5
                    + NaiveLayers.Elu(v) * 6 + v * NaiveLayers.Sigmoid(v) * 7 + NaiveLayers.Softplus(v) * 8;
            }
            return NaiveLayers.LayerNorm(s, p["norm.gamma"], p["norm.beta"]).Dot(rr) + a.Dot(rr.Map(v => v * v));
        });
    }

    [Fact]
    public void EmbeddingGradientsMatchFiniteDifferences()
    {
        using var model = EmbeddingGrad.Create(seed: 6);
        var ids = new Tensor<int>(new long[] { N, 3 }, new[] { 0, 5, 2, 2, 9, -1 });   // a repeated id, and two clamped ones
        var r = Naive.Random(35, N, 3, 4);
        Check(EmbeddingGrad.BuildLossProgram(N), EmbeddingGrad.ParameterSpecs, EmbeddingGrad.LossDefinition, new Tensor[] { ids, r }, model.GetParameters(),
            p => NaiveLayers.Embedding(p["embedding.embeddings"], ids.Data, N, 3).Dot(Nd.From(r)));
    }

    [Fact]
    public void BatchNormTrainingGradientsThroughTheBatchStatisticsMatchFiniteDifferences()
    {
        using var model = BatchNormGrad.Create(seed: 7);
        Randomise(model, 10, "norm.gamma", "norm.beta");
        Assert.True(BatchNormGrad.LossDefinition.HasTrainingMode);
        Assert.Equal(new[] { "shift", "norm.gamma", "norm.beta" }, BatchNormGrad.LossDefinition.TrainableParameters);
        var x = Naive.Random(36, N, 3, 3, 2);
        var r = Naive.Random(37, N, 3, 3, 2);
        // the shift's gradient is not zero only because r varies: Σ over the batch of a normalised input is 0
        Check(BatchNormGrad.BuildLossProgram(N), BatchNormGrad.ParameterSpecs, BatchNormGrad.LossDefinition, new Tensor[] { x, r }, model.GetParameters(),
            p => NaiveLayers.BatchNormTraining(Nd.From(x).Plus(p["shift"]), p["norm.gamma"], p["norm.beta"]).Dot(Nd.From(r)));
    }

    [Fact]
    public void MultiHeadAttentionGradientsMatchFiniteDifferences()
    {
        using var model = AttentionGrad.Create(seed: 8);
        Randomise(model, 10, "self.queryBias", "self.keyBias", "self.valueBias", "self.outputBias", "causal.queryBias", "causal.valueBias",
            "cross.keyBias", "cross.outputBias");
        var x = Naive.Random(38, N, 4, 6);
        var v = Naive.Random(39, N, 3, 5);
        var k = Naive.Random(40, N, 3, 4);
        var r = Naive.Random(41, N, 4, 6);
        // crossKeyIsValue is not in the loss (8 parameters without gradient); the key's bias only shifts every score of a
        // query equally, which softmax cancels: its gradient is zero, as in Keras (3 layers).
        Check(AttentionGrad.BuildLossProgram(N), AttentionGrad.ParameterSpecs, AttentionGrad.LossDefinition, new Tensor[] { x, v, k, r }, model.GetParameters(), p =>
        {
            var s = Nd.From(x).Plus(p["shift"]);
            var rr = Nd.From(r);
            return NaiveLayers.MultiHeadAttention(s, s, s, p, "self", true, false).Dot(rr)
                + NaiveLayers.MultiHeadAttention(s, s, s, p, "causal", true, true).Dot(rr.Map(z => z * z))
                + NaiveLayers.MultiHeadAttention(s, Nd.From(v), Nd.From(k), p, "cross", true, false).Dot(rr.Map(z => z * 0.5));
        }, expectedNonZero: 1 + 3 * 7);
    }
}
