using XlaGen;
using XlaGen.Training;

// The main job's model (784-256-10 MLP, Adam, batch 128) on synthetic data, one warm-up epoch then EPOCHS timed:
// the Debug-build workload of bench/debug-package/run.sh.
int epochs = args.Length > 0 ? int.Parse(args[0]) : 3;
var random = new Random(7);
int n = 8192;
var x = new Tensor<float>(new long[] { n, 784 }, Enumerable.Range(0, n * 784).Select(_ => (float)random.NextDouble()).ToArray());
var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => random.Next(10)).ToArray());
using var model = Mlp.Create(Devices.Cpu(), seed: 1);
model.Compile(new Adam(1e-3));
model.Fit(x, y, new FitOptions { Epochs = 1, BatchSize = 128, Verbose = false });   // warm-up: compile, JIT
var clock = System.Diagnostics.Stopwatch.StartNew();
var history = model.Fit(x, y, new FitOptions { Epochs = epochs, BatchSize = 128, Verbose = false });
Console.WriteLine($"{epochs} epochs of {n / 128} steps: {clock.Elapsed.TotalSeconds:F2} s, {clock.Elapsed.TotalMilliseconds / (epochs * n / 128):F2} ms/step, loss {history.Epochs[^1].Loss:F4}");

[XlaModel]
public partial class Mlp
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
