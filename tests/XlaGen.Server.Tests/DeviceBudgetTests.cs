using Grpc.Core;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>
/// --max-device-bytes bounds what all sessions together hold plus what running programs allocate, so many clients
/// cannot exhaust the host between them (each one within its own --max-session-bytes). 16 MiB here; every tensor is
/// f32[1Mi], 4 MiB.
/// </summary>
public class DeviceBudgetTests
{
    const long MiB = 1 << 20;

    static Tensor<float> Four(int seed) => TestModules.Random(seed, 1 << 20);

    /// <summary>a = reverse(p); b = reverse(a): two 4 MiB values alive at once, 8 MiB at the peak (reverses, because the
    /// CPU executor's loop fusion would make a chain of elementwise ops one kernel with one value).</summary>
    static HloModule TwoReversals()
    {
        var b = new HloBuilder("two_reversals");
        return b.BuildModule(Reverse(b, Reverse(b, b.Parameter(ElementType.F32, new Dim[] { 1 << 20 }, "p"))));
    }

    static HloInstruction Reverse(HloBuilder b, HloInstruction x) =>
        b.AddInstruction("reverse", new[] { x }, new HloAttributes { Dimensions = new long[] { 0 } });

    [Fact]
    public async Task SessionsTogetherStayWithinTheServerWideBudget()
    {
        // 16 MiB for buffers and running programs, plus 64 KiB for the compiled program's own charge.
        await using var server = await ServerProcess.StartAsync("--max-device-bytes", "16448KiB");
        const long Limit = 16 * MiB + 64 * 1024;
        long program = TestModules.ProgramCharge(TwoReversals());
        using var raw = new RawClient(server.Address);
        var first = await raw.OpenSessionAsync("first");
        var second = await raw.OpenSessionAsync("second");
        var third = await raw.OpenSessionAsync("third");

        var a = await raw.UploadAsync(first, Four(1));
        await raw.UploadAsync(first, Four(2));
        var c = await raw.UploadAsync(second, Four(3));
        var stats = await raw.StatsAsync();
        Assert.Equal(Limit, stats.DeviceBytesLimit);
        Assert.Equal(12 * MiB, stats.DeviceBytesUsed);

        // Four more MiB fit exactly; then nothing more, whichever session asks.
        var d = await raw.UploadAsync(third, Four(4));
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.UploadAsync(third, Four(5)),
            $"uploading f32[1048576] (4194304 bytes): the server's buffers and running programs already use 16777216 of the {Limit} bytes it may use (--max-device-bytes)");

        // A program whose peak does not fit in what is left is refused before it runs, and the others keep working.
        var exe = await raw.CompileAsync(second, TwoReversals());
        await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = third, Handles = { d } }, raw.Options());
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.ExecuteAsync(second, exe, c),
            "execute 'two_reversals' needs about 8388608 bytes while it runs", $"already use {12 * MiB + program} of the {Limit} bytes");
        Assert.Equal(12 * MiB + program, (await raw.StatsAsync()).DeviceBytesUsed);

        // Freeing a buffer makes room: the program runs, its 8 MiB come back, and its 4 MiB result is held.
        await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = first, Handles = { a } }, raw.Options());
        var result = (await raw.ExecuteAsync(second, exe, c))[0];
        Assert.Equal(Four(3).Data, ((Tensor<float>)await raw.DownloadAsync(second, result)).Data);
        Assert.Equal(12 * MiB + program, (await raw.StatsAsync()).DeviceBytesUsed);

        // Closing sessions gives everything back.
        foreach (var s in new[] { first, second, third }) await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = s }, raw.Options());
        Assert.Equal(0, (await raw.StatsAsync()).DeviceBytesUsed);
    }

    [Fact]
    public async Task ByDefaultTheBudgetIsFourFifthsOfTheDevicesMemory()
    {
        await using var server = await ServerProcess.StartAsync();
        using var raw = new RawClient(server.Address);
        var version = await raw.Client.GetVersionAsync(new GetVersionRequest { MinProtocolVersion = 1, MaxProtocolVersion = 2 }, raw.Options());
        long memory = version.Devices[0].MemoryBytes;
        Assert.True(memory > 0);
        Assert.Equal(memory / 5 * 4, (await raw.StatsAsync()).DeviceBytesLimit);
    }
}

/// <summary>Issue 13 finding 5: 30,000 zero-byte buffers in one session were all accepted and counted 0 bytes. Every
/// handle now counts at least Session.MinimumCharge (1 KiB) against the byte budgets.</summary>
public class MinimumChargeTests
{
    [Fact]
    public async Task ZeroByteBuffersCountAgainstTheSessionBudget()
    {
        await using var server = await ServerProcess.StartAsync("--max-session-bytes", "1MiB");
        using var raw = new RawClient(server.Address);
        var session = await raw.OpenSessionAsync();
        var empty = new Tensor<float>(new long[] { 0 }, Array.Empty<float>());
        // 1 MiB holds 1024 handles of the minimum 1024 bytes each.
        var handles = new List<ulong>();
        for (int i = 0; i < 1024; i++) handles.Add(await raw.UploadAsync(session, empty));
        Assert.Equal(1L << 20, await raw.BytesHeldAsync(session));
        Assert.Equal(1L << 20, (await raw.StatsAsync()).DeviceBytesUsed);
        await Expect.Status(StatusCode.ResourceExhausted, () => raw.UploadAsync(session, empty),
            "uploading f32[0] (0 bytes, counted as 1024 (the least any handle counts)) would take the session to 1049600 bytes, over its limit of 1048576 bytes (--max-session-bytes)");

        // Releasing gives the minimum back, and closing the session everything.
        await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { handles[0] } }, raw.Options());
        Assert.Equal((1L << 20) - 1024, await raw.BytesHeldAsync(session));
        await raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = session }, raw.Options());
        Assert.Equal(0, (await raw.StatsAsync()).DeviceBytesUsed);
    }
}
