using System.Diagnostics;
using XlaGen.Backends.Remote;

namespace XlaGen.Server.Tests;

/// <summary>A server that stops executions after 400 ms.</summary>
public sealed class ExecutionLimitServer : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await ServerProcess.StartAsync("--max-execution-time", "400ms");

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// A program that never ends (a while loop whose condition stays true) must not hold a core for ever: the server
/// stops it after --max-execution-time, or when its client cancels the call or lets its deadline pass, and keeps
/// serving. The loop is SlowLoop with a count of int.MaxValue (a 48x48 matmul per iteration: years).
/// </summary>
public class ExecutionLimitTests(ExecutionLimitServer fixture) : IClassFixture<ExecutionLimitServer>
{
    const long Size = 48;

    static async Task<GetStats> Eventually(RawClient raw, Func<Device.V1.GetServerStatsResponse, bool> done)
    {
        var clock = Stopwatch.StartNew();
        Device.V1.GetServerStatsResponse stats;
        while (!done(stats = await raw.StatsAsync()) && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(25);
        return new GetStats(stats, clock.Elapsed);
    }

    internal sealed record GetStats(Device.V1.GetServerStatsResponse Stats, TimeSpan Waited);

    static async Task<(RemoteExecutable Exe, DeviceBuffer Endless, DeviceBuffer V, DeviceBuffer M)> PrepareAsync(RemoteDevice device)
    {
        var exe = await device.CompileHloAsync(TestModules.SlowLoop(Size));
        return (exe, await device.UploadAsync(Tensor<int>.Scalar(int.MaxValue)),
            await device.UploadAsync(TestModules.Random(1, Size, Size)), await device.UploadAsync(TestModules.Random(2, Size, Size)));
    }

    static Tensor<float> Local(int count)
    {
        var cpu = Devices.Cpu();
        using var exe = cpu.CompileHlo(TestModules.SlowLoop(Size));
        var args = new[] { cpu.Upload(Tensor<int>.Scalar(count)), cpu.Upload(TestModules.Random(1, Size, Size)), cpu.Upload(TestModules.Random(2, Size, Size)) };
        return (Tensor<float>)cpu.Download(exe.Execute(args)[0]);
    }

    [Fact]
    public async Task AnEndlessProgramIsStoppedAfterMaxExecutionTimeAndTheServerKeepsServing()
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        using var raw = new RawClient(fixture.Server.Address);
        long stoppedBefore = (await raw.StatsAsync()).ExecutionsStopped;
        var (exe, endless, v, m) = await PrepareAsync(device);

        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<XlaExecutionException>(() =>
            exe.ExecuteAsync(new[] { endless, v, m }, new ExecuteOptions { DonatedArguments = new[] { 1 } }));
        Assert.Contains("DeadlineExceeded", e.Message);
        Assert.Contains("execute 'slow_loop' ran longer than this server allows (400 ms, --max-execution-time) and was stopped; its donated arguments are consumed", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"stopping took {clock.Elapsed}");
        // The donated buffer is gone on both sides.
        Assert.True(v.IsDeleted);
        Assert.Throws<ObjectDisposedException>(() => device.Download(v));

        // The same session and program then run a finite loop to the right values.
        var v2 = await device.UploadAsync(TestModules.Random(1, Size, Size));
        var result = (Tensor<float>)(await exe.ExecuteToHostAsync(new[] { await device.UploadAsync(Tensor<int>.Scalar(5)), v2, m }))[0];
        Assert.Equal(Local(5).Data, result.Data);

        var after = (await Eventually(raw, s => s.ExecutionsInFlight == 0)).Stats;
        Assert.Equal(0, after.ExecutionsInFlight);
        Assert.Equal(stoppedBefore + 1, after.ExecutionsStopped);
        Assert.Contains("execution of 'slow_loop' stopped after", fixture.Server.Log);
        Assert.Contains(": --max-execution-time", fixture.Server.Log);
        exe.Dispose();
    }

    [Fact]
    public async Task ClientCancellationAndDeadlinesStopTheProgramOnTheServer()
    {
        // No server-side limit here: only the client can stop the loop.
        await using var server = await ServerProcess.StartAsync();
        using var raw = new RawClient(server.Address);
        await using (var device = await Devices.ConnectAsync(server.Address))
        {
            var (exe, endless, v, m) = await PrepareAsync(device);
            using var cts = new CancellationTokenSource();
            var running = exe.ExecuteAsync(new[] { endless, v, m }, new ExecuteOptions { DonatedArguments = new[] { 1 }, Cancellation = cts.Token });
            var started = await Eventually(raw, s => s.ExecutionsInFlight == 1);
            Assert.Equal(1, started.Stats.ExecutionsInFlight);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
            Assert.True(v.IsDeleted);

            // The server notices the cancelled call and stops the program: the core is free again.
            var stopped = await Eventually(raw, s => s.ExecutionsInFlight == 0 && s.ExecutionsStopped == 1);
            Assert.Equal(0, stopped.Stats.ExecutionsInFlight);
            Assert.Equal(1, stopped.Stats.ExecutionsStopped);
            Assert.Contains("the client cancelled the call or its deadline passed", server.Log);

            // The device keeps working.
            var y = await exe.ExecuteToHostAsync(new[] { await device.UploadAsync(Tensor<int>.Scalar(2)), await device.UploadAsync(TestModules.Random(1, Size, Size)), m });
            Assert.Equal(Local(2).Data, ((Tensor<float>)y[0]).Data);
            exe.Dispose();
        }

        // A client deadline (RemoteDeviceOptions.CallTimeout) stops it the same way.
        await using (var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { CallTimeout = TimeSpan.FromSeconds(2) }))
        {
            var (exe, endless, v, m) = await PrepareAsync(device);
            var e = await Assert.ThrowsAsync<XlaExecutionException>(() => exe.ExecuteAsync(new[] { endless, v, m }));
            Assert.Contains("DeadlineExceeded", e.Message);
            var stopped = await Eventually(raw, s => s.ExecutionsInFlight == 0 && s.ExecutionsStopped == 2);
            Assert.Equal(0, stopped.Stats.ExecutionsInFlight);
            Assert.Equal(2, stopped.Stats.ExecutionsStopped);
            exe.Dispose();
        }
    }
}
