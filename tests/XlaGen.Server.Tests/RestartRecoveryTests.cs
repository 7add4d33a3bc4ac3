using XlaGen.Backends.Remote;

namespace XlaGen.Server.Tests;

/// <summary>The server dies mid-training and comes back on the same port: the client reconnects, recompiles, re-uploads
/// what it has host copies of, and says clearly which buffer it could not restore.</summary>
public class RestartRecoveryTests
{
    static Tensor Step(IDevice device, IExecutable step, ref DeviceBuffer w, DeviceBuffer x, DeviceBuffer t, bool donate = true)
    {
        var outputs = step.Execute(new[] { w, x, t }, donate ? new ExecuteOptions { DonatedArguments = new[] { 0 } } : null);
        if (!donate) w.Dispose();
        w = outputs[0];
        var loss = device.Download(outputs[1]);
        outputs[1].Dispose();
        return loss;
    }

    static float[] LocalWeightsAfter(int steps)
    {
        var cpu = Devices.Cpu();
        using var step = cpu.CompileHlo(TestModules.SgdStep(16, 4, 2, 0.1f));
        var x = cpu.Upload(TestModules.Random(1, 16, 4));
        var t = cpu.Upload(TestModules.Random(2, 16, 2));
        var w = cpu.Upload(TestModules.Random(3, 4, 2));
        for (int i = 0; i < steps; i++) Step(cpu, step, ref w, x, t);
        return ((Tensor<float>)cpu.Download(w)).Data;
    }

    [Fact]
    public async Task ClientRecoversFromAServerRestartAndNamesTheBufferItCannotRestore()
    {
        var first = await ServerProcess.StartAsync("--session-lease", "30s");
        ServerProcess? second = null;
        try
        {
            await using var device = await Devices.ConnectAsync(first.Address, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(30) });
            var sessionBefore = device.SessionId;
            var instanceBefore = device.Server.InstanceId;
            var step = device.CompileHlo(TestModules.SgdStep(16, 4, 2, 0.1f));
            var x = device.Upload(TestModules.Random(1, 16, 4));
            var t = device.Upload(TestModules.Random(2, 16, 2));
            DeviceBuffer w = device.Upload(TestModules.Random(3, 4, 2));
            for (int i = 0; i < 3; i++) Step(device, step, ref w, x, t);
            device.Synchronize(new[] { w });        // w3 now has a host copy
            Assert.True(((RemoteBuffer)w).HasHostCopy);
            var w3 = w;
            var outputs = step.Execute(new[] { w3, x, t });
            var unsynced = (RemoteBuffer)outputs[0];  // w4, computed on the server, never downloaded
            outputs[1].Dispose();
            // A host tensor reused after upload (as a batch buffer often is) no longer holds the buffer's contents.
            var reusedSource = TestModules.Random(4, 16, 4);
            var reused = (RemoteBuffer)device.Upload(reusedSource);
            reusedSource.Data[5] += 1;

            first.Kill();
            second = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{first.Port}", "--session-lease", "30s");

            // Training continues from the synchronised weights: recompiled, x, t and w3 re-uploaded.
            w = w3;
            for (int i = 0; i < 3; i++) Step(device, step, ref w, x, t);
            Assert.Equal(LocalWeightsAfter(6), ((Tensor<float>)device.Download(w)).Data);
            Assert.Equal(1, device.Reconnects);
            Assert.True(device.RestoredHandles >= 4, $"restored {device.RestoredHandles}");
            Assert.NotEqual(sessionBefore, device.SessionId);
            Assert.NotEqual(instanceBefore, device.Server.InstanceId);

            var lost = Assert.Throws<DeviceStateLostException>(() => step.Execute(new DeviceBuffer[] { unsynced, x, t }));
            Assert.Contains($"{unsynced.Name} (f32[4,2], result 0 of 'sgd_step') was lost", lost.Message);
            Assert.Contains("never downloaded", lost.Message);
            Assert.Contains("Synchronize", lost.Message);
            Assert.Equal(unsynced.Name, lost.BufferName);
            var modified = Assert.Throws<DeviceStateLostException>(() => step.Execute(new DeviceBuffer[] { w, reused, t }));
            Assert.Contains($"{reused.Name} (f32[16,4], uploaded) was lost", modified.Message);
            Assert.Contains("has been modified since", modified.Message);
            // The same clear error on every later use, and it does not disturb the healthy buffers.
            Assert.Throws<DeviceStateLostException>(() => device.Download(unsynced));
            Step(device, step, ref w, x, t);
            Assert.Equal(LocalWeightsAfter(7), ((Tensor<float>)device.Download(w)).Data);
        }
        finally
        {
            await first.DisposeAsync();
            if (second != null) await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task AServerThatDoesNotComeBackIsAClearErrorAfterTheReconnectTimeout()
    {
        var server = await ServerProcess.StartAsync();
        await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(1) });
        var x = device.Upload(TestModules.Random(1, 3));
        await server.DisposeAsync();
        var e = Assert.Throws<DeviceConnectionException>(() => device.Download(x));
        Assert.Contains($"lost the connection to xlagen-server at {server.Address} and could not reconnect within 1 s", e.Message);
        Assert.Contains("ReconnectTimeout", e.Message);
    }

    [Fact]
    public async Task WithReconnectOffALostSessionIsReported()
    {
        var first = await ServerProcess.StartAsync();
        ServerProcess? second = null;
        try
        {
            await using var device = await Devices.ConnectAsync(first.Address, new RemoteDeviceOptions { Reconnect = false });
            var x = device.Upload(TestModules.Random(1, 3));
            first.Kill();
            second = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{first.Port}");
            var e = Assert.Throws<DeviceConnectionException>(() => device.Download(x));
            Assert.Contains("reconnecting is turned off", e.Message);
        }
        finally
        {
            await first.DisposeAsync();
            if (second != null) await second.DisposeAsync();
        }
    }
}
