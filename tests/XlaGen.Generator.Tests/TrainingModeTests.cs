namespace XlaGen.Tests;

/// <summary>Dropout and BatchNorm at build time: the loss program gets the rng and training parameters and returns the
/// moving statistics' new values; forward programs get neither; mistakes name the rule.</summary>
public class TrainingModeTests
{
    const string Header = """
        using XlaGen;
        namespace Samples;

        """;

    const string Net = """
        [XlaModel]
        public partial class Net
        {
            [Param(4, 3, Init = Init.GlorotUniform)] Tensor<float> w;
            [Param(3, Init = Init.Ones)] Tensor<float> gamma;
            [Param(3)] Tensor<float> beta;
            [Param(3, Trainable = false)] Tensor<float> mean;
            [Param(3, Init = Init.Ones, Trainable = false)] Tensor<float> variance;

            [Forward]
            public Tensor<float> F([Shape("B", 4)] Tensor<float> x) => Nn.Dropout(Nn.BatchNorm(x.MatMul(w), gamma, beta, mean, variance), 0.5);

            [Loss]
            public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x) => F(x).Mean();
        }
        """;

    [Fact]
    public void TheLossTakesRngAndTrainingAndReturnsTheNewStatistics()
    {
        var r = GeneratorHarness.Run(("Net.cs", Header + Net));
        Assert.Empty(r.Errors);
        var generated = r.Generated("Net.g.cs");
        Assert.Contains("hasTrainingMode: true,", generated);
        Assert.Contains("stateUpdates: new string[] { \"mean\", \"variance\" },", generated);
        // Only the trainable parameters are differentiated.
        Assert.Contains("new string[] { \"w\", \"gamma\", \"beta\" },", generated);
        Assert.Contains("[global::XlaGen.Generated.XlaModelParam(\"mean\", \"f32[3]\", \"Zeros\", 0, Trainable = false)]", generated);
        var forward = SubModelTests.ForwardHlo(r.Output, "Samples.Net", "F");
        Assert.DoesNotContain("rng-bit-generator", forward);
        Assert.DoesNotContain("training", forward);
    }

    [Theory]
    [InlineData("Nn.BatchNorm(x, gamma, beta, [|gamma|], variance)", "BatchNorm: movingMean 'gamma' is a trainable parameter; declare it [Param(…, Trainable = false)] (the train step writes its new value, gradients must not)")]
    [InlineData("Nn.BatchNorm(x, gamma, beta, mean * 2f, variance)", "BatchNorm: movingMean must be a model parameter declared [Param(…, Trainable = false)] (the train step writes its new value back), not a value computed in the method")]
    [InlineData("Nn.BatchNorm(x, gamma, beta, mean, variance) + Nn.BatchNorm(x, gamma, beta, mean, variance)", "BatchNorm: 'mean' is already updated by another layer in this step; each layer needs its own state")]
    [InlineData("Nn.Dropout(x, 1.5)", "Dropout: rate must be in [0, 1) (the fraction of elements set to 0), got 1.5")]
    public void MistakesNameTheRule(string expression, string message)
    {
        var source = $$"""
            [XlaModel]
            public partial class Bad
            {
                [Param(3, Init = Init.Ones)] Tensor<float> gamma;
                [Param(3)] Tensor<float> beta;
                [Param(3, Trainable = false)] Tensor<float> mean;
                [Param(3, Init = Init.Ones, Trainable = false)] Tensor<float> variance;

                [Loss]
                public Tensor<float> Loss([Shape("B", 3)] Tensor<float> x) => ({{expression.Replace("[|", "").Replace("|]", "")}}).Mean();
            }
            """;
        var r = GeneratorHarness.Run(("Bad.cs", Header + source));
        var messages = r.Errors.Select(e => e.GetMessage()).ToList();
        Assert.True(messages.Any(m => m.Contains(message)), string.Join("\n", messages));
    }
}
