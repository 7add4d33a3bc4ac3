using XlaGen.Backends.Pjrt;
using XlaGen.Hlo;

namespace XlaGen.Tests.Pjrt;

/// <summary>The tests that load the PJRT test double share its process-wide counters, so they run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TestPluginCollection
{
    public const string Name = "pjrt-test-plugin";
}

/// <summary>
/// The binding end to end against TestPlugin/pjrt_test_plugin.c, a test double of the PJRT C API (not XLA: it
/// computes nothing and executes identity programs only). Each test ends with no live native object and no object
/// destroyed twice.
/// </summary>
[Collection(TestPluginCollection.Name)]
public sealed class PjrtTestPluginTests : IDisposable
{
    readonly string path = TestPluginBuild.Require();

    public void Dispose() => TestPluginBuild.SetAsync(path, false);

    PjrtDevice Open(PjrtOptions? options = null) => Devices.Pjrt(path, options);

    void AssertNothingLive()
    {
        foreach (var counter in new[] { "live_buffers", "live_events", "live_errors", "live_executables", "live_loaded_executables", "live_clients", "destroyed_twice" })
        {
            long value = TestPluginBuild.Counter(path, counter);
            for (int i = 0; i < 200 && value != 0 && counter == "live_events"; i++)
            {
                Thread.Sleep(10); // an event is destroyed on the thread pool right after its callback
                value = TestPluginBuild.Counter(path, counter);
            }
            Assert.True(value == 0, $"{counter} = {value} after everything was disposed");
        }
    }

    [Fact]
    public void CreatesAClientAndDescribesIt()
    {
        using (var device = Open())
        {
            var client = device.Client;
            Assert.Equal("testpjrt", client.Platform);
            Assert.Equal("test double 1", client.PlatformVersion);
            Assert.Equal(2, client.Devices.Count);
            Assert.Equal(new[] { 10, 11 }, client.Devices.Select(d => d.Id));
            Assert.Equal(new[] { 0, 1 }, client.Devices.Select(d => d.Index));
            Assert.Same(device, client.Devices[0]);
            Assert.Equal("0.94", client.Plugin.ApiVersion);
            Assert.Equal("2", client.Plugin.Attributes["xla_version"]);
            Assert.Equal("[1,9,0]", client.Plugin.Attributes["stablehlo_current_version"]);
            Assert.Equal("true", client.Plugin.Attributes["test_double"]);

            var info = device.Info;
            Assert.Equal(("testpjrt", "XlaGen PJRT test double", "test double 1", 2, 1L << 30), (info.Platform, info.DeviceKind, info.Version, info.DeviceCount, info.MemoryBytes));

            using var buffer = device.Upload(new Tensor<float>(new long[] { 4 }, new float[] { 1, 2, 3, 4 }));
            var description = device.Describe();
            Assert.Equal(("testpjrt", "test double 1", "0.94"), (description.Platform, description.PlatformVersion, description.ApiVersion));
            Assert.Equal("0.94", description.SupportedApiVersion);
            Assert.Equal(path, description.Attributes["pjrt_plugin"]);
            Assert.Equal(2, description.Devices.Count);
            var d0 = description.Devices[0];
            Assert.Equal((10, "XlaGen PJRT test double", 0, 16L, 1L << 30), (d0.Id, d0.Kind, d0.ProcessIndex, d0.BytesInUse, d0.BytesLimit));
            Assert.Equal(0L, description.Devices[1].BytesInUse);
            Assert.Equal("1", d0.Attributes!["core_count"]);
            Assert.Equal("1,0", description.Devices[1].Attributes!["coords"]);
            var text = description.ToString();
            Assert.Contains("Platform testpjrt test double 1, 2 device(s)", text);
            Assert.Contains("PJRT C API 0.94 (plugin), 0.94 (XlaGen)", text);
            Assert.Contains("device 11: XlaGen PJRT test double, memory 1.0 GiB, 0 B in use (coords=1,0, core_count=1)", text);
            Assert.Equal(10, info.Id);
        }
        AssertNothingLive();
    }

    [Fact]
    public void OpensThroughTheDeviceName()
    {
        using (var device = Devices.Open("pjrt:" + path))
        {
            var pjrt = Assert.IsType<PjrtDevice>(device);
            Assert.Equal("testpjrt", device.Describe().Platform);
            Assert.Equal(0, pjrt.Index);
        }
        AssertNothingLive(); // disposing the device disposed the client it owns
    }

    [Fact]
    public void SendsTypedCreateOptions()
    {
        var options = new PjrtOptions { PlatformName = "cuda", MemoryFraction = 0.5f, Preallocate = false, Allocator = PjrtAllocator.CudaAsync, VisibleDevices = new[] { 0, 1 } };
        using (Open(options))
        {
            Assert.Equal("platform_name=s:cuda;allocator=s:cuda_async;memory_fraction=f:0.5;preallocate=b:0;visible_devices=l:0,1", TestPluginBuild.LastCreateOptions(path));
        }
        AssertNothingLive();
    }

    [Fact]
    public void RejectedCreateOptionGivesThePluginsMessage()
    {
        var e = Assert.Throws<PjrtPluginException>(() => Open(new PjrtOptions { Extra = new Dictionary<string, object> { ["enable_mock_nccl"] = true } }));
        Assert.Contains("Unknown option name 'enable_mock_nccl'", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("create options enable_mock_nccl", e.Message);
        e = Assert.Throws<PjrtPluginException>(() => Open(new PjrtOptions { Extra = new Dictionary<string, object> { ["preallocate"] = "yes" } }));
        Assert.Contains("Option 'preallocate' has type 0, expected 4", e.Message);
        AssertNothingLive();
    }

    public static TheoryData<bool> Modes => new() { false, true };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task RoundTripsEveryElementType(bool asyncEvents)
    {
        TestPluginBuild.SetAsync(path, asyncEvents);
        var tensors = new Tensor[]
        {
            new Tensor<bool>(new long[] { 3 }, new[] { true, false, true }),
            new Tensor<sbyte>(new long[] { 2 }, new sbyte[] { -128, 127 }),
            new Tensor<short>(new long[] { 2 }, new short[] { -30000, 12345 }),
            new Tensor<int>(new long[] { 2, 2 }, new[] { 1, -2, int.MaxValue, int.MinValue }),
            new Tensor<long>(new long[] { 1 }, new[] { long.MinValue }),
            new Tensor<byte>(new long[] { 3 }, new byte[] { 0, 128, 255 }),
            new Tensor<ushort>(new long[] { 1 }, new ushort[] { 65535 }),
            new Tensor<uint>(new long[] { 2 }, new uint[] { 0, uint.MaxValue }),
            new Tensor<ulong>(new long[] { 1 }, new[] { ulong.MaxValue }),
            new Tensor<Half>(new long[] { 2 }, new[] { (Half)1.5, (Half)(-0.25) }),
            new Tensor<float>(new long[] { 2, 3 }, new[] { 1f, -2.5f, 3e-8f, float.MaxValue, 0f, -0f }),
            new Tensor<double>(new long[] { 2 }, new[] { Math.PI, -1e300 }),
            Tensor<float>.Scalar(42f),
            new Tensor<float>(new long[] { 0, 3 }, Array.Empty<float>()),
        };
        using (var device = Open())
        {
            foreach (var t in tensors)
            {
                using var buffer = (PjrtBuffer)device.Upload(t);
                Assert.True(buffer.HostReleased.IsCompleted, "Upload returns once the plugin is done with the host array");
                Assert.Equal(t.HloShape, buffer.Shape);
                await buffer.Ready;
                var back = device.Download(buffer);
                Assert.Equal(t.ElementType, back.ElementType);
                Assert.Equal(t.Shape, back.Shape);
                Assert.Equal(t.Data, back.Data);
                var again = await device.DownloadAsync(buffer);
                Assert.Equal(t.Data, again.Data);
            }
        }
        AssertNothingLive();
    }

    [Fact]
    public async Task StartUploadReturnsBeforeTheHostArrayIsReleased()
    {
        TestPluginBuild.SetAsync(path, true); // the test double copies on a thread 2 ms later
        using (var device = Open())
        {
            var data = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
            using var buffer = device.StartUpload(new Tensor<float>(new long[] { 1000 }, data));
            await buffer.HostReleased; // (not asserted incomplete before: a 2 ms thread race)
            await buffer.Ready;
            data[0] = -1; // released: changing the array no longer changes the buffer
            Assert.Equal(0f, ((Tensor<float>)device.Download(buffer)).Data[0]);
        }
        AssertNothingLive();
    }

    static HloModule Identity(bool aliasFirst)
    {
        var b = new HloBuilder("identity");
        var a = b.Parameter(ElementType.F32, new Dim[] { 3 }, "a");
        var c = b.Parameter(ElementType.S32, new Dim[] { 2 }, "c");
        var m = b.BuildModule(b.Tuple(c, a)); // outputs: (c, a)
        if (aliasFirst) m.InputOutputAliases.Add(new InputOutputAlias(new long[] { 1 }, 0, Array.Empty<long>()));
        return m;
    }

    [Fact]
    public void CompilesWithFormatHloAndOurCompileOptions()
    {
        using (var device = Open())
        using (var exe = device.CompileHlo(Identity(aliasFirst: true)))
        {
            Assert.Equal("hlo", TestPluginBuild.LastFormat(path));
            Assert.Equal(PjrtCompileOptions.Build(portable: false), TestPluginBuild.LastCompileOptions(path));
            // the test double's compiled stats: 12 + 8 argument bytes, 20 output bytes, 12 aliased
            Assert.Equal(28, exe.PeakMemoryBytes);
            Assert.Equal("PJRT_Executable_GetCompiledMemoryStats peak_memory_in_bytes", ((PjrtExecutable)exe).PeakMemorySource);
            using var exe1 = device.Client.Devices[1].CompileHlo(Identity(aliasFirst: false));
            Assert.Equal(PjrtCompileOptions.Build(portable: true), TestPluginBuild.LastCompileOptions(path));
        }
        AssertNothingLive();
    }

    /// <summary>Issue 11, item 6: N replicas on a PJRT client. The test double assigns replicas to its devices in
    /// reverse order (replica 0 on device id 11), so the compile options, the argument lists and the results must all
    /// follow the plugin's assignment, not the device order.</summary>
    [Fact]
    public void ReplicasFollowThePluginsDeviceAssignmentFromCompileToResults()
    {
        using (var device = Open())
        {
            var client = device.Client;
            Assert.Equal(new[] { 10 }, client.DefaultDeviceAssignment(1));
            Assert.Equal(new[] { 11, 10 }, client.DefaultDeviceAssignment(2));
            Assert.Throws<ArgumentOutOfRangeException>(() => client.DefaultDeviceAssignment(3));
            using var replicated = client.Replicated(2);
            Assert.Equal(new[] { 11, 10 }, replicated.Devices.Select(d => ((PjrtDevice)d).Id));
            using (var exe = replicated.CompileHlo(Identity(aliasFirst: true)))
            {
                var options = Xla.CompileOptionsProto.Parser.ParseFrom(TestPluginBuild.LastCompileOptions(path));
                Assert.Equal(PjrtCompileOptions.BuildReplicated(new[] { 11, 10 }), TestPluginBuild.LastCompileOptions(path));
                var build = options.ExecutableBuildOptions;
                Assert.Equal((2L, 1L, -1L, false), (build.NumReplicas, build.NumPartitions, build.DeviceOrdinal, options.CompilePortableExecutable));
                Assert.Equal((2, 1), (build.DeviceAssignment.ReplicaCount, build.DeviceAssignment.ComputationCount));
                Assert.Equal(new long[] { 11, 10 }, build.DeviceAssignment.ComputationDevices.Single().ReplicaDeviceIds);

                var a = replicated.UploadShards(new Tensor[] { new Tensor<float>(new long[] { 3 }, new[] { 1f, 2f, 3f }), new Tensor<float>(new long[] { 3 }, new[] { 4f, 5f, 6f }) });
                var c = (ReplicatedBuffer)replicated.Upload(new Tensor<int>(new long[] { 2 }, new[] { 7, 8 }));
                Assert.Equal(11, ((PjrtDevice)a.Replica(0).Device).Id);
                var results = exe.Execute(new DeviceBuffer[] { a, c }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
                Assert.Equal(2, TestPluginBuild.Counter(path, "num_devices"));
                Assert.Equal((11L, 10L), (TestPluginBuild.Counter(path, "list_device_0"), TestPluginBuild.Counter(path, "list_device_1")));
                Assert.Equal(new long[] { 1 }, TestPluginBuild.LastNonDonatable(path));
                Assert.True(a.IsDeleted);
                Assert.False(c.IsDeleted);
                var r = results.Cast<ReplicatedBuffer>().ToArray();
                for (int replica = 0; replica < 2; replica++)
                {
                    var on = (PjrtDevice)replicated.Devices[replica];
                    Assert.Same(on, r[0].Replica(replica).Device);
                    Assert.Equal(new[] { 7, 8 }, on.Download(r[0].Replica(replica)).Data);
                    Assert.Equal(replica == 0 ? new[] { 1f, 2f, 3f } : new[] { 4f, 5f, 6f }, on.Download(r[1].Replica(replica)).Data);
                }
                Assert.Equal(new[] { 1f, 2f, 3f }, replicated.Download(r[1]).Data);   // a download reads replica 0

                // a replica's argument on another replica's device is refused before the plugin runs anything
                var wrong = replicated.UploadShards(new Tensor[] { new Tensor<float>(new long[] { 3 }, new float[3]), new Tensor<float>(new long[] { 3 }, new float[3]) });
                var e = Assert.Throws<XlaExecutionException>(() => ((ReplicatedExecutable)exe).Inner
                    .ExecuteReplicas(new[] { new[] { wrong.Replica(1), c.Replica(0) }, new[] { wrong.Replica(0), c.Replica(1) } }));
                Assert.Contains("replica 0 of 2", e.Message);
                foreach (var b in results.Append(c).Append(wrong)) b.Dispose();
                a.Dispose();
            }
        }
        AssertNothingLive();
    }

    [Fact]
    public void ExecutesWithDonation()
    {
        using (var device = Open())
        using (var exe = device.CompileHlo(Identity(aliasFirst: true)))
        {
            var a = device.Upload(new Tensor<float>(new long[] { 3 }, new[] { 1f, 2f, 3f }));
            var c = device.Upload(new Tensor<int>(new long[] { 2 }, new[] { 7, 8 }));

            var kept = exe.Execute(new[] { a, c });
            Assert.Equal(new long[] { 0, 1 }, TestPluginBuild.LastNonDonatable(path));
            Assert.False(a.IsDeleted);
            Assert.Equal(new[] { 7, 8 }, device.Download(kept[0]).Data);
            Assert.Equal(new[] { 1f, 2f, 3f }, device.Download(kept[1]).Data);

            var donated = exe.Execute(new[] { a, c }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
            Assert.Equal(new long[] { 1 }, TestPluginBuild.LastNonDonatable(path));
            Assert.True(a.IsDeleted);
            Assert.False(c.IsDeleted);
            Assert.Equal(new[] { 1f, 2f, 3f }, device.Download(donated[1]).Data);
            Assert.Equal(new[] { 7, 8 }, device.Download(c).Data);
            Assert.Throws<ObjectDisposedException>(() => device.Download(a));
            Assert.Throws<ObjectDisposedException>(() => exe.Execute(new[] { a, c }));
            a.Dispose(); // disposing a donated buffer again destroys nothing twice

            var wrong = device.Upload(Tensor<float>.Scalar(1));
            var e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { wrong, c }));
            Assert.Contains("argument 0 (a)", e.Message);
            Assert.Contains("expected f32[3], got f32[]", e.Message);

            foreach (var buffer in kept.Concat(donated).Append(c).Append(wrong)) buffer.Dispose();
        }
        AssertNothingLive();
    }

    [Fact]
    public void PluginErrorsSurfaceWithCodeFunctionAndMessage()
    {
        using (var device = Open())
        {
            TestPluginBuild.FailNext(path, "PJRT_Client_Compile", 8, "out of test memory");
            var e = Assert.Throws<XlaCompileException>(() => device.CompileHlo(Identity(aliasFirst: false)));
            var inner = Assert.IsType<PjrtException>(e.InnerException);
            Assert.Equal((PjrtErrorCode.ResourceExhausted, "PJRT_Client_Compile", "out of test memory"), (inner.Code, inner.Function, inner.PluginMessage));
            Assert.Contains("PJRT_Client_Compile failed: RESOURCE_EXHAUSTED: out of test memory (module 'identity')", e.Message);

            var add = new HloBuilder("add");
            var x = add.Parameter(ElementType.F32, new Dim[] { 2 }, "x");
            var notIdentity = Assert.Throws<XlaCompileException>(() => device.CompileHlo(add.BuildModule(add.Add(x, x))));
            Assert.Equal(PjrtErrorCode.Unimplemented, ((PjrtException)notIdentity.InnerException!).Code);
            Assert.Contains("identity programs only", notIdentity.Message);

            using var exe = device.CompileHlo(Identity(aliasFirst: false));
            using var a = device.Upload(new Tensor<float>(new long[] { 3 }, new[] { 1f, 2f, 3f }));
            using var c = device.Upload(new Tensor<int>(new long[] { 2 }, new[] { 7, 8 }));
            TestPluginBuild.FailNext(path, "PJRT_LoadedExecutable_Execute", 13, "device lost");
            var run = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { a, c }));
            Assert.Equal(PjrtErrorCode.Internal, ((PjrtException)run.InnerException!).Code);
            Assert.Contains("device lost", run.Message);

            TestPluginBuild.FailNext(path, "PJRT_Buffer_ToHostBuffer", 14, "link down");
            var download = Assert.Throws<PjrtException>(() => device.Download(a));
            Assert.Equal((PjrtErrorCode.Unavailable, "PJRT_Buffer_ToHostBuffer"), (download.Code, download.Function));
            Assert.Equal(new[] { 1f, 2f, 3f }, device.Download(a).Data); // the next call works
            Assert.Equal(0, TestPluginBuild.Counter(path, "live_errors"));
        }
        AssertNothingLive();
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task EventErrorsSurfaceAndAreDestroyed(bool asyncEvents)
    {
        TestPluginBuild.SetAsync(path, asyncEvents);
        using (var device = Open())
        {
            using var buffer = device.Upload(new Tensor<int>(new long[] { 2 }, new[] { 5, 6 }));
            TestPluginBuild.FailNext(path, "PJRT_Buffer_ToHostBuffer_event", 10, "transfer aborted");
            var e = Assert.Throws<PjrtException>(() => device.Download(buffer)); // PJRT_Event_Await's error
            Assert.Equal((PjrtErrorCode.Aborted, "PJRT_Buffer_ToHostBuffer", "transfer aborted"), (e.Code, e.Function, e.PluginMessage));
            TestPluginBuild.FailNext(path, "PJRT_Buffer_ToHostBuffer_event", 15, "bits lost");
            var late = await Assert.ThrowsAsync<PjrtException>(() => device.DownloadAsync(buffer)); // the OnReady callback's error
            Assert.Equal((PjrtErrorCode.DataLoss, "bits lost"), (late.Code, late.PluginMessage));
            TestPluginBuild.FailNext(path, "PJRT_Event_OnReady", 13, "no callbacks today");
            var ready = await Assert.ThrowsAsync<PjrtException>(() => buffer.Ready); // registering the callback failed
            Assert.Equal(("PJRT_Event_OnReady", "no callbacks today"), (ready.Function, ready.PluginMessage));
            Assert.Equal(new[] { 5, 6 }, device.Download(buffer).Data);
        }
        AssertNothingLive();
    }

    [Fact]
    public void BuffersOfAnotherDeviceAreRefused()
    {
        using (var device = Open())
        {
            var other = device.Client.Devices[1];
            using var b = other.Upload(Tensor<float>.Scalar(1));
            Assert.Contains("not to PJRT device 0", Assert.Throws<ArgumentException>(() => device.Download(b)).Message);
            Assert.Equal(1f, ((Tensor<float>)other.Download(b)).Data[0]);
            // device 1 runs a portable executable placed with execute_device
            using var exe = other.CompileHlo(Identity(aliasFirst: false));
            using var a = other.Upload(new Tensor<float>(new long[] { 3 }, new[] { 4f, 5f, 6f }));
            using var c = other.Upload(new Tensor<int>(new long[] { 2 }, new[] { 1, 2 }));
            var outputs = exe.Execute(new[] { a, c });
            Assert.Equal(new[] { 4f, 5f, 6f }, other.Download(outputs[1]).Data);
            using var onDevice0 = device.Upload(Tensor<float>.Scalar(0));
            Assert.Contains("not to PJRT device 1", Assert.Throws<ArgumentException>(() => other.Download(onDevice0)).Message);
            foreach (var o in outputs) o.Dispose();
        }
        AssertNothingLive();
    }

    [Fact]
    public void ClientOutlivesItsBuffersAndExecutables()
    {
        // Disposing the device (and so the client) first: the client is destroyed only after its last buffer.
        var device = Open();
        var buffer = device.Upload(Tensor<float>.Scalar(3));
        var exe = device.CompileHlo(Identity(aliasFirst: false));
        device.Dispose();
        Assert.Equal(1, TestPluginBuild.Counter(path, "live_clients"));
        Assert.Equal(3f, ((Tensor<float>)device.Download(buffer)).Data[0]);
        buffer.Dispose();
        exe.Dispose();
        AssertNothingLive();
    }

    /// <summary>An in-memory key-value store with a blocking get, shared by the "processes" of one test.</summary>
    sealed class SharedStore : XlaGen.Distributed.IKeyValueStore
    {
        readonly Dictionary<string, byte[]> values = new(StringComparer.Ordinal);
        public int Puts;

        public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout)
        {
            string k = System.Text.Encoding.Latin1.GetString(key);
            var until = DateTime.UtcNow + (timeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromMinutes(1) : timeout);
            lock (values)
            {
                while (!values.ContainsKey(k))
                {
                    var left = until - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new XlaGen.Distributed.KeyValueStoreException(PjrtErrorCode.DeadlineExceeded, $"key {k} did not appear");
                    Monitor.Wait(values, left);
                }
                return values[k];
            }
        }

        public byte[]? TryGet(ReadOnlySpan<byte> key)
        {
            lock (values) return values.GetValueOrDefault(System.Text.Encoding.Latin1.GetString(key));
        }

        public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            lock (values)
            {
                values[System.Text.Encoding.Latin1.GetString(key)] = value.ToArray();
                Puts++;
                Monitor.PulseAll(values);
            }
        }
    }

    [Fact]
    public async Task MultiNodeClientsExchangeTheirTopologyThroughTheKeyValueCallbacks()
    {
        // Two "processes" (threads here) create their clients at once, as the hosts of a pod do: the test double's
        // Client_Create publishes its node's topology with kv_put, then blocks in kv_get until every node's is there,
        // copies each value and frees it with our deleter, and checks that kv_try_get of a missing key is NOT_FOUND.
        var store = new SharedStore();
        var clients = Enumerable.Range(0, 2).Select(node => Task.Run(() => PjrtClient.Create(PjrtPlugin.Load(path),
            new PjrtOptions { NodeId = node, NumNodes = 2, KeyValueStore = store }))).ToArray();
        var created = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("node 0 of 2|node 1 of 2", TestPluginBuild.LastTopology(path));
        Assert.Contains("node_id=i:", TestPluginBuild.LastCreateOptions(path));
        Assert.Contains("num_nodes=i:2", TestPluginBuild.LastCreateOptions(path));
        Assert.Equal(2, store.Puts);
        Assert.True(store.TryGet("test_plugin:topology/1"u8) is { } v && v.AsSpan().SequenceEqual("node 1 of 2"u8));
        foreach (var c in created) c.Dispose();
        AssertNothingLive();
    }

    [Fact]
    public void AStoreErrorDuringClientCreateReachesTheCallerWithItsCode()
    {
        // Only node 0 of 2 starts: its kv_get of node 1's topology times out inside the store, the callback turns that
        // into the plugin's PJRT_Error (DEADLINE_EXCEEDED), and PJRT_Client_Create fails with it.
        var store = new ShortStore();
        var e = Assert.Throws<PjrtPluginException>(() => PjrtClient.Create(PjrtPlugin.Load(path), new PjrtOptions { NodeId = 0, NumNodes = 2, KeyValueStore = store }));
        Assert.Contains("test_plugin:topology/1 did not appear", e.Message);
        Assert.Contains("DEADLINE_EXCEEDED", e.Message);
        Assert.Contains("and the key-value store callbacks", e.Message);
        AssertNothingLive();
    }

    [Fact]
    public void MultiNodeWithoutTheCallbacksIsThePluginsError()
    {
        var e = Assert.Throws<PjrtPluginException>(() => Open(new PjrtOptions { Extra = new Dictionary<string, object> { ["node_id"] = 0L, ["num_nodes"] = 2L } }));
        Assert.Contains("needs all three key-value callbacks", e.Message);
        AssertNothingLive();
    }

    /// <summary>A store whose gets give up after 200 ms.</summary>
    sealed class ShortStore : XlaGen.Distributed.IKeyValueStore
    {
        readonly SharedStore inner = new();

        public byte[] Get(ReadOnlySpan<byte> key, TimeSpan timeout) => inner.Get(key, TimeSpan.FromMilliseconds(200));

        public byte[]? TryGet(ReadOnlySpan<byte> key) => inner.TryGet(key);

        public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => inner.Put(key, value);
    }
}
