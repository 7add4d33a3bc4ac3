namespace XlaGen.Tests;

/// <summary>Nn.CausalMask against a naive loop, and what it is for: a softmax over the masked scores puts weight 0
/// on every later position and sums to 1 over the earlier ones.</summary>
public class CausalMaskTests
{
    [Fact]
    public void ScoresAfterTheQueryBecomeMinusOneBillionAndTheSoftmaxIgnoresThem()
    {
        var rng = new SplitMix64(4);
        var scores = new Tensor<float>(new long[] { 2, 3, 4, 4 }, Enumerable.Range(0, 96).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray());
        var masked = Nn.CausalMask(scores);
        var weights = Nn.Softmax(masked);
        for (int s = 0; s < 6; s++)
        {
            for (int q = 0; q < 4; q++)
            {
                double sum = 0;
                for (int k = 0; k < 4; k++)
                {
                    int at = (s * 4 + q) * 4 + k;
                    Assert.Equal(k > q ? -1e9f : scores.Data[at], masked.Data[at]);
                    if (k > q) Assert.Equal(0f, weights.Data[at]);
                    sum += weights.Data[at];
                }
                Assert.Equal(1.0, sum, 1e-6);
            }
        }
    }

    [Fact]
    public void ScoresThatAreNotSquareAreRefused()
    {
        var e = Assert.ThrowsAny<Exception>(() => Nn.CausalMask(Tensor<float>.Zeros(2, 3, 4)));
        Assert.Contains("CausalMask: queries and keys must be the same positions (a square [.., T, T]), got f32[2,3,4]", e.Message);
    }
}
