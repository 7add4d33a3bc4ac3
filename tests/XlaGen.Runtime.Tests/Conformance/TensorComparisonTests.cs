namespace XlaGen.Tests.Conformance;

/// <summary>The comparison the conformance suite, the corpus tests and the device check share.</summary>
public class TensorComparisonTests
{
    [Fact]
    public void BackendToleranceIsRelativeToAtLeastOneForFloatsAndExactForIntegers()
    {
        var t = Tolerance.Backends;
        Assert.True(t.Accepts(1000, 1000.0099));
        Assert.False(t.Accepts(1000, 1000.011));
        Assert.True(t.Accepts(0.001, 0.001 + 0.9e-5));    // below 1 the bound is absolute 1e-5
        Assert.False(t.Accepts(0.001, 0.001 + 1.1e-5));
        Assert.True(t.Accepts(double.NaN, double.NaN));
        Assert.False(t.Accepts(double.PositiveInfinity, double.MaxValue));
        Assert.Null(TensorComparison.Mismatch(Tensor<int>.FromArray(new[] { 1, 2 }, 2), Tensor<int>.FromArray(new[] { 1, 2 }, 2), t, "x"));
        Assert.NotNull(TensorComparison.Mismatch(Tensor<int>.FromArray(new[] { 1, 2 }, 2), Tensor<int>.FromArray(new[] { 1, 3 }, 2), t, "x"));
    }

    [Fact]
    public void AbsRelToleranceIsAbsPlusRelTimesWant()
    {
        var t = Tolerance.AbsRel(0.1, 0.01);
        Assert.True(t.Accepts(100, 101.1));
        Assert.False(t.Accepts(100, 101.2));
        Assert.True(Tolerance.AbsRel(0, 0).Accepts(2.5, 2.5));
        Assert.False(Tolerance.AbsRel(0, 0).Accepts(2.5, 2.5000001));
    }

    [Fact]
    public void MismatchNamesTheResultTheElementBothValuesTheToleranceAndTheCount()
    {
        var want = Tensor<float>.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 2);
        var got = Tensor<float>.FromArray(new[] { 1f, 2.5f, 3f, 5f }, 2, 2);
        Assert.Equal("case/a result 1: element 1 ([0,1]) is 2.5, expected 2 (tolerance 1E-05 x max(1,|want|)); 2 of 4 elements differ",
            TensorComparison.Mismatch(want, got, Tolerance.Backends, "case/a result 1"));
        Assert.Equal("case/a result 0: expected f32[2,2], got f32[4]",
            TensorComparison.Mismatch(want, got.Reshaped(4), Tolerance.Exact, "case/a result 0"));
    }

    [Fact]
    public void RunOnThrowsEveryDifferingResult()
    {
        var x = Tensor<float>.FromArray(new[] { 1f, -2f }, 2);
        var wrong = new ConformanceCase("negate/wrong", CaseModule.Of("negate", new[] { x }, (b, p) => b.Unary("negate", p[0])),
            new[] { x }, new Tensor[] { Tensor<float>.FromArray(new[] { -1f, 3f }, 2) });
        var e = Assert.Throws<ConformanceMismatchException>(() => wrong.RunOn(Devices.Cpu()));
        Assert.Equal("negate/wrong result 0: element 1 ([1]) is 2, expected 3 (tolerance exact)", e.Message);
    }
}
