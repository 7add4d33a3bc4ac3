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

    [Fact]
    public void ClassifierWithLoss()
    {
        var r = GeneratorHarness.Run(("Classifier.cs", Models.Classifier));
        var text = r.Generated("Classifier.g.cs");
        Assert.True(!r.Errors.Any(), string.Join("\n", r.Errors) + "\n" + text);
        Snapshot.Match(text);
    }
}
