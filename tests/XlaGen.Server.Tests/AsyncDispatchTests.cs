using Google.Protobuf;
using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Server.Tests;

/// <summary>
/// Asynchronous dispatch (protocol version 4): Fit's steps are sent before the previous step's response is back and
/// train exactly as synchronous steps do; the server runs a session's sequenced executions in sequence order whatever
/// order they arrive in; a failed execution names itself to every later call that uses its results; a cancelled one
/// surfaces at the next use; a server that dies mid-pipeline ends Fit with an error instead of a hang.
/// </summary>
public class AsyncDispatchTests(SharedServer shared)
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task PipelinedFitIsBitwiseTheSynchronousAndTheLocalFit(int stepsPerExecution)
    {
        var (x, y) = RemoteTrainingTests.Data(300, 11);
        var fit = RemoteTrainingTests.OneEpoch with { Epochs = 2, StepsPerExecution = stepsPerExecution };
        using var local = RemoteMlp.Create(Devices.Cpu(), seed: 3);
        local.Compile(new Adam(LearningRate.CosineWithWarmup(1e-2, 2, 30)));
        local.Fit(x, y, fit);

        await using var pipelined = await Devices.ConnectAsync(shared.Address);
        await using var synchronous = await Devices.ConnectAsync(shared.Address, new RemoteDeviceOptions { PipelineDepth = 0 });
        foreach (var device in new[] { pipelined, synchronous })
        {
            using var remote = RemoteMlp.Create(device, seed: 3);
            remote.Compile(new Adam(LearningRate.CosineWithWarmup(1e-2, 2, 30)));
            var history = remote.Fit(x, y, fit);
            RemoteTrainingTests.AssertSameParameters(local, remote);
            Assert.Equal(local.Step, remote.Step);
            Assert.True(history.Epochs.All(e => double.IsFinite(e.Loss)));
        }
        Assert.Equal(4, pipelined.ProtocolVersion);
        Assert.True(pipelined.DispatchedExecutions >= 2 * (300 / 32 / stepsPerExecution), $"{pipelined.DispatchedExecutions} dispatched");
        Assert.Equal(0, synchronous.DispatchedExecutions);
    }

    [Fact]
    public async Task SequencedExecutionsRunInSequenceOrderWhateverOrderTheyArrive()
    {
        var raw = new RawClient(shared.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: 4);
        var add = await raw.CompileAsync(session, TestModules.AddVectors(4));
        var x = await raw.UploadAsync(session, new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
        ulong r1 = RemoteClientHandle(), r2 = RemoteClientHandle();

        // #2 (r1 + x) arrives first and waits for #1 (x + x), which makes r1.
        var second = raw.Client.ExecuteAsync(Sequenced(session, add, 2, r2, r1, x), raw.Options()).ResponseAsync;
        await Task.Delay(300);
        Assert.False(second.IsCompleted, "execute #2 ran before #1 arrived");
        var first = await raw.Client.ExecuteAsync(Sequenced(session, add, 1, r1, x, x), raw.Options());
        var response = await second;
        Assert.Equal(r1, first.Results[0].BufferHandle);
        Assert.Equal(r2, response.Results[0].BufferHandle);

        // r2 = 3x, read through an inline execution (r2 + x = 4x).
        var inline = new ExecuteRequest { SessionId = session, ExecutableHandle = add, InlineResults = true };
        inline.ArgumentHandles.Add(r2);
        inline.ArgumentHandles.Add(x);
        var bytes = (await raw.Client.ExecuteAsync(inline, raw.Options())).Results[0].InlineData.ToByteArray();
        var values = Enumerable.Range(0, 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
        Assert.Equal(new float[] { 4, 8, 12, 16 }, values);
    }

    [Fact]
    public async Task AFailedSequencedExecutionNamesItselfToTheCallsThatUseItsResults()
    {
        var raw = new RawClient(shared.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: 4);
        var add = await raw.CompileAsync(session, TestModules.AddVectors(4));
        var wrong = await raw.UploadAsync(session, new Tensor<float>(new long[] { 3 }, new float[] { 1, 2, 3 }));
        var x = await raw.UploadAsync(session, new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
        ulong r1 = RemoteClientHandle(), r2 = RemoteClientHandle();

        var bad = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(Sequenced(session, add, 1, r1, wrong, x), raw.Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        var after = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(Sequenced(session, add, 2, r2, r1, x), raw.Options()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, after.StatusCode);
        Assert.Contains("result 0 of execute #1", after.Status.Detail);
        Assert.Contains("add_vectors", after.Status.Detail);
        Assert.Contains("which failed: InvalidArgument", after.Status.Detail);

        // Misuse is refused without disturbing the session: a number used before, a handle outside the client range.
        var again = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(Sequenced(session, add, 2, RemoteClientHandle(), x, x), raw.Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, again.StatusCode);
        Assert.Contains("sequence number 2 was used before", again.Status.Detail);
        var low = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(Sequenced(session, add, 3, 12345, x, x), raw.Options()).ResponseAsync);
        Assert.Contains("not in the client range", low.Status.Detail);
        var ok = await raw.Client.ExecuteAsync(Sequenced(session, add, 4, r2, x, x), raw.Options());
        Assert.Equal(r2, ok.Results[0].BufferHandle);

        // A session opened at version 3 gets a clear refusal, not a silently ignored field.
        var old = await raw.OpenSessionAsync(protocolVersion: 3);
        var oldAdd = await raw.CompileAsync(old, TestModules.AddVectors(4));
        var oldX = await raw.UploadAsync(old, new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
        var refused = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(Sequenced(old, oldAdd, 1, RemoteClientHandle(), oldX, oldX), raw.Options()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("protocol version 4", refused.Status.Detail);
    }

    [Fact]
    public async Task ACancelledDispatchSurfacesAtTheNextUseAndTheDeviceGoesOn()
    {
        await using var device = await Devices.ConnectAsync(shared.Address);
        using var slow = (RemoteExecutable)device.CompileHlo(TestModules.SlowLoop(48));
        using var add = (RemoteExecutable)device.CompileHlo(TestModules.AddVectors(4));
        using var count = device.Upload(Tensor<int>.Scalar(int.MaxValue));
        using var v = device.Upload(TestModules.Random(1, 48, 48));
        using var m = device.Upload(TestModules.Random(2, 48, 48));
        using var cancel = new CancellationTokenSource();
        var results = slow.Dispatch(new[] { count, v, m }, new ExecuteOptions { Cancellation = cancel.Token });
        await Task.Delay(200);
        cancel.CancelAfter(100);
        var error = Assert.ThrowsAny<Exception>(() => device.Download(results[0]));
        Assert.True(error is OperationCanceledException || error.InnerException is OperationCanceledException, error.ToString());

        // The failure is reported once more by the next dispatch, then the pipeline works again.
        using var x = device.Upload(new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
        Assert.ThrowsAny<OperationCanceledException>(() => add.Dispatch(new[] { x, x }));
        var sum = add.Dispatch(new[] { x, x });
        var twice = add.Dispatch(new[] { sum[0], x });
        Assert.Equal(new float[] { 3, 6, 9, 12 }, ((Tensor<float>)device.Download(twice[0])).Data);
        foreach (var b in results.Concat(sum).Concat(twice)) b.Dispose();
    }

    [Fact]
    public async Task AFailedDispatchIsReportedByTheNextDispatchAndByADownloadNamingTheProgram()
    {
        await using var device = await Devices.ConnectAsync(shared.Address);
        using var add = (RemoteExecutable)device.CompileHlo(TestModules.AddVectors(4));
        using var wrong = device.Upload(new Tensor<float>(new long[] { 3 }, new float[] { 1, 2, 3 }));
        using var x = device.Upload(new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
        var failed = add.Dispatch(new[] { wrong, x });
        var downstream = add.Dispatch(new[] { failed[0], x });
        var error = Assert.Throws<XlaExecutionException>(() => device.Download(downstream[0]));
        Assert.True(error.Message.Contains("'add_vectors'", StringComparison.Ordinal), error.Message);
        Assert.Contains("dispatched asynchronously", error.Message);
        Assert.True(error.Message.Contains("never computed", StringComparison.Ordinal), error.Message);
        var first = Assert.Throws<XlaExecutionException>(() => add.Dispatch(new[] { x, x }));
        Assert.Contains("add_vectors", first.Message);
        var sum = add.Dispatch(new[] { x, x });
        Assert.Equal(new float[] { 2, 4, 6, 8 }, ((Tensor<float>)device.Download(sum[0])).Data);
    }

    internal static ExecuteRequest Sequenced(string session, ulong executable, ulong sequence, ulong result, params ulong[] arguments)
    {
        var request = new ExecuteRequest { SessionId = session, ExecutableHandle = executable, Sequence = sequence };
        request.ArgumentHandles.AddRange(arguments);
        request.ResultHandles.Add(result);
        return request;
    }

    internal static ulong RemoteClientHandle() => (ulong)Random.Shared.NextInt64() | (1UL << 63);
}

/// <summary>
/// The limits of a session's sequence order, on a server whose session lease (the wait for a missing predecessor) is
/// 2 s: a call whose predecessor never arrives fails naming it, a number too far ahead is refused at once, and a burst
/// of calls arriving in reverse order runs in sequence order with every one answered; the server serves another session
/// meanwhile.
/// </summary>
public class SequenceOrderLimitTests
{
    [Fact]
    public async Task MissingPredecessorsTooFarAheadAndReverseBursts()
    {
        var server = await ServerProcess.StartAsync("--session-lease", "2s");
        try
        {
            var raw = new RawClient(server.Address);
            var session = await raw.OpenSessionAsync(protocolVersion: 4);
            var add = await raw.CompileAsync(session, TestModules.AddVectors(4));
            var x = await raw.UploadAsync(session, new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));

            // #2 without #1: fails once the lease has passed, naming the number it waited for
            var orphan = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(
                AsyncDispatchTests.Sequenced(session, add, 2, AsyncDispatchTests.RemoteClientHandle(), x, x), raw.Options()).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(StatusCode.FailedPrecondition, orphan.StatusCode);
            Assert.Contains("waited", orphan.Status.Detail);
            Assert.Contains("for number 1", orphan.Status.Detail);

            // far beyond the last finished number: refused at once
            var far = await Assert.ThrowsAsync<RpcException>(() => raw.Client.ExecuteAsync(
                AsyncDispatchTests.Sequenced(session, add, 100_000, AsyncDispatchTests.RemoteClientHandle(), x, x), raw.Options()).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, far.StatusCode);
            Assert.Contains("ahead of the last finished one", far.Status.Detail);

            // #1 arrives now; then #3 … #202 in reverse order, each adding x to its predecessor's result: all answered,
            // and the last one holds x · 201
            var one = AsyncDispatchTests.RemoteClientHandle();
            await raw.Client.ExecuteAsync(AsyncDispatchTests.Sequenced(session, add, 1, one, x, x), raw.Options());
            const int burst = 200;
            var handles = new ulong[burst + 1];
            handles[0] = one;
            for (int i = 1; i <= burst; i++) handles[i] = AsyncDispatchTests.RemoteClientHandle();
            var calls = new List<Task<ExecuteResponse>>();
            for (int i = burst; i >= 1; i--)
                calls.Add(raw.Client.ExecuteAsync(AsyncDispatchTests.Sequenced(session, add, (ulong)(i + 2), handles[i], handles[i - 1], x), raw.Options()).ResponseAsync);
            var other = await Devices.ConnectAsync(server.Address);
            await using (other)
            {
                var y = (Tensor<float>)other.Download(other.Upload(new Tensor<float>(new long[] { 2 }, new float[] { 5, 6 })));
                Assert.Equal(new float[] { 5, 6 }, y.Data);
            }
            await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));
            var read = new ExecuteRequest { SessionId = session, ExecutableHandle = add, InlineResults = true };
            read.ArgumentHandles.Add(handles[burst]);
            read.ArgumentHandles.Add(x);
            var bytes = (await raw.Client.ExecuteAsync(read, raw.Options())).Results[0].InlineData.ToByteArray();
            // #1 made 2x, each of the 200 added x, the read adds one more: 203x
            Assert.Equal(new float[] { 203, 406, 609, 812 }, Enumerable.Range(0, 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}

/// <summary>The server dies while Fit has steps in flight: Fit ends with an error naming the server, no hang.</summary>
public class AsyncDispatchServerDeathTests
{
    [Fact]
    public async Task AServerKilledMidPipelineEndsFitWithAnError()
    {
        var (x, y) = RemoteTrainingTests.Data(4096, 5);
        var server = await ServerProcess.StartAsync();
        try
        {
            await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(2) });
            using var remote = RemoteMlp.Create(device, seed: 1);
            remote.Compile(new Adam(1e-3));
            var epochDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var fit = new FitOptions { Epochs = 1000, BatchSize = 8, Verbose = false, Callbacks = new[] { new OnEpoch(() => epochDone.TrySetResult()) } };
            var training = Task.Run(() => remote.Fit(x, y, fit));
            await epochDone.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(20);
            long before = device.DispatchedExecutions;
            server.Kill();
            var error = await Assert.ThrowsAnyAsync<Exception>(() => training.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.IsNotType<TimeoutException>(error);
            Assert.True(error is XlaExecutionException or DeviceConnectionException or DeviceStateLostException, error.ToString());
            Assert.Contains(server.Address.Replace("grpc://", ""), error.Message);
            Assert.True(before > 0);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    sealed class OnEpoch(Action done) : ITrainingCallback
    {
        public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) => done();
    }
}
