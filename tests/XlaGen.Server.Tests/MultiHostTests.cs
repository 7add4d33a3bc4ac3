using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using XlaGen.Backends.Pjrt;
using XlaGen.Backends.Remote;
using XlaGen.Distributed;
using XlaGen.KeyValue.V1;
using XlaGen.Tests.Pjrt;

namespace XlaGen.Server.Tests;

/// <summary>
/// A pod slice on loopback: three real xlagen-server processes (node 0 the coordinator, serving the key-value store
/// with small limits and a token; nodes 1 and 2 reaching it over gRPC). What runs here is the store, its protocol and
/// every server's use of it; the real multi-host XLA run (libtpu or the CUDA plugin setting up their distributed runtime
/// over this store, collectives over the chips' interconnect) needs a pod and is not tested here.
/// </summary>
public sealed class PodSlice : IAsyncLifetime
{
    public const string Token = "pod-slice-Token.42";
    readonly string directory = Directory.CreateTempSubdirectory("xlagen-pod-").FullName;

    public ServerProcess[] Nodes { get; private set; } = Array.Empty<ServerProcess>();

    /// <summary>grpc://127.0.0.1:PORT of node 0's store.</summary>
    public string Store { get; private set; } = "";

    public string TokenFile => Path.Combine(directory, "token");

    public const int MaxValueBytes = 64 << 10;
    public const int MaxBytesPerClient = 256 << 10;
    public const int MaxKeysPerClient = 300;
    public const int MaxWaitingPerClient = 16;

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(TokenFile, Token);
        var node0 = await ServerProcess.StartAsync("--num-nodes", "3", "--node-id", "0", "--coordinator", "127.0.0.1:0", "--token-file", TokenFile,
            "--kv-max-value-bytes", "64KiB", "--kv-max-bytes", "4MiB", "--kv-max-keys", "1000",
            "--kv-max-bytes-per-client", "256KiB", "--kv-max-keys-per-client", "300", "--kv-max-waiting-per-client", "16");
        Store = node0.KeyValueAddress ?? throw new InvalidOperationException($"node 0 printed no key-value store address:\n{node0.Log}");
        string port = new Uri(Store.Replace("grpc://", "http://", StringComparison.Ordinal)).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var others = await Task.WhenAll(Enumerable.Range(1, 2).Select(i => ServerProcess.StartAsync(
            "--num-nodes", "3", "--node-id", i.ToString(System.Globalization.CultureInfo.InvariantCulture), "--coordinator", "127.0.0.1:" + port, "--token-file", TokenFile)));
        Nodes = new[] { node0, others[0], others[1] };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes) await n.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    public KeyValueClient Client(string? token = Token) => new(Store, new KeyValueClientOptions { Token = token, UnavailableRetry = TimeSpan.FromSeconds(5) });

    /// <summary>A raw gRPC client of the store whose connections come from <paramref name="source"/> (127.0.0.2 is
    /// another peer address on loopback: another "host" for the store's per-client limits).</summary>
    internal (KeyValueStore.KeyValueStoreClient Client, GrpcChannel Channel) Raw(string source = "127.0.0.1", string? token = Token)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var channel = GrpcChannel.ForAddress(Store.Replace("grpc://", "http://", StringComparison.Ordinal), new GrpcChannelOptions { HttpHandler = handler });
        return (new KeyValueStore.KeyValueStoreClient(channel), channel);
    }

    public static Metadata Headers(string? token = Token) => token == null ? new Metadata() : new Metadata { { "authorization", "Bearer " + token } };
}

public class MultiHostKeyValueTests(PodSlice pod) : IClassFixture<PodSlice>
{
    static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    static string S(byte[] b) => Encoding.UTF8.GetString(b);

    static string Unique(string name) => $"test/{name}/{Guid.NewGuid():N}";

    [Fact]
    public async Task EveryNodeRegisteredItsDeviceAddressAndAClientReachesAllOfThem()
    {
        using var store = pod.Client();
        for (int i = 0; i < 3; i++)
        {
            var address = S(store.Get(B($"xlagen/nodes/{i}"), TimeSpan.FromSeconds(10)));
            Assert.Equal(pod.Nodes[i].Address, address);
            // What a client of the job does today: find each host's server in the store and open its device.
            await using var device = await Devices.ConnectAsync(address, new RemoteDeviceOptions { Token = PodSlice.Token });
            Assert.Equal("cpu", device.Info.Platform);
        }
        Assert.Null(store.TryGet(B("xlagen/nodes/3")));
    }

    [Fact]
    public async Task ABlockingGetReturnsWhenAnotherClientPuts()
    {
        string key = Unique("blocking");
        using var waiter = pod.Client();
        using var writer = pod.Client();
        var get = Task.Run(() => waiter.Get(B(key), TimeSpan.FromSeconds(30)));
        await Task.Delay(500);
        Assert.False(get.IsCompleted, "the get returned before anyone put the key");
        writer.Put(B(key), B("topology of host 7"));
        Assert.Equal("topology of host 7", S(await get.WaitAsync(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public void AGetThatTimesOutIsDeadlineExceeded()
    {
        string key = Unique("timeout");
        using var store = pod.Client();
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<KeyValueStoreException>(() => store.Get(B(key), TimeSpan.FromMilliseconds(400)));
        Assert.Equal(PjrtErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("did not appear within", e.Message);
        Assert.Contains(key, e.Message);
        Assert.True(watch.ElapsedMilliseconds >= 350, $"the get gave up after {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task TryGetOfAMissingKeyIsNotFound()
    {
        string key = Unique("missing");
        using var store = pod.Client();
        Assert.Null(store.TryGet(B(key)));
        var (raw, channel) = pod.Raw();
        using (channel)
        {
            await Expect.Status(StatusCode.NotFound, async () => await raw.TryGetAsync(new TryGetRequest { Key = ByteString.CopyFromUtf8(key) }, PodSlice.Headers()),
                key, "is not in the store");
        }
    }

    [Fact]
    public void OversizedValuesAndKeysAreRefused()
    {
        using var store = pod.Client();
        var e = Assert.Throws<KeyValueStoreException>(() => store.Put(B(Unique("big")), new byte[PodSlice.MaxValueBytes + 1]));
        Assert.Equal(PjrtErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"has {PodSlice.MaxValueBytes + 1} bytes", e.Message);
        Assert.Contains("--kv-max-value-bytes", e.Message);
        store.Put(B(Unique("fits")), new byte[PodSlice.MaxValueBytes]);

        e = Assert.Throws<KeyValueStoreException>(() => store.Put(new byte[4097], B("v")));
        Assert.Equal(PjrtErrorCode.InvalidArgument, e.Code);
        Assert.Contains("keys have at most 4096", e.Message);
        e = Assert.Throws<KeyValueStoreException>(() => store.Put(Array.Empty<byte>(), B("v")));
        Assert.Contains("the key is empty", e.Message);
        e = Assert.Throws<KeyValueStoreException>(() => store.Get(new byte[5000], TimeSpan.FromSeconds(1)));
        Assert.Equal(PjrtErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public void KeysAreWrittenOnceAndARepeatedPutOfTheSameValueIsHarmless()
    {
        string key = Unique("once");
        using var store = pod.Client();
        store.Put(B(key), B("a"));
        store.Put(B(key), B("a")); // a put retried after a lost reply
        var e = Assert.Throws<KeyValueStoreException>(() => store.Put(B(key), B("b")));
        Assert.Equal(PjrtErrorCode.AlreadyExists, e.Code);
        Assert.Contains("already holds a different value", e.Message);
        Assert.Equal("a", S(store.TryGet(B(key))!));
    }

    [Fact]
    public async Task MissingOrWrongTokensAreRefused()
    {
        using var none = pod.Client(token: null);
        var e = Assert.Throws<KeyValueStoreException>(() => none.Put(B(Unique("anon")), B("x")));
        Assert.Equal(PjrtErrorCode.Unauthenticated, e.Code);
        Assert.Contains("requires a bearer token", e.Message);
        using var wrong = pod.Client(token: "not-the-token");
        e = Assert.Throws<KeyValueStoreException>(() => wrong.TryGet(B("xlagen/nodes/0")));
        Assert.Equal(PjrtErrorCode.Unauthenticated, e.Code);
        Assert.Contains("the bearer token is wrong", e.Message);
        // Nothing was stored by the refused put, and the store still answers the right token.
        var (raw, channel) = pod.Raw(token: null);
        using (channel)
        {
            await Expect.Status(StatusCode.Unauthenticated, async () => await raw.GetAsync(new GetRequest { Key = ByteString.CopyFromUtf8("xlagen/nodes/0"), TimeoutMs = 10 }, PodSlice.Headers(null)));
        }
        using var right = pod.Client();
        Assert.NotNull(right.TryGet(B("xlagen/nodes/0")));
    }

    [Fact]
    public async Task AMalformedRequestIsInvalidArgumentAndTheStoreKeepsServing()
    {
        var (raw, channel) = pod.Raw();
        using (channel)
        {
            var marshaller = Marshallers.Create<byte[]>(b => b, b => b);
            var method = new Method<byte[], byte[]>(MethodType.Unary, "xlagen.kv.v1.KeyValueStore", "Put", marshaller, marshaller);
            var invoker = channel.CreateCallInvoker();
            await Expect.Status(StatusCode.InvalidArgument,
                async () => await invoker.AsyncUnaryCall(method, null, new CallOptions(PodSlice.Headers()), new byte[] { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f }),
                "Put: the request is not a valid PutRequest");
            await Expect.Status(StatusCode.InvalidArgument,
                async () => await raw.GetAsync(new GetRequest { Key = ByteString.CopyFromUtf8("k"), TimeoutMs = -5 }, PodSlice.Headers()), "negative");
            Assert.False(pod.Nodes[0].HasExited);
            string key = Unique("after");
            await raw.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("ok") }, PodSlice.Headers());
            Assert.Equal("ok", (await raw.TryGetAsync(new TryGetRequest { Key = ByteString.CopyFromUtf8(key) }, PodSlice.Headers())).Value.ToStringUtf8());
        }
    }

    [Fact]
    public async Task ConcurrentClientsExchangeKeysWithBlockingGets()
    {
        // Eight clients at once, as the processes of a job set up: each puts its keys, then waits for every other's.
        string run = Unique("concurrent");
        const int clients = 8, keys = 5;
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(() =>
        {
            using var store = pod.Client();
            for (int k = 0; k < keys; k++) store.Put(B($"{run}/{c}/{k}"), B($"value {c}.{k}"));
            var seen = new List<string>();
            for (int other = 0; other < clients; other++)
                for (int k = 0; k < keys; k++)
                    seen.Add(S(store.Get(B($"{run}/{other}/{k}"), TimeSpan.FromSeconds(30))));
            return seen;
        })).ToArray();
        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        var expected = Enumerable.Range(0, clients).SelectMany(c => Enumerable.Range(0, keys).Select(k => $"value {c}.{k}")).ToList();
        foreach (var r in results) Assert.Equal(expected, r);
    }

    [Fact]
    public async Task AHostileClientCannotFillTheStoreOrHoldAllWaitingGetsForTheOthers()
    {
        var (hostile, channel) = pod.Raw(source: "127.0.0.2");
        using (channel)
        {
            var headers = PodSlice.Headers();
            string run = Unique("hostile");
            // Bytes: three 64 KiB values fit its 256 KiB share, the fourth does not.
            for (int i = 0; i < 3; i++)
                await hostile.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{run}/big/{i}"), Value = ByteString.CopyFrom(new byte[PodSlice.MaxValueBytes]) }, headers);
            await Expect.Status(StatusCode.ResourceExhausted,
                async () => await hostile.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{run}/big/3"), Value = ByteString.CopyFrom(new byte[PodSlice.MaxValueBytes]) }, headers),
                "client 127.0.0.2", "--kv-max-bytes-per-client");
            // Keys: small puts until its key share is used up.
            RpcException? refused = null;
            for (int i = 0; i < PodSlice.MaxKeysPerClient + 1 && refused == null; i++)
            {
                try
                {
                    await hostile.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{run}/small/{i}"), Value = ByteString.CopyFromUtf8("x") }, headers);
                }
                catch (RpcException e)
                {
                    refused = e;
                }
            }
            Assert.NotNull(refused);
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("--kv-max-keys-per-client", refused.Status.Detail);

            // Waiting gets: it may hold its share, no more. Four more than its share go out at once: exactly four are
            // refused (which ones depends on arrival order), the others wait.
            using var cancel = new CancellationTokenSource();
            var calls = Enumerable.Range(0, PodSlice.MaxWaitingPerClient + 4).Select(i =>
                hostile.GetAsync(new GetRequest { Key = ByteString.CopyFromUtf8($"{run}/never/{i}"), TimeoutMs = 60_000 }, headers, cancellationToken: cancel.Token).ResponseAsync).ToList();
            var refusals = new List<RpcException>();
            var pending = new List<Task<GetResponse>>(calls);
            var watch = Stopwatch.StartNew();
            while (refusals.Count < 4)
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"only {refusals.Count} of the extra gets were refused within 20 s");
                var done = await Task.WhenAny(pending).WaitAsync(TimeSpan.FromSeconds(20));
                pending.Remove(done);
                refusals.Add(await Assert.ThrowsAsync<RpcException>(() => done));
            }
            Assert.All(refusals, e =>
            {
                Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
                Assert.Contains($"client 127.0.0.2 already has {PodSlice.MaxWaitingPerClient} gets waiting", e.Status.Detail);
                Assert.Contains("--kv-max-waiting-per-client", e.Status.Detail);
            });
            await Task.Delay(200);
            Assert.Equal(PodSlice.MaxWaitingPerClient, pending.Count(t => !t.IsCompleted));

            // Meanwhile another host stores, waits and reads as usual.
            using var fair = pod.Client();
            string key = Unique("fair");
            var get = Task.Run(() => fair.Get(B(key), TimeSpan.FromSeconds(20)));
            await Task.Delay(200);
            fair.Put(B(key), new byte[PodSlice.MaxValueBytes]);
            Assert.Equal(PodSlice.MaxValueBytes, (await get.WaitAsync(TimeSpan.FromSeconds(20))).Length);

            // Cancelled gets give their places back.
            await cancel.CancelAsync();
            foreach (var h in pending) Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => h)).StatusCode);
            await WaitForAsync(async () =>
            {
                try
                {
                    await hostile.GetAsync(new GetRequest { Key = ByteString.CopyFromUtf8($"{run}/later"), TimeoutMs = 10 }, headers);
                    return false;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
                {
                    return true; // admitted to wait (and the key never came)
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    return false;
                }
            }, () => pod.Nodes[0].Log);
        }
    }

    static async Task WaitForAsync(Func<Task<bool>> condition, Func<string> log)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the condition did not come true within 20 s; the coordinator's log:\n" + log()[^Math.Min(log().Length, 4000)..]);
            await Task.Delay(50);
        }
    }
}

/// <summary>How the servers of a job find each other: they may start in any order, and each registers through the store.</summary>
public class MultiHostStartupTests
{
    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task NodesStartInAnyOrderAndExchangeKeysThroughTheCoordinator()
    {
        string coordinator = "127.0.0.1:" + FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Node 1 starts first: it waits for the coordinator before it serves.
        var node1Start = ServerProcess.StartAsync("--num-nodes", "3", "--node-id", "1", "--coordinator", coordinator, "--join-timeout", "60s");
        await Task.Delay(1000);
        Assert.False(node1Start.IsCompleted, "node 1 served before the coordinator existed");
        await using var node0 = await ServerProcess.StartAsync("--num-nodes", "3", "--node-id", "0", "--coordinator", coordinator);
        await using var node1 = await node1Start;
        Assert.Equal("grpc://" + coordinator, node0.KeyValueAddress);

        using var store = new KeyValueClient("grpc://" + coordinator);
        Assert.Equal(node1.Address, Encoding.UTF8.GetString(store.Get("xlagen/nodes/1"u8, TimeSpan.FromSeconds(10))));
        // A get that starts before node 2 exists returns once node 2 (another process) puts its key.
        var waiting = Task.Run(() => Encoding.UTF8.GetString(store.Get("xlagen/nodes/2"u8, TimeSpan.FromSeconds(60))));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await using var node2 = await ServerProcess.StartAsync("--num-nodes", "3", "--node-id", "2", "--coordinator", coordinator);
        Assert.Equal(node2.Address, await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task PjrtClientsOfTwoServersSetUpThroughTheStore()
    {
        // Two servers hosting the PJRT test double (a C stand-in for a plugin, not XLA): each one's PJRT_Client_Create
        // gets node_id/num_nodes and the kv callbacks, publishes its "topology" and blocks until it reads the other's:
        // node 0's callbacks use its store in-process, node 1's reach it over gRPC. Both serve only once both got there.
        string plugin = TestPluginBuild.Require();
        string coordinator = "127.0.0.1:" + FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var node1Start = ServerProcess.StartAsync("--backend", "pjrt:" + plugin, "--num-nodes", "2", "--node-id", "1", "--coordinator", coordinator);
        await using var node0 = await ServerProcess.StartAsync("--backend", "pjrt:" + plugin, "--num-nodes", "2", "--node-id", "0", "--coordinator", coordinator);
        await using var node1 = await node1Start;
        using var store = new KeyValueClient("grpc://" + coordinator);
        Assert.Equal("node 0 of 2", Encoding.UTF8.GetString(store.TryGet("pjrt:test_plugin:topology/0"u8)!));
        Assert.Equal("node 1 of 2", Encoding.UTF8.GetString(store.TryGet("pjrt:test_plugin:topology/1"u8)!));
        await using var device = await Devices.ConnectAsync(node1.Address);
        Assert.Equal("testpjrt", device.Info.Platform);
    }

    [Fact]
    public async Task ANodeWhoseCoordinatorNeverAnswersExitsInsteadOfServingHalfAJob()
    {
        string coordinator = "127.0.0.1:" + FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, stdout, err) = await CommandLineTests.Run(new Dictionary<string, string>(),
            "--listen", "127.0.0.1:0", "--num-nodes", "2", "--node-id", "1", "--coordinator", coordinator, "--join-timeout", "1s");
        Assert.Equal(1, code);
        Assert.Contains("node 1: cannot register in the key-value store at " + coordinator, err);
        Assert.Contains("still unreachable after 1s", err);
        Assert.DoesNotContain("listening on", stdout);
    }

    [Theory]
    [InlineData("--num-nodes 2 --coordinator 127.0.0.1:9000", "--num-nodes 2 needs --node-id")]
    [InlineData("--num-nodes 2 --node-id 2 --coordinator 127.0.0.1:9000", "node ids run from 0 to 1")]
    [InlineData("--num-nodes 2 --node-id 1", "needs --coordinator HOST:PORT")]
    [InlineData("--num-nodes 2 --node-id 1 --coordinator 127.0.0.1:0", "the coordinator's real port")]
    [InlineData("--num-nodes 2 --node-id 1 --coordinator 10.0.0.2:8476 --kv-max-keys 5", "only applies to the coordinator")]
    [InlineData("--num-nodes 2 --node-id 0 --coordinator pod-host-0:8476", "is not an IP address")]
    [InlineData("--listen 127.0.0.1:9100 --num-nodes 2 --node-id 0 --coordinator 127.0.0.1:9100", "needs a port of its own")]
    [InlineData("--coordinator 127.0.0.1:9000", "--coordinator is for multi-host jobs")]
    [InlineData("--node-id 1", "a single server is node 0")]
    [InlineData("--num-nodes 2 --node-id 0 --coordinator 127.0.0.1:0 --kv-max-bytes 1MiB --kv-max-bytes-per-client 2MiB", "is more than --kv-max-bytes")]
    public async Task BadCombinationsAreUsageErrors(string args, string message)
    {
        var (code, _, err) = await CommandLineTests.Run(new Dictionary<string, string>(), args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }
}
