namespace XlaGen.Tests;

public class GeneratorSnapshotTests
{
    [Fact]
    public void FashionMlp()
    {
        var r = GeneratorHarness.Run(("FashionMlp.cs", Models.FashionMlp));
        Assert.Empty(r.Errors);
        Snapshot.Match(r.Generated("FashionMlp.g.cs"));
    }
}
