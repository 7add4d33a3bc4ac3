using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Dropout and BatchNorm on replicas: each replica draws its own mask (the counter's low word is the replica),
/// the moving statistics are averaged over the replicas like the gradients, and every replica ends with the same
/// weights and statistics, bit for bit.</summary>
public class ReplicaTrainingModeTests
{
    [Fact]
    public void BatchNormStatisticsAreTheMeanOverTheReplicasAndStayInSync()
    {
        var rng = new SplitMix64(3);
        var x = new Tensor<double>(new long[] { 16, 4 }, Enumerable.Range(0, 64).Select(_ => rng.NextDouble() * 4 - 1).ToArray());
        var labels = new Tensor<int>(new long[] { 16 }, Enumerable.Range(0, 16).Select(i => i % 2).ToArray());
        using var device = Devices.Cpu(replicas: 2);
        using var model = BatchNormNet.Create(device, seed: 3);
        model.Compile(new Sgd(0.1));
        var w = ((Tensor<double>)model.GetParameter("w")).Data;
        model.TrainStep(x, labels);
        // Each replica normalises its half of the batch; the new moving mean is the mean of the two replicas' updates.
        var expected = new double[3];
        for (int half = 0; half < 2; half++)
        {
            for (int c = 0; c < 3; c++)
            {
                double mean = 0;
                for (int i = half * 8; i < half * 8 + 8; i++)
                    for (int k = 0; k < 4; k++) mean += x.Data[i * 4 + k] * w[k * 3 + c] / 8;
                expected[c] += 0.1 * mean / 2;   // 0.9 · 0 + 0.1 · batch mean, averaged
            }
        }
        var copies = model.GetParameterReplicas("movingMean").Select(t => ((Tensor<double>)t).Data).ToList();
        Assert.Equal(copies[0], copies[1]);
        for (int c = 0; c < 3; c++) Assert.Equal(expected[c], copies[0][c], 1e-12);
    }

    [Fact]
    public void DropoutReplicasDrawDifferentMasksAndKeepIdenticalWeights()
    {
        var rng = new SplitMix64(5);
        var x = new Tensor<float>(new long[] { 8, 8 }, Enumerable.Range(0, 64).Select(_ => (float)(rng.NextDouble() + 0.5)).ToArray());
        using var device = Devices.Cpu(replicas: 2);
        using var model = DropoutProbe.Create(device, seed: 11);
        model.Compile(new Sgd(1.0));
        model.TrainStep(x);
        var copies = model.GetParameterReplicas("w").Select(t => ((Tensor<float>)t).Data).ToList();
        Assert.Equal(copies[0], copies[1]);
        // Replica r's mask comes from the counter (r, step 0): the mean gradient uses both replicas' masks.
        var key = model.RandomKey;
        double[] grad = new double[8];
        for (int r = 0; r < 2; r++)
        {
            var (_, bits) = XlaGen.Tests.Conformance.Ref.RngBitGenerator("rng_philox", new[] { key, (ulong)r, 0UL }, new long[] { 4, 8 }, typeof(uint));
            var mask = ((uint[])bits).Select(b => b >= 1u << 31).ToArray();
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 8; j++)
                    if (mask[i * 8 + j]) grad[j] += 2.0 * x.Data[(r * 4 + i) * 8 + j] / 32 / 2;
        }
        for (int j = 0; j < 8; j++) Assert.Equal(1 - grad[j], copies[0][j], 1e-6);
    }
}
