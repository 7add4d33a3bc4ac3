using XlaGen.Backends.Remote;

namespace XlaGen.Server.Tests;

/// <summary>Eight clients training at once on one server each get their own, correct result.</summary>
public class ConcurrentClientsTests(SharedServer shared)
{
    const int Clients = 8;
    const int Steps = 15;

    static (float[] W, float[] Losses) Train(IDevice device, int client)
    {
        var module = TestModules.SgdStep(24, 5, 2, 0.05f);
        using var step = device.CompileHlo(module);
        var x = device.Upload(TestModules.Random(100 + client, 24, 5));
        var t = device.Upload(TestModules.Random(200 + client, 24, 2));
        var w = device.Upload(TestModules.Random(300 + client, 5, 2));
        var losses = new float[Steps];
        for (int i = 0; i < Steps; i++)
        {
            var outputs = step.Execute(new[] { w, x, t }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
            w = outputs[0];
            losses[i] = ((Tensor<float>)device.Download(outputs[1])).Data[0];
            outputs[1].Dispose();
        }
        var final = ((Tensor<float>)device.Download(w)).Data;
        foreach (var b in new[] { w, x, t }) b.Dispose();
        return (final, losses);
    }

    [Fact]
    public async Task EightClientsTrainingAtOnceEachGetTheirOwnResult()
    {
        var expected = Enumerable.Range(0, Clients).Select(c => Train(Devices.Cpu(), c)).ToArray();
        var devices = new RemoteDevice[Clients];
        for (int c = 0; c < Clients; c++) devices[c] = await Devices.ConnectAsync(shared.Address, new RemoteDeviceOptions { ClientName = $"client {c}" });
        try
        {
            Assert.Equal(Clients, devices.Select(d => d.SessionId).Distinct().Count());
            var results = new (float[] W, float[] Losses)[Clients];
            var errors = new Exception?[Clients];
            using var start = new Barrier(Clients);
            // Dedicated threads: each client blocks in the synchronous IDevice API, as a training loop does.
            var threads = Enumerable.Range(0, Clients).Select(c => new Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    results[c] = Train(devices[c], c);
                }
                catch (Exception e)
                {
                    errors[c] = e;
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.All(errors, e => Assert.Null(e));
            for (int c = 0; c < Clients; c++)
            {
                Assert.Equal(expected[c].W, results[c].W);
                Assert.Equal(expected[c].Losses, results[c].Losses);
            }
            Assert.Equal(Clients, results.Select(r => r.W[0]).Distinct().Count());
        }
        finally
        {
            foreach (var d in devices) await d.DisposeAsync();
        }
    }
}
