using XlaGen.Data;
using XlaGen.Training;
using FashionMnistSample;

namespace XlaGen.Tests;

/// <summary>The main job's model on the real Fashion-MNIST (Debian's dataset-fashion-mnist; test.sh installs it).</summary>
public class FashionMnistTests
{
    [Fact]
    public void TrainsToAtLeast88PercentInTenEpochs()
    {
        Required.Data(FashionMnist.IsInstalled(), $"Fashion-MNIST is not installed in {FashionMnist.Directory} (apt-get install dataset-fashion-mnist; test.sh does it)");
        var train = FashionMnist.LoadTrain();
        var test = FashionMnist.LoadTest();
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        using var model = FashionMlp.Create(Devices.Cpu(), seed: 42);
        long steps = 10 * ((60000 + 127) / 128);
        model.Compile(new Adam(LearningRate.CosineWithWarmup(1e-3, warmupSteps: 0, steps)));
        var history = model.Fit(train.Images, train.Labels, new FitOptions { Epochs = 10, BatchSize = 128, Verbose = false });
        var result = model.Evaluate(test.Images, test.Labels);
        Assert.True(result.Metrics["accuracy"] >= 0.88, $"test accuracy {result.Metrics["accuracy"]:P2} < 88%\n{history.ToTable()}");
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss);
        Assert.Equal(10000, result.Examples);
    }
}
