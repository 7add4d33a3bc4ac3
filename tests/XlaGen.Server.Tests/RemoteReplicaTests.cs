using System.Diagnostics;
using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;
using XlaGen.Tests;
using XlaGen.Training;

namespace XlaGen.Server.Tests;

/// <summary>An xlagen-server hosting two virtual CPU devices, with an execution limit for the stuck-replica test.</summary>
public sealed class ReplicaServer : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Server = await ServerProcess.StartAsync("--devices", "2", "--max-execution-time", "3s", "--session-lease", "20s", "--log-level", "debug");


    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Issue 11, deliverable 5: <c>xlagen-server --devices N</c> hosts N virtual CPU devices; a program compiled with a
/// replica count runs all its replicas through one Execute request (one argument list per replica), and a
/// <see cref="ReplicatedDevice"/> over the server's devices trains exactly as <c>Devices.Cpu(replicas: N)</c> does.
/// </summary>
public class RemoteReplicaTests(ReplicaServer fixture, SharedServer shared) : IClassFixture<ReplicaServer>
{
    const int ReplicaProtocol = 3;

    static Tensor<float> F(params float[] data) => Tensor<float>.FromArray(data, data.Length);

    /// <summary>(all-reduce(x), replica-id) over f32[n].</summary>
    static HloModule SumAndId(long n)
    {
        var b = new HloBuilder("sum");
        var x = b.Parameter(Shape.Array(ElementType.F32, n), "x");
        return b.BuildModule(b.Tuple(b.AllReduce(new[] { x }), b.ReplicaId()));
    }

    static async Task<ulong> CompileAsync(RawClient raw, string session, HloModule module, int replicas)
    {
        var response = await raw.Client.CompileAsync(
            new CompileRequest { SessionId = session, HloModuleProto = Google.Protobuf.ByteString.CopyFrom(HloProto.Write(module)), ReplicaCount = replicas }, raw.Options());
        Assert.Equal(Math.Max(1, replicas), response.ReplicaCount);
        return response.ExecutableHandle;
    }

    static ExecuteRequest Replicated(string session, ulong executable, params ulong[][] lists)
    {
        var request = new ExecuteRequest { SessionId = session, ExecutableHandle = executable };
        foreach (var list in lists)
        {
            var replica = new ReplicaArguments();
            replica.ArgumentHandles.AddRange(list);
            request.ReplicaArguments.Add(replica);
        }
        return request;
    }

    /// <summary>The all-reduce program through one request: each replica's result is the sum of both replicas' x, on its own device.</summary>
    static async Task AssertSumRunsAsync(RawClient raw, string session, ulong executable)
    {
        ulong a = await raw.UploadAsync(session, F(1, 2, 3), deviceId: 0);
        ulong b = await raw.UploadAsync(session, F(10, 20, 30.5f), deviceId: 1);
        var response = await raw.Client.ExecuteAsync(Replicated(session, executable, [a], [b]), raw.Options());
        Assert.Empty(response.Results);
        Assert.Equal(2, response.ReplicaResults.Count);
        for (int r = 0; r < 2; r++)
        {
            var results = response.ReplicaResults[r].Results;
            Assert.Equal(2, results.Count);
            Assert.Equal(new[] { 11f, 22, 33.5f }, ((Tensor<float>)await raw.DownloadAsync(session, results[0].BufferHandle)).Data);
            Assert.Equal((uint)r, ((Tensor<uint>)await raw.DownloadAsync(session, results[1].BufferHandle)).Data[0]);
        }
        await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { a, b } }, raw.Options());
    }

    [Fact]
    public async Task TheHandshakeListsEveryDeviceAndTheReplicaCount()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var v = await raw.Client.GetVersionAsync(new GetVersionRequest { MinProtocolVersion = 1, MaxProtocolVersion = ReplicaProtocol }, raw.Options());
        Assert.True(v.MaxProtocolVersion >= ReplicaProtocol, $"the server speaks up to {v.MaxProtocolVersion}");
        Assert.Equal(2, v.ReplicaDevices);
        Assert.Equal(new[] { 0, 1 }, v.Devices.Select(d => d.Id));
        Assert.All(v.Devices, d => Assert.Equal(Devices.Cpu().Info.DeviceKind, d.Kind));

        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        Assert.Equal(2, device.MaxReplicas);
        Assert.Equal(2, device.Describe().Devices.Count);
        using var replicated = device.Replicated(2);
        Assert.Equal(2, replicated.Replicas);
        Assert.Equal(new[] { 0, 1 }, replicated.Devices.Select(d => d.Info.Id));
        Assert.Contains("device 1", replicated.Devices[1].ToString());

        // The default server hosts one device.
        using var one = new RawClient(shared.Address);
        Assert.Equal(1, (await one.Client.GetVersionAsync(new GetVersionRequest { MinProtocolVersion = 1, MaxProtocolVersion = ReplicaProtocol }, one.Options())).ReplicaDevices);
    }

    [Fact]
    public async Task AnAllReduceRunsThroughOneRequestAndEveryReplicaGetsTheSum()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        var executable = await CompileAsync(raw, session, SumAndId(3), 2);
        await AssertSumRunsAsync(raw, session, executable);

        // Donation per replica: each replica's donated buffer is consumed, and both handles leave the session.
        ulong a = await raw.UploadAsync(session, F(1, 1, 1), deviceId: 0);
        ulong b = await raw.UploadAsync(session, F(2, 2, 2), deviceId: 1);
        var request = Replicated(session, executable, [a], [b]);
        request.DonatedArguments.Add(0);
        request.InlineResults = true;
        var response = await raw.Client.ExecuteAsync(request, raw.Options());
        Assert.All(response.ReplicaResults, r => Assert.Equal(12, r.Results[0].InlineData.Length));
        var released = await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { a, b } }, raw.Options());
        Assert.Equal(new[] { a, b }, released.UnknownHandles);

        // The replicated device of the client: the same program, one call per step, results on each device.
        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        using var replicated = device.Replicated(2);
        using var exe = replicated.CompileHlo(SumAndId(3));
        using var x = replicated.UploadShards(new Tensor[] { F(1, 2, 3), F(10, 20, 30.5f) });
        var outputs = exe.Execute(new[] { x });
        Assert.All(replicated.DownloadReplicas(outputs[0]), t => Assert.Equal(new[] { 11f, 22, 33.5f }, ((Tensor<float>)t).Data));
        Assert.Equal(new uint[] { 0, 1 }, replicated.DownloadReplicas(outputs[1]).Select(t => ((Tensor<uint>)t).Data[0]));
        foreach (var o in outputs) o.Dispose();
    }

    [Fact]
    public async Task AReplicatedTrainStepGivesTheWeightsOfTheInProcessReplicasBitwise()
    {
        var (x, y) = RemoteTrainingTests.Data(128, 11);
        using var localDevice = Devices.Cpu(replicas: 2);
        using var remoteDevice = await Devices.ConnectReplicatedAsync(fixture.Server.Address, 2);
        using var local = RemoteMlp.Create(localDevice, seed: 5);
        using var remote = RemoteMlp.Create(remoteDevice, seed: 5);
        foreach (var m in new[] { local, remote }) m.Compile(new Adam(1e-2));
        // 4 steps of 32 (16 per replica) per epoch, 2 epochs: 8 replicated train steps.
        var options = RemoteTrainingTests.OneEpoch with { Epochs = 2 };
        var localHistory = local.Fit(x, y, options);
        var before = fixture.Server.LogMark;
        var remoteHistory = remote.Fit(x, y, options);
        Assert.Equal(new[] { "16/2" }, remote.CompiledTrainSteps);
        // Each replicated train step was one Execute request on the server (8 steps, 8 requests, 2 × 16 results each).
        var executed = fixture.Server.LogSince(before).Split('\n').Where(l => l.Contains("executed '", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, executed.Count);
        Assert.All(executed, l => Assert.Contains("executed 'RemoteMlp.Loss.train_step'", l));
        Assert.All(executed, l => Assert.Contains("(32 results", l));
        Assert.Equal(localHistory.Epochs.Select(e => e.Loss), remoteHistory.Epochs.Select(e => e.Loss));
        RemoteTrainingTests.AssertSameParameters(local, remote);
        Assert.Equal(local.Evaluate(x, y, batchSize: 32).Loss, remote.Evaluate(x, y, batchSize: 32).Loss);
    }

    /// <summary>K steps per execution on a server's replicas: each replica gets its [K, batch / 2, …] stack of slices,
    /// and one Execute request runs the K replicated steps (the all-reduce inside the loop). Bitwise the in-process
    /// replicas' single steps, over 2 epochs of 10 full batches and a partial one of 3 (odd: it runs whole on both
    /// replicas as a single step), K = 4: 2 calls of 4 steps, then 3 single steps per epoch.</summary>
    [Fact]
    public async Task KStepsPerExecutionOnTheServersReplicasAreBitwiseTheInProcessReplicasSingleSteps()
    {
        var (x, y) = RemoteTrainingTests.Data(323, 12);
        using var localDevice = Devices.Cpu(replicas: 2);
        using var remoteDevice = await Devices.ConnectReplicatedAsync(fixture.Server.Address, 2);
        using var local = RemoteMlp.Create(localDevice, seed: 6);
        using var remote = RemoteMlp.Create(remoteDevice, seed: 6);
        foreach (var m in new[] { local, remote }) m.Compile(new Adam(LearningRate.CosineWithWarmup(1e-2, 5, 60)));
        var options = RemoteTrainingTests.OneEpoch with { Epochs = 2 };
        var localHistory = local.Fit(x, y, options);
        var before = fixture.Server.LogMark;
        var remoteHistory = remote.Fit(x, y, options with { StepsPerExecution = 4 });
        Assert.Contains("16*4/2", remote.CompiledTrainSteps);
        var executed = fixture.Server.LogSince(before).Split('\n').Where(l => l.Contains("executed '", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * (2 + 3), executed.Count);
        Assert.Equal(4, executed.Count(l => l.Contains("executed 'RemoteMlp.Loss.train_step_x4'", StringComparison.Ordinal)));
        Assert.Equal(local.Step, remote.Step);
        Assert.Equal(2 * 11, remote.Step);
        Assert.Equal(localHistory.Epochs.Select(e => e.Loss), remoteHistory.Epochs.Select(e => e.Loss));
        Assert.Equal(localHistory.Epochs.Select(e => e.Metrics["accuracy"]), remoteHistory.Epochs.Select(e => e.Metrics["accuracy"]));
        RemoteTrainingTests.AssertSameParameters(local, remote);
    }

    [Fact]
    public async Task TheSampleModelTrainsOnTheServersReplicasExactlyAsOnInProcessReplicas()
    {
        FashionMnistRemoteTests.RequireFashionMnist();
        var train = FashionMnistRemoteTests.First(XlaGen.Data.FashionMnist.LoadTrain(), 1024);
        var test = FashionMnistRemoteTests.First(XlaGen.Data.FashionMnist.LoadTest(), 256);
        FashionMnistSample.FashionMlp.Runner Train(IDevice device)
        {
            var model = FashionMnistSample.FashionMlp.Create(device, 42);
            model.Compile(new Adam(1e-3));
            model.Fit(train.Images, train.Labels, new FitOptions { Epochs = 1, BatchSize = 128, Verbose = false });   // 8 steps, 64 per replica
            return model;
        }
        using var localDevice = Devices.Cpu(replicas: 2);
        using var remoteDevice = await Devices.ConnectReplicatedAsync(fixture.Server.Address, 2);
        using var local = Train(localDevice);
        using var remote = Train(remoteDevice);
        RemoteTrainingTests.AssertSameParameters(local, remote);
        var localResult = local.Evaluate(test.Images, test.Labels);
        var remoteResult = remote.Evaluate(test.Images, test.Labels);
        Assert.Equal(localResult.Loss, remoteResult.Loss);
        Assert.Equal(localResult.Metrics, remoteResult.Metrics);
        Assert.True(local.Predict(test.Images).Data.AsSpan().SequenceEqual(remote.Predict(test.Images).Data), "Predict differs");
    }

    [Fact]
    public async Task BadReplicatedRequestsGetClearStatusesAndTheServerKeepsServing()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        var executable = await CompileAsync(raw, session, SumAndId(3), 2);
        var single = await CompileAsync(raw, session, TestModules.AddVectors(3), 0);
        ulong a = await raw.UploadAsync(session, F(1, 2, 3), deviceId: 0);
        ulong b = await raw.UploadAsync(session, F(4, 5, 6), deviceId: 1);
        ulong wrongShape = await raw.UploadAsync(session, F(4, 5), deviceId: 1);

        Task Execute(ExecuteRequest request) => raw.Client.ExecuteAsync(request, raw.Options()).ResponseAsync;

        // Wrong number of argument lists; argument_handles for a replicated program; lists for a one-device program.
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(Replicated(session, executable, [a])),
            "'sum' runs on 2 replicas and needs 2 replica_arguments lists (one per replica), got 1");
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(Replicated(session, executable, [a], [b], [b])), "got 3");
        var flat = new ExecuteRequest { SessionId = session, ExecutableHandle = executable, ArgumentHandles = { a } };
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(flat), "compiled for 2 replicas; pass one replica_arguments list per replica");
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(Replicated(session, single, [a, a])), "compiled for one device");
        // A buffer on the wrong device: each replica reads only its own device.
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(Replicated(session, executable, [b], [a])),
            $"replica 0, argument 0: buffer {b} is on device 1, but replica 0 runs on device 0");
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(new ExecuteRequest { SessionId = session, ExecutableHandle = single, ArgumentHandles = { b, a } }),
            $"buffer {b} is on device 1, but a program compiled for one device runs on device 0");
        // ExecuteArguments.Check per replica.
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(Replicated(session, executable, [a], [wrongShape])),
            "execute, replica 1 of 2: module 'sum', argument 0 (x): expected f32[3], got f32[2]");
        var badDonation = Replicated(session, executable, [a], [b]);
        badDonation.DonatedArguments.Add(1);
        await Expect.Status(StatusCode.InvalidArgument, () => Execute(badDonation), "replica 0 of 2");
        // Another session's buffer is unknown here (session isolation), as on one device.
        var other = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        ulong foreign = await raw.UploadAsync(other, F(7, 8, 9), deviceId: 1);
        await Expect.Status(StatusCode.NotFound, () => Execute(Replicated(session, executable, [a], [foreign])), $"{foreign}");
        // More replicas than devices; a device that does not exist.
        await Expect.Status(StatusCode.InvalidArgument, () => CompileAsync(raw, session, SumAndId(3), 3),
            "replica_count 3: this server hosts 2 devices, so a program runs on at most 2 replicas (--devices)");
        await Expect.Status(StatusCode.InvalidArgument, () => raw.UploadAsync(session, F(1), deviceId: 2), "device 2 does not exist: this server hosts 2 devices (ids 0 to 1)");
        await Expect.Status(StatusCode.InvalidArgument,
            () => raw.Client.BeginTransferAsync(new BeginTransferRequest { SessionId = session, UploadShape = new TensorShape { ElementType = (int)ElementType.F32, Dims = { 4 } }, DeviceId = -1 }, raw.Options()).ResponseAsync,
            "device -1 does not exist");
        await Expect.Status(StatusCode.InvalidArgument, () => CompileAsync(raw, session, SumAndId(3), -2), "replica_count -2 is negative");
        // The fields of protocol version 3 in an older session are refused, never ignored.
        var old = await raw.OpenSessionAsync(protocolVersion: 2);
        await Expect.Status(StatusCode.FailedPrecondition, () => CompileAsync(raw, old, SumAndId(3), 2), "protocol version 3; this session was opened at version 2");
        await Expect.Status(StatusCode.FailedPrecondition, () => raw.UploadAsync(old, F(1), deviceId: 1), "protocol version 3");
        // A one-device server refuses replicas and names the flag.
        using (var one = new RawClient(shared.Address))
        {
            var s = await one.OpenSessionAsync(protocolVersion: ReplicaProtocol);
            await Expect.Status(StatusCode.InvalidArgument, () => CompileAsync(one, s, SumAndId(3), 2), "this server hosts one device; start it with --devices 2");
        }
        await using (var device = await Devices.ConnectAsync(shared.Address))
        {
            Assert.Contains("start it with --devices 2", Assert.Throws<ArgumentOutOfRangeException>(() => device.Replicated(2)).Message);
        }
        var connect = await Assert.ThrowsAsync<DeviceConnectionException>(() => Devices.ConnectReplicatedAsync(fixture.Server.Address, 3));
        Assert.Contains("runs programs on at most 2 replicas (it was started with --devices 2), not 3", connect.Message);

        // Nothing of the above disturbed the server or consumed the arguments.
        Assert.False(fixture.Server.HasExited);
        await AssertSumRunsAsync(raw, session, executable);
        Assert.Equal(new[] { 1f, 2, 3 }, ((Tensor<float>)await raw.DownloadAsync(session, a)).Data);
        Assert.Equal(new[] { 4f, 5, 6 }, ((Tensor<float>)await raw.DownloadAsync(session, b)).Data);
        await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = other }, raw.Options());
        await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = old }, raw.Options());
        await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = session }, raw.Options());
    }

    [Fact]
    public async Task AFailingReplicaFailsTheWholeRequestWithoutHanging()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        async Task<ulong[][]> Args(int limit0, int limit1) =>
        [
            [await raw.UploadAsync(session, Tensor<int>.Scalar(limit0), deviceId: 0), await raw.UploadAsync(session, F(1, 2), deviceId: 0)],
            [await raw.UploadAsync(session, Tensor<int>.Scalar(limit1), deviceId: 1), await raw.UploadAsync(session, F(1, 2), deviceId: 1)],
        ];

        // Replica 1 loops once more: it meets replica 0 at a different all-reduce. The whole call fails, naming it;
        // the donated buffers are consumed on both replicas.
        var divergent = await CompileAsync(raw, session, ReplicaPrograms.LoopWithAllReduce(reduceInBody: true, reduceAfter: true), 2);
        var args = await Args(2, 3);
        var request = Replicated(session, divergent, args);
        request.DonatedArguments.Add(1);
        var clock = Stopwatch.StartNew();
        await Expect.Status(StatusCode.InvalidArgument, () => raw.Client.ExecuteAsync(request, raw.Options()).ResponseAsync,
            "execute 'loop' on 2 replicas", "failed running 'loop'", "the replicas ran different collectives", "its donated arguments are consumed");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the failure took {clock.Elapsed}");
        var released = await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { args[0][1], args[1][1], args[0][0], args[1][0] } }, raw.Options());
        Assert.Equal(new[] { args[0][1], args[1][1] }, released.UnknownHandles);
        Assert.Equal(2, released.Released);

        // Replica 1 loops for ever while replica 0 waits at the final all-reduce: --max-execution-time (3 s) stops both.
        var stuck = await CompileAsync(raw, session, ReplicaPrograms.LoopWithAllReduce(reduceInBody: false, reduceAfter: true), 2);
        var stuckArgs = await Args(0, int.MaxValue);
        clock.Restart();
        await Expect.Status(StatusCode.DeadlineExceeded, () => raw.Client.ExecuteAsync(Replicated(session, stuck, stuckArgs), raw.Options()).ResponseAsync,
            "execute 'loop' ran longer than this server allows (3000 ms, --max-execution-time)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"stopping took {clock.Elapsed}");
        // … and so does the client's own deadline.
        var deadline = raw.Client.ExecuteAsync(Replicated(session, stuck, await Args(0, int.MaxValue)), new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(500)));
        await Expect.Status(StatusCode.DeadlineExceeded, () => deadline.ResponseAsync);

        // Through the client: the failure is one XlaExecutionException, and the device runs the next step.
        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        using var replicated = device.Replicated(2);
        using var exe = replicated.CompileHlo(ReplicaPrograms.LoopWithAllReduce(reduceInBody: true, reduceAfter: true));
        using var limits = replicated.UploadShards(new Tensor[] { Tensor<int>.Scalar(2), Tensor<int>.Scalar(3) });
        using var v = replicated.Upload(F(1, 2));
        var e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new DeviceBuffer[] { limits, v }));
        Assert.Contains("the replicas ran different collectives", e.Message);
        using var same = replicated.UploadShards(new Tensor[] { Tensor<int>.Scalar(2), Tensor<int>.Scalar(2) });
        var ok = exe.Execute(new DeviceBuffer[] { same, v });
        // (1,2) summed over 2 replicas twice in the loop, once after.
        Assert.All(replicated.DownloadReplicas(ok[0]), t => Assert.Equal(new[] { 8f, 16 }, ((Tensor<float>)t).Data));
        ok[0].Dispose();
        Assert.False(fixture.Server.HasExited);
    }

    [Fact]
    public async Task EveryReplicasResultsCountAgainstTheSessionsBytes()
    {
        await using var server = await ServerProcess.StartAsync("--devices", "2", "--max-session-bytes", "110000");
        using var raw = new RawClient(server.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        var copy = await CompileAsync(raw, session, TestModules.Copy(ElementType.F32, 8192), 2);
        ulong a = await raw.UploadAsync(session, TestModules.Random(1, 8192), deviceId: 0);
        ulong b = await raw.UploadAsync(session, TestModules.Random(2, 8192), deviceId: 1);
        long held = await raw.BytesHeldAsync(session);
        // One replica's results (32 KiB) would fit under the limit; both replicas' (64 KiB) do not.
        Assert.True(held + 32768 <= 110000 && held + 65536 > 110000, $"held {held}");
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.Client.ExecuteAsync(Replicated(session, copy, [a], [b]), raw.Options()).ResponseAsync,
            "execute 'copy_f32': its results (65536 bytes", "over its limit of 110000 bytes (--max-session-bytes)");
        Assert.Equal(held, await raw.BytesHeldAsync(session));
        // Donating the arguments makes room: each replica's result replaces its argument.
        var donating = Replicated(session, copy, [a], [b]);
        donating.DonatedArguments.Add(0);
        var response = await raw.Client.ExecuteAsync(donating, raw.Options());
        Assert.Equal(TestModules.Random(2, 8192).Data, ((Tensor<float>)await raw.DownloadAsync(session, response.ReplicaResults[1].Results[0].BufferHandle)).Data);
        Assert.Equal(held, await raw.BytesHeldAsync(session));
    }

    [Fact]
    public async Task AfterAServerRestartReplicatedProgramsAndShardsAreRestoredOnTheirDevices()
    {
        var first = await ServerProcess.StartAsync("--devices", "2", "--session-lease", "30s");
        ServerProcess? second = null;
        var directory = Directory.CreateTempSubdirectory("xlagen-remote-replicas-").FullName;
        try
        {
            var (x, y) = RemoteTrainingTests.Data(64, 3);
            using var localDevice = Devices.Cpu(replicas: 2);
            using var local = RemoteMlp.Create(localDevice, seed: 9);
            local.Compile(new Adam(1e-2));
            local.Fit(x, y, RemoteTrainingTests.OneEpoch);
            local.Fit(x, y, RemoteTrainingTests.OneEpoch);

            using var device = await Devices.ConnectReplicatedAsync(first.Address, 2, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(30) });
            using var exe = device.CompileHlo(SumAndId(3));
            using var shards = device.UploadShards(new Tensor[] { F(1, 2, 3), F(10, 20, 30.5f) });
            var before = exe.Execute(new[] { shards });
            using var model = RemoteMlp.Create(device, seed: 9);
            model.Compile(new Adam(1e-2));
            model.Fit(x, y, RemoteTrainingTests.OneEpoch);
            var checkpoint = Path.Combine(directory, "replicas.safetensors");
            model.Save(checkpoint);

            first.Kill();
            second = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{first.Port}", "--devices", "2", "--session-lease", "30s");

            // The program is compiled again for 2 replicas and each shard uploaded again onto its own device.
            var after = exe.Execute(new[] { shards });
            Assert.All(device.DownloadReplicas(after[0]), t => Assert.Equal(new[] { 11f, 22, 33.5f }, ((Tensor<float>)t).Data));
            Assert.Equal(new uint[] { 0, 1 }, device.DownloadReplicas(after[1]).Select(t => ((Tensor<uint>)t).Data[0]));
            // A result computed before the restart and never downloaded is lost, named.
            var lost = Assert.Throws<DeviceStateLostException>(() => device.DownloadReplicas(before[0]));
            Assert.Contains("result 0 of 'sum', replica 0", lost.Message);
            // The model's state on replica 1 was computed on the server (Save downloads replica 0's copy): the next step
            // says so, and Load brings every replica back to the checkpoint, after which training goes on exactly as
            // on in-process replicas.
            Assert.Throws<DeviceStateLostException>(() => model.Fit(x, y, RemoteTrainingTests.OneEpoch));
            model.Load(checkpoint);
            model.Fit(x, y, RemoteTrainingTests.OneEpoch);
            RemoteTrainingTests.AssertSameParameters(local, model);
            foreach (var o in before.Concat(after)) o.Dispose();
        }
        finally
        {
            await first.DisposeAsync();
            if (second != null) await second.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task TheServerRefusesAnUnusableDeviceCount()
    {
        var (code, _, error) = await CommandLineTests.Run(new Dictionary<string, string>(), "--devices", "0");
        Assert.Equal(2, code);
        Assert.Contains("--devices 0: use a whole number of at least 1", error);
        (code, _, error) = await CommandLineTests.Run(new Dictionary<string, string>(), "--devices", "300");
        Assert.Equal(2, code);
        Assert.Contains("--devices 300: at most 256", error);
    }

    /// <summary>Issue 11, item 5 with a PJRT backend: <c>--backend pjrt:PLUGIN --devices 2</c> hosts two of the
    /// plugin's devices, replica r on the device its default assignment names (the test double's assignment is the
    /// reverse of its device order), and a program compiled for 2 replicas runs
    /// both through one Execute request. The test double executes identity programs only: the all-reduce itself is
    /// XLA's, checked by tools/DeviceCheck on a real plugin. More devices than the plugin has: a clear refusal.</summary>
    [Fact]
    public async Task APjrtBackendHostsThePluginsDevicesAsReplicas()
    {
        string plugin = XlaGen.Tests.Pjrt.TestPluginBuild.Require();
        var (code, _, error) = await CommandLineTests.Run(new Dictionary<string, string>(), "--backend", "pjrt:" + plugin, "--devices", "3");
        Assert.Equal(2, code);
        Assert.Contains("--devices 3: PJRT client testpjrt test double 1 (2 device(s)", error);
        Assert.Contains("a program runs on 1 to 2 replicas", error);

        await using var server = await ServerProcess.StartAsync("--backend", "pjrt:" + plugin, "--devices", "2");
        using var raw = new RawClient(server.Address);
        var v = await raw.Client.GetVersionAsync(new GetVersionRequest { MinProtocolVersion = 1, MaxProtocolVersion = ReplicaProtocol }, raw.Options());
        Assert.Equal(2, v.ReplicaDevices);
        Assert.All(v.Devices, d => Assert.Equal("XlaGen PJRT test double", d.Kind));
        var session = await raw.OpenSessionAsync(protocolVersion: ReplicaProtocol);
        var b = new HloBuilder("identity2");
        var x = b.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var executable = await CompileAsync(raw, session, b.BuildModule(b.Tuple(x)), 2);
        ulong a0 = await raw.UploadAsync(session, F(1, 2, 3), deviceId: 0);
        ulong a1 = await raw.UploadAsync(session, F(4, 5, 6), deviceId: 1);
        var response = await raw.Client.ExecuteAsync(Replicated(session, executable, [a0], [a1]), raw.Options());
        Assert.Equal(2, response.ReplicaResults.Count);
        Assert.Equal(new[] { 1f, 2, 3 }, ((Tensor<float>)await raw.DownloadAsync(session, response.ReplicaResults[0].Results[0].BufferHandle)).Data);
        Assert.Equal(new[] { 4f, 5, 6 }, ((Tensor<float>)await raw.DownloadAsync(session, response.ReplicaResults[1].Results[0].BufferHandle)).Data);
        // replica 0's argument on device 1 is refused before anything runs, and the server keeps serving
        var swapped = await Assert.ThrowsAsync<RpcException>(async () => await raw.Client.ExecuteAsync(Replicated(session, executable, [a1], [a0]), raw.Options()));
        Assert.Equal(StatusCode.InvalidArgument, swapped.StatusCode);
        Assert.False(server.HasExited);
    }
}
