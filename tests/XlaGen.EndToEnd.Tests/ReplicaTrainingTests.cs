using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Data parallelism on the CPU executor's virtual devices: N replicas with per-replica batch b train like one
/// device with batch N·b (the all-reduced mean gradient), keep bitwise-equal weights, and Fit/Evaluate/Predict
/// split batches exactly (a last batch that does not divide runs whole on every replica: nothing dropped or counted twice).</summary>
public class ReplicaTrainingTests(ITestOutputHelper output)
{
    static (Tensor<float> X, Tensor<int> Labels) Data(int n, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var protos = Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
        var x = new float[n * 784];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.NextInt(10);
            for (int j = 0; j < 784; j++) x[i * 784 + j] = protos[y[i]][j] + (float)(rng.NextDouble() - 0.5) * 0.8f;
        }
        return (new Tensor<float>(new long[] { n, 784 }, x), new Tensor<int>(new long[] { n }, y));
    }

    static Tensor<T> Rows<T>(Tensor<T> t, long start, long count) where T : unmanaged
    {
        long row = t.ElementCount / t.Shape[0];
        var dims = t.Shape.ToArray();
        dims[0] = count;
        return new Tensor<T>(dims, t.Data.Skip((int)(start * row)).Take((int)(count * row)).ToArray());
    }

    /// <summary>max |a − b| / max |b| over a tensor (relative to the tensor's scale; elementwise relative error is
    /// meaningless for weights that cross zero).</summary>
    static double RelativeDifference(Tensor a, Tensor b)
    {
        var x = Values(a);
        var y = Values(b);
        double scale = y.Max(Math.Abs);
        return x.Zip(y, (u, v) => Math.Abs(u - v)).Max() / scale;
    }

    /// <summary>‖a − b‖₂ / ‖b‖₂.</summary>
    static double RelativeNorm(Tensor a, Tensor b)
    {
        var x = Values(a);
        var y = Values(b);
        return Math.Sqrt(x.Zip(y, (u, v) => (u - v) * (u - v)).Sum() / y.Sum(v => v * v));
    }

    static double[] Values(Tensor t) => t is Tensor<float> f ? f.Data.Select(v => (double)v).ToArray() : ((Tensor<double>)t).Data;

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void ReplicasWithBatchBTrainLikeOneDeviceWithBatchNb(int n)
    {
        const int perReplica = 16, steps = 50;
        var (x, y) = Data(n * perReplica * steps, 5);
        using var device = Devices.Cpu(replicas: n);
        using var replicated = Mlp.Create(device, seed: 7);
        using var single = Mlp.Create(Devices.Cpu(), seed: 7);
        replicated.Compile(new Adam(1e-3));
        single.Compile(new Adam(1e-3));
        Assert.Equal(n, replicated.Replicas);
        double worstLoss = 0;
        for (int s = 0; s < steps; s++)
        {
            long start = (long)s * n * perReplica;
            var bx = Rows(x, start, n * perReplica);
            var by = Rows(y, start, n * perReplica);
            var a = replicated.TrainStep(bx, by);
            var b = single.TrainStep(bx, by);
            // The loss is log-sum-exp minus a logit, a difference of f32 values of order 1-10: its rounding is absolute,
            // so a loss near 0 is compared absolutely.
            worstLoss = Math.Max(worstLoss, Math.Abs(a.Loss - b.Loss) / Math.Max(1, Math.Abs(b.Loss)));
            if (s % 10 == 0 || s == steps - 1) output.WriteLine($"step {s}: loss {a.Loss:R} vs {b.Loss:R}, w2 {RelativeDifference(replicated.GetParameter("w2"), single.GetParameter("w2")):g3}");
            Assert.Equal(b.Metrics.Keys, a.Metrics.Keys);
            foreach (var k in b.Metrics.Keys) Assert.True(Math.Abs(a.Metrics[k] - b.Metrics[k]) <= 1e-6, $"step {s}: {k} {a.Metrics[k]} vs {b.Metrics[k]}");
        }
        output.WriteLine($"worst loss difference {worstLoss:g3}");
        Assert.True(worstLoss <= 1e-6, $"loss differs by {worstLoss:g3} relative");
        Assert.Equal(new[] { $"{perReplica}/{n}" }, replicated.CompiledTrainSteps);
        foreach (var spec in replicated.ParameterSpecs)
        {
            var copies = replicated.GetParameterReplicas(spec.Path);
            Assert.Equal(n, copies.Count);
            var first = ((Tensor<float>)copies[0]).Data.Select(BitConverter.SingleToInt32Bits).ToArray();
            for (int r = 1; r < n; r++) Assert.Equal(first, ((Tensor<float>)copies[r]).Data.Select(BitConverter.SingleToInt32Bits));
            double d = RelativeDifference(copies[0], single.GetParameter(spec.Path));
            double l2 = RelativeNorm(copies[0], single.GetParameter(spec.Path));
            output.WriteLine($"{n} replicas, {spec.Path}: relative difference max {d:g3}, l2 {l2:g3} after {steps} Adam steps");
            Assert.True(l2 <= 1e-6 && d <= 1e-5, $"{spec.Path} differs by {l2:g3} (l2), {d:g3} (max) relative after {steps} steps");
        }
    }

    [Fact]
    public void FitEvaluateAndPredictSplitBatchesExactly()
    {
        // 1003 examples in batches of 64: 15 full batches split 16 per replica, and a last batch of 43 that does not
        // divide by 4 and runs whole on every replica.
        var (x, y) = Data(1003, 9);
        var (vx, vy) = Data(203, 10);
        using var device = Devices.Cpu(replicas: 4);
        using var replicated = Mlp.Create(device, seed: 3);
        using var single = Mlp.Create(Devices.Cpu(), seed: 3);
        replicated.Compile(new Adam(1e-3));
        single.Compile(new Adam(1e-3));
        var options = new FitOptions { Epochs = 2, BatchSize = 64, Verbose = false, Validation = new Dataset(vx, vy), ValidationBatchSize = 100 };
        var a = replicated.Fit(new Dataset(x, y), options);
        var b = single.Fit(new Dataset(x, y), options);
        for (int e = 0; e < 2; e++)
        {
            Assert.True(Math.Abs(a.Epochs[e].Loss - b.Epochs[e].Loss) <= 1e-6 * Math.Abs(b.Epochs[e].Loss), $"epoch {e}: {a.Epochs[e].Loss} vs {b.Epochs[e].Loss}");
            Assert.True(Math.Abs(a.Epochs[e].ValidationLoss!.Value - b.Epochs[e].ValidationLoss!.Value) <= 1e-6 * b.Epochs[e].ValidationLoss!.Value);
            foreach (var k in b.Epochs[e].Metrics.Keys) Assert.True(Math.Abs(a.Epochs[e].Metrics[k] - b.Epochs[e].Metrics[k]) <= 1e-6, $"{k}: {a.Epochs[e].Metrics[k]} vs {b.Epochs[e].Metrics[k]}");
        }
        Assert.Contains("16/4", replicated.CompiledTrainSteps);
        Assert.Contains("43", replicated.CompiledTrainSteps);
        foreach (var spec in replicated.ParameterSpecs)
        {
            double d = RelativeDifference(replicated.GetParameter(spec.Path), single.GetParameter(spec.Path));
            double l2 = RelativeNorm(replicated.GetParameter(spec.Path), single.GetParameter(spec.Path));
            output.WriteLine($"Fit on 4 replicas, {spec.Path}: relative difference max {d:g3}, l2 {l2:g3}");
            Assert.True(l2 <= 1e-5 && d <= 1e-4, $"{spec.Path} differs by {l2:g3} (l2), {d:g3} (max)");
        }

        // Evaluate: batches of 100 over 203 examples are 25 per replica twice, then 3 examples whole; all 203 counted once.
        var ea = replicated.Evaluate(new Dataset(vx, vy), batchSize: 100);
        var eb = single.Evaluate(new Dataset(vx, vy), batchSize: 100);
        Assert.Equal(203, ea.Examples);
        Assert.True(Math.Abs(ea.Loss - eb.Loss) <= 1e-5 * eb.Loss, $"{ea.Loss} vs {eb.Loss}");
        foreach (var k in eb.Metrics.Keys) Assert.True(Math.Abs(ea.Metrics[k] - eb.Metrics[k]) <= 1e-6, $"{k}: {ea.Metrics[k]} vs {eb.Metrics[k]}");
        // The accuracy is a count over the 203 examples: exactly a multiple of 1/203.
        foreach (var k in ea.Metrics.Keys) Assert.Equal(Math.Round(ea.Metrics[k] * 203), ea.Metrics[k] * 203, 6);

        // Predict: 203 rows in batches of 100 → 25 per replica twice, then 3 rows whole; rows in order.
        var pa = (Tensor<float>)replicated.Predict(vx, batchSize: 100);
        var pb = (Tensor<float>)single.Predict(vx, batchSize: 100);
        Assert.Equal(pb.Shape, pa.Shape);
        Assert.True(RelativeDifference(pa, pb) <= 1e-5);
    }

    static (Tensor<double> X, Tensor<int> Labels) TinyData(int n, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new Tensor<double>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return (x, y);
    }

    /// <summary>In f64 the rounding of the different summation order (per-replica means, then their mean) is ~1e-16, so
    /// replicas and one device must agree to 1e-10 after many Adam steps: this pins the semantics (mean gradient over the
    /// global batch, the L2 term once, accumulators over the global batch), not just closeness.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void InDoublePrecisionReplicasAndOneDeviceAgreeToRounding(int n)
    {
        var (x, y) = TinyData(203, 4);
        using var device = Devices.Cpu(replicas: n);
        using var replicated = TinyNet.Create(device, seed: 11);
        using var single = TinyNet.Create(Devices.Cpu(), seed: 11);
        replicated.Compile(new Adam(1e-2));
        single.Compile(new Adam(1e-2));
        // Batches of 8: 25 split across the replicas, then a last batch of 3 that runs whole on every replica.
        var options = new FitOptions { Epochs = 3, BatchSize = 8, Verbose = false };
        var a = replicated.Fit(new Dataset(x, y), options);
        var b = single.Fit(new Dataset(x, y), options);
        // The accumulators are f32 (TrainingPrograms), so epoch losses agree to f32 rounding, not f64's.
        for (int e = 0; e < 3; e++)
        {
            Assert.True(Math.Abs(a.Epochs[e].Loss - b.Epochs[e].Loss) <= 1e-6 * b.Epochs[e].Loss, $"epoch {e}: {a.Epochs[e].Loss:R} vs {b.Epochs[e].Loss:R}");
            foreach (var k in b.Epochs[e].Metrics.Keys) Assert.True(Math.Abs(a.Epochs[e].Metrics[k] - b.Epochs[e].Metrics[k]) <= 1e-6, k);
        }
        Assert.Contains($"{8 / n}/{n}", replicated.CompiledTrainSteps);
        Assert.Contains("3", replicated.CompiledTrainSteps);
        foreach (var spec in replicated.ParameterSpecs)
        {
            double d = RelativeDifference(replicated.GetParameter(spec.Path), single.GetParameter(spec.Path));
            output.WriteLine($"f64, {n} replicas, {spec.Path}: max relative difference {d:g3} after {a.Epochs.Count * 26} steps");
            Assert.True(d <= 1e-10, $"{spec.Path} differs by {d:g3}");
            var copies = replicated.GetParameterReplicas(spec.Path);
            for (int r = 1; r < n; r++) Assert.Equal(((Tensor<double>)copies[0]).Data, ((Tensor<double>)copies[r]).Data);
        }
        var ea = replicated.Evaluate(new Dataset(x, y), batchSize: 20);
        var eb = single.Evaluate(new Dataset(x, y), batchSize: 20);
        Assert.Equal(203, ea.Examples);
        Assert.True(Math.Abs(ea.Loss - eb.Loss) <= 1e-6 * eb.Loss, $"{ea.Loss:R} vs {eb.Loss:R}");
        var pa = replicated.Logits(x);
        var pb = single.Logits(x);
        Assert.True(RelativeDifference(pa, pb) <= 1e-10);
    }

    /// <summary>The CNNs: GradZoo (f64: convolutions, pools, gather, dynamic slices, layer norm) must agree to rounding;
    /// TinyCnn (f32 conv → relu → max-pool → dense) to f32 rounding amplified by Adam, like the MLP.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void ConvolutionalModelsTrainOnReplicasLikeOnOneDevice(int n)
    {
        var rng = new SplitMix64(77);
        const int global = 8, steps = 20;
        using (var device = Devices.Cpu(replicas: n))
        using (var replicated = GradZoo.Create(device, seed: 3))
        using (var single = GradZoo.Create(Devices.Cpu(), seed: 3))
        {
            replicated.Compile(new Adam(1e-2));
            single.Compile(new Adam(1e-2));
            for (int s = 0; s < steps; s++)
            {
                var x = new Tensor<double>(new long[] { global, 6, 6, 2 }, Enumerable.Range(0, global * 72).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
                var ids = new Tensor<int>(new long[] { global, 2 }, Enumerable.Range(0, global * 2).Select(_ => rng.NextInt(5)).ToArray());
                var labels = new Tensor<int>(new long[] { global }, Enumerable.Range(0, global).Select(_ => rng.NextInt(3)).ToArray());
                var a = replicated.TrainStep(x, ids, labels);
                var b = single.TrainStep(x, ids, labels);
                Assert.True(Math.Abs(a.Loss - b.Loss) <= 1e-6 * Math.Max(1, b.Loss), $"step {s}: {a.Loss:R} vs {b.Loss:R}");
            }
            foreach (var spec in replicated.ParameterSpecs)
            {
                double d = RelativeDifference(replicated.GetParameter(spec.Path), single.GetParameter(spec.Path));
                output.WriteLine($"GradZoo f64, {n} replicas, {spec.Path}: max relative difference {d:g3} after {steps} steps");
                Assert.True(d <= 1e-10, $"{spec.Path} differs by {d:g3}");
            }
        }

        const int perReplica = 16, cnnSteps = 50;
        using var cnnDevice = Devices.Cpu(replicas: n);
        using var cnn = TinyCnn.Create(cnnDevice, seed: 1);
        using var cnnSingle = TinyCnn.Create(Devices.Cpu(), seed: 1);
        cnn.Compile(new Adam(1e-3));
        cnnSingle.Compile(new Adam(1e-3));
        for (int s = 0; s < cnnSteps; s++)
        {
            int m = perReplica * n;
            var labels = Enumerable.Range(0, m).Select(_ => rng.NextInt(3)).ToArray();
            var x = new Tensor<float>(new long[] { m, 8, 8, 1 }, Enumerable.Range(0, m * 64).Select(i => (float)(rng.NextDouble() * 0.5 + (i % 64 % 8 == labels[i / 64] * 3 ? 1 : 0))).ToArray());
            var y = new Tensor<int>(new long[] { m }, labels);
            var a = cnn.TrainStep(x, y);
            var b = cnnSingle.TrainStep(x, y);
            Assert.True(Math.Abs(a.Loss - b.Loss) <= 1e-6 * Math.Max(1, b.Loss), $"step {s}: {a.Loss:R} vs {b.Loss:R}");
            foreach (var k in b.Metrics.Keys) Assert.True(Math.Abs(a.Metrics[k] - b.Metrics[k]) <= 1e-6, $"step {s}: {k}");
        }
        foreach (var spec in cnn.ParameterSpecs)
        {
            var copies = cnn.GetParameterReplicas(spec.Path);
            for (int r = 1; r < n; r++) Assert.Equal(((Tensor<float>)copies[0]).Data, ((Tensor<float>)copies[r]).Data);
            double d = RelativeDifference(copies[0], cnnSingle.GetParameter(spec.Path));
            double l2 = RelativeNorm(copies[0], cnnSingle.GetParameter(spec.Path));
            output.WriteLine($"TinyCnn f32, {n} replicas, {spec.Path}: relative difference max {d:g3}, l2 {l2:g3} after {cnnSteps} Adam steps");
            Assert.True(l2 <= 1e-6 && d <= 1e-6, $"{spec.Path} differs by {l2:g3} (l2), {d:g3} (max)");
        }
    }
}
