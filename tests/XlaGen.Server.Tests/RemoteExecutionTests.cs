using System.Security.Cryptography;
using XlaGen.Backends.Remote;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>Programs run remotely give exactly what the in-process CPU executor gives (the server runs the same
/// executor, so equality is bitwise), for every element type, across chunk boundaries, with donation.</summary>
public class RemoteExecutionTests(SharedServer shared)
{
    static Tensor[] RunLocally(HloModule module, params Tensor[] inputs)
    {
        var cpu = Devices.Cpu();
        using var exe = cpu.CompileHlo(module);
        var args = inputs.Select(cpu.Upload).ToArray();
        var outputs = exe.Execute(args);
        var result = outputs.Select(cpu.Download).ToArray();
        foreach (var b in args.Concat(outputs)) b.Dispose();
        return result;
    }

    static Tensor[] Run(IDevice device, HloModule module, params Tensor[] inputs)
    {
        using var exe = device.CompileHlo(module);
        var args = inputs.Select(device.Upload).ToArray();
        var outputs = exe.Execute(args);
        var result = outputs.Select(device.Download).ToArray();
        foreach (var b in args.Concat(outputs)) b.Dispose();
        return result;
    }

    static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.ElementType, actual.ElementType);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.Data.Cast<object>(), actual.Data.Cast<object>());
    }

    [Fact]
    public async Task AffineProgramMatchesTheInProcessExecutor()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        var module = TestModules.Affine(16, 32, 8);
        var x = TestModules.Random(1, 16, 32);
        var w = TestModules.Random(2, 32, 8);
        var b = TestModules.Random(3, 8);
        var expected = RunLocally(module, x, w, b);
        var actual = Run(remote, module, x, w, b);
        Assert.Equal(2, actual.Length);
        AssertSame(expected[0], actual[0]);
        AssertSame(expected[1], actual[1]);
        Assert.Contains(((Tensor<float>)actual[0]).Data, v => v > 0);
    }

    [Fact]
    public async Task TrainingStepsWithDonationMatchTheInProcessExecutor()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        var module = TestModules.SgdStep(32, 6, 3, 0.05f);
        var x = TestModules.Random(10, 32, 6);
        var t = TestModules.Random(11, 32, 3);
        var w0 = TestModules.Random(12, 6, 3);

        (Tensor W, float[] Losses) Train(IDevice device)
        {
            using var step = device.CompileHlo(module);
            var xb = device.Upload(x);
            var tb = device.Upload(t);
            var w = device.Upload(w0);
            var losses = new List<float>();
            for (int i = 0; i < 12; i++)
            {
                var outputs = step.Execute(new[] { w, xb, tb }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
                Assert.True(w.IsDeleted);
                w = outputs[0];
                losses.Add(((Tensor<float>)device.Download(outputs[1])).Data[0]);
                outputs[1].Dispose();
            }
            var final = device.Download(w);
            foreach (var buffer in new[] { w, xb, tb }) buffer.Dispose();
            return (final, losses.ToArray());
        }

        var (localW, localLosses) = Train(Devices.Cpu());
        var (remoteW, remoteLosses) = Train(remote);
        AssertSame(localW, remoteW);
        Assert.Equal(localLosses, remoteLosses);
        Assert.True(remoteLosses[^1] < remoteLosses[0], "the loss should fall");
    }

    public static TheoryData<ElementType> ElementTypes => new()
    {
        ElementType.F32, ElementType.F64, ElementType.F16, ElementType.S8, ElementType.S16, ElementType.S32, ElementType.S64,
        ElementType.U8, ElementType.U16, ElementType.U32, ElementType.U64, ElementType.Pred,
    };

    static Tensor RandomTensor(ElementType type, long[] dims, int seed)
    {
        var t = TensorBytes.Allocate(type, dims);
        var bytes = new byte[TensorBytes.ByteCount(t)];
        new Random(seed).NextBytes(bytes);
        if (type == ElementType.Pred) for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        if (type == ElementType.F16 || type == ElementType.F32 || type == ElementType.F64)
        {
            // Finite values only, so equality is meaningful: clear the top exponent bit of every element.
            int size = type.ByteSize();
            for (int i = size - 1; i < bytes.Length; i += size) bytes[i] &= 0x3f;
        }
        TensorBytes.Write(t, 0, bytes);
        return t;
    }

    [Theory]
    [MemberData(nameof(ElementTypes))]
    public async Task EveryElementTypeRoundTrips(ElementType type)
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        foreach (var dims in new[] { new long[] { 3, 5 }, Array.Empty<long>(), new long[] { 0, 4 }, new long[] { 2, 1, 3 } })
        {
            var input = RandomTensor(type, dims, (int)type * 31 + dims.Length);
            using (var buffer = await remote.UploadAsync(input)) AssertSame(input, await remote.DownloadAsync(buffer));
            if (type == ElementType.F16)
            {
                // The CPU executor stores f16 but has no f16 kernels; the server says so.
                var e = await Assert.ThrowsAsync<XlaCompileException>(() => remote.CompileHloAsync(TestModules.Copy(type, dims)));
                Assert.Contains("element type f16 is not supported by the CPU executor", e.Message);
                continue;
            }
            var output = Run(remote, TestModules.Copy(type, dims), input);
            AssertSame(input, Assert.Single(output));
        }
    }

    [Fact]
    public async Task LargeBuffersStreamInChunksBothWays()
    {
        // 5,000,003 floats (just over 19 MiB): twenty 1 MiB chunks and a ragged tail, each way.
        await using var remote = await Devices.ConnectAsync(shared.Address);
        const long n = 5_000_003;
        var x = TestModules.Random(5, n);
        var sum = Run(remote, TestModules.AddVectors(n), x, x);
        var expected = x.Data.Select(v => v + v).ToArray();
        Assert.Equal(expected, ((Tensor<float>)sum[0]).Data);
    }

    [Fact]
    public async Task ChunksNeedNotAlignWithElements()
    {
        // 1026-byte chunks split f64 and f32 elements across messages.
        await using var remote = await Devices.ConnectAsync(shared.Address, new RemoteDeviceOptions { ChunkBytes = 1026 });
        var doubles = RandomTensor(ElementType.F64, new long[] { 999 }, 8);
        AssertSame(doubles, Run(remote, TestModules.Copy(ElementType.F64, 999), doubles)[0]);
        var x = TestModules.Random(9, 3001);
        var y = TestModules.Random(10, 3001);
        AssertSame(RunLocally(TestModules.AddVectors(3001), x, y)[0], Run(remote, TestModules.AddVectors(3001), x, y)[0]);
    }

    [Fact]
    public async Task ResultsStayOnTheServerUntilDownloadedAndReleaseFreesThem()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        using var raw = new RawClient(shared.Address);
        async Task<long> Held() => (await raw.Client.KeepAliveAsync(new Device.V1.KeepAliveRequest { SessionId = remote.SessionId }, raw.Options())).BytesHeld;

        using var exe = await remote.CompileHloAsync(TestModules.AddVectors(1000));
        var x = await remote.UploadAsync(TestModules.Random(1, 1000));
        Assert.True(x.HasHostCopy);
        long program = TestModules.ProgramCharge(TestModules.AddVectors(1000));   // the compiled program counts too
        Assert.Equal(4000 + program, await Held());
        var outputs = await exe.ExecuteAsync(new DeviceBuffer[] { x, x });
        var sum = Assert.IsType<RemoteBuffer>(Assert.Single(outputs));
        Assert.False(sum.HasHostCopy);
        Assert.Equal("result 0 of 'add_vectors'", sum.Origin);
        Assert.Equal(8000 + program, await Held());
        await remote.DownloadAsync(sum);
        Assert.True(sum.HasHostCopy);

        sum.Dispose();
        x.Dispose();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await Held() != program && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(program, await Held());
    }

    [Fact]
    public async Task ExecuteToHostReturnsResultsInTheSameRoundTrip()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        var module = TestModules.Affine(4, 5, 6);
        var inputs = new Tensor[] { TestModules.Random(1, 4, 5), TestModules.Random(2, 5, 6), TestModules.Random(3, 6) };
        using var exe = await remote.CompileHloAsync(module);
        var args = new List<DeviceBuffer>();
        foreach (var t in inputs) args.Add(await remote.UploadAsync(t));
        var results = await exe.ExecuteToHostAsync(args);
        var expected = RunLocally(module, inputs);
        AssertSame(expected[0], results[0]);
        AssertSame(expected[1], results[1]);
    }

    [Fact]
    public async Task CompiledProgramsAreSharedAcrossSessionsByContentHash()
    {
        var module = TestModules.Affine(3, 7, 2);
        var bytes = HloProto.Write(module);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await using var first = await Devices.ConnectAsync(shared.Address);
        await using var second = await Devices.ConnectAsync(shared.Address);
        using var a = await first.CompileHloAsync(module);
        using var b = await second.CompileHloAsync(module);
        Assert.Equal(fingerprint, a.Fingerprint);
        Assert.Equal(fingerprint, b.Fingerprint);
        // The server compiled once for both (SessionIsolationTests reads that in its log), but a session is told of a
        // cache hit only for its own earlier compile: otherwise it would learn what another session compiled.
        Assert.False(b.WasCached);
        // The server's peak-memory estimate comes with the handle: the same as the CPU executor's in process.
        using var local = Devices.Cpu().CompileHlo(module);
        Assert.True(local.PeakMemoryBytes > 0);
        Assert.Equal(local.PeakMemoryBytes, a.PeakMemoryBytes);
        Assert.Equal(local.PeakMemoryBytes, ((IExecutable)b).PeakMemoryBytes);
    }

    [Fact]
    public async Task MistakesSurfaceAsTheSameExceptionsAsInProcess()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        await using var other = await Devices.ConnectAsync(shared.Address);

        var half = new HloBuilder("half_add");
        var h = half.Parameter(Shape.Array(ElementType.F16, 4), "h");
        var unsupported = half.BuildModule(half.Add(h, h));
        var compile = await Assert.ThrowsAsync<XlaCompileException>(() => remote.CompileHloAsync(unsupported));
        Assert.Contains($"xlagen-server at {shared.Address} could not compile module 'half_add'", compile.Message);
        Assert.Contains("element type f16 is not supported by the CPU executor", compile.Message);

        using var exe = await remote.CompileHloAsync(TestModules.AddVectors(3));
        var right = await remote.UploadAsync(TestModules.Random(1, 3));
        var wrong = await remote.UploadAsync(TestModules.Random(1, 4));
        var shape = await Assert.ThrowsAsync<XlaExecutionException>(() => exe.ExecuteAsync(new DeviceBuffer[] { right, wrong }));
        Assert.Contains("argument 1", shape.Message);
        Assert.Contains("f32[4]", shape.Message);

        var foreign = await other.UploadAsync(TestModules.Random(1, 3));
        var ownership = await Assert.ThrowsAsync<ArgumentException>(() => exe.ExecuteAsync(new DeviceBuffer[] { right, foreign }));
        Assert.Contains("not to the remote device", ownership.Message);

        right.Dispose();
        var disposed = await Assert.ThrowsAsync<ObjectDisposedException>(() => remote.DownloadAsync(right));
        Assert.Contains("disposed or donated", disposed.Message);
    }
}
