using System.Diagnostics;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>N replicas on the CPU executor's virtual devices: all-reduce against naive loops (bitwise, with the
/// reduction order the executor documents), replica groups in both text forms, replica-id, failure, divergence and
/// cancellation without deadlock. Test timeouts are the tests' own (<see cref="Bounded"/>), not the product's.</summary>
public class ReplicaTests
{
    static Tensor<float> F(float[] data, params long[] dims) => Tensor<float>.FromArray(data, dims);

    static float[] Random(int seed, int n)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(10, rng.Next(-3, 4))).ToArray();
    }

    /// <summary>Runs <paramref name="action"/> on its own thread and fails the test if it has not ended in <paramref name="seconds"/>
    /// (a deadlock must fail the test, not hang the suite).</summary>
    static T Bounded<T>(Func<T> action, int seconds = 30)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try { result = action(); }
            catch (Exception e) { error = e; }
        }) { IsBackground = true };
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(seconds)), $"did not finish within {seconds} s (a deadlock?)");
        if (error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        return result;
    }

    static Tensor[][] RunShards(ReplicatedDevice device, HloModule module, params Tensor[][] perReplicaArgs)
    {
        using var exe = device.CompileHlo(module);
        var args = Enumerable.Range(0, perReplicaArgs[0].Length).Select(i => (DeviceBuffer)device.UploadShards(perReplicaArgs.Select(a => a[i]).ToArray())).ToList();
        try
        {
            var outputs = Bounded(() => exe.Execute(args));
            var r = Enumerable.Range(0, device.Replicas).Select(k => outputs.Select(o => device.DownloadReplicas(o)[k]).ToArray()).ToArray();
            foreach (var o in outputs) o.Dispose();
            return r;
        }
        finally
        {
            foreach (var a in args) a.Dispose();
        }
    }

    /// <summary>all-gather along dimension 1 of a [3, 5] operand on each replica: every replica of a group gets the
    /// members' operands side by side in group order ([3, 5·g]), checked against a naive loop; in groups {{1,0},{3,2}}
    /// the listed order (not the ids') decides. The second operand is gathered in the same call (the variadic form).</summary>
    [Theory]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(4, true)]
    public void AllGatherConcatenatesTheGroupsOperandsInGroupOrder(int n, bool pairs)
    {
        var groups = pairs ? new[] { new long[] { 1, 0 }, new long[] { 3, 2 } } : new[] { Enumerable.Range(0, n).Select(i => (long)i).ToArray() };
        var b = new HloBuilder("gather");
        var x = b.Parameter(Shape.Array(ElementType.F32, 3, 5), "x");
        var y = b.Parameter(Shape.Array(ElementType.S32, 1, 2), "y");
        var module = b.BuildModule(b.AllGather(new[] { x, y }, 1, groups));
        var xs = Enumerable.Range(0, n).Select(r => Random(100 + r, 15)).ToArray();
        using var device = Devices.Cpu(replicas: n);
        var results = RunShards(device, module, Enumerable.Range(0, n).Select(r => new Tensor[] { F(xs[r], 3, 5), Tensor<int>.FromArray(new[] { r, -r }, 1, 2) }).ToArray());
        for (int r = 0; r < n; r++)
        {
            var group = groups.Single(g => g.Contains(r));
            int g = group.Length;
            var expected = new float[3 * 5 * g];
            for (int row = 0; row < 3; row++)
                for (int m = 0; m < g; m++)
                    for (int col = 0; col < 5; col++) expected[row * 5 * g + m * 5 + col] = xs[group[m]][row * 5 + col];
            Assert.Equal(new long[] { 3, 5 * g }, results[r][0].Shape);
            Assert.Equal(expected, ((Tensor<float>)results[r][0]).Data);
            Assert.Equal(group.SelectMany(id => new[] { (int)id, -(int)id }).ToArray(), ((Tensor<int>)results[r][1]).Data);
        }
    }

    static string ReduceScatterOverAll(long rows, long resultRows) => string.Join("\n",
        "HloModule rs_all",
        "add { a = f32[] parameter(0)",
        "  b = f32[] parameter(1)",
        "  ROOT s = f32[] add(a, b) }",
        $"ENTRY main {{ x = f32[{rows},3] parameter(0)",
        $"  ROOT r = f32[{resultRows},3] reduce-scatter(x), replica_groups={{}}, dimensions={{0}}, to_apply=add }}");

    /// <summary>reduce-scatter (sum) of a [4·n, 3] operand along dimension 0: replica p of the group gets block p of the
    /// group's sum, bitwise the same block of all-reduce's sum (the same fold order) and the naive sum in replica order.
    /// With replica_groups={} the result is stated in the text and checked against the replica count at compile time.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ReduceScatterKeepsEachReplicasBlockOfTheAllReduceBitwise(int n)
    {
        int rows = 4 * n;
        var b = new HloBuilder("scatter");
        var x = b.Parameter(Shape.Array(ElementType.F32, rows, 3), "x");
        var all = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var module = b.BuildModule(b.Tuple(b.ReduceScatter(new[] { x }, 0, new[] { all }), b.AllReduce(new[] { x })));
        var xs = Enumerable.Range(0, n).Select(r => Random(200 + r, rows * 3)).ToArray();
        using var device = Devices.Cpu(replicas: n);
        var args = Enumerable.Range(0, n).Select(r => new Tensor[] { F(xs[r], rows, 3) }).ToArray();
        var results = RunShards(device, module, args);
        for (int r = 0; r < n; r++)
        {
            var block = ((Tensor<float>)results[r][0]).Data;
            var sum = ((Tensor<float>)results[r][1]).Data;
            Assert.Equal(new long[] { 4, 3 }, results[r][0].Shape);
            Assert.Equal(sum.AsSpan(r * 12, 12).ToArray(), block);
            for (int i = 0; i < 12; i++)
            {
                float naive = xs[0][r * 12 + i];
                for (int m = 1; m < n; m++) naive += xs[m][r * 12 + i];
                Assert.Equal(naive, block[i]);
            }
        }
        var stated = RunShards(device, HloTextParser.Parse(ReduceScatterOverAll(rows, 4)), args);
        for (int r = 0; r < n; r++) Assert.Equal(((Tensor<float>)results[r][0]).Data, ((Tensor<float>)stated[r][0]).Data);
        var e = Assert.Throws<XlaCompileException>(() => device.CompileHlo(HloTextParser.Parse(ReduceScatterOverAll(rows, rows))));
        Assert.Contains($"with replica_groups={{}} over {n} replica(s), dimension 0 of operand 0 ({rows}) makes 4, but the result states {rows}", e.Message);
    }

    /// <summary>The gradient rules across replicas. With y = all-gather(x) along 0 and the per-replica loss
    /// sum(y ⊙ w), dL/dx on replica r is Σ_m w_m[block r]: the transpose is a reduce-scatter (sum) of the cotangent.
    /// With z = reduce-scatter(x) and loss sum(z ⊙ v), dL/dx on every replica is all-gather(v): the transpose is an
    /// all-gather. Checked against those closed forms on 2 and 4 replicas.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void AllGatherAndReduceScatterGradientsAreEachOthersTransposeAcrossReplicas(int n)
    {
        var all = new[] { Enumerable.Range(0, n).Select(i => (long)i).ToArray() };
        var b = new HloBuilder("grads");
        var x = b.Parameter(Shape.Array(ElementType.F32, 2 * n, 3), "x");
        var w = b.Parameter(Shape.Array(ElementType.F32, 2 * n * n, 3), "w");
        var v = b.Parameter(Shape.Array(ElementType.F32, 2, 3), "v");
        var gathered = b.AllGather(new[] { x }, 0, all);
        var scattered = b.ReduceScatter(new[] { x }, 0, all);
        var loss = b.Add(b.ReduceSum(b.Multiply(gathered, w), 0, 1), b.ReduceSum(b.Multiply(scattered, v), 0, 1));
        var dx = XlaGen.Autodiff.ReverseMode.Gradients(b, loss, new[] { x })[0];
        var module = b.BuildModule(dx);
        var xs = Enumerable.Range(0, n).Select(r => Random(300 + r, 2 * n * 3)).ToArray();
        var ws = Enumerable.Range(0, n).Select(r => Random(400 + r, 2 * n * n * 3)).ToArray();
        var vs = Enumerable.Range(0, n).Select(r => Random(500 + r, 6)).ToArray();
        using var device = Devices.Cpu(replicas: n);
        var results = RunShards(device, module, Enumerable.Range(0, n).Select(r => new Tensor[] { F(xs[r], 2 * n, 3), F(ws[r], 2 * n * n, 3), F(vs[r], 2, 3) }).ToArray());
        int block = 2 * n * 3;
        for (int r = 0; r < n; r++)
        {
            var got = ((Tensor<float>)results[r][0]).Data;
            for (int i = 0; i < block; i++)
            {
                double fromGather = 0;
                for (int m = 0; m < n; m++) fromGather += ws[m][r * block + i];
                double fromScatter = vs[i / 6][i % 6];
                Assert.Equal(fromGather + fromScatter, got[i], 1e-4 * (1 + Math.Abs(fromGather + fromScatter)));
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void AllReduceSumIsTheNaiveSumInReplicaOrderOnEveryReplica(int n)
    {
        const int size = 1037;   // not a multiple of the replica count: uneven chunks
        var b = new HloBuilder("sum");
        var x = b.Parameter(Shape.Array(ElementType.F32, size), "x");
        var module = b.BuildModule(b.Tuple(b.AllReduce(new[] { x }), b.ReplicaId()));
        var inputs = Enumerable.Range(0, n).Select(r => Random(100 + r, size)).ToArray();
        var want = new float[size];
        for (int i = 0; i < size; i++)
        {
            float acc = inputs[0][i];
            for (int r = 1; r < n; r++) acc += inputs[r][i];
            want[i] = acc;
        }
        using var device = Devices.Cpu(replicas: n);
        for (int repeat = 0; repeat < 5; repeat++)
        {
            var got = RunShards(device, module, inputs.Select(v => new Tensor[] { F(v, size) }).ToArray());
            for (int r = 0; r < n; r++)
            {
                Assert.Equal(want.Select(BitConverter.SingleToInt32Bits), ((Tensor<float>)got[r][0]).Data.Select(BitConverter.SingleToInt32Bits));
                Assert.Equal((uint)r, ((Tensor<uint>)got[r][1]).Data[0]);
            }
        }
    }

    [Fact]
    public void GroupsReduceSeparatelyInTheirListedOrderAndTheIotaFormMeansTheSame()
    {
        const string explicitGroups = @"
HloModule grouped
%max (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %m = f32[] maximum(%a, %b)
}
%add (a: s32[], b: s32[]) -> s32[] {
  %a = s32[] parameter(0)
  %b = s32[] parameter(1)
  ROOT %s = s32[] add(%a, %b)
}
ENTRY %e (x: f32[5], i: s32[3]) -> (f32[5], s32[3]) {
  %x = f32[5]{0} parameter(0)
  %i = s32[3]{0} parameter(1)
  %m = f32[5]{0} all-reduce(%x), channel_id=1, replica_groups={{0,2},{1,3}}, to_apply=%max
  %s = s32[3]{0} all-reduce(%i), replica_groups=GROUPS, to_apply=%add
  ROOT %t = (f32[5]{0}, s32[3]{0}) tuple(%m, %s)
}";
        var a = HloTextParser.Parse(explicitGroups.Replace("GROUPS", "{{0,2},{1,3}}"));
        var iota = HloTextParser.Parse(explicitGroups.Replace("GROUPS", "[2,2]<=[2,2]T(1,0)"));
        Assert.Equal(HloPrinter.Print(a), HloPrinter.Print(iota));
        Assert.Contains("replica_groups={{0,2},{1,3}}", HloPrinter.Print(iota));
        const int n = 4;
        var xs = Enumerable.Range(0, n).Select(r => Random(7 * r + 1, 5)).ToArray();
        xs[3][2] = float.NaN;
        var ints = Enumerable.Range(0, n).Select(r => new[] { r, 10 * r, -r * r }).ToArray();
        using var device = Devices.Cpu(replicas: n);
        var got = RunShards(device, iota, Enumerable.Range(0, n).Select(r => new Tensor[] { F(xs[r], 5), Tensor<int>.FromArray(ints[r], 3) }).ToArray());
        for (int r = 0; r < n; r++)
        {
            int other = r ^ 2;   // groups {0,2} and {1,3}
            var wantMax = xs[r].Zip(xs[other], (u, v) => float.IsNaN(u) || float.IsNaN(v) ? float.NaN : Math.Max(u, v)).ToArray();
            Assert.Equal(wantMax, ((Tensor<float>)got[r][0]).Data);
            Assert.Equal(ints[Math.Min(r, other)].Zip(ints[Math.Max(r, other)], (u, v) => u + v), ((Tensor<int>)got[r][1]).Data);
        }
    }

    [Fact]
    public void AnyReducerRunsInReplicaOrder()
    {
        // f(acc, x) = acc * 0.5 + x: not commutative, so the order shows.
        var b = new HloBuilder("custom");
        var x = b.Parameter(Shape.Array(ElementType.F64, 4), "x");
        var sub = b.CreateSubBuilder("halve_add");
        var p0 = sub.Parameter(Shape.Scalar(ElementType.F64), "acc");
        var p1 = sub.Parameter(Shape.Scalar(ElementType.F64), "v");
        var reducer = sub.Build(sub.Add(sub.Multiply(p0, sub.Constant(ElementType.F64, 0.5)), p1));
        var module = b.BuildModule(b.AddInstruction("all-reduce", new[] { x }, new HloAttributes(), called: new[] { reducer }));
        const int n = 3;
        var xs = Enumerable.Range(0, n).Select(r => new double[] { r + 1, -r, 0.25 * r, 1e10 * r }).ToArray();
        using var device = Devices.Cpu(replicas: n);
        var got = RunShards(device, module, xs.Select(v => new Tensor[] { Tensor<double>.FromArray(v, 4) }).ToArray());
        var want = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double acc = xs[0][i];
            for (int r = 1; r < n; r++) acc = acc * 0.5 + xs[r][i];
            want[i] = acc;
        }
        for (int r = 0; r < n; r++) Assert.Equal(want, ((Tensor<double>)got[r][0]).Data);
    }

    [Fact]
    public void OneReplicaIsTheIdentityAndBadGroupsAreRefusedAtCompileTime()
    {
        var b = new HloBuilder("one");
        var x = b.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var module = b.BuildModule(b.AllReduce(new[] { x }));
        using (var one = Devices.Cpu(replicas: 1))
        {
            var got = RunShards(one, module, new[] { new Tensor[] { F(new[] { 1f, 2, 3 }, 3) } });
            Assert.Equal(new[] { 1f, 2, 3 }, ((Tensor<float>)got[0][0]).Data);
        }
        var gb = new HloBuilder("grouped");
        var gx = gb.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var grouped = gb.BuildModule(gb.AllReduce(new[] { gx }, "add", new[] { new long[] { 0, 1 }, new long[] { 2, 3 } }));
        using var two = Devices.Cpu(replicas: 2);
        var e = Assert.Throws<XlaCompileException>(() => two.CompileHlo(grouped));
        Assert.Contains("replica_groups name replica 2, but the program runs on 2 replica(s)", e.Message);
        using var four = Devices.Cpu(replicas: 4);
        var partial = new HloBuilder("partial");
        var px = partial.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var m = partial.BuildModule(partial.AllReduce(new[] { px }, "add", new[] { new long[] { 0, 1 } }));
        Assert.Contains("cover 2 of the 4 replicas", Assert.Throws<XlaCompileException>(() => four.CompileHlo(m)).Message);
        var global = new HloBuilder("global");
        var gx2 = global.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var flattened = global.BuildModule(global.AddInstruction("all-reduce", new[] { gx2 },
            new HloAttributes { ReplicaGroups = new[] { new long[] { 0, 1 } }, ChannelId = 1, UseGlobalDeviceIds = true }, called: new[] { global.ScalarComputation("add", ElementType.F32) }));
        Assert.Contains("use_global_device_ids names replica·partition ids", Assert.Throws<XlaCompileException>(() => two.CompileHlo(flattened)).Message);
    }

    static Tensor[][] LoopArgs(params int[] limits) =>
        limits.Select(l => new Tensor[] { Tensor<int>.Scalar(l), F(new[] { 1f, 2 }, 2) }).ToArray();

    [Fact]
    public void ReplicasThatRunDifferentCollectivesFailTheStepWithTheirErrorAndDoNotDeadlock()
    {
        using var device = Devices.Cpu(replicas: 3);
        // Replica 2 loops once more than the others: it waits at an all-reduce the others never reach (they finish) …
        // (Repeated: whether the others finish before or after replica 2 arrives depends on timing.)
        var finished = ReplicaPrograms.LoopWithAllReduce(reduceInBody: true, reduceAfter: false);
        XlaExecutionException e = null!;
        for (int repeat = 0; repeat < 20; repeat++)
        {
            e = Assert.Throws<XlaExecutionException>(() => RunShards(device, finished, LoopArgs(2, 2, 3)));
            Assert.Contains("replica 2 of 3 failed running 'loop'", e.Message);
            Assert.Contains("replica 2 waits at %all-reduce", e.Message);
            Assert.Matches("[12] replica\\(s\\) finished the program without reaching it", e.Message);   // 1 or 2: whoever finished first wakes it
        }
        // … or meets them at a different all-reduce (theirs after the loop).
        var after = ReplicaPrograms.LoopWithAllReduce(reduceInBody: true, reduceAfter: true);
        e = Assert.Throws<XlaExecutionException>(() => RunShards(device, after, LoopArgs(2, 2, 3)));
        Assert.Contains("the replicas ran different collectives", e.Message);
        Assert.Matches("replica \\d reached %all-reduce[.0-9]* \\(all-reduce\\) in %[a-z]+ while replica \\d reached %all-reduce", e.Message);
        // The same device runs well-formed steps afterwards: (1,2) summed over 3 replicas twice in the loop, once after.
        var ok = RunShards(device, after, LoopArgs(2, 2, 2));
        for (int r = 0; r < 3; r++) Assert.Equal(new[] { 27f, 54f }, ((Tensor<float>)ok[r][0]).Data);
    }

    [Fact]
    public void AFailingReplicaReleasesTheOthersWaitingAtACollective()
    {
        // Replica 1 passes an argument of the wrong shape: the step fails before any replica starts, naming it.
        var b = new HloBuilder("sum");
        var x = b.Parameter(Shape.Array(ElementType.F32, 2), "x");
        using var device = Devices.Cpu(replicas: 2);
        using var exe = (IExecutable)device.CompileHlo(b.BuildModule(b.AllReduce(new[] { x })));
        var inner = ((ReplicatedExecutable)exe).Inner;
        var good = device.Devices[0].Upload(F(new[] { 1f, 2 }, 2));
        var bad = device.Devices[1].Upload(F(new[] { 1f, 2, 3 }, 3));
        var e = Assert.Throws<XlaExecutionException>(() => Bounded(() => inner.ExecuteReplicas(new[] { new[] { good }, new[] { bad } })));
        Assert.Contains("replica 1 of 2: module 'sum', argument 0 (x)", e.Message);
        Assert.Contains("expected f32[2], got f32[3]", e.Message);

        // A replica that throws while the others wait at the rendezvous: they are released with the step's error.
        var rendezvous = new XlaGen.Backends.Cpu.Plan.ReplicaRendezvous(3);
        var errors = new Exception?[2];
        var waiting = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try { rendezvous.Arrive(r, "%ar", default); }
            catch (Exception ex) { errors[r] = ex; }
        }) { IsBackground = true }).ToArray();
        foreach (var t in waiting) t.Start();
        Thread.Sleep(50);
        Assert.True(rendezvous.Fail(2, new InvalidOperationException("boom")));
        Assert.All(waiting, t => Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a waiting replica was not released"));
        Assert.All(errors, ex => Assert.Contains("boom", ex!.Message));
        Assert.Equal(2, rendezvous.Failure!.Value.Replica);

        // A replica arriving after another finished the program fails at once instead of waiting forever.
        var late = new XlaGen.Backends.Cpu.Plan.ReplicaRendezvous(2);
        late.Finish();
        Assert.Contains("1 replica(s) finished the program", Assert.Throws<XlaExecutionException>(() => Bounded(() => { late.Arrive(1, "%ar", default); return 0; })).Message);
    }

    [Fact]
    public void DeferredArgumentsAreFilledOnTheirReplicasThreadsAndAFailedFillFailsTheStep()
    {
        // Fit's staging on CPU replicas: each replica's slice of a batch is written by the replica's own thread when its
        // execution first reads it (replica 0 runs on the caller's thread, the others on replica threads).
        var b = new HloBuilder("sum");
        var x = b.Parameter(Shape.Array(ElementType.F32, 2), "x");
        using var device = Devices.Cpu(replicas: 2);
        using var exe = device.CompileHlo(b.BuildModule(b.AllReduce(new[] { x })));
        var threads = new int[2];
        DeviceBuffer Deferred(Func<int, float[]> values)
        {
            var shards = new DeviceBuffer[2];
            for (int r = 0; r < 2; r++)
            {
                var cpu = (XlaGen.Backends.Cpu.CpuDevice)device.Devices[r];
                int replica = r;
                shards[r] = cpu.AdoptDeferred(cpu.AllocateUninitialized(ElementType.F32, new long[] { 2 }), a =>
                {
                    threads[replica] = Environment.CurrentManagedThreadId;
                    values(replica).CopyTo((float[])a, 0);
                });
            }
            return device.AdoptShards(shards);
        }
        int caller = 0;
        using (var arg = Deferred(r => new[] { r + 1f, 10f * (r + 1) }))
        {
            var outputs = Bounded(() =>
            {
                caller = Environment.CurrentManagedThreadId;
                return exe.Execute(new[] { arg });
            });
            Assert.Equal(new[] { 3f, 30f }, ((Tensor<float>)device.Download(outputs[0])).Data);
            foreach (var o in outputs) o.Dispose();
            Assert.Equal(caller, threads[0]);
            Assert.NotEqual(caller, threads[1]);
            // Filled once: later reads see the same values without running the fill again.
            threads[1] = -1;
            Assert.Equal(new[] { 2f, 20f }, ((Tensor<float>)device.DownloadReplicas(arg)[1]).Data);
            Assert.Equal(-1, threads[1]);
        }

        // Replica 1's fill throws: the step fails with its error, naming the replica, and nobody is left waiting.
        using var failing = Deferred(r => r == 1 ? throw new InvalidOperationException("the rows are gone") : new[] { 1f, 2f });
        var e = Assert.Throws<XlaExecutionException>(() => Bounded(() => exe.Execute(new[] { (DeviceBuffer)failing })));
        Assert.Contains("replica 1 of 2 failed running 'sum'", e.Message);
        Assert.Contains("the rows are gone", e.Message);
        // A buffer whose fill failed keeps failing with that error rather than handing out unwritten elements.
        Assert.Contains("the rows are gone", Assert.Throws<InvalidOperationException>(() => device.DownloadReplicas(failing)).Message);
    }

    [Fact]
    public void CancellationStopsEveryReplicaWhileOthersWait()
    {
        var module = ReplicaPrograms.LoopWithAllReduce(reduceInBody: false);
        using var device = Devices.Cpu(replicas: 2);
        using var exe = device.CompileHlo(module);
        // Replica 1 loops (practically) forever; replica 0 waits for it at the final all-reduce.
        var shards = LoopArgs(0, int.MaxValue);
        var args = Enumerable.Range(0, 2).Select(i => (DeviceBuffer)device.UploadShards(shards.Select(a => a[i]).ToArray())).ToList();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var sw = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => Bounded(() => exe.Execute(args, new ExecuteOptions { Cancellation = cts.Token })));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"cancellation took {sw.Elapsed}");
    }

    [Fact]
    public void ReplicatedBuffersUploadDownloadAndDonate()
    {
        using var device = Devices.Cpu(replicas: 2);
        Assert.Equal(2, device.Info.DeviceCount);
        Assert.Equal(new[] { 0, 1 }, device.Devices.Select(d => d.Info.Id));
        var b = new HloBuilder("double");
        var x = b.Parameter(Shape.Array(ElementType.F32, 2), "x");
        var module = b.BuildModule(b.Add(x, x));
        module.InputOutputAliases.Add(new InputOutputAlias(Array.Empty<long>(), 0, Array.Empty<long>()));
        using var exe = device.CompileHlo(module);
        var shared = device.Upload(F(new[] { 1f, 2 }, 2));
        Assert.Equal(new[] { 1f, 2 }, ((Tensor<float>)device.Download(shared)).Data);
        var result = exe.Execute(new[] { shared }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.True(shared.IsDeleted);
        Assert.All(device.DownloadReplicas(result[0]), t => Assert.Equal(new[] { 2f, 4 }, ((Tensor<float>)t).Data));
        var e = Assert.Throws<ArgumentException>(() => exe.Execute(new[] { Devices.Cpu().Upload(F(new[] { 1f, 2 }, 2)) }));
        Assert.Contains("not on this replicated device (2 replicas)", e.Message);
        Assert.Contains("shard 1 is f32[3] but shard 0 is f32[2]", Assert.Throws<ArgumentException>(() =>
            device.UploadShards(new Tensor[] { F(new[] { 1f, 2 }, 2), F(new[] { 1f, 2, 3 }, 3) })).Message);
    }

    [Fact]
    public void TheAllReduceGradientSumsTheCotangentsOfEveryReplica()
    {
        // Replica r computes L_r = Σ all-reduce(x)·w_r; d(Σ_s L_s)/dx_r = Σ_s w_s, which the transpose all-reduce gives.
        var b = new HloBuilder("grad");
        var x = b.Parameter(Shape.Array(ElementType.F32, 3), "x");
        var w = b.Parameter(Shape.Array(ElementType.F32, 3), "w");
        var loss = b.ReduceSum(b.Multiply(b.AllReduce(new[] { x }), w), 0);
        var dx = XlaGen.Autodiff.ReverseMode.Gradients(b, loss, new[] { x })[0];
        var module = b.BuildModule(dx);
        Assert.Equal(2, module.AllInstructions.Count(i => i.Opcode == "all-reduce"));
        var ws = new[] { new[] { 1f, 2, 3 }, new[] { 0.5f, -1, 4 } };
        using var device = Devices.Cpu(replicas: 2);
        var got = RunShards(device, module, ws.Select(v => new Tensor[] { F(new[] { 9f, 9, 9 }, 3), F(v, 3) }).ToArray());
        for (int r = 0; r < 2; r++) Assert.Equal(new[] { 1.5f, 1, 7 }, ((Tensor<float>)got[r][0]).Data);
    }
}
