using XlaGen.Checkpoints;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Configurable layers end to end: each instance's parameters have its own shapes and dotted names, the compiled
/// programs agree with the same C# run eagerly (ToModel), and training through them reduces the loss.</summary>
public sealed class ConfigurableLayerTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "xlagen-layers-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>Three classes from the signs of two features: learnable by both models.</summary>
    static (Tensor<float> X, Tensor<int> Labels) Data(int n, int seed)
    {
        var x = Naive.Random(seed, n, 6);
        var labels = Enumerable.Range(0, n).Select(i => (x.Data[i * 6] > 0 ? 1 : 0) + (x.Data[i * 6 + 1] > 0 ? 1 : 0)).ToArray();
        return (x, new Tensor<int>(new long[] { n }, labels));
    }

    static long[] Shape(ModelRunner model, string name) => model.GetParameter(name).Shape.ToArray();

    [Fact]
    public void TwoInstancesHaveTheirOwnShapesAndAgreeWithEagerExecution()
    {
        using var model = TwoWidths.Create(seed: 3);
        Assert.Equal(new[] { "d1.kernel", "d1.bias", "d2.kernel", "d2.bias" }, TwoWidths.ParameterSpecs.Select(p => p.Path));
        Assert.Equal(new long[] { 6, 16 }, Shape(model, "d1.kernel"));
        Assert.Equal(new long[] { 16 }, Shape(model, "d1.bias"));
        Assert.Equal(new long[] { 16, 3 }, Shape(model, "d2.kernel"));
        Assert.Equal(new long[] { 3 }, Shape(model, "d2.bias"));
        var x = Naive.Random(5, 7, 6);
        var host = model.ToModel();
        Naive.AssertClose(Naive.Matrix(host.Call(x)), model.Call(x));
        // Against a naive evaluation of the same layers: relu(x·k1 + b1)·k2 + b2.
        var h = Naive.Map(Naive.AddRow(Naive.MatMul(Naive.Matrix(x), Naive.Matrix(model.GetParameter("d1.kernel"))), Naive.Vector(model.GetParameter("d1.bias"))), v => Math.Max(v, 0));
        var want = Naive.AddRow(Naive.MatMul(h, Naive.Matrix(model.GetParameter("d2.kernel"))), Naive.Vector(model.GetParameter("d2.bias")));
        Naive.AssertClose(want, model.Call(x), 1e-4);
    }

    [Fact]
    public void GlorotInitialisationUsesEachInstancesFans()
    {
        using var model = TwoWidths.Create(seed: 4);
        // glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out)), per instance.
        double Limit(int fanIn, int fanOut) => Math.Sqrt(6.0 / (fanIn + fanOut));
        var k1 = Naive.Vector(model.GetParameter("d1.kernel"));
        var k2 = Naive.Vector(model.GetParameter("d2.kernel"));
        Assert.All(k1, v => Assert.True(Math.Abs(v) <= Limit(6, 16)));
        Assert.All(k2, v => Assert.True(Math.Abs(v) <= Limit(16, 3)));
        Assert.Contains(k2, v => Math.Abs(v) > Limit(6, 16));   // d2's wider range is used, not d1's
    }

    [Fact]
    public void TrainingTwoInstancesReducesTheLoss()
    {
        var (x, y) = Data(512, 11);
        using var model = TwoWidths.Create(seed: 5);
        model.Compile(new Adam(0.01));
        var before = model.Evaluate(x, y).Loss;
        model.Fit(x, y, new FitOptions { Epochs = 5, BatchSize = 64, Verbose = false });
        var after = model.Evaluate(x, y).Loss;
        Assert.True(after < before * 0.7, $"loss {before} -> {after}");
        // The trained parameters still drive the eager model to the same result.
        var probe = Naive.Random(6, 4, 6);
        Naive.AssertClose(Naive.Matrix(model.ToModel().Call(probe)), model.Call(probe), 1e-4);
    }

    [Fact]
    public void AnArrayOfBlocksUnrolledByForeachAndByForAgreesWithEagerExecution()
    {
        using var model = ResidualStack.Create(seed: 7);
        var names = ResidualStack.ParameterSpecs.Select(p => p.Path).ToList();
        Assert.Equal(new[]
        {
            "stem.kernel", "stem.bias",
            "blocks.0.inner.kernel", "blocks.0.inner.bias", "blocks.0.outer.kernel", "blocks.0.outer.bias",
            "blocks.1.inner.kernel", "blocks.1.inner.bias", "blocks.1.outer.kernel", "blocks.1.outer.bias",
            "blocks.2.inner.kernel", "blocks.2.inner.bias", "blocks.2.outer.kernel", "blocks.2.outer.bias",
            "head.kernel", "head.bias",
        }, names);
        Assert.Equal(new long[] { 8, 16 }, Shape(model, "blocks.1.inner.kernel"));
        Assert.Equal(new long[] { 16, 8 }, Shape(model, "blocks.2.outer.kernel"));
        var x = Naive.Random(8, 5, 6);
        var compiled = model.Call(x);
        Naive.AssertClose(Naive.Matrix(compiled), model.CallByIndex(x), 1e-6);
        var host = model.ToModel();
        Naive.AssertClose(Naive.Matrix(host.Call(x)), compiled, 1e-4);
        Naive.AssertClose(Naive.Matrix(host.CallByIndex(x)), compiled, 1e-4);
        // Each block is its own instance: changing block 1 changes the result, and the eager model sees it too.
        model.SetParameter("blocks.1.inner.kernel", Tensor<float>.Zeros(8, 16));
        var changed = model.Call(x);
        Assert.Contains(Enumerable.Range(0, 15), i => Math.Abs(changed.Data[i] - compiled.Data[i]) > 1e-4);
        Naive.AssertClose(Naive.Matrix(model.ToModel().Call(x)), changed, 1e-4);
    }

    [Fact]
    public void AConstantFalseUseBiasLeavesTheBiasOut()
    {
        using var model = ResidualStack.Create(seed: 9);
        var x = Naive.Random(10, 4, 6);
        var before = model.Call(x);
        // head was created with useBias: false, so its bias is not part of the program; the stem's is.
        model.SetParameter("head.bias", new Tensor<float>(new long[] { 3 }, new[] { 100f, 100f, 100f }));
        Naive.AssertClose(Naive.Matrix(before), model.Call(x), 0);
        model.SetParameter("stem.bias", new Tensor<float>(new long[] { 8 }, Enumerable.Repeat(1f, 8).ToArray()));
        var moved = model.Call(x);
        Assert.Contains(Enumerable.Range(0, 12), i => Math.Abs(moved.Data[i] - before.Data[i]) > 1e-3);
        Naive.AssertClose(Naive.Matrix(model.ToModel().Call(x)), model.Call(x), 1e-4);
    }

    [Fact]
    public void TrainingTheStackReducesTheLossAndCheckpointsNameTensorsByPath()
    {
        var (x, y) = Data(512, 12);
        using var model = ResidualStack.Create(seed: 13);
        model.Compile(new Adam(0.01));
        var before = model.Evaluate(x, y).Loss;
        model.Fit(x, y, new FitOptions { Epochs = 5, BatchSize = 64, Verbose = false });
        var after = model.Evaluate(x, y).Loss;
        Assert.True(after < before * 0.7, $"loss {before} -> {after}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "stack.safetensors");
        model.Save(path);
        var file = Safetensors.Load(path);
        Assert.Contains("blocks.2.outer.kernel", file.Names);
        Assert.Contains("head.kernel", file.Names);
        using var reloaded = ResidualStack.Create(seed: 99);
        reloaded.Load(path);
        Naive.AssertClose(Naive.Matrix(model.Call(x)), reloaded.Call(x), 0);
    }

    [Fact]
    public void LayersFromAnotherAssemblyAreConfiguredHereAndAgreeWithEagerExecution()
    {
        using var model = LibraryLayers.Create(seed: 17);
        Assert.Equal(new long[] { 6, 12 }, Shape(model, "layers.0.kernel"));
        Assert.Equal(new long[] { 12, 12 }, Shape(model, "layers.1.kernel"));
        Assert.Equal(new long[] { 12, 3 }, Shape(model, "layers.2.kernel"));
        var x = Naive.Random(18, 5, 6);
        var host = model.ToModel();
        Naive.AssertClose(Naive.Matrix(host.Call(x)), model.Call(x), 1e-4);
    }
}
