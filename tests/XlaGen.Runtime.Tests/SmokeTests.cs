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
        Corpus.Require();
        Assert.True(Directory.Exists(Corpus.Root));
    }

    [Fact]
    public void MissingTestDataFailsUnderCiAndSkipsElsewhere()
    {
        Required.Data(true, "nothing is missing", ci: true);   // present: returns either way
        Required.Data(true, "nothing is missing", ci: false);
        var failed = Assert.Throws<Xunit.Sdk.FailException>(() => Required.Data(false, "the XLA corpus is not present", ci: true));
        Assert.Equal("CI=true, but the XLA corpus is not present. Under CI a missing test input fails the test instead of skipping it (test.sh and the CI checkout provide them).", failed.Message);
        // Assert.Throws passes a skip on (it skips the calling test), so catch it by hand.
        Exception? skipped = null;
        try
        {
            Required.Data(false, "the XLA corpus is not present", ci: false);
        }
        catch (Exception e)
        {
            skipped = e;
        }
        Assert.IsType<Xunit.Sdk.SkipException>(skipped);
        Assert.EndsWith("the XLA corpus is not present", skipped.Message);
        Assert.True(Required.IsCi("true") && Required.IsCi("TRUE") && Required.IsCi("1"));
        Assert.False(Required.IsCi(null) || Required.IsCi("") || Required.IsCi("false") || Required.IsCi("0"));
    }
}
