using Grpc.Core;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>A server with a small handle limit, for the tests of what one session can learn about another.</summary>
public sealed class IsolationServer : IAsyncLifetime
{
    public const int MaxHandles = 6;

    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Server = await ServerProcess.StartAsync("--max-handles-per-session", MaxHandles.ToString(System.Globalization.CultureInfo.InvariantCulture), "--session-lease", "30s");

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Nothing a client sees tells it what another session holds or did: another session's handle is answered
/// exactly as an unknown one, handles are random (no sequence to count), a compile reports a cache hit only for bytes
/// the same session compiled; and a session holds at most --max-handles-per-session handles.</summary>
public class SessionIsolationTests(IsolationServer fixture) : IClassFixture<IsolationServer>
{
    /// <summary>The status of <paramref name="call"/> with <paramref name="handle"/> written as H, or "OK".</summary>
    static async Task<string> AnswerTo(Func<ulong, Task> call, ulong handle)
    {
        try
        {
            await call(handle);
            return "OK";
        }
        catch (RpcException e)
        {
            Assert.DoesNotContain("another session", e.Status.Detail, StringComparison.Ordinal);
            return e.StatusCode + ": " + e.Status.Detail.Replace(handle.ToString(System.Globalization.CultureInfo.InvariantCulture), "H", StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AnotherSessionsHandleGetsTheAnswerOfAnUnknownOneOnEveryCallThatTakesAHandle()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var owner = await raw.OpenSessionAsync("owner", protocolVersion: 2);
        var intruder = await raw.OpenSessionAsync("intruder", protocolVersion: 2);
        ulong ownersBuffer = await raw.UploadAsync(owner, TestModules.Random(1, 4));
        ulong ownersProgram = await raw.CompileAsync(owner, TestModules.AddVectors(4));
        ulong x = await raw.UploadAsync(intruder, TestModules.Random(2, 4));
        ulong add = await raw.CompileAsync(intruder, TestModules.AddVectors(4));

        var calls = new (string What, Func<ulong, Task> Call)[]
        {
            ("download", h => raw.DownloadAsync(intruder, h)),
            ("begin a bulk download", h => raw.BeginDownloadAsync(intruder, h)),
            ("execute it as the program", h => raw.ExecuteAsync(intruder, h, x, x)),
            ("pass it as an argument", h => raw.ExecuteAsync(intruder, add, x, h)),
        };
        foreach (ulong foreign in new[] { ownersBuffer, ownersProgram })
        {
            ulong unknown = foreign ^ 0x5A5A_0000_0000_5A5AUL;
            foreach (var (what, call) in calls)
            {
                string asForeign = await AnswerTo(call, foreign), asUnknown = await AnswerTo(call, unknown);
                Assert.StartsWith("NotFound: ", asForeign);
                Assert.True(asForeign == asUnknown, $"{what}: another session's handle is answered '{asForeign}', an unknown one '{asUnknown}'");
            }

            // Release and Execute's release_handles: listed as unknown (Release) or ignored, in both cases alike; the
            // owner keeps its handle.
            foreach (ulong h in new[] { foreign, unknown })
            {
                var release = await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = intruder, Handles = { h } }, raw.Options());
                Assert.Equal(0, release.Released);
                Assert.Equal(new[] { h }, release.UnknownHandles);
                var execute = new ExecuteRequest { SessionId = intruder, ExecutableHandle = add, ArgumentHandles = { x, x }, ReleaseHandles = { h }, InlineResults = true };
                Assert.Single((await raw.Client.ExecuteAsync(execute, raw.Options())).Results);
            }
        }
        Assert.Equal(TestModules.Random(1, 4).Data, ((Tensor<float>)await raw.DownloadAsync(owner, ownersBuffer)).Data);
        var y = await raw.ExecuteAsync(owner, ownersProgram, ownersBuffer, ownersBuffer);
        Assert.Equal(TestModules.Random(1, 4).Data.Select(v => v + v), ((Tensor<float>)await raw.DownloadAsync(owner, y[0])).Data);
    }

    [Fact]
    public async Task HandlesAreRandomAndUniqueAcrossSessions()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var sessions = new List<string>();
        for (int s = 0; s < 8; s++) sessions.Add(await raw.OpenSessionAsync($"counter {s}"));
        var handles = new List<ulong>();
        for (int round = 0; round < IsolationServer.MaxHandles - 1; round++)
            foreach (var s in sessions) handles.Add(await raw.UploadAsync(s, TestModules.Random(round, 2)));

        Assert.Equal(handles.Count, handles.Distinct().Count());
        Assert.DoesNotContain(0UL, handles);
        // Sequential (or nearly) handles would let one session count another's; 40 random 64-bit numbers lie far apart
        // (two within 2^32 of each other: probability about 4·10^-7).
        var sorted = handles.Order().ToList();
        for (int i = 1; i < sorted.Count; i++)
            Assert.True(sorted[i] - sorted[i - 1] > (1UL << 32), $"handles {sorted[i - 1]} and {sorted[i]} are {sorted[i] - sorted[i - 1]} apart: predictable from each other");
        // The whole 63-bit range the server draws from is used; the top bit is the client range (protocol 4's
        // ExecuteRequest.result_handles), which the server never draws.
        Assert.Contains(handles, h => h >= 1UL << 62);
        Assert.All(handles, h => Assert.True(h < 1UL << 63, $"server-drawn handle {h} is in the client range"));

        foreach (var s in sessions) await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, raw.Options());
    }

    [Fact]
    public async Task ACompileReportsACacheHitOnlyForBytesTheSameSessionCompiled()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var first = await raw.OpenSessionAsync("first");
        var second = await raw.OpenSessionAsync("second");
        var bytes = HloProto.Write(TestModules.AddVectors(13));

        var a = await raw.CompileBytesAsync(first, bytes);
        var b = await raw.CompileBytesAsync(second, bytes);
        Assert.False(a.CacheHit);
        Assert.False(b.CacheHit, "the second session was told that another session compiled the same bytes");
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        // ... although the server did share the compilation (its own log says so).
        string shared = $"({a.Fingerprint[..12]}, cache hit True)";
        for (int i = 0; i < 100 && !fixture.Server.Log.Contains(shared, StringComparison.Ordinal); i++) await Task.Delay(50);
        Assert.Contains(shared, fixture.Server.Log);

        // Its own repeat is a hit, the program's handle released or not.
        var again = await raw.CompileBytesAsync(second, bytes);
        Assert.True(again.CacheHit);
        await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = first, Handles = { a.ExecutableHandle } }, raw.Options());
        Assert.True((await raw.CompileBytesAsync(first, bytes)).CacheHit);
        Assert.NotEqual(b.ExecutableHandle, again.ExecutableHandle);

        foreach (var s in new[] { first, second }) await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, raw.Options());
    }

    [Fact]
    public async Task ASessionHoldsAtMostMaxHandlesPerSessionBuffersAndProgramsZeroByteOnesIncluded()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync("hoarder", protocolVersion: 2);
        var other = await raw.OpenSessionAsync("neighbour");
        var empty = new Tensor<float>(new long[] { 0 }, Array.Empty<float>());
        var held = new List<ulong>();
        for (int i = 0; i < 3; i++) held.Add(await raw.UploadAsync(session, empty));
        ulong x = await raw.UploadAsync(session, TestModules.Random(1, 4));
        ulong add = await raw.CompileAsync(session, TestModules.AddVectors(4));
        var kept = await raw.ExecuteAsync(session, add, x, x); // the sixth handle: at the limit
        Assert.Single(kept);

        string[] limit = { "over its limit of 6 handles", "buffers and executables together", "--max-handles-per-session" };
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.UploadAsync(session, empty), limit.Append("uploading f32[0]").ToArray());
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.CompileAsync(session, TestModules.AddVectors(5)), limit.Append("compile").ToArray());
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.ExecuteAsync(session, add, x, x), limit.Append("execute 'add_vectors'").ToArray());
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.BeginUploadAsync(session, ElementType.F32, 4), limit);
        // Three empty buffers, x and the kept result (16 bytes each) count the 1 KiB minimum each, the program its
        // estimated size: the refusals left nothing reserved.
        Assert.Equal(5 * 1024 + TestModules.ProgramCharge(TestModules.AddVectors(4)), await raw.BytesHeldAsync(session));

        // A step that donates as many buffers as it returns (a training step) still runs at the limit.
        var step = await raw.Client.ExecuteAsync(new ExecuteRequest { SessionId = session, ExecutableHandle = add, ArgumentHandles = { kept[0], x }, DonatedArguments = { 0 } }, raw.Options());
        ulong tripled = Assert.Single(step.Results).BufferHandle;
        Assert.Equal(TestModules.Random(1, 4).Data.Select(v => v + v + v), ((Tensor<float>)await raw.DownloadAsync(session, tripled)).Data);

        // Results returned inline make no handle; the neighbour is not limited by this session's count.
        var inline = await raw.Client.ExecuteAsync(new ExecuteRequest { SessionId = session, ExecutableHandle = add, ArgumentHandles = { x, x }, InlineResults = true }, raw.Options());
        Assert.Single(inline.Results);
        for (int i = 0; i < IsolationServer.MaxHandles; i++) await raw.UploadAsync(other, empty);

        // Releasing one makes room for one.
        var release = await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { held[0] } }, raw.Options());
        Assert.Equal(1, release.Released);
        ulong again = await raw.UploadAsync(session, TestModules.Random(2, 4));
        Assert.Equal(TestModules.Random(2, 4).Data, ((Tensor<float>)await raw.DownloadAsync(session, again)).Data);
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.UploadAsync(session, empty), limit);

        foreach (var s in new[] { session, other }) await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, raw.Options());
    }
}
