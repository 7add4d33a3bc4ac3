using System.Text;
using Grpc.Core;
using XlaGen.Backends.Remote;
using XlaGen.Device.V1;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>
/// Misusing the bulk data channel: reused, expired, forged and foreign tickets, garbage on the port, truncated and
/// mismatched transfers. Each is a clean error reply naming the problem (or a refused call), the session's reserved
/// bytes come back, the server keeps serving, and its memory returns to its baseline.
/// </summary>
public class DataChannelMisuseTests(BulkServer fixture, ITestOutputHelper output) : IClassFixture<BulkServer>
{
    const int Kib = 1 << 10;

    sealed class Client : IAsyncDisposable
    {
        public required RawClient Raw { get; init; }

        public required string Session { get; init; }

        public required int DataPort { get; init; }

        public static async Task<Client> OpenAsync(BulkServer fixture) 
        {
            var raw = new RawClient(fixture.Server.Address);
            return new Client { Raw = raw, Session = await raw.OpenSessionAsync("misuse", protocolVersion: 2), DataPort = fixture.DataPort };
        }

        public Task<RawDataClient> ConnectAsync() => RawDataClient.ConnectAsync(DataPort);

        /// <summary>A well-behaved upload of <paramref name="bytes"/> u8 bytes; returns the handle.</summary>
        public async Task<ulong> UploadAsync(long bytes, RawDataClient? on = null)
        {
            var ticket = await Raw.BeginUploadAsync(Session, ElementType.U8, bytes);
            var data = on ?? await ConnectAsync();
            try
            {
                await data.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, bytes);
                await data.SendPatternAsync(bytes);
                var reply = await data.ReadReplyAsync();
                Assert.True(reply.Status == StatusCode.OK, reply.Message);
                return reply.Value;
            }
            finally
            {
                if (on == null) data.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = Session }, Raw.Options());
            }
            catch (RpcException)
            {
            }
            Raw.Dispose();
        }
    }

    /// <summary>The server still moves data, for a fresh client.</summary>
    async Task AssertServes()
    {
        Assert.False(fixture.Server.HasExited, fixture.Server.Log);
        await using var c = await Client.OpenAsync(fixture);
        using var data = await c.ConnectAsync();
        ulong handle = await c.UploadAsync(300 * Kib, data);
        var ticket = await c.Raw.BeginDownloadAsync(c.Session, handle);
        await data.SendRequestAsync(DataFrames.Download, ticket.Ticket.Memory, ticket.Bytes);
        var reply = await data.ReadReplyAsync();
        Assert.Equal(StatusCode.OK, reply.Status);
        Assert.Equal((ulong)(300 * Kib), reply.Value);
        var back = new byte[300 * Kib];
        await data.Stream.ReadExactlyAsync(back);
        Assert.All(back, b => Assert.Equal(1, b));
    }

    [Fact]
    public async Task ATicketIsGoodForOneTransfer()
    {
        await using var c = await Client.OpenAsync(fixture);
        var ticket = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 64 * Kib);
        using (var first = await c.ConnectAsync())
        {
            await first.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, 64 * Kib);
            await first.SendPatternAsync(64 * Kib);
            Assert.Equal(StatusCode.OK, (await first.ReadReplyAsync()).Status);
            // Reused on the same connection ...
            await first.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, 64 * Kib);
            await first.SendPatternAsync(64 * Kib);
            await first.ExpectErrorAsync(StatusCode.PermissionDenied, "the transfer ticket is not valid", "used already");
        }
        // ... or on another.
        using (var second = await c.ConnectAsync())
        {
            await second.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, 64 * Kib);
            await second.SendPatternAsync(64 * Kib);
            await second.ExpectErrorAsync(StatusCode.PermissionDenied, "used already");
        }
        Assert.Equal(64 * Kib, await c.Raw.BytesHeldAsync(c.Session));
        await AssertServes();
    }

    [Fact]
    public async Task AnExpiredTicketIsRefusedAndItsReservationComesBack()
    {
        await using var c = await Client.OpenAsync(fixture);
        var used = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 100 * Kib);
        var unused = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 200 * Kib);
        Assert.Equal(300 * Kib, await c.Raw.BytesHeldAsync(c.Session));
        Assert.Equal((long)BulkServer.TicketLifetime.TotalMilliseconds, used.ExpiresMs);
        await Task.Delay(BulkServer.TicketLifetime + TimeSpan.FromMilliseconds(300));
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, used.Ticket.Memory, 100 * Kib);
            await data.SendPatternAsync(100 * Kib);
            // Either the transfer finds it expired, or the server's reaper dropped it already.
            var reply = await data.ExpectErrorAsync(StatusCode.PermissionDenied, "ticket");
            Assert.True(reply.Message.Contains("expired", StringComparison.Ordinal) || reply.Message.Contains("not valid", StringComparison.Ordinal), reply.Message);
        }
        // Both reservations are given back (the unused one by the server's reaper).
        long held = -1;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            held = await c.Raw.BytesHeldAsync(c.Session);
            if (held == 0) break;
        }
        Assert.Equal(0, held);
        await AssertServes();
    }

    [Fact]
    public async Task GarbageOnTheDataPortIsRefused()
    {
        async Task Send(byte[] bytes, StatusCode code, params string[] fragments)
        {
            using var data = await RawDataClient.ConnectAsync(fixture.DataPort);
            await data.SendAsync(bytes);
            await data.ExpectErrorAsync(code, fragments);
        }

        var random = new byte[DataFrames.RequestBytes];
        new Random(3).NextBytes(random);
        await Send(random, StatusCode.InvalidArgument, "not an xlagen data-channel request");
        // An HTTP/2 client pointed at the wrong port.
        await Send(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), StatusCode.InvalidArgument, "not an xlagen data-channel request");
        // The right magic with a forged ticket, a bad direction, nonzero reserved bytes, a negative count.
        var forged = new byte[DataFrames.RequestBytes];
        DataFrames.WriteRequest(forged, DataFrames.Upload, new byte[DataFrames.TicketBytes], 16);
        await Send(forged.Concat(new byte[16]).ToArray(), StatusCode.PermissionDenied, "never issued");
        var direction = (byte[])forged.Clone();
        direction[4] = 7;
        await Send(direction, StatusCode.InvalidArgument, "the direction byte is 7");
        var reserved = (byte[])forged.Clone();
        reserved[6] = 1;
        await Send(reserved, StatusCode.InvalidArgument, "bytes 5..7");
        var negative = new byte[DataFrames.RequestBytes];
        DataFrames.WriteRequest(negative, DataFrames.Download, new byte[DataFrames.TicketBytes], -5);
        await Send(negative, StatusCode.InvalidArgument, "negative");
        // A request cut short, and a connection that says nothing at all.
        using (var shortRequest = await RawDataClient.ConnectAsync(fixture.DataPort))
        {
            await shortRequest.SendAsync(random.AsMemory(0, 10));
            shortRequest.EndSending();
            await shortRequest.ExpectErrorAsync(StatusCode.InvalidArgument, "ended after 10 bytes");
        }
        using (var silent = await RawDataClient.ConnectAsync(fixture.DataPort))
        {
            silent.EndSending();
            await silent.ExpectClosedAsync();
        }
        await AssertServes();
    }

    [Fact]
    public async Task ATruncatedUploadIsAClearErrorAndFreesItsReservation()
    {
        await using var c = await Client.OpenAsync(fixture);
        var ticket = await c.Raw.BeginUploadAsync(c.Session, ElementType.F32, 256 * Kib);   // 1 MiB
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, ticket.Bytes);
            await data.SendPatternAsync(ticket.Bytes / 2);
            data.EndSending();
            await data.ExpectErrorAsync(StatusCode.InvalidArgument, "f32[262144]", $"ended after {ticket.Bytes / 2} of its {ticket.Bytes} bytes", "truncated");
        }
        Assert.Equal(0, await c.Raw.BytesHeldAsync(c.Session));
        // A client that vanishes mid-upload (no reply to read) frees the reservation as well.
        var second = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1 << 20);
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, second.Ticket.Memory, second.Bytes);
            await data.SendPatternAsync(1000);
        }
        long held = -1;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            held = await c.Raw.BytesHeldAsync(c.Session);
            if (held == 0) break;
        }
        Assert.Equal(0, held);
        await AssertServes();
    }

    [Fact]
    public async Task TheRequestMustMatchItsTicket()
    {
        await using var c = await Client.OpenAsync(fixture);
        var upload = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1000);
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Download, upload.Ticket.Memory, 1000);
            await data.ExpectErrorAsync(StatusCode.InvalidArgument, "the ticket is for the upload of u8[1000]", "a download");
        }
        var other = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1000);
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, other.Ticket.Memory, 999);
            await data.SendPatternAsync(999);
            await data.ExpectErrorAsync(StatusCode.InvalidArgument, "announces 999 bytes", "1000 bytes");
        }
        var pred = await c.Raw.BeginUploadAsync(c.Session, ElementType.Pred, 4096);
        using (var data = await c.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, pred.Ticket.Memory, 4096);
            await data.SendPatternAsync(4096, value: 2);
            await data.ExpectErrorAsync(StatusCode.InvalidArgument, "pred element 0 has byte value 2");
        }
        Assert.Equal(0, await c.Raw.BytesHeldAsync(c.Session));
        await AssertServes();
    }

    [Fact]
    public async Task TicketsBelongToTheirSession()
    {
        await using var owner = await Client.OpenAsync(fixture);
        await using var intruder = await Client.OpenAsync(fixture);
        ulong handle = await owner.UploadAsync(1000);
        await Expect.Status(StatusCode.NotFound, () => intruder.Raw.BeginDownloadAsync(intruder.Session, handle), "is not held by this session");
        await Expect.Status(StatusCode.NotFound, () => intruder.Raw.BeginDownloadAsync(intruder.Session, handle ^ 0x5A5A), "is not held by this session");
        await Expect.Status(StatusCode.InvalidArgument, () => owner.Raw.Client.BeginTransferAsync(new BeginTransferRequest { SessionId = owner.Session }, owner.Raw.Options()).ResponseAsync, "names no transfer");
        await Expect.Status(StatusCode.NotFound, () => owner.Raw.BeginUploadAsync("0123456789abcdef0123456789abcdef", ElementType.U8, 10), "is not open on this server");

        // A ticket whose session ends before the transfer: session-not-found, which makes a client reconnect.
        var late = await owner.Raw.BeginUploadAsync(owner.Session, ElementType.U8, 1000);
        var lateDownload = await owner.Raw.BeginDownloadAsync(owner.Session, handle);
        await owner.Raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = owner.Session }, owner.Raw.Options());
        using (var data = await owner.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Upload, late.Ticket.Memory, 1000);
            await data.SendPatternAsync(1000);
            var reply = await data.ExpectErrorAsync(StatusCode.NotFound, "is not open on this server");
            Assert.True(reply.SessionNotFound);
        }
        using (var data = await owner.ConnectAsync())
        {
            await data.SendRequestAsync(DataFrames.Download, lateDownload.Ticket.Memory, lateDownload.Bytes);
            Assert.True((await data.ExpectErrorAsync(StatusCode.NotFound, "is not open on this server")).SessionNotFound);
        }
        await AssertServes();
    }

    [Fact]
    public async Task LimitsAndVersionsAreCheckedAtBeginTransfer()
    {
        await using var c = await Client.OpenAsync(fixture);
        await Expect.Status(StatusCode.ResourceExhausted, () => c.Raw.BeginUploadAsync(c.Session, ElementType.F32, BulkServer.SessionLimit / 4 + 1), "over its limit of 50331648 bytes");
        await Expect.Status(StatusCode.InvalidArgument, () => c.Raw.BeginUploadAsync(c.Session, ElementType.F32, -1, 2), "is negative");
        await Expect.Status(StatusCode.InvalidArgument, () => c.Raw.BeginUploadAsync(c.Session, (ElementType)99, 2), "element type 99");
        // Unused tickets are bounded per session.
        for (int i = 0; i < 64; i++) await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1);
        await Expect.Status(StatusCode.ResourceExhausted, () => c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1), "64 unused transfer tickets");

        // A session opened at version 1 (an older client) uses Upload and Download; BeginTransfer is version 2.
        var v1 = await c.Raw.OpenSessionAsync("version 1 client", protocolVersion: 1);
        await Expect.Status(StatusCode.FailedPrecondition, () => c.Raw.BeginUploadAsync(v1, ElementType.U8, 10), "protocol version 2", "opened at version 1");
        var tensor = BulkTransferTests.RandomTensor(ElementType.F32, 300_000, 9);
        ulong h = await c.Raw.UploadAsync(v1, tensor);
        Assert.Equal(BulkTransferTests.Bytes(tensor), BulkTransferTests.Bytes(await c.Raw.DownloadAsync(v1, h)));
        await c.Raw.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = v1 }, c.Raw.Options());
    }

    [Fact]
    public async Task MemoryReturnsToItsBaselineAfterTheMisuse()
    {
        using var raw = new RawClient(fixture.Server.Address);
        await Storm(rounds: 3);
        var before = await raw.StatsAsync(collect: true);
        await Storm(rounds: 8);
        var after = await raw.StatsAsync(collect: true);
        output.WriteLine($"gc heap {before.GcHeapBytes:N0} -> {after.GcHeapBytes:N0} bytes; working set {before.WorkingSetBytes:N0} -> {after.WorkingSetBytes:N0}; " +
            $"data transfers {before.DataTransfers} -> {after.DataTransfers}, failed {before.DataTransfersFailed} -> {after.DataTransfersFailed}");
        Assert.True(after.DataTransfersFailed - before.DataTransfersFailed >= 8 * 4, $"{after.DataTransfersFailed - before.DataTransfersFailed} transfers failed");
        Assert.True(after.DataTransfers - before.DataTransfers >= 8);
        // Other tests of this class may hold sessions and buffers meanwhile; this storm's own are all gone.
        Assert.True(after.GcHeapBytes < before.GcHeapBytes + (4 << 20), $"the managed heap grew from {before.GcHeapBytes:N0} to {after.GcHeapBytes:N0} bytes");
        Assert.True(after.WorkingSetBytes < before.WorkingSetBytes + (96 << 20), $"the working set grew from {before.WorkingSetBytes:N0} to {after.WorkingSetBytes:N0} bytes");
        await AssertServes();
    }

    async Task Storm(int rounds)
    {
        for (int r = 0; r < rounds; r++)
        {
            await using var c = await Client.OpenAsync(fixture);
            // One good transfer, then: reuse, truncation, a forged ticket, a mismatched count.
            var ticket = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 512 * Kib);
            using (var data = await c.ConnectAsync())
            {
                await data.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, ticket.Bytes);
                await data.SendPatternAsync(ticket.Bytes);
                Assert.Equal(StatusCode.OK, (await data.ReadReplyAsync()).Status);
                await data.SendRequestAsync(DataFrames.Upload, ticket.Ticket.Memory, ticket.Bytes);
                await data.SendPatternAsync(ticket.Bytes);
                await data.ExpectErrorAsync(StatusCode.PermissionDenied);
            }
            var truncated = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 512 * Kib);
            using (var data = await c.ConnectAsync())
            {
                await data.SendRequestAsync(DataFrames.Upload, truncated.Ticket.Memory, truncated.Bytes);
                await data.SendPatternAsync(100 * Kib);
                data.EndSending();
                await data.ExpectErrorAsync(StatusCode.InvalidArgument);
            }
            using (var data = await c.ConnectAsync())
            {
                await data.SendRequestAsync(DataFrames.Upload, new byte[DataFrames.TicketBytes], 100);
                await data.SendPatternAsync(100);
                await data.ExpectErrorAsync(StatusCode.PermissionDenied);
            }
            var mismatched = await c.Raw.BeginUploadAsync(c.Session, ElementType.U8, 1000);
            using (var data = await c.ConnectAsync())
            {
                await data.SendRequestAsync(DataFrames.Upload, mismatched.Ticket.Memory, 10);
                await data.SendPatternAsync(10);
                await data.ExpectErrorAsync(StatusCode.InvalidArgument);
            }
            Assert.Equal(512 * Kib, await c.Raw.BytesHeldAsync(c.Session));
        }
    }
}
