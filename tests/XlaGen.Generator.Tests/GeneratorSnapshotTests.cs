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

    [Fact]
    public void RepeatedMetricsGetDistinctNames()
    {
        var r = GeneratorHarness.Run(("Two.cs", """
            using XlaGen;
            [XlaModel]
            public partial class TwoHeads
            {
                [Param(8, 3)] Tensor<float> a;
                [Param(8, 3)] Tensor<float> b;

                [Loss]
                public Tensor<float> Loss([Shape("B", 8)] Tensor<float> x, [Shape("B")] Tensor<int> y)
                    => Losses.SparseSoftmaxCrossEntropy(x.MatMul(a), y) + Losses.SparseSoftmaxCrossEntropy(x.MatMul(b), y);
            }
            """));
        Assert.Empty(r.Errors);
        Assert.Contains("new string[] { \"accuracy\", \"accuracy_2\" },", r.Generated("TwoHeads.g.cs"));
    }
}
