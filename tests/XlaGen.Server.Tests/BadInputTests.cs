using Google.Protobuf;
using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>A server with tight limits, and a healthy client that must keep getting right answers while others
/// send it garbage.</summary>
public sealed class BadInputServer : IAsyncLifetime
{
    public const long SessionLimit = 8 << 20;

    public ServerProcess Server { get; private set; } = null!;

    public RemoteDevice Healthy { get; private set; } = null!;

    IExecutable? healthyProgram;
    DeviceBuffer? healthyInput;

    public async ValueTask InitializeAsync()
    {
        Server = await ServerProcess.StartAsync("--max-session-bytes", "8MiB", "--max-message-bytes", "1MiB", "--session-lease", "20s", "--max-sessions", "32");
        Healthy = await Devices.ConnectAsync(Server.Address, new RemoteDeviceOptions { ClientName = "healthy client" });
        healthyProgram = await Healthy.CompileHloAsync(TestModules.Affine(8, 16, 4));
        healthyInput = await Healthy.UploadAsync(TestModules.Random(1, 8, 16));
    }

    /// <summary>The healthy client's session still computes the right thing.</summary>
    public void AssertHealthy()
    {
        var w = Healthy.Upload(TestModules.Random(2, 16, 4));
        var b = Healthy.Upload(TestModules.Random(3, 4));
        var outputs = healthyProgram!.Execute(new[] { healthyInput!, w, b });
        var y = (Tensor<float>)Healthy.Download(outputs[0]);
        var cpu = Devices.Cpu();
        using var local = cpu.CompileHlo(TestModules.Affine(8, 16, 4));
        var expected = (Tensor<float>)cpu.Download(local.Execute(new[] { cpu.Upload(TestModules.Random(1, 8, 16)), cpu.Upload(TestModules.Random(2, 16, 4)), cpu.Upload(TestModules.Random(3, 4)) })[0]);
        Assert.Equal(expected.Data, y.Data);
        foreach (var buffer in outputs.Append(w).Append(b)) buffer.Dispose();
        Assert.Equal(0, Healthy.Reconnects);
    }

    public async ValueTask DisposeAsync()
    {
        await Healthy.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>One session of a hostile client and a second, "victim" session whose handles it tries to use.</summary>
internal sealed class Attack : IAsyncDisposable
{
    public required RawClient Raw { get; init; }
    public required string Session { get; init; }
    public required string Victim { get; init; }
    public required ulong VictimBuffer { get; init; }
    public required ulong VictimExecutable { get; init; }
    public required ulong AddExecutable { get; init; }
    public required ulong Vector4 { get; init; }
    public required ulong Vector5 { get; init; }

    public static async Task<Attack> OpenAsync(string address)
    {
        var raw = new RawClient(address);
        var session = await raw.OpenSessionAsync("attacker");
        var victim = await raw.OpenSessionAsync("victim");
        return new Attack
        {
            Raw = raw,
            Session = session,
            Victim = victim,
            VictimBuffer = await raw.UploadAsync(victim, TestModules.Random(1, 4)),
            VictimExecutable = await raw.CompileAsync(victim, TestModules.AddVectors(4)),
            AddExecutable = await raw.CompileAsync(session, TestModules.AddVectors(4)),
            Vector4 = await raw.UploadAsync(session, TestModules.Random(2, 4)),
            Vector5 = await raw.UploadAsync(session, TestModules.Random(3, 5)),
        };
    }

    public DeviceService.DeviceServiceClient Client => Raw.Client;

    public CallOptions Options(CancellationToken cancellationToken = default) => Raw.Options(cancellationToken);

    public async Task<UploadResponse> UploadMessagesAsync(params UploadRequest[] messages)
    {
        using var call = Client.Upload(Options());
        try
        {
            foreach (var m in messages) await call.RequestStream.WriteAsync(m);
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
        }
        return await call.ResponseAsync;
    }

    public UploadRequest Header(ElementType type, params long[] dims) => Header((int)type, dims);

    public UploadRequest Header(int type, params long[] dims)
    {
        var h = new UploadHeader { SessionId = Session, Shape = new TensorShape { ElementType = type } };
        h.Shape.Dims.AddRange(dims);
        return new UploadRequest { Header = h };
    }

    public static UploadRequest Data(int bytes, byte value = 0) => new() { Data = ByteString.CopyFrom(Enumerable.Repeat(value, bytes).ToArray()) };

    public Task<ExecuteResponse> ExecuteAsync(ulong executable, ulong[] args, params int[] donated)
    {
        var r = new ExecuteRequest { SessionId = Session, ExecutableHandle = executable };
        r.ArgumentHandles.AddRange(args);
        r.DonatedArguments.AddRange(donated);
        return Client.ExecuteAsync(r, Options()).ResponseAsync;
    }

    public Task<CompileResponse> CompileAsync(Xla.HloModuleProto proto) => Raw.CompileBytesAsync(Session, proto.ToByteArray());

    public async ValueTask DisposeAsync()
    {
        foreach (var s in new[] { Session, Victim })
        {
            try
            {
                await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, Options());
            }
            catch (RpcException)
            {
            }
        }
        Raw.Dispose();
    }
}

/// <summary>Every kind of bad input gets an ordinary status with a message naming the problem; the server keeps
/// serving the healthy client; afterwards its memory is back at its baseline.</summary>
public class BadInputTests(BadInputServer fixture, ITestOutputHelper output) : IClassFixture<BadInputServer>
{
    internal sealed record Case(string Name, StatusCode Code, Func<Attack, Task> Call, params string[] Fragments)
    {
        public override string ToString() => Name;
    }

    static Xla.HloModuleProto Proto(HloModule module) => HloProto.ToProto(module);

    static Xla.HloInstructionProto Instruction(Xla.HloModuleProto proto, string opcode) =>
        proto.Computations.Single(c => c.Id == proto.EntryComputationId).Instructions.First(i => i.Opcode == opcode);

    static readonly Case[] Cases =
    {
        new("malformed request protobuf", StatusCode.InvalidArgument,
            a => a.Raw.CallRawAsync("Compile", new byte[] { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f }),
            "Compile: the request is not a valid CompileRequest message"),
        new("module bytes that are not a protobuf", StatusCode.InvalidArgument,
            a => a.Raw.CompileBytesAsync(a.Session, new byte[] { 0x0a, 0x05, 0x61 }),
            "is not a valid module", "not a valid HloModuleProto"),
        new("empty module bytes", StatusCode.InvalidArgument,
            a => a.Raw.CompileBytesAsync(a.Session, Array.Empty<byte>()),
            "hlo_module_proto is empty"),
        new("unknown opcode", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.AddVectors(4));
            Instruction(p, "add").Opcode = "frobnicate";
            return a.CompileAsync(p);
        }, "unsupported opcode 'frobnicate'"),
        new("inconsistent shapes", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.AddVectors(4));
            p.Computations.Single().Instructions.First(i => i.Opcode == "parameter" && i.ParameterNumber == 1).Shape.Dimensions[0] = 5;
            return a.CompileAsync(p);
        }, "is not a valid module", "add", "f32[5]"),
        new("declared result shape that disagrees", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.AddVectors(4));
            Instruction(p, "add").Shape.Dimensions[0] = 7;
            return a.CompileAsync(p);
        }, "is not a valid module", "f32[7]"),
        new("cyclic operand ids", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.Affine(2, 3, 4));
            var dot = Instruction(p, "dot");
            var add = Instruction(p, "add");
            dot.OperandIds[0] = add.Id;
            return a.CompileAsync(p);
        }, "a cycle"),
        new("dangling operand id", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.AddVectors(4));
            Instruction(p, "add").OperandIds[1] = 9999;
            return a.CompileAsync(p);
        }, "has id 9999, which is not an instruction of this computation"),
        new("values that fit one by one but not together", StatusCode.ResourceExhausted, a =>
        {
            // three f32[1Mi] values (4 MiB each) alive at once: 12 MiB at the peak, over the 8 MiB session limit
            // (reverses: a chain of elementwise ops would be one fused kernel with one value)
            var b = new HloBuilder("too_much_at_once");
            HloInstruction Reverse(HloInstruction v) => b.AddInstruction("reverse", new[] { v }, new HloAttributes { Dimensions = new long[] { 0 } });
            var x = Reverse(b.Parameter(ElementType.F32, new Dim[] { 1 << 20 }, "p"));
            var module = b.BuildModule(b.Add(x, Reverse(x)));
            return a.Raw.CompileBytesAsync(a.Session, HloProto.Write(module));
        }, "needs about 12582912 bytes at its peak", "more than the 8388608 bytes this server lets one session hold (--max-session-bytes)"),
        new("computations nested 6000 calls deep, callers listed first", StatusCode.InvalidArgument,
            a => a.Raw.CompileBytesAsync(a.Session, XlaGen.Tests.DeepCalls.Bytes(6_000, callersFirst: true)), "computations nest more than 128 calls deep", "XlaGen accepts"),
        new("computations nested 6000 calls deep, callees listed first", StatusCode.InvalidArgument,
            a => a.Raw.CompileBytesAsync(a.Session, XlaGen.Tests.DeepCalls.Bytes(6_000)), "computations nest 129 calls deep", "XlaGen accepts"),
        new("dangling entry computation id", StatusCode.InvalidArgument, a =>
        {
            var p = Proto(TestModules.AddVectors(4));
            p.EntryComputationId = 4242;
            p.EntryComputationName = "nowhere";
            return a.CompileAsync(p);
        }, "no entry computation"),
        new("op the backend cannot run", StatusCode.InvalidArgument, a =>
        {
            var b = new HloBuilder("sixteen_bit");
            var x = b.Parameter(Shape.Array(ElementType.F16, 4), "x");
            return a.Raw.CompileBytesAsync(a.Session, HloProto.Write(b.BuildModule(b.Add(x, x))));
        }, "the cpu backend cannot compile module 'sixteen_bit'", "f16"),
        new("value larger than a session may hold", StatusCode.ResourceExhausted, a =>
        {
            var b = new HloBuilder("huge");
            var x = b.Parameter(Shape.Scalar(ElementType.F32), "x");
            return a.Raw.CompileBytesAsync(a.Session, HloProto.Write(b.BuildModule(b.BroadcastScalar(x, new Dim[] { 4096, 4096 }))));
        }, "makes a value of 67108864 bytes", "--max-session-bytes"),
        new("message over --max-message-bytes", StatusCode.ResourceExhausted,
            a => a.Raw.CompileBytesAsync(a.Session, new byte[2 << 20]),
            "exceeds the maximum"),
        new("unknown session", StatusCode.NotFound,
            a => a.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = "0123456789abcdef0123456789abcdef" }, a.Options()).ResponseAsync,
            "session '0123456789abcdef0123456789abcdef' is not open on this server"),
        new("no session", StatusCode.InvalidArgument,
            a => a.Client.CompileAsync(new CompileRequest(), a.Options()).ResponseAsync,
            "names no session"),
        new("unknown executable handle", StatusCode.NotFound,
            a => a.ExecuteAsync(12345, new[] { a.Vector4, a.Vector4 }),
            "executable handle 12345 is not held by this session"),
        new("unknown buffer handle", StatusCode.NotFound,
            a => a.Raw.DownloadAsync(a.Session, 54321),
            "buffer handle 54321 is not held by this session"),
        // Another session's handle is answered exactly as an unknown one (SessionIsolationTests compares the texts).
        new("another session's buffer", StatusCode.NotFound,
            a => a.Raw.DownloadAsync(a.Session, a.VictimBuffer),
            "is not held by this session"),
        new("another session's executable", StatusCode.NotFound,
            a => a.ExecuteAsync(a.VictimExecutable, new[] { a.Vector4, a.Vector4 }),
            "is not held by this session"),
        new("another session's buffer as an argument", StatusCode.NotFound,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4, a.VictimBuffer }),
            "argument 1", "is not held by this session"),
        new("executable handle passed as a buffer", StatusCode.InvalidArgument,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4, a.AddExecutable }),
            "is an executable, not a buffer"),
        new("wrong argument count", StatusCode.InvalidArgument,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4 }),
            "takes 2 argument(s)", "got 1"),
        new("wrong argument shape", StatusCode.InvalidArgument,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4, a.Vector5 }),
            "argument 1", "expected f32[4], got f32[5]"),
        new("donated index out of range", StatusCode.InvalidArgument,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4, a.Vector4 }, 2),
            "donated argument index 2 is out of range"),
        new("donating a buffer passed twice", StatusCode.InvalidArgument,
            a => a.ExecuteAsync(a.AddExecutable, new[] { a.Vector4, a.Vector4 }, 0),
            "is donated but the same buffer is also argument 1"),
        new("upload over the session limit", StatusCode.ResourceExhausted,
            a => a.UploadMessagesAsync(a.Header(ElementType.F32, 3_000_000), Attack.Data(1024)),
            "12000000 bytes", "over its limit of 8388608 bytes (--max-session-bytes)"),
        new("truncated upload", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.F32, 1000), Attack.Data(100)),
            "ended after 100 of its 4000 bytes", "truncated"),
        new("upload with more bytes than its shape", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.F32, 10), Attack.Data(24), Attack.Data(20)),
            "sent more than its 40 bytes"),
        new("upload without a header", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(Attack.Data(8)),
            "the first upload message must be the header"),
        new("empty upload stream", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(),
            "the upload stream is empty"),
        new("second upload header", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.F32, 2), a.Header(ElementType.F32, 2)),
            "a second header"),
        new("tuple element type", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.Tuple, 2)),
            "element type 13 (Tuple) cannot be uploaded"),
        new("unknown element type", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(99, 2)),
            "element type 99 (not an xla.PrimitiveType)"),
        new("negative dimension", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.F32, 3, -2)),
            "dimension -2 in [3,-2] is negative"),
        new("shape too large to count", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.F64, 1L << 40, 1L << 40)),
            "more bytes than a 64-bit count holds"),
        new("pred byte other than 0 or 1", StatusCode.InvalidArgument,
            a => a.UploadMessagesAsync(a.Header(ElementType.Pred, 4), new UploadRequest { Data = ByteString.CopyFrom(0, 1, 7, 0) }),
            "pred element 2", "byte value 7"),
        new("protocol version nobody speaks", StatusCode.FailedPrecondition,
            a => a.Client.OpenSessionAsync(new OpenSessionRequest { ProtocolVersion = -3 }, a.Options()).ResponseAsync,
            "protocol version -3 is not supported"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task BadInputIsAClearStatusAndTheServerKeepsServing(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        await using var attack = await Attack.OpenAsync(fixture.Server.Address);
        await Expect.Status(c.Code, () => c.Call(attack), c.Fragments);
        fixture.AssertHealthy();
    }

    [Fact]
    public async Task UnknownSessionCarriesTheTrailerThatTellsClientsToReconnect()
    {
        await using var attack = await Attack.OpenAsync(fixture.Server.Address);
        var e = await Expect.Status(StatusCode.NotFound,
            () => attack.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = new string('x', 500) }, attack.Options()).ResponseAsync,
            "(500 characters)");
        Assert.Equal("session-not-found", e.Trailers.GetValue("xlagen-error"));
    }

    /// <summary>Before the call-depth limit, 50,000 nested computations (7 MB, under the default 64 MiB message limit)
    /// overflowed the stack of whatever walked the call graph recursively, and a stack overflow ends the process.</summary>
    [Fact]
    public async Task FiftyThousandNestedComputationsAreRefusedAndTheServerLives()
    {
        await using var server = await ServerProcess.StartAsync();
        using var raw = new RawClient(server.Address);
        var session = await raw.OpenSessionAsync();
        foreach (bool callersFirst in new[] { true, false })
        {
            var bytes = XlaGen.Tests.DeepCalls.Bytes(50_000, callersFirst);
            Assert.True(bytes.Length > 4 << 20, $"{bytes.Length} bytes");
            await Expect.Status(StatusCode.InvalidArgument, () => raw.CompileBytesAsync(session, bytes), "calls deep", "XlaGen accepts");
        }
        Assert.False(server.HasExited);
        var x = await raw.UploadAsync(session, TestModules.Random(1, 4));
        var exe = await raw.CompileAsync(session, TestModules.AddVectors(4));
        var y = await raw.ExecuteAsync(session, exe, x, x);
        Assert.Equal(TestModules.Random(1, 4).Data.Select(v => v + v), ((Tensor<float>)await raw.DownloadAsync(session, y[0])).Data);
    }

    [Fact]
    public async Task AHostileClientCannotTouchAnotherSessionsState()
    {
        await using var attack = await Attack.OpenAsync(fixture.Server.Address);
        // Another session's handle in a Release is listed as unknown, exactly like a handle that never existed; the
        // attacker's own handle in the same request is released, the victim's buffer is untouched.
        var release = await attack.Client.ReleaseAsync(new ReleaseRequest { SessionId = attack.Session, Handles = { attack.VictimBuffer, attack.Vector4, 777 } }, attack.Options());
        Assert.Equal(1, release.Released);
        Assert.Equal(new ulong[] { attack.VictimBuffer, 777 }, release.UnknownHandles);
        await Expect.Status(StatusCode.NotFound, () => attack.Raw.DownloadAsync(attack.Session, attack.Vector4), "is not held by this session");
        var victims = await attack.Raw.DownloadAsync(attack.Victim, attack.VictimBuffer);
        Assert.Equal(TestModules.Random(1, 4).Data, ((Tensor<float>)victims).Data);
    }

    [Fact]
    public async Task ACancelledUploadFreesItsReservation()
    {
        await using var attack = await Attack.OpenAsync(fixture.Server.Address);
        var heldBefore = (await attack.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = attack.Session }, attack.Options())).BytesHeld;
        using var cts = new CancellationTokenSource();
        using (var call = attack.Client.Upload(attack.Options(cts.Token)))
        {
            await call.RequestStream.WriteAsync(attack.Header(ElementType.F32, 1_000_000));
            await call.RequestStream.WriteAsync(Attack.Data(64 << 10));
            // The server holds the reservation while the stream is open.
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while ((await attack.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = attack.Session }, attack.Options())).BytesHeld == heldBefore && DateTime.UtcNow < deadline)
                await Task.Delay(10);
            cts.Cancel();
            var e = await Assert.ThrowsAnyAsync<Exception>(() => call.ResponseAsync);
            Assert.True(e is OperationCanceledException || (e is RpcException r && r.StatusCode == StatusCode.Cancelled), e.ToString());
        }
        long held = -1;
        for (var deadline = DateTime.UtcNow.AddSeconds(5); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            held = (await attack.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = attack.Session }, attack.Options())).BytesHeld;
            if (held == heldBefore) break;
        }
        Assert.Equal(heldBefore, held);
        fixture.AssertHealthy();
    }

    [Fact]
    public async Task MemoryReturnsToItsBaselineAfterTheBadInputStorm()
    {
        using var raw = new RawClient(fixture.Server.Address);
        // Warm up every path, so JIT, Kestrel's buffer pool and caches reach their steady size before the baseline.
        await Storm(rounds: 4);
        var before = await raw.StatsAsync(collect: true);
        await Storm(Rounds);
        var after = await raw.StatsAsync(collect: true);
        output.WriteLine($"gc heap {before.GcHeapBytes:N0} -> {after.GcHeapBytes:N0} bytes; working set {before.WorkingSetBytes:N0} -> {after.WorkingSetBytes:N0}; failed calls {before.CallsFailed} -> {after.CallsFailed}");
        // Every case but the oversized message (refused by gRPC before the service sees it) is counted.
        Assert.True(after.CallsFailed - before.CallsFailed >= Rounds * (Cases.Length - 1), $"the storm made {after.CallsFailed - before.CallsFailed} calls fail");
        Assert.Equal(before.Sessions, after.Sessions);
        Assert.Equal(before.BufferHandles, after.BufferHandles);
        Assert.Equal(before.ExecutableHandles, after.ExecutableHandles);
        Assert.Equal(before.BytesHeld, after.BytesHeld);
        Assert.Equal(before.CachedPrograms, after.CachedPrograms);
        Assert.True(after.GcHeapBytes < before.GcHeapBytes + (4 << 20), $"the managed heap grew from {before.GcHeapBytes:N0} to {after.GcHeapBytes:N0} bytes");
        Assert.True(after.WorkingSetBytes < before.WorkingSetBytes + (96 << 20), $"the working set grew from {before.WorkingSetBytes:N0} to {after.WorkingSetBytes:N0} bytes");
        fixture.AssertHealthy();
    }

    const int Rounds = 16;

    async Task Storm(int rounds)
    {
        for (int r = 0; r < rounds; r++)
        {
            await using var attack = await Attack.OpenAsync(fixture.Server.Address);
            foreach (var c in Cases) await Assert.ThrowsAsync<RpcException>(() => c.Call(attack));
        }
    }
}
