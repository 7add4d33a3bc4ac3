using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>A server for the bulk data channel's tests: short-lived tickets (so expiry is quick to see) and a session limit.</summary>
public sealed class BulkServer : IAsyncLifetime
{
    public const long SessionLimit = 48L << 20;
    public static readonly TimeSpan TicketLifetime = TimeSpan.FromSeconds(2);

    public ServerProcess Server { get; private set; } = null!;

    public int DataPort { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Server = await ServerProcess.StartAsync("--data-ticket-lifetime", "2s", "--max-session-bytes", "48MiB", "--session-lease", "30s");
        using var raw = new RawClient(Server.Address);
        DataPort = (await raw.Client.GetVersionAsync(new GetVersionRequest(), raw.Options())).DataPort;
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Tensors over the bulk data channel through the RemoteDevice: every element type, sizes around the
/// threshold and the I/O slices, results of executions, and the buffers work in programs.</summary>
public class BulkTransferTests(BulkServer fixture) : IClassFixture<BulkServer>
{
    const long Threshold = 256 << 10;

    static readonly ElementType[] AllTypes =
    {
        ElementType.Pred, ElementType.S8, ElementType.S16, ElementType.S32, ElementType.S64, ElementType.U8, ElementType.U16,
        ElementType.U32, ElementType.U64, ElementType.F16, ElementType.F32, ElementType.F64,
    };

    /// <summary>A tensor of random bytes (pred: 0 or 1).</summary>
    internal static Tensor RandomTensor(ElementType type, long elements, int seed)
    {
        var t = TensorBytes.Allocate(type, new[] { elements });
        var bytes = new byte[TensorBytes.ByteCount(t)];
        new Random(seed).NextBytes(bytes);
        if (type == ElementType.Pred) for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        TensorBytes.Write(t, 0, bytes);
        return t;
    }

    internal static byte[] Bytes(Tensor t)
    {
        var b = new byte[TensorBytes.ByteCount(t)];
        TensorBytes.Read(t, 0, b);
        return b;
    }

    [Fact]
    public async Task EveryElementTypeRoundTripsAndComputes()
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { ClientName = "bulk types" });
        Assert.Null(device.BulkChannelProblem);
        int seed = 0;
        foreach (var type in AllTypes)
        {
            // Just over the threshold, and not a multiple of anything in particular.
            long elements = Threshold / type.ByteSize() + 3;
            var source = RandomTensor(type, elements, ++seed);
            long bulkBefore = device.BulkTransfers;
            using var buffer = await device.UploadAsync(source);
            Assert.Equal(Bytes(source), Bytes(await device.DownloadAsync(buffer)));
            int transfers = 2;
            if (type != ElementType.F16)   // the CPU executor stores f16 but computes nothing on it
            {
                // The uploaded buffer is an ordinary device buffer: a program reads it, its result comes back in bulk too.
                using var copy = await device.CompileHloAsync(TestModules.Copy(type, elements));
                using var result = (await copy.ExecuteAsync(new[] { buffer }))[0];
                Assert.Equal(Bytes(source), Bytes(await device.DownloadAsync(result)));
                transfers++;
            }
            Assert.True(device.BulkTransfers - bulkBefore == transfers, $"{type}: {device.BulkTransfers - bulkBefore} of {transfers} transfers used the data channel");
        }
        Assert.Equal(0, device.StreamedTransfers);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(Threshold - 1)]
    [InlineData(Threshold)]
    [InlineData(Threshold + 1)]
    [InlineData((4L << 20) - 1)]
    [InlineData(4L << 20)]
    [InlineData((4L << 20) + 1)]
    [InlineData((8L << 20) + 3)]
    public async Task SizesAroundTheThresholdAndTheIoSlices(long bytes)
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { ClientName = $"bulk {bytes}" });
        var source = RandomTensor(ElementType.U8, bytes, (int)bytes);
        using var buffer = await device.UploadAsync(source);
        Assert.Equal(Bytes(source), Bytes(await device.DownloadAsync(buffer)));
        bool bulk = bytes >= Threshold;
        Assert.Equal(bulk ? 2 : 0, device.BulkTransfers);
        Assert.Equal(bulk ? 0 : 2, device.StreamedTransfers);
    }

    [Fact]
    public async Task ManyTransfersAtOnceShareAndReuseConnections()
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { ClientName = "bulk parallel" });
        var sources = Enumerable.Range(0, 8).Select(i => RandomTensor(ElementType.F32, (1 << 18) + i, 100 + i)).ToArray();
        for (int round = 0; round < 3; round++)
        {
            var buffers = await Task.WhenAll(sources.Select(s => device.UploadAsync(s)));
            var back = await Task.WhenAll(buffers.Select(b => device.DownloadAsync(b)));
            for (int i = 0; i < sources.Length; i++) Assert.Equal(Bytes(sources[i]), Bytes(back[i]));
            foreach (var b in buffers) b.Dispose();
        }
        Assert.Equal(48, device.BulkTransfers);
    }

    [Fact]
    public async Task AnUploadOverTheSessionLimitIsRefusedBeforeAnyByteMoves()
    {
        await using var device = await Devices.ConnectAsync(fixture.Server.Address, new RemoteDeviceOptions { ClientName = "bulk limit" });
        var big = TensorBytes.Allocate(ElementType.U8, new[] { BulkServer.SessionLimit + 1 });
        var e = await Assert.ThrowsAsync<XlaExecutionException>(() => device.UploadAsync(big));
        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Contains("over its limit", e.Message);
        // The session still works, over the data channel.
        using var ok = await device.UploadAsync(RandomTensor(ElementType.U8, 1 << 20, 5));
        Assert.Equal(1, device.BulkTransfers);
    }
}
