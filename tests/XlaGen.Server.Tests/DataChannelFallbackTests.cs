using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>Without a reachable data channel transfers fall back to gRPC streams (said once); with one, buffers are
/// restored over it after a server restart.</summary>
public class DataChannelFallbackTests
{
    [Fact]
    public async Task AnUnreachableDataPortFallsBackToGrpcStreamsAndSaysSoOnce()
    {
        // The data channel listens where the client cannot reach it (as when a tunnel forwards only the gRPC port):
        // the handshake announces a port that refuses connections on the gRPC port's host.
        var unreachable = ServerProcess.StartAsync("--data-listen", "127.0.0.2:0");
        var off = ServerProcess.StartAsync("--data-listen", "off");
        await using var first = await unreachable;
        await using var second = await off;

        var notices = new List<string>();
        await using (var device = await Devices.ConnectAsync(first.Address, new RemoteDeviceOptions { Log = notices.Add }))
        {
            Assert.True(device.Server.DataPort > 0);
            for (int i = 0; i < 3; i++)
            {
                var source = BulkTransferTests.RandomTensor(ElementType.F32, 1 << 18, i);
                using var buffer = await device.UploadAsync(source);
                Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
            }
            Assert.Equal(0, device.BulkTransfers);
            Assert.Equal(6, device.StreamedTransfers);
            var notice = Assert.Single(notices);
            Assert.Contains($"cannot use its bulk data channel on port {device.Server.DataPort}", notice);
            Assert.Contains("transfers use gRPC streams instead", notice);
            Assert.Equal(notice, device.BulkChannelProblem);
        }

        // A server without a data channel announces none; its clients stream quietly, and BeginTransfer says why not.
        notices.Clear();
        await using (var device = await Devices.ConnectAsync(second.Address, new RemoteDeviceOptions { Log = notices.Add }))
        {
            Assert.Equal(0, device.Server.DataPort);
            Assert.Equal(4, device.ProtocolVersion);
            var source = BulkTransferTests.RandomTensor(ElementType.S32, 1 << 18, 7);
            using var buffer = await device.UploadAsync(source);
            Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
            Assert.Equal((0L, 2L), (device.BulkTransfers, device.StreamedTransfers));
            Assert.Empty(notices);
            Assert.Null(device.BulkChannelProblem);
        }
        using var raw = new RawClient(second.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: 2);
        await Expect.Status(StatusCode.FailedPrecondition, () => raw.BeginUploadAsync(session, ElementType.U8, 10), "no bulk data channel (--data-listen off)");
    }

    [Fact]
    public async Task BuffersAreRestoredOverTheDataChannelAfterARestart()
    {
        var first = await ServerProcess.StartAsync("--session-lease", "30s");
        ServerProcess? second = null;
        try
        {
            await using var device = await Devices.ConnectAsync(first.Address, new RemoteDeviceOptions { ReconnectTimeout = TimeSpan.FromSeconds(30) });
            var source = BulkTransferTests.RandomTensor(ElementType.F32, 1 << 20, 21);   // 4 MiB
            var uploaded = await device.UploadAsync(source);
            var exe = await device.CompileHloAsync(TestModules.Copy(ElementType.F32, 1 << 20));
            var computed = (await exe.ExecuteAsync(new[] { uploaded }))[0];
            var downloaded = await device.DownloadAsync(computed);   // now it has a host copy too
            Assert.Equal(2, device.BulkTransfers);

            first.Kill();
            second = await ServerProcess.StartAsync("--listen", $"127.0.0.1:{first.Port}", "--session-lease", "30s");

            // Both buffers come back from their host copies, over the new server's data channel.
            var again = (await exe.ExecuteAsync(new[] { computed }))[0];
            Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(again)));
            Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(uploaded)));
            Assert.Equal(1, device.Reconnects);
            Assert.True(device.RestoredHandles >= 2, $"restored {device.RestoredHandles}");
            Assert.True(device.BulkTransfers >= 5, $"{device.BulkTransfers} bulk transfers");
            Assert.Equal(0, device.StreamedTransfers);
            Assert.Null(device.BulkChannelProblem);
            Assert.NotEqual(0, device.Server.DataPort);
        }
        finally
        {
            await first.DisposeAsync();
            if (second != null) await second.DisposeAsync();
        }
    }
}
