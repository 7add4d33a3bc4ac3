using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>DepthwiseConv2D and MultiHeadAttention from the layer library against naive loops (forward), Keras' weight
/// shapes and initialisers, and the same C# run eagerly. Their gradients are in <see cref="LayerGradientTests"/>.</summary>
public class DepthwiseAndAttentionTests
{
    static void AssertEqual(Nd want, Tensor got, double tol)
    {
        Assert.Equal(want.Shape, got.Shape.ToArray());
        Naive.AssertAll(got, want.Shape, i => want[i], tol);
    }

    static Nd P(ModelRunner model, string path) => Nd.From(model.GetParameter(path));

    static Dictionary<string, Nd> All(ModelRunner model) => model.GetParameters().ToDictionary(kv => kv.Key, kv => Nd.From(kv.Value));

    [Fact]
    public void DepthwiseConv2DHasKerasShapesAndInitialisers()
    {
        using var model = DepthwiseGrad.Create(seed: 11);
        Assert.Equal(new long[] { 3, 3, 3, 2 }, model.GetParameter("strided.depthwiseKernel").Shape.ToArray());   // [k, k, in, multiplier]
        Assert.Equal(new long[] { 6 }, model.GetParameter("strided.bias").Shape.ToArray());
        Assert.Equal(new long[] { 2, 2, 3, 1 }, model.GetParameter("dilated.depthwiseKernel").Shape.ToArray());
        Assert.All(Naive.Vector(model.GetParameter("strided.bias")), v => Assert.Equal(0, v));
        // glorot_uniform with the fans Keras computes from the kernel's shape: 3·3·3 in, 3·3·2 out
        double limit = Math.Sqrt(6.0 / (9 * 3 + 9 * 2));
        var kernel = Naive.Vector(model.GetParameter("strided.depthwiseKernel"));
        Assert.All(kernel, v => Assert.InRange(v, -limit, limit));
        Assert.Contains(kernel, v => Math.Abs(v) > limit * 0.8);
    }

    [Fact]
    public void DepthwiseConv2DMatchesNaiveLoops()
    {
        using var model = DepthwiseGrad.Create(seed: 12);
        model.SetParameter("strided.bias", Naive.Random(50, 6));
        model.SetParameter("relu.bias", Naive.Random(51, 3));
        var x = Naive.Random(52, 2, 5, 5, 3);
        var nx = Nd.From(x);
        // stride 2, SAME, depth multiplier 2: output channel c·2 + m
        AssertEqual(NaiveLayers.DepthwiseConv2D(nx, P(model, "strided.depthwiseKernel"), P(model, "strided.bias"), 2, true, 1), model.Strided(x), 1e-5);
        // dilation 2, VALID: 5 − (2 − 1)·2 = 3
        AssertEqual(NaiveLayers.DepthwiseConv2D(nx, P(model, "dilated.depthwiseKernel"), null, 1, false, 2), model.Dilated(x), 1e-5);
        AssertEqual(NaiveLayers.DepthwiseConv2D(nx, P(model, "relu.depthwiseKernel"), P(model, "relu.bias"), 1, true, 1).Map(v => Math.Max(v, 0)),
            model.Relu(x), 1e-5);
        var host = model.ToModel();
        Naive.AssertSame(host.Strided(x), model.Strided(x), 1e-5);
        Naive.AssertSame(host.Relu(x), model.Relu(x), 1e-5);
    }

    [Fact]
    public void MultiHeadAttentionHasKerasShapesAndInitialisers()
    {
        using var model = AttentionGrad.Create(seed: 13);
        long[] Shape(string p) => model.GetParameter(p).Shape.ToArray();
        // self: features 6, 2 heads, key_dim 3, value_dim 4
        Assert.Equal(new long[] { 6, 2, 3 }, Shape("self.queryKernel"));
        Assert.Equal(new long[] { 2, 3 }, Shape("self.queryBias"));
        Assert.Equal(new long[] { 6, 2, 3 }, Shape("self.keyKernel"));
        Assert.Equal(new long[] { 6, 2, 4 }, Shape("self.valueKernel"));
        Assert.Equal(new long[] { 2, 4 }, Shape("self.valueBias"));
        Assert.Equal(new long[] { 2, 4, 6 }, Shape("self.outputKernel"));
        Assert.Equal(new long[] { 6 }, Shape("self.outputBias"));
        // value_dim defaults to key_dim; the key's features to the value's
        Assert.Equal(new long[] { 6, 2, 3 }, Shape("causal.valueKernel"));
        Assert.Equal(new long[] { 4, 3, 2 }, Shape("cross.keyKernel"));
        Assert.Equal(new long[] { 5, 3, 2 }, Shape("cross.valueKernel"));
        Assert.Equal(new long[] { 5, 2, 2 }, Shape("crossKeyIsValue.keyKernel"));
        Assert.All(Naive.Vector(model.GetParameter("self.queryBias")), v => Assert.Equal(0, v));
        // EinsumDense's glorot_uniform: Keras' fans of [6, 2, 3] are 6·2 in, 6·3 out
        double limit = Math.Sqrt(6.0 / (6 * 2 + 6 * 3));
        var q = Naive.Vector(model.GetParameter("self.queryKernel"));
        Assert.All(q, v => Assert.InRange(v, -limit, limit));
        Assert.Contains(q, v => Math.Abs(v) > limit * 0.8);
    }

    static AttentionGrad.Runner AttentionModel()
    {
        var model = AttentionGrad.Create(seed: 14);
        int seed = 60;
        foreach (var path in AttentionGrad.ParameterSpecs.Select(s => s.Path).Where(p => p.EndsWith("Bias", StringComparison.Ordinal)))
            model.SetParameter(path, Naive.Random(seed++, model.GetParameter(path).Shape.ToArray()));
        return model;
    }

    [Fact]
    public void SelfAttentionWithAndWithoutTheCausalMaskMatchesNaiveLoops()
    {
        using var model = AttentionModel();
        var x = Naive.Random(70, 3, 4, 6);
        var nx = Nd.From(x);
        var p = All(model);
        AssertEqual(NaiveLayers.MultiHeadAttention(nx, nx, nx, p, "self", true, false), model.Self(x), 1e-5);
        var causal = model.Causal(x);
        AssertEqual(NaiveLayers.MultiHeadAttention(nx, nx, nx, p, "causal", true, true), causal, 1e-5);
        // causal: position 0's output depends on position 0 only
        var changed = new Tensor<float>(x.Shape.ToArray(), x.Data.ToArray());
        for (int f = 0; f < 6; f++) changed.Data[3 * 6 + f] += 1f;   // batch 0, position 3
        var after = model.Causal(changed);
        for (int t = 0; t < 3; t++)
        for (int f = 0; f < 6; f++) Assert.Equal(Naive.At(causal, 0, t, f), Naive.At(after, 0, t, f), 6);
        Assert.NotEqual(Naive.At(causal, 0, 3, 0), Naive.At(after, 0, 3, 0));
    }

    [Fact]
    public void CrossAttentionMatchesNaiveLoops()
    {
        using var model = AttentionModel();
        var q = Naive.Random(71, 2, 4, 6);
        var v = Naive.Random(72, 2, 3, 5);
        var k = Naive.Random(73, 2, 3, 4);
        var p = All(model);
        AssertEqual(NaiveLayers.MultiHeadAttention(Nd.From(q), Nd.From(v), Nd.From(k), p, "cross", true, false), model.Cross(q, v, k), 1e-5);
        // Call(query, value): the key is the value; no biases
        AssertEqual(NaiveLayers.MultiHeadAttention(Nd.From(q), Nd.From(v), Nd.From(v), p, "crossKeyIsValue", false, false), model.CrossKeyIsValue(q, v), 1e-5);
        var host = model.ToModel();
        Naive.AssertSame(host.Cross(q, v, k), model.Cross(q, v, k), 1e-5);
        Naive.AssertSame(host.Self(q), model.Self(q), 1e-5);
    }

    [Fact]
    public void AttentionDropoutDrawsInTrainStepsOnly()
    {
        Assert.True(AttentionDropout.LossDefinition.HasTrainingMode);
        using var model = AttentionDropout.Create(seed: 15);
        var x = Naive.Random(74, 2, 4, 6);
        var nx = Nd.From(x);
        AssertEqual(NaiveLayers.MultiHeadAttention(nx, nx, nx, All(model), "attention", true, false), model.Call(x), 1e-5);
        // the train step's loss is that of a dropped-out attention (rate 0.5), not the deterministic one
        double deterministic = Naive.Vector(model.Call(x)).Average(v => v * v);
        model.Compile(new XlaGen.Training.Sgd(1e-9));
        var step = model.TrainStep(x);
        Assert.True(Math.Abs(step.Loss - deterministic) > 1e-4 * deterministic, $"train step loss {step.Loss} vs without dropout {deterministic}");
        Assert.Equal(deterministic, model.Evaluate(new XlaGen.Data.Dataset(x)).Loss, 1e-5);
    }
}
