using XlaGen.Hlo;
using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>Models compiled by the generator in this very build, run on the CPU executor, against naive C#.</summary>
public class RunnerTests
{
    static double[,] MlpLogits(IReadOnlyDictionary<string, Tensor> p, Tensor x)
    {
        var h = Naive.Map(Naive.AddRow(Naive.MatMul(Naive.Matrix(x), Naive.Matrix(p["w1"])), Naive.Vector(p["b1"])), v => Math.Max(v, 0));
        return Naive.AddRow(Naive.MatMul(h, Naive.Matrix(p["w2"])), Naive.Vector(p["b2"]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(256)]
    public void MlpLogitsMatchNaiveReference(int batch)
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 7);
        var x = Naive.Random(batch, batch, 784);
        Naive.AssertClose(MlpLogits(model.GetParameters(), x), model.Logits(x));
        Assert.Contains($"Logits({batch})", model.CompiledPrograms);
    }

    [Fact]
    public void ProbabilitiesMatchNaiveSoftmax()
    {
        using var model = Mlp.Create(seed: 3);
        var x = Naive.Random(11, 20, 784);
        var want = Naive.SoftmaxRows(MlpLogits(model.GetParameters(), x));
        Naive.AssertClose(want, model.Probabilities(x));
    }

    [Fact]
    public void SubModelsFromThisAndAnotherAssembly()
    {
        using var model = Stacked.Create(seed: 9);
        Assert.Equal(new[] { "encoder.w", "encoder.b", "head.w" }, model.ParameterSpecs.Select(p => p.Path));
        var p = model.GetParameters();
        var x = Naive.Random(5, 6, 12);
        var h = Naive.Map(Naive.AddRow(Naive.MatMul(Naive.Matrix(x), Naive.Matrix(p["encoder.w"])), Naive.Vector(p["encoder.b"])), Math.Tanh);
        var s = Naive.MatMul(h, Naive.Matrix(p["head.w"]));
        var want = Naive.Map(Naive.SoftmaxRows(s), Math.Log);
        Naive.AssertClose(want, model.Forward(x));
    }

    [Fact]
    public void WrongInputShapeNamesArgumentExpectedAndActual()
    {
        using var model = Mlp.Create();
        var e = Assert.Throws<ArgumentException>(() => model.Logits(Tensor<float>.Zeros(3, 785)));
        Assert.StartsWith("Mlp.Logits: argument 'x' must be f32[B,784], got f32[3,785] (dimension 1 is 785, expected 784)", e.Message);
        Assert.Equal("x", e.ParamName);
        var rank = Assert.Throws<ArgumentException>(() => model.Logits(Tensor<float>.Zeros(784)));
        Assert.StartsWith("Mlp.Logits: argument 'x' must be f32[B,784], got f32[784] (rank 1 instead of 2)", rank.Message);
    }

    [Fact]
    public void InconsistentSymbolBindingIsReported()
    {
        using var model = Zoo.Create();
        var e = Assert.Throws<ArgumentException>(() => model.Select(Tensor<float>.Zeros(3, 4), Tensor<float>.Zeros(5, 4)));
        Assert.StartsWith("Zoo.Select: argument 'y' must be f32[B,4], got f32[5,4] (dimension 0 is 5, but B = 3 from 'x')", e.Message);
    }

    [Fact]
    public void InitialisationIsSeededAndFollowsTheInitialiser()
    {
        using var a = Mlp.Create(seed: 5);
        using var b = Mlp.Create(seed: 5);
        using var c = Mlp.Create(seed: 6);
        var pa = a.GetParameters();
        Assert.Equal(((Tensor<float>)pa["w1"]).Data, ((Tensor<float>)b.GetParameter("w1")).Data);
        Assert.NotEqual(((Tensor<float>)pa["w1"]).Data, ((Tensor<float>)c.GetParameter("w1")).Data);
        var w1 = ((Tensor<float>)pa["w1"]).Data;
        double limit = Math.Sqrt(6.0 / (784 + 256));
        Assert.All(w1, v => Assert.InRange(v, -limit, limit));
        Assert.InRange(w1.Average(v => (double)v), -0.01, 0.01);
        Assert.InRange(Math.Sqrt(w1.Average(v => (double)v * v)), limit / Math.Sqrt(3) * 0.97, limit / Math.Sqrt(3) * 1.03);
        Assert.All(((Tensor<float>)pa["b1"]).Data, v => Assert.InRange(v, -0.1f, 0.1f));
    }

    [Fact]
    public void SetParameterChangesResultsAndChecksShape()
    {
        using var model = Mlp.Create(seed: 1);
        model.SetParameter("b2", new Tensor<float>(new long[] { 10 }, Enumerable.Range(0, 10).Select(i => (float)i * 100).ToArray()));
        var logits = model.Logits(Tensor<float>.Zeros(2, 784));
        Assert.True(logits[0, 9] > logits[0, 0] + 800);
        var e = Assert.Throws<ArgumentException>(() => model.SetParameter("b2", Tensor<float>.Zeros(11)));
        Assert.Contains("parameter 'b2' is f32[10], the value is f32[11]", e.Message);
        Assert.Throws<KeyNotFoundException>(() => model.GetParameter("nope"));
    }

    [Fact]
    public void EagerModelGivesTheSameLogits()
    {
        using var model = Mlp.Create(seed: 2);
        var x = Naive.Random(4, 8, 784);
        var host = model.ToModel();
        Naive.AssertClose(Naive.Matrix(model.Logits(x)), host.Logits(x));
    }

    [Fact]
    public void PrintedMlpProgramIsStableXlaText()
    {
        var module = Mlp.BuildLogitsProgram(128);
        HloVerifier.Verify(module);
        var text = module.ToString();
        Snapshot.Match(text);
        // XLA's own syntax: our parser (which follows XLA's) reads it back to the same text.
        Assert.Equal(text, HloTextParser.Parse(text).ToString());
        Assert.Contains("%dot.6 = f32[128,256]{1,0} dot(%x, %w1), lhs_contracting_dims={1}, rhs_contracting_dims={0}", text);
        Assert.Contains("source_file=\"TestModels.cs\" source_line=15", text);
    }

    [Fact]
    public void ProgramBuilderRejectsBadSymbols()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Mlp.BuildLogitsProgram(0));
        Assert.Equal("B", e.ParamName);
    }
}
