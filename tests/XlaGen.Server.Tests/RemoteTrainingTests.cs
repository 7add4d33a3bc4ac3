using XlaGen.Backends.Remote;
using XlaGen.Training;

namespace XlaGen.Server.Tests;

/// <summary>A small classifier whose forward, loss and train-step programs the generator writes at build time.</summary>
[XlaModel]
public partial class RemoteMlp
{
    [Param(16, 32, Init = Init.GlorotUniform)] Tensor<float> w1;
    [Param(32)] Tensor<float> b1;
    [Param(32, 4, Init = Init.GlorotUniform)] Tensor<float> w2;
    [Param(4)] Tensor<float> b2;

    [Forward]
    public Tensor<float> Logits([Shape("B", 16)] Tensor<float> x) => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

    [Loss]
    public Tensor<float> Loss([Shape("B", 16)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}

/// <summary>Fit, Evaluate, Predict, Save and Load work unchanged on the remote device and give exactly the local
/// results; eight clients train at once; training survives a server restart from its last checkpoint.</summary>
public class RemoteTrainingTests(SharedServer shared)
{
    /// <summary>Four classes, each a noisy copy of a prototype vector.</summary>
    internal static (Tensor<float> X, Tensor<int> Labels) Data(int n, int seed)
    {
        var rng = new Random(seed);
        var prototypes = Enumerable.Range(0, 4).Select(c => Enumerable.Range(0, 16).Select(j => (float)Math.Sin(c * 16 + j)).ToArray()).ToArray();
        var x = new float[n * 16];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.Next(4);
            for (int j = 0; j < 16; j++) x[i * 16 + j] = prototypes[y[i]][j] + (float)(rng.NextDouble() - 0.5);
        }
        return (new Tensor<float>(new long[] { n, 16 }, x), new Tensor<int>(new long[] { n }, y));
    }

    internal static readonly FitOptions OneEpoch = new() { Epochs = 1, BatchSize = 32, Verbose = false };

    internal static void AssertSameParameters(ModelRunner expected, ModelRunner actual)
    {
        var a = actual.GetParameters();
        foreach (var (path, value) in expected.GetParameters())
        {
            var e = value.Data.Cast<float>().ToArray();
            var g = a[path].Data.Cast<float>().ToArray();
            int diff = Enumerable.Range(0, e.Length).Count(i => e[i] != g[i]);
            double maxd = Enumerable.Range(0, e.Length).Max(i => Math.Abs(e[i] - g[i]));
            Assert.True(diff == 0, $"parameter {path} differs in {diff} of {e.Length} elements, max {maxd}");
        }
    }

    /// <summary>Issue 10: Fit with StepsPerExecution = 16 on the server (one stacked upload per column and one Execute
    /// per 16 steps) is bitwise the local Fit with single steps, over epochs with leftover and partial batches and a
    /// learning rate that changes every step.</summary>
    [Fact]
    public void StepsPerExecutionOnTheServerIsBitwiseTheLocalSingleSteps()
    {
        var (x, y) = Data(700, 3);   // 21 full batches of 32 and one of 28: one call of 16 steps, then 6 single steps
        using var local = RemoteMlp.Create(Devices.Cpu(), seed: 7);
        using var remote = RemoteMlp.Create(shared.Device, seed: 7);
        foreach (var m in new[] { local, remote }) m.Compile(new Adam(LearningRate.CosineWithWarmup(1e-2, 5, 100)));
        var localHistory = local.Fit(x, y, OneEpoch with { Epochs = 2 });
        var remoteHistory = remote.Fit(x, y, OneEpoch with { Epochs = 2, StepsPerExecution = 16 });
        Assert.Equal(localHistory.Epochs.Select(e => e.Loss), remoteHistory.Epochs.Select(e => e.Loss));
        Assert.Equal(localHistory.Epochs.Select(e => e.Metrics["accuracy"]), remoteHistory.Epochs.Select(e => e.Metrics["accuracy"]));
        Assert.Equal(local.Step, remote.Step);
        Assert.Contains("32*16", remote.CompiledTrainSteps);
        AssertSameParameters(local, remote);
    }

    [Fact]
    public void FitEvaluatePredictAndCheckpointsMatchTheLocalRun()
    {
        var (x, y) = Data(256, 1);
        var (vx, vy) = Data(96, 2);
        using var local = RemoteMlp.Create(Devices.Cpu(), seed: 7);
        using var remote = RemoteMlp.Create(shared.Device, seed: 7);
        foreach (var m in new[] { local, remote }) m.Compile(new Adam(1e-2));

        var localHistory = local.Fit(x, y, OneEpoch with { Epochs = 3, Validation = new Data.Dataset(vx, vy) });
        var remoteHistory = remote.Fit(x, y, OneEpoch with { Epochs = 3, Validation = new Data.Dataset(vx, vy) });
        Assert.Equal(localHistory.Epochs.Select(e => e.Loss), remoteHistory.Epochs.Select(e => e.Loss));
        Assert.Equal(localHistory.Epochs.Select(e => e.ValidationLoss), remoteHistory.Epochs.Select(e => e.ValidationLoss));
        Assert.True(remoteHistory.Epochs[^1].Loss < remoteHistory.Epochs[0].Loss, "the loss should fall");
        AssertSameParameters(local, remote);

        Assert.Equal(local.Evaluate(vx, vy, batchSize: 40).Loss, remote.Evaluate(vx, vy, batchSize: 40).Loss);
        Assert.Equal(local.Predict(vx, batchSize: 50).Data, remote.Predict(vx, batchSize: 50).Data);

        // A checkpoint written from the remote model loads into a local one, and the other way round.
        var directory = Directory.CreateTempSubdirectory("xlagen-remote-ckpt-").FullName;
        try
        {
            var fromRemote = Path.Combine(directory, "remote.safetensors");
            remote.Save(fromRemote);
            using var restoredLocally = RemoteMlp.Create(Devices.Cpu(), seed: 99);
            restoredLocally.Compile(new Adam(1e-2));
            restoredLocally.Load(fromRemote);
            AssertSameParameters(local, restoredLocally);

            var fromLocal = Path.Combine(directory, "local.safetensors");
            local.Save(fromLocal);
            using var restoredRemotely = RemoteMlp.Create(shared.Device, seed: 99);
            restoredRemotely.Compile(new Adam(1e-2));
            restoredRemotely.Load(fromLocal);
            // The shuffle follows the seed the model was created with unless given: give the original one.
            local.Fit(x, y, OneEpoch with { ShuffleSeed = 7 });
            restoredRemotely.Fit(x, y, OneEpoch with { ShuffleSeed = 7 });
            AssertSameParameters(local, restoredRemotely);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task EightClientsFittingAtOnceEachGetTheirOwnResult()
    {
        const int clients = 8;
        var data = Enumerable.Range(0, clients).Select(c => Data(128, 10 + c)).ToArray();
        var expected = new float[clients][];
        for (int c = 0; c < clients; c++)
        {
            using var local = RemoteMlp.Create(Devices.Cpu(), seed: c);
            local.Compile(new Sgd(0.1));
            local.Fit(data[c].X, data[c].Labels, OneEpoch with { Epochs = 2 });
            expected[c] = ((Tensor<float>)local.GetParameter("w2")).Data;
        }
        var devices = new RemoteDevice[clients];
        for (int c = 0; c < clients; c++) devices[c] = await Devices.ConnectAsync(shared.Address);
        try
        {
            var results = new float[clients][];
            var errors = new Exception?[clients];
            using var start = new Barrier(clients);
            var threads = Enumerable.Range(0, clients).Select(c => new Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    using var model = RemoteMlp.Create(devices[c], seed: c);
                    model.Compile(new Sgd(0.1));
                    model.Fit(data[c].X, data[c].Labels, OneEpoch with { Epochs = 2 });
                    results[c] = ((Tensor<float>)model.GetParameter("w2")).Data;
                }
                catch (Exception e)
                {
                    errors[c] = e;
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.All(errors, e => Assert.Null(e));
            for (int c = 0; c < clients; c++) Assert.Equal(expected[c], results[c]);
            Assert.Equal(clients, results.Select(r => r[0]).Distinct().Count());
        }
        finally
        {
            foreach (var d in devices) await d.DisposeAsync();
        }
    }
}

/// <summary>The server is killed and restarted mid-training.</summary>
public class RemoteTrainingRestartTests
{
    [Fact]
    public async Task TrainingContinuesFromItsLastCheckpointAfterAServerRestart()
    {
        var (x, y) = RemoteTrainingTests.Data(192, 3);
        var directory = Directory.CreateTempSubdirectory("xlagen-restart-ckpt-").FullName;
        var checkpoint = Path.Combine(directory, "epoch1.safetensors");
        var server = await ServerProcess.StartAsync();
        ServerProcess? restarted = null;
        try
        {
            using var local = RemoteMlp.Create(Devices.Cpu(), seed: 5);
            local.Compile(new Adam(1e-2));
            local.Fit(x, y, RemoteTrainingTests.OneEpoch with { Epochs = 2 });

            await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(30) });
            using var remote = RemoteMlp.Create(device, seed: 5);
            remote.Compile(new Adam(1e-2));
            remote.Fit(x, y, RemoteTrainingTests.OneEpoch);
            remote.Save(checkpoint);   // downloads parameters, optimizer state and step: everything is synchronised

            // Restart right after the checkpoint: the next epoch restores programs and state by itself.
            server.Kill();
            restarted = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{server.Port}");
            remote.Fit(x, y, RemoteTrainingTests.OneEpoch);
            Assert.Equal(1, device.Reconnects);
            RemoteTrainingTests.AssertSameParameters(local, remote);

            // Restart after an epoch that was not checkpointed: its weights existed only on the server.
            restarted.Kill();
            var again = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{server.Port}");
            await restarted.DisposeAsync();
            restarted = again;
            var lost = Assert.Throws<DeviceStateLostException>(() => remote.Fit(x, y, RemoteTrainingTests.OneEpoch));
            Assert.Contains("of 'RemoteMlp", lost.Message);
            Assert.Contains("never downloaded", lost.Message);
            Assert.Contains("ModelRunner.Load", lost.Message);

            // The checkpoint brings it back: epoch 2 again, and the same weights as the run that never stopped.
            remote.Load(checkpoint);
            Assert.Equal(1, remote.CompletedEpochs);
            remote.Fit(x, y, RemoteTrainingTests.OneEpoch);
            RemoteTrainingTests.AssertSameParameters(local, remote);
            Assert.Equal(2, device.Reconnects);
        }
        finally
        {
            await server.DisposeAsync();
            if (restarted != null) await restarted.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}
