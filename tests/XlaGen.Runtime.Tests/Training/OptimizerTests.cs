using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Tests.Training;

/// <summary>Each optimizer's HLO update, run on the CPU executor for several steps, against a naive C# loop in double.</summary>
public class OptimizerTests
{
    const int N = 7;
    const int Steps = 6;

    /// <summary>Runs the optimizer's update program for <see cref="Steps"/> steps with the given gradients.</summary>
    static double[] RunProgram(Optimizer optimizer, double[] initial, double[][] gradients)
    {
        var b = new HloBuilder("update");
        var p = b.Parameter(Shape.Array(ElementType.F32, N), "p");
        var g = b.Parameter(Shape.Array(ElementType.F32, N), "g");
        var slots = optimizer.Slots.Select(s => b.Parameter(Shape.Array(ElementType.F32, N), s)).ToList();
        var lr = b.Parameter(Shape.Scalar(ElementType.F32), "lr");
        var t = b.Parameter(Shape.Scalar(ElementType.F32), "t");
        var (np, ns) = optimizer.Update(b, p, g, slots, lr, t);
        var module = b.BuildModule(b.Tuple(new[] { np }.Concat(ns).ToArray()));
        var device = Devices.Cpu();
        using var exe = device.CompileHlo(module);
        var param = initial.Select(v => (float)v).ToArray();
        var state = optimizer.Slots.Select(_ => new float[N]).ToList();
        for (int step = 0; step < Steps; step++)
        {
            var args = new List<Tensor> { new Tensor<float>(new long[] { N }, param), new Tensor<float>(new long[] { N }, gradients[step].Select(v => (float)v).ToArray()) };
            args.AddRange(state.Select(s => (Tensor)new Tensor<float>(new long[] { N }, s)));
            args.Add(Tensor<float>.Scalar((float)optimizer.LearningRate.At(step)));
            args.Add(Tensor<float>.Scalar(step + 1));
            var buffers = args.Select(device.Upload).ToList();
            var outs = exe.Execute(buffers);
            param = ((Tensor<float>)device.Download(outs[0])).Data;
            for (int i = 0; i < state.Count; i++) state[i] = ((Tensor<float>)device.Download(outs[1 + i])).Data;
            foreach (var x in buffers.Concat(outs)) x.Dispose();
        }
        return param.Select(v => (double)v).ToArray();
    }

    static (double[] Initial, double[][] Gradients) Data(int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var initial = Enumerable.Range(0, N).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var grads = Enumerable.Range(0, Steps).Select(_ => Enumerable.Range(0, N).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();
        return (initial, grads);
    }

    static void AssertClose(double[] want, double[] got)
    {
        for (int i = 0; i < N; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 2e-6 * Math.Max(1, Math.Abs(want[i])), $"element {i}: HLO {got[i]:R}, naive {want[i]:R}");
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.9, false)]
    [InlineData(0.9, true)]
    public void SgdAndMomentum(double momentum, bool nesterov)
    {
        var (p, g) = Data(1);
        var opt = new Sgd(0.1, momentum, nesterov);
        var want = (double[])p.Clone();
        var v = new double[N];
        for (int t = 0; t < Steps; t++)
        for (int i = 0; i < N; i++)
        {
            if (momentum == 0) { want[i] -= 0.1 * g[t][i]; continue; }
            v[i] = momentum * v[i] + g[t][i];
            want[i] -= 0.1 * (nesterov ? g[t][i] + momentum * v[i] : v[i]);
        }
        AssertClose(want, RunProgram(opt, p, g));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public void AdamAndAdamW(double weightDecay)
    {
        var (p, g) = Data(2);
        Optimizer opt = weightDecay == 0 ? new Adam(0.01) : new AdamW(0.01, weightDecay);
        double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.01;
        var want = (double[])p.Clone();
        var m = new double[N];
        var v = new double[N];
        for (int t = 1; t <= Steps; t++)
        for (int i = 0; i < N; i++)
        {
            // PyTorch's torch.optim.Adam / AdamW
            want[i] *= 1 - lr * weightDecay;
            m[i] = b1 * m[i] + (1 - b1) * g[t - 1][i];
            v[i] = b2 * v[i] + (1 - b2) * g[t - 1][i] * g[t - 1][i];
            var mhat = m[i] / (1 - Math.Pow(b1, t));
            var vhat = v[i] / (1 - Math.Pow(b2, t));
            want[i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
        }
        AssertClose(want, RunProgram(opt, p, g));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void RmsProp(double momentum)
    {
        var (p, g) = Data(3);
        var opt = new RmsProp(0.01, rho: 0.9, momentum: momentum);
        var want = (double[])p.Clone();
        var s = new double[N];
        var buf = new double[N];
        for (int t = 0; t < Steps; t++)
        for (int i = 0; i < N; i++)
        {
            s[i] = 0.9 * s[i] + 0.1 * g[t][i] * g[t][i];
            var d = g[t][i] / (Math.Sqrt(s[i]) + 1e-8);
            if (momentum == 0) want[i] -= 0.01 * d;
            else
            {
                buf[i] = momentum * buf[i] + d;
                want[i] -= 0.01 * buf[i];
            }
        }
        AssertClose(want, RunProgram(opt, p, g));
    }

    [Fact]
    public void ScheduledLearningRateIsAnInput()
    {
        var (p, g) = Data(4);
        var schedule = LearningRate.StepDecay(0.1, every: 2, factor: 0.5);
        var want = (double[])p.Clone();
        for (int t = 0; t < Steps; t++)
        for (int i = 0; i < N; i++) want[i] -= schedule.At(t) * g[t][i];
        AssertClose(want, RunProgram(new Sgd(schedule), p, g));
    }

    [Fact]
    public void Schedules()
    {
        Assert.Equal(0.01, LearningRate.Constant(0.01).At(12345));
        var step = LearningRate.StepDecay(1, every: 10, factor: 0.1);
        Assert.Equal(1, step.At(9));
        Assert.Equal(0.1, step.At(10), 12);
        var cos = LearningRate.CosineWithWarmup(peak: 1, warmupSteps: 10, totalSteps: 110, final: 0.1);
        Assert.Equal(0.1, cos.At(0), 12);
        Assert.Equal(1, cos.At(9), 12);
        Assert.Equal(1, cos.At(10), 12);
        Assert.Equal(0.55, cos.At(60), 12);
        Assert.Equal(0.1, cos.At(110), 12);
        Assert.Equal(0.1, cos.At(1000), 12);
        Assert.True(cos.At(30) > cos.At(31));
    }

    [Fact]
    public void BadHyperparametersAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(1e-3, beta1: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1, momentum: -0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(0.1, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(0.1, rho: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(0.1, weightDecay: -1));
    }
}
