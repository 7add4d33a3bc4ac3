using XlaGen;

namespace XlaGen.Bench.Suites;

/// <summary>The mlp suite's model: the main job's 784-256-10 MLP, compiled by the generator in this build.</summary>
[XlaModel]
public partial class BenchMlp
{
    [Param(784, 256, Init = Init.GlorotUniform)] Tensor<float> w1;
    [Param(256)] Tensor<float> b1;
    [Param(256, 10, Init = Init.GlorotUniform)] Tensor<float> w2;
    [Param(10)] Tensor<float> b2;

    [Forward]
    public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

    [Loss]
    public Tensor<float> Loss([Shape("B", 784)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}

/// <summary>The MLP suites' data: seeded uniform images and labels (their values do not matter to the timing).</summary>
internal static class BenchMlpData
{
    public static (float[] X, int[] Y, Data.Dataset Data) Synthetic(int examples)
    {
        var rng = new SplitMix64(1);
        var x = new float[examples * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new int[examples];
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextInt(10);
        return (x, y, new Data.Dataset(new Tensor<float>(new long[] { examples, 784 }, x), new Tensor<int>(new long[] { examples }, y)));
    }
}
