using FashionMnistSample;
using XlaGen.Data;
using XlaGen.Training;

namespace XlaGen.Server.Tests;

/// <summary>
/// The main job's model (samples/FashionMnist/FashionMlp.cs, linked, not copied) on the real Fashion-MNIST, trained
/// the way the sample trains it (Adam 1e-3 on a cosine schedule to 0, batch 128, seed 42, the test images as
/// validation data) once on the local CPU device and once through a real xlagen-server: the weights, the history,
/// Evaluate's metrics, Predict's and the Probabilities program's outputs must be bitwise the same. A slice of the
/// data keeps it quick: one epoch on the first 2048 training images, validated on the first 1000 test images.
/// </summary>
public class FashionMnistRemoteTests(SharedServer shared)
{
    const int TrainImages = 2048;
    const int TestImages = 1000;
    const int Batch = 128;
    const int Seed = 42;

    /// <summary>Skips when the dataset is not installed, except under CI=true, where a missing dataset fails.</summary>
    internal static void RequireFashionMnist()
    {
        if (FashionMnist.IsInstalled()) return;
        var message = $"Fashion-MNIST is not installed in {FashionMnist.Directory} (apt-get install dataset-fashion-mnist; test.sh does it)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message + "; CI=true, so the dataset must be there");
        Assert.Skip(message);
    }

    internal static FashionMnist.Split First(FashionMnist.Split split, int n) => new(
        new Tensor<float>(new long[] { n, 784 }, split.Images.Data.AsSpan(0, n * 784).ToArray()),
        new Tensor<int>(new long[] { n }, split.Labels.Data.AsSpan(0, n).ToArray()));

    [Fact]
    public void TheSampleModelTrainsThroughTheServerExactlyAsLocally()
    {
        RequireFashionMnist();
        var train = First(FashionMnist.LoadTrain(), TrainImages);
        var test = First(FashionMnist.LoadTest(), TestImages);

        (FashionMlp.Runner Model, History History) Train(IDevice device)
        {
            var model = FashionMlp.Create(device, Seed);
            long totalSteps = (TrainImages + Batch - 1) / Batch;   // one epoch, as Program.cs computes it
            model.Compile(new Adam(LearningRate.CosineWithWarmup(1e-3, warmupSteps: 0, totalSteps)));
            var history = model.Fit(train.Images, train.Labels, new FitOptions
            {
                Epochs = 1,
                BatchSize = Batch,
                Validation = new Dataset(test.Images, test.Labels),
                Verbose = false,
            });
            return (model, history);
        }

        var (local, localHistory) = Train(Devices.Cpu());
        var (remote, remoteHistory) = Train(shared.Device);
        using (local)
        using (remote)
        {
            RemoteTrainingTests.AssertSameParameters(local, remote);
            Assert.Equal(localHistory.Epochs[0].Loss, remoteHistory.Epochs[0].Loss);
            Assert.Equal(localHistory.Epochs[0].Metrics, remoteHistory.Epochs[0].Metrics);
            Assert.Equal(localHistory.Epochs[0].ValidationLoss, remoteHistory.Epochs[0].ValidationLoss);
            Assert.Equal(localHistory.Epochs[0].ValidationMetrics, remoteHistory.Epochs[0].ValidationMetrics);

            var localResult = local.Evaluate(test.Images, test.Labels);
            var remoteResult = remote.Evaluate(test.Images, test.Labels);
            Assert.Equal(localResult.Loss, remoteResult.Loss);
            Assert.Equal(localResult.Metrics, remoteResult.Metrics);
            Assert.Equal(TestImages, remoteResult.Examples);
            // Sixteen steps on 2048 images already learn something (chance is 10%): the run really trained.
            Assert.True(remoteResult.Metrics["accuracy"] > 0.5, $"test accuracy {remoteResult.Metrics["accuracy"]:P2} after one epoch on {TrainImages} images");

            var localPredictions = local.Predict(test.Images);
            var remotePredictions = remote.Predict(test.Images);
            Assert.Equal(localPredictions.Shape, remotePredictions.Shape);
            Assert.True(localPredictions.Data.AsSpan().SequenceEqual(remotePredictions.Data), "Predict differs between the local and the remote model");

            var first8 = new Tensor<float>(new long[] { 8, 784 }, test.Images.Data.AsSpan(0, 8 * 784).ToArray());
            Assert.True(local.Probabilities(first8).Data.AsSpan().SequenceEqual(remote.Probabilities(first8).Data),
                "Probabilities differs between the local and the remote model");
        }
    }
}
