using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>The runtime's layer library against naive loops: each layer compiled into a model of this assembly (from the
/// source the runtime's generator recorded), with Keras' defaults, and the same C# run eagerly (ToModel).</summary>
public class LayerLibraryTests
{
    static readonly LayerZoo.Runner Model = CreateModel();

    static LayerZoo.Runner CreateModel()
    {
        var model = LayerZoo.Create(seed: 31);
        // Non-trivial biases and norm parameters, so the tests see them (Keras initialises them to zeros and ones).
        model.SetParameter("conv.bias", Naive.Random(32, 6));
        model.SetParameter("norm.gamma", Naive.Random(33, 5));
        model.SetParameter("norm.beta", Naive.Random(34, 5));
        model.SetParameter("dense.bias", Naive.Random(35, 3));
        return model;
    }

    static readonly Tensor<float> Images = Naive.Random(40, 2, 7, 7, 4);

    static double P(string name, params long[] index) => Naive.At(Model.GetParameter(name), index);

    /// <summary>TensorFlow's SAME padding before the first element: half the total, the odd one after.</summary>
    static long PadBefore(long n, long k, long stride, long dilation)
    {
        long outSize = (n + stride - 1) / stride;
        return Math.Max((outSize - 1) * stride + (k - 1) * dilation + 1 - n, 0) / 2;
    }

    static double Conv(Tensor x, string kernel, long[] o, int k, int stride, int dilation, int groups, long pad)
    {
        long cin = x.Shape[3], cout = Model.GetParameter(kernel).Shape[3], cinGroup = cin / groups;
        long g = o[3] / (cout / groups);
        double sum = 0;
        for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
        {
            long i = o[1] * stride + a * dilation - pad, j = o[2] * stride + b * dilation - pad;
            if (i < 0 || j < 0 || i >= x.Shape[1] || j >= x.Shape[2]) continue;
            for (int c = 0; c < cinGroup; c++) sum += Naive.At(x, o[0], i, j, g * cinGroup + c) * P(kernel, a, b, c, o[3]);
        }
        return sum;
    }

    [Fact]
    public void ParametersHaveKerasShapesNamesAndInitialisers()
    {
        Assert.Equal(new long[] { 3, 3, 2, 6 }, Model.GetParameter("conv.kernel").Shape.ToArray());   // HWIO, 4 channels in 2 groups
        Assert.Equal(new long[] { 2, 2, 4, 3 }, Model.GetParameter("dilated.kernel").Shape.ToArray());
        Assert.Equal(new long[] { 5, 3 }, Model.GetParameter("dense.kernel").Shape.ToArray());
        Assert.Equal(new long[] { 7, 5 }, Model.GetParameter("embedding.embeddings").Shape.ToArray());
        using var fresh = LayerZoo.Create(seed: 1);
        Assert.All(Naive.Vector(fresh.GetParameter("norm.gamma")), v => Assert.Equal(1, v));
        Assert.All(Naive.Vector(fresh.GetParameter("dense.bias")), v => Assert.Equal(0, v));
        Assert.All(Naive.Vector(fresh.GetParameter("embedding.embeddings")), v => Assert.InRange(v, -0.05, 0.05));
        // glorot_uniform with Keras' conv fans: receptive field 3·3 times 2 in, 6 out.
        double limit = Math.Sqrt(6.0 / (9 * 2 + 9 * 6));
        Assert.All(Naive.Vector(fresh.GetParameter("conv.kernel")), v => Assert.InRange(v, -limit, limit));
        Assert.Contains(Naive.Vector(fresh.GetParameter("conv.kernel")), v => Math.Abs(v) > limit / 2);
    }

    [Fact]
    public void Conv2DWithStrideSamePaddingGroupsBiasAndReluMatchesNaiveLoops()
    {
        long pad = PadBefore(7, 3, 2, 1);
        Naive.AssertAll(Model.Conv(Images), new long[] { 2, 4, 4, 6 },
            o => Math.Max(Conv(Images, "conv.kernel", o, 3, 2, 1, 2, pad) + P("conv.bias", o[3]), 0), 1e-4);
    }

    [Fact]
    public void Conv2DWithDilationAndNoBiasMatchesNaiveLoops()
    {
        // VALID: 7 − (2 − 1)·2 = 5.
        Naive.AssertAll(Model.Dilated(Images), new long[] { 2, 5, 5, 3 }, o => Conv(Images, "dilated.kernel", o, 2, 1, 2, 1, 0), 1e-4);
    }

    [Fact]
    public void PoolsMatchNaiveLoops()
    {
        Naive.AssertAll(Model.MaxPool(Images), new long[] { 2, 3, 3, 4 }, o =>
        {
            double m = double.NegativeInfinity;
            for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) m = Math.Max(m, Naive.At(Images, o[0], o[1] * 2 + a, o[2] * 2 + b, o[3]));
            return m;
        });
        long pad = PadBefore(7, 3, 2, 1);
        Naive.AssertAll(Model.AvgPool(Images), new long[] { 2, 4, 4, 4 }, o =>
        {
            double sum = 0;
            int count = 0;
            for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
            {
                long i = o[1] * 2 + a - pad, j = o[2] * 2 + b - pad;
                if (i < 0 || j < 0 || i >= 7 || j >= 7) continue;
                sum += Naive.At(Images, o[0], i, j, o[3]);
                count++;
            }
            return sum / count;
        });
        Naive.AssertAll(Model.GlobalPool(Images), new long[] { 2, 4 }, o =>
        {
            double sum = 0;
            for (int i = 0; i < 7; i++)
            for (int j = 0; j < 7; j++) sum += Naive.At(Images, o[0], i, j, o[1]);
            return sum / 49;
        });
    }

    [Fact]
    public void FlattenKeepsTheBatchAndRowMajorOrder()
    {
        Naive.AssertAll(Model.Flat(Images), new long[] { 2, 196 }, o => Naive.At(Images, o[0], o[1] / 28, o[1] / 4 % 7, o[1] % 4), 0);
    }

    [Fact]
    public void LayerNormWithKerasEpsilonMatchesNaive()
    {
        var x = Naive.Random(41, 3, 5);
        Naive.AssertAll(Model.Norm(x), new long[] { 3, 5 }, o =>
        {
            var row = Enumerable.Range(0, 5).Select(j => Naive.At(x, o[0], j)).ToArray();
            double mean = row.Average(), variance = row.Select(v => (v - mean) * (v - mean)).Average();
            return (row[o[1]] - mean) / Math.Sqrt(variance + 1e-3) * P("norm.gamma", o[1]) + P("norm.beta", o[1]);
        }, 1e-4);
    }

    [Fact]
    public void DenseWithActivationMatchesNaive()
    {
        var x = Naive.Random(42, 4, 5);
        Naive.AssertAll(Model.DenseOut(x), new long[] { 4, 3 }, o =>
            Math.Tanh(Enumerable.Range(0, 5).Sum(k => Naive.At(x, o[0], k) * P("dense.kernel", k, o[1])) + P("dense.bias", o[1])), 1e-5);
    }

    [Fact]
    public void EmbeddingLooksUpRows()
    {
        var ids = new Tensor<int>(new long[] { 2, 3 }, new[] { 0, 6, 3, 2, 2, 5 });
        Naive.AssertAll(Model.Embed(ids), new long[] { 2, 3, 5 }, o => P("embedding.embeddings", ids.Data[o[0] * 3 + o[1]], o[2]), 0);
    }

    [Fact]
    public void EagerLayersAgreeWithTheCompiledOnes()
    {
        var host = Model.ToModel();
        Naive.AssertSame(host.Conv(Images), Model.Conv(Images), 1e-4);
        Naive.AssertSame(host.AvgPool(Images), Model.AvgPool(Images), 1e-5);
        var x = Naive.Random(43, 3, 5);
        Naive.AssertSame(host.Norm(x), Model.Norm(x), 1e-4);
        Naive.AssertSame(host.DenseOut(x), Model.DenseOut(x), 1e-5);
    }

    [Fact]
    public void TheReadmeCnnRuns()
    {
        using var cnn = Cnn.Create(seed: 2);
        Assert.Equal(new long[] { 3, 3, 1, 32 }, cnn.GetParameter("conv.kernel").Shape.ToArray());
        Assert.Equal(new long[] { 6272, 128 }, cnn.GetParameter("hidden.kernel").Shape.ToArray());
        var x = Naive.Random(50, 2, 28, 28, 1);
        Naive.AssertSame(cnn.ToModel().Call(x), cnn.Call(x), 1e-4);
    }

    [Fact]
    public void TrainingThroughLibraryLayersReducesTheLoss()
    {
        // Class = which of three bands of channel 0 is brightest: learnable from the pooled conv features.
        int n = 384;
        var x = Naive.Random(51, n, 6, 6, 2);
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            var bands = Enumerable.Range(0, 3).Select(b => Enumerable.Range(b * 2, 2).Sum(r => Enumerable.Range(0, 6).Sum(c => x.Data[((i * 6 + r) * 6 + c) * 2]))).ToList();
            labels[i] = bands.IndexOf(bands.Max());
            for (int r = labels[i] * 2; r < labels[i] * 2 + 2; r++)
            for (int c = 0; c < 6; c++) x.Data[((i * 6 + r) * 6 + c) * 2] += 1f;
        }
        var y = new Tensor<int>(new long[] { n }, labels);
        using var model = LayerClassifier.Create(seed: 3);
        model.Compile(new XlaGen.Training.Adam(0.02));
        var before = model.Evaluate(x, y).Loss;
        model.Fit(x, y, new XlaGen.Training.FitOptions { Epochs = 8, BatchSize = 32, Verbose = false });
        var after = model.Evaluate(x, y).Loss;
        Assert.True(after < before * 0.8, $"loss {before} -> {after}");
        var probe = Naive.Random(52, 3, 6, 6, 2);
        Naive.AssertSame(model.ToModel().Call(probe), model.Call(probe), 1e-4);
    }

    [Fact]
    public void CheckpointsNameLibraryWeightsTheKerasWayInTheirMetadata()
    {
        using var model = LayerClassifier.Create(seed: 1);
        var path = Path.Combine(Path.GetTempPath(), $"xlagen-keras-names-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var file = Checkpoints.Safetensors.Load(path);
            Assert.Equal(new[] { "conv.kernel", "conv.bias", "norm.gamma", "norm.beta", "head.kernel", "head.bias" },
                file.Names.Where(n => !n.StartsWith("optimizer.", StringComparison.Ordinal)).OrderBy(n => model.ParameterSpecs.Select(s => s.Path).ToList().IndexOf(n)));
            using var json = System.Text.Json.JsonDocument.Parse(file.Metadata["keras_names"]);
            var names = json.RootElement.EnumerateObject().Select(p => (p.Name, p.Value.GetString()!)).ToList();
            Assert.Equal(new[]
            {
                ("conv.kernel", "conv2d/kernel"), ("conv.bias", "conv2d/bias"), ("norm.gamma", "layer_normalization/gamma"),
                ("norm.beta", "layer_normalization/beta"), ("head.kernel", "dense/kernel"), ("head.bias", "dense/bias"),
            }, names);
            using var restored = LayerClassifier.Create(seed: 2);
            restored.Load(path);   // the keys are unchanged, so the checkpoint loads as before
            Assert.Equal(((Tensor<float>)model.GetParameter("head.kernel")).Data, ((Tensor<float>)restored.GetParameter("head.kernel")).Data);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
