using XlaGen.Hlo;

namespace XlaGen.Tests;

public class SmokeTests
{
    [Fact]
    public void BuildsAndPrintsMlp()
    {
        var b = new HloBuilder("mlp_forward");
        var x = b.Parameter(ElementType.F32, new Dim[] { 128, 784 }, "x");
        var w = b.Parameter(ElementType.F32, new Dim[] { 784, 256 }, "w1");
        var h = b.MatMul(x, w);
        var s = b.ReduceSum(h, 1);
        var m = b.BuildModule(s);
        HloVerifier.Verify(m);
        Assert.Contains("dot(%x, %w1), lhs_contracting_dims={1}, rhs_contracting_dims={0}", m.ToString());
    }

    [Fact]
    public void SkipsWithoutCorpus()
    {
        Assert.SkipUnless(Corpus.Available, Corpus.MissingMessage);
        Assert.True(Directory.Exists(Corpus.Root));
    }
}
