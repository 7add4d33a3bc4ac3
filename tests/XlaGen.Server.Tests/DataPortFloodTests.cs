using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using XlaGen.Backends.Remote;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>
/// Issue 13 finding 3: idle unauthenticated connections on the bulk data port used to take every place (about 300
/// of them made an authenticated client's ten 4 MiB transfers all fail with "lost 4 times in a row … Broken pipe"),
/// and a stalled upload kept its session and reservation alive past the lease. Loopback only: the hostile
/// connections come from other 127.0.0.0/8 addresses so that the per-address cap can be told apart from the global one.
/// </summary>
public class DataPortFloodTests
{
    const int Hostile = 300;

    /// <summary>Opens <paramref name="count"/> TCP connections to the data port from the given loopback addresses and
    /// sends nothing on them. Connections the server closes on arrival are counted as opened all the same.</summary>
    static async Task<List<Socket>> OpenIdleAsync(int port, int count, params string[] from)
    {
        var sockets = new List<Socket>();
        for (int i = 0; i < count; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse(from[i % from.Length]), 0));
            await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            sockets.Add(s);
        }
        await Task.Delay(300);   // let the server accept (and refuse) them all
        return sockets;
    }

    static async Task TransferTenAsync(RemoteDevice device)
    {
        for (int i = 0; i < 10; i++)
        {
            var source = BulkTransferTests.RandomTensor(ElementType.F32, 1 << 20, 100 + i);   // 4 MiB
            using var buffer = await device.UploadAsync(source);
            Assert.Equal(BulkTransferTests.Bytes(source), BulkTransferTests.Bytes(await device.DownloadAsync(buffer)));
        }
    }

    [Fact]
    public async Task HundredsOfIdleConnectionsDoNotStopAuthenticatedTransfers()
    {
        // A long auth deadline keeps the hostile connections open for the whole test.
        await using var server = await ServerProcess.StartAsync("--data-auth-timeout", "60s", "--log-level", "debug");
        var notices = new List<string>();
        await using var device = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { Log = notices.Add });
        int port = device.Server.DataPort;
        var sockets = new List<Socket>();
        try
        {
            // One hostile address: it gets 8 places (--data-max-unauthenticated-per-address), the client's own
            // connections from 127.0.0.1 are admitted and every transfer goes over the data channel.
            sockets.AddRange(await OpenIdleAsync(port, Hostile, "127.0.0.2"));
            await TransferTenAsync(device);
            Assert.Equal((20L, 0L), (device.BulkTransfers, device.StreamedTransfers));
            Assert.Contains("connections from 127.0.0.2 have not presented a ticket yet (--data-max-unauthenticated-per-address)", server.Log);

            // Many hostile addresses fill the 64 unauthenticated places. The client's pooled connection has presented
            // tickets already and keeps carrying its transfers; a new client's data connections are closed on arrival,
            // and its transfers fall back to gRPC streams instead of failing.
            sockets.AddRange(await OpenIdleAsync(port, Hostile, Enumerable.Range(3, 20).Select(i => $"127.0.0.{i}").ToArray()));
            await TransferTenAsync(device);
            Assert.Equal((40L, 0L), (device.BulkTransfers, device.StreamedTransfers));
            await using var late = await Devices.ConnectAsync(server.Address, new RemoteDeviceOptions { Log = notices.Add });
            await TransferTenAsync(late);
            Assert.Equal((0L, 20L), (late.BulkTransfers, late.StreamedTransfers));
            Assert.Contains("have not presented a ticket yet (--data-max-unauthenticated)", server.Log);
            Assert.Contains(notices, n => n.Contains("transfers use gRPC streams for the next 30 s", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    [Fact]
    public async Task AConnectionWithoutATicketIsClosedAfterTheAuthTimeout()
    {
        await using var server = await ServerProcess.StartAsync("--data-auth-timeout", "500ms");
        using var raw = new RawClient(server.Address);
        var session = await raw.OpenSessionAsync(protocolVersion: 2);
        var ticket = await raw.BeginUploadAsync(session, ElementType.U8, 16);
        using var data = await RawDataClient.ConnectAsync(ticket.DataPort);
        var clock = Stopwatch.StartNew();
        await data.ExpectClosedAsync();
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AStalledUploadEndsWithItsSessionLease()
    {
        await using var server = await ServerProcess.StartAsync("--session-lease", "1s");
        using var raw = new RawClient(server.Address);
        var before = await raw.StatsAsync();
        var session = await raw.OpenSessionAsync(protocolVersion: 2);
        const long Bytes = 64L << 20;
        var ticket = await raw.BeginUploadAsync(session, ElementType.U8, Bytes);
        using var data = await RawDataClient.ConnectAsync(ticket.DataPort);
        await data.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, Bytes);
        await data.SendPatternAsync(1 << 20);
        // The client now stalls: it sends nothing more and never renews its lease.
        var during = await raw.StatsAsync();
        Assert.Equal(before.Sessions + 1, during.Sessions);
        Assert.True(during.DeviceBytesUsed >= before.DeviceBytesUsed + Bytes, $"{during.DeviceBytesUsed} bytes used during the upload");

        var clock = Stopwatch.StartNew();
        Device.V1.GetServerStatsResponse after;
        while (((after = await raw.StatsAsync()).Sessions != before.Sessions || after.DeviceBytesUsed != before.DeviceBytesUsed) && clock.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(100);
        Assert.Equal(before.Sessions, after.Sessions);
        Assert.Equal(before.DeviceBytesUsed, after.DeviceBytesUsed);
        // About one lease for the stall, one more for the lease itself: far from the 60 s it used to take.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the stalled upload's session lived {clock.Elapsed.TotalSeconds:F1} s more");
    }
}
