using XlaGen.Backends.Cpu;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Tests.Cpu;

/// <summary>Plan-level behaviour of the CPU executor: compile-time rejection, argument checks, donation,
/// concurrency, the liveness pool, tuple results, device facts.</summary>
public class CpuExecutorTests
{
    static readonly IDevice Cpu = Devices.Cpu();

    static DeviceBuffer Up(float[] data, params long[] dims) => Cpu.Upload(Tensor<float>.FromArray(data, dims));

    static float[] Down(DeviceBuffer b) => ((Tensor<float>)Cpu.Download(b)).Data;

    static HloModule Mlp()
    {
        var b = new HloBuilder("mlp");
        var x = b.Parameter(ElementType.F32, new Dim[] { 2, 784 }, "x");
        var w1 = b.Parameter(ElementType.F32, new Dim[] { 784, 256 }, "w1");
        return b.BuildModule(b.MatMul(x, w1));
    }

    [Fact]
    public void SupportsEveryCatalogueOpcode()
    {
        var missing = OpCatalogue.Opcodes.Where(o => !CpuDevice.SupportedOpcodes.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "no CPU kernel for: " + string.Join(", ", missing));
        var extra = CpuDevice.SupportedOpcodes.Where(o => !OpCatalogue.TryGet(o, out _)).ToList();
        Assert.True(extra.Count == 0, "CPU kernels for opcodes the catalogue does not know: " + string.Join(", ", extra));
    }

    [Fact]
    public void RejectsUnknownOpcodeAtCompileTime()
    {
        var b = new HloBuilder("bogus");
        var x = b.Parameter(ElementType.F32, new Dim[] { 3 }, "x");
        var module = b.BuildModule(b.Negate(x));
        var bogus = module.Entry.Add(new HloInstruction(1000, "weird.1", "frobnicate", x.Shape, new[] { x }));
        module.Entry.Root = bogus;
        var e = Assert.Throws<XlaCompileException>(() => Cpu.CompileHlo(module));
        Assert.Contains("%weird.1 (frobnicate)", e.Message);
        Assert.Contains("no kernel for opcode 'frobnicate'", e.Message);
    }

    [Fact]
    public void RejectsUnsupportedElementTypeAtCompileTime()
    {
        var b = new HloBuilder("half");
        var x = b.Parameter(ElementType.F16, new Dim[] { 3 }, "x");
        var module = b.BuildModule(b.Negate(x));
        var e = Assert.Throws<XlaCompileException>(() => Cpu.CompileHlo(module));
        Assert.Contains("f16 is not supported", e.Message);
        Assert.Contains("%x (parameter)", e.Message);
    }

    [Fact]
    public void RejectsModuleTheVerifierRejects()
    {
        var b = new HloBuilder("bad");
        var x = b.Parameter(ElementType.F32, new Dim[] { 3 }, "x");
        var module = b.BuildModule(b.Negate(x));
        module.Entry.Root.Shape = Shape.Array(ElementType.F32, 4);
        var e = Assert.Throws<XlaCompileException>(() => Cpu.CompileHlo(module));
        Assert.Contains("has shape f32[4] but its operands give f32[3]", e.Message);
    }

    [Fact]
    public void RejectsSymbolicShapes()
    {
        var b = new HloBuilder("sym");
        var x = b.Parameter(ElementType.F32, new[] { Dim.Symbol("B"), 3 }, "x");
        var e = Assert.Throws<XlaCompileException>(() => Cpu.CompileHlo(b.BuildModule(b.Negate(x))));
        Assert.Contains("symbolic", e.Message);
    }

    [Fact]
    public void ValidatesArgumentShapesWithClearMessages()
    {
        using var exe = Cpu.CompileHlo(Mlp());
        var x = Up(new float[2 * 784], 2, 784);
        var wrong = Up(new float[784 * 10], 784, 10);
        var e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { x, wrong }));
        Assert.Equal("module 'mlp', argument 1 (w1): expected f32[784,256], got f32[784,10]", e.Message);
        var ints = Cpu.Upload(Tensor<int>.Zeros(784, 256));
        e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { x, ints }));
        Assert.Equal("module 'mlp', argument 1 (w1): expected f32[784,256], got s32[784,256]", e.Message);
        e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { x }));
        Assert.Equal("module 'mlp' takes 2 argument(s) (x: f32[2,784], w1: f32[784,256]), got 1", e.Message);
    }

    [Fact]
    public void RejectsDisposedArguments()
    {
        var b = new HloBuilder("neg");
        var p = b.Parameter(ElementType.F32, new Dim[] { 2 }, "v");
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Negate(p)));
        var x = Up(new[] { 1f, 2 }, 2);
        x.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => exe.Execute(new[] { x }));
        Assert.Contains("argument 0 (v)", e.Message);
        Assert.Contains("disposed or donated", e.Message);
    }

    [Fact]
    public void DonatedBufferIsReusedForTheOutputAndDeleted()
    {
        var b = new HloBuilder("step");
        var w = b.Parameter(ElementType.F32, new Dim[] { 1024 }, "w");
        var g = b.Parameter(ElementType.F32, new Dim[] { 1024 }, "g");
        var lr = b.Full(ElementType.F32, 0.5, new Dim[] { 1024 });
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Subtract(w, b.Multiply(g, lr))));
        var wb = (CpuBuffer)Up(Enumerable.Repeat(1f, 1024).ToArray(), 1024);
        var gb = Up(Enumerable.Repeat(2f, 1024).ToArray(), 1024);
        var donatedArray = wb.Data;
        var result = exe.Execute(new[] { wb, gb }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.True(wb.IsDeleted);
        Assert.False(gb.IsDeleted);
        Assert.Same(donatedArray, ((CpuBuffer)result[0]).Data);
        Assert.All(Down(result[0]), v => Assert.Equal(0f, v));
        var e = Assert.Throws<ObjectDisposedException>(() => exe.Execute(new[] { wb, gb }));
        Assert.Contains("disposed or donated", e.Message);
        Assert.Throws<ObjectDisposedException>(() => Cpu.Download(wb));
    }

    /// <summary>while((i, w)): w ← w + 1 three times, i counting; with <paramref name="readAfter"/> the loop's init tuple is
    /// also read after the loop (its w is returned too), so the loop is not its last reader.</summary>
    static HloModule AddOneThrice(bool readAfter)
    {
        var b = new HloBuilder("add_one_thrice");
        var w = b.Parameter(ElementType.F32, new Dim[] { 4096 }, "w");
        var init = b.Tuple(b.Constant(ElementType.S32, 0), w);
        var body = b.CreateSubBuilder("body");
        var s = body.Parameter(init.Shape, "s");
        var i = body.GetTupleElement(s, 0);
        var bw = body.GetTupleElement(s, 1);
        var bodyC = body.Build(body.Tuple(body.Add(i, body.Constant(ElementType.S32, 1)), body.Add(bw, body.Full(ElementType.F32, 1, new Dim[] { 4096 }))));
        var cond = b.CreateSubBuilder("cond");
        var cs = cond.Parameter(init.Shape, "s");
        var condC = cond.Build(cond.Compare(cond.GetTupleElement(cs, 0), cond.Constant(ElementType.S32, 3), "LT"));
        var loop = b.AddInstruction("while", new[] { init }, null, null, new[] { bodyC, condC });
        var result = b.GetTupleElement(loop, 1);
        return b.BuildModule(readAfter ? b.Tuple(result, b.GetTupleElement(init, 1)) : result);
    }

    /// <summary>A while loop that reads its state last takes the frame's owned leaves from its first iteration: a donated
    /// w is updated in place by every iteration (the train-step loop's weights and optimizer slots; the first iteration
    /// used to write fresh arrays, 3x slower in the K-step MLP program). Without donation, or with the init state read
    /// after the loop, the caller's array is never written.</summary>
    [Fact]
    public void AWhileLoopUpdatesADonatedStateInPlaceFromItsFirstIteration()
    {
        using var exe = Cpu.CompileHlo(AddOneThrice(readAfter: false));
        var w = (CpuBuffer)Up(Enumerable.Repeat(1f, 4096).ToArray(), 4096);
        var array = w.Data;
        var kept = exe.Execute(new[] { w });
        Assert.All(Down(w), v => Assert.Equal(1f, v));
        Assert.NotSame(array, ((CpuBuffer)kept[0]).Data);
        Assert.All(Down(kept[0]), v => Assert.Equal(4f, v));
        var donated = exe.Execute(new[] { w }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.Same(array, ((CpuBuffer)donated[0]).Data);
        Assert.All(Down(donated[0]), v => Assert.Equal(4f, v));

        using var after = Cpu.CompileHlo(AddOneThrice(readAfter: true));
        var w2 = Up(Enumerable.Repeat(1f, 4096).ToArray(), 4096);
        var both = after.Execute(new[] { w2 }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.All(Down(both[0]), v => Assert.Equal(4f, v));
        Assert.All(Down(both[1]), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void WithoutDonationInputsAreNeverWritten()
    {
        var b = new HloBuilder("inc");
        var p = b.Parameter(ElementType.F32, new Dim[] { 4 }, "x");
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Add(p, b.Full(ElementType.F32, 1, new Dim[] { 4 }))));
        var x = Up(new[] { 1f, 2, 3, 4 }, 4);
        var r = exe.Execute(new[] { x });
        Assert.Equal(new[] { 1f, 2, 3, 4 }, Down(x));
        Assert.Equal(new[] { 2f, 3, 4, 5 }, Down(r[0]));
        Assert.NotSame(((CpuBuffer)x).Data, ((CpuBuffer)r[0]).Data);
    }

    [Fact]
    public void IdentityResultIsACopyUnlessDonated()
    {
        var b = new HloBuilder("id");
        var p = b.Parameter(ElementType.S32, new Dim[] { 2 }, "x");
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Tuple(p, p)));
        var x = (CpuBuffer)Cpu.Upload(Tensor<int>.FromArray(new[] { 5, 6 }, 2));
        var r = exe.Execute(new[] { x });
        Assert.NotSame(x.Data, ((CpuBuffer)r[0]).Data);
        Assert.NotSame(((CpuBuffer)r[0]).Data, ((CpuBuffer)r[1]).Data);
        var data = x.Data;
        r = exe.Execute(new[] { x }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
        Assert.Same(data, ((CpuBuffer)r[0]).Data);
        Assert.NotSame(data, ((CpuBuffer)r[1]).Data);
        Assert.Equal(new[] { 5, 6 }, ((Tensor<int>)Cpu.Download(r[1])).Data);
    }

    [Fact]
    public void RejectsDonatingABufferPassedTwice()
    {
        var b = new HloBuilder("twice");
        var p = b.Parameter(ElementType.F32, new Dim[] { 2 }, "a");
        var q = b.Parameter(ElementType.F32, new Dim[] { 2 }, "b");
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Add(p, q)));
        var x = Up(new[] { 1f, 2 }, 2);
        var e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { x, x }, new ExecuteOptions { DonatedArguments = new[] { 0 } }));
        Assert.Contains("also argument 1", e.Message);
        Assert.False(x.IsDeleted);
    }

    [Fact]
    public void ConcurrentExecutionsOfOneExecutableAreIndependent()
    {
        var b = new HloBuilder("conc");
        var x = b.Parameter(ElementType.F32, new Dim[] { 64, 32 }, "x");
        var w = b.Parameter(ElementType.F32, new Dim[] { 32, 16 }, "w");
        var h = b.Maximum(b.MatMul(x, w), b.Full(ElementType.F32, 0, new Dim[] { 64, 16 }));
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Tuple(b.ReduceSum(h, 1), b.Transpose(h, 1, 0))));
        var wData = Enumerable.Range(0, 32 * 16).Select(i => (float)((i % 7) - 3)).ToArray();
        var wb = Up(wData, 32, 16);
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            for (int iter = 0; iter < 20; iter++)
            {
                var xData = Enumerable.Range(0, 64 * 32).Select(i => (float)(((i + t * 13 + iter) % 5) - 2)).ToArray();
                var r = exe.Execute(new[] { Up(xData, 64, 32), wb });
                var sums = Down(r[0]);
                var tr = Down(r[1]);
                for (int row = 0; row < 64; row++)
                {
                    float s = 0;
                    for (int col = 0; col < 16; col++)
                    {
                        float v = 0;
                        for (int k = 0; k < 32; k++) v += xData[row * 32 + k] * wData[k * 16 + col];
                        v = Math.Max(v, 0);
                        s += v;
                        if (tr[col * 64 + row] != v) errors.Add($"thread {t} iteration {iter}: h[{row},{col}] = {tr[col * 64 + row]}, expected {v}");
                    }
                    if (Math.Abs(sums[row] - s) > 1e-3) errors.Add($"thread {t} iteration {iter}: sum[{row}] = {sums[row]}, expected {s}");
                }
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.True(errors.IsEmpty, string.Join("\n", errors.Take(5)));
    }

    [Fact]
    public void LongChainsReuseIntermediateBuffers()
    {
        // transpose, reverse and convert cannot run in place, so every step needs a buffer: only the pool avoids allocating
        const int side = 64, steps = 200;
        var dims = new Dim[] { side, side };
        var b = new HloBuilder("chain");
        var x = b.Parameter(ElementType.F32, dims, "x");
        var y = b.Parameter(ElementType.F32, dims, "y");
        var v = x;
        for (int i = 0; i < steps; i++)
        {
            v = (i % 5) switch
            {
                0 => b.Transpose(v, 1, 0),
                1 => b.Add(v, y),
                2 => b.AddInstruction("reverse", new[] { v }, new HloAttributes { Dimensions = new long[] { 0 } }),
                3 => b.Convert(b.Convert(v, ElementType.F64), ElementType.F32),
                _ => b.Exp(b.Negate(v)),
            };
        }
        using var exe = Cpu.CompileHlo(b.BuildModule(v));
        var xb = Up(new float[side * side], side, side);
        var yb = Up(Enumerable.Repeat(0.5f, side * side).ToArray(), side, side);
        long bytesPerBuffer = side * side * sizeof(float);
        long first = Allocated(() => exe.Execute(new[] { xb, yb }));
        Assert.True(first < 16 * bytesPerBuffer, $"the first run allocated {first} bytes for {steps} steps of {bytesPerBuffer}-byte values");
        long steady = Allocated(() =>
        {
            for (int i = 0; i < 10; i++) exe.Execute(new[] { xb, yb });
        }) / 10;
        Assert.True(steady < 3 * bytesPerBuffer, $"a warm run allocated {steady} bytes; only the result ({bytesPerBuffer} bytes) should be new");
    }

    static long Allocated(Action a)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        a();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void ScalarBroadcastOperandsAndDeadCodeLeaveThePlan()
    {
        var b = new HloBuilder("relu_sgd");
        var x = b.Parameter(ElementType.F32, new Dim[] { 64, 32 }, "x");
        var dims = new Dim[] { 64, 32 };
        var relu = b.Maximum(x, b.Full(ElementType.F32, 0, dims));
        b.Exp(relu);   // dead: nothing uses it
        var scaled = b.Multiply(relu, b.Full(ElementType.F32, 0.5, dims));
        var mask = b.Compare(x, b.Full(ElementType.F32, 1, dims), "GT");
        using var exe = (CpuExecutable)Cpu.CompileHlo(b.BuildModule(b.Tuple(scaled, b.Select(mask, scaled, b.Full(ElementType.F32, -1, dims)))));
        var opcodes = exe.Plan.Steps.Select(s => s.Instruction.Opcode).ToList();
        Assert.DoesNotContain("broadcast", opcodes);
        Assert.DoesNotContain("exponential", opcodes);
        var data = Enumerable.Range(0, 64 * 32).Select(i => (float)(i % 7) - 3).ToArray();
        var r = exe.Execute(new[] { Up(data, 64, 32) });
        var s0 = Down(r[0]);
        var s1 = Down(r[1]);
        for (int i = 0; i < data.Length; i++)
        {
            Assert.Equal(Math.Max(data[i], 0) * 0.5f, s0[i]);
            Assert.Equal(data[i] > 1 ? Math.Max(data[i], 0) * 0.5f : -1, s1[i]);
        }
    }

    [Fact]
    public void TupleResultsComeBackFlattened()
    {
        var b = new HloBuilder("multi");
        var x = b.Parameter(ElementType.F32, new Dim[] { 2, 2 }, "x");
        var nested = b.Tuple(b.Tuple(b.Negate(x), b.ReduceSum(x, 0, 1)), b.Convert(x, ElementType.S32));
        using var exe = Cpu.CompileHlo(b.BuildModule(nested));
        var r = exe.Execute(new[] { Up(new[] { 1f, 2, 3, 4.5f }, 2, 2) });
        Assert.Equal(3, r.Length);
        Assert.Equal("f32[2,2]", r[0].Shape.ToString());
        Assert.Equal("f32[]", r[1].Shape.ToString());
        Assert.Equal("s32[2,2]", r[2].Shape.ToString());
        Assert.Equal(new[] { -1f, -2, -3, -4.5f }, Down(r[0]));
        Assert.Equal(new[] { 10.5f }, Down(r[1]));
        Assert.Equal(new[] { 1, 2, 3, 4 }, ((Tensor<int>)Cpu.Download(r[2])).Data);
    }

    [Fact]
    public void TupleParametersTakeFlattenedArguments()
    {
        var b = new HloBuilder("tparam");
        var t = b.Parameter(Shape.Tuple(Shape.Array(ElementType.F32, 2), Shape.Scalar(ElementType.F32)), "t");
        var s = b.Parameter(ElementType.F32, new Dim[] { 2 }, "s");
        var sum = b.Add(b.GetTupleElement(t, 0), s);
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Tuple(sum, b.GetTupleElement(t, 1))));
        var e = Assert.Throws<XlaExecutionException>(() => exe.Execute(new[] { Up(new[] { 1f, 2 }, 2), Up(new[] { 3f, 4 }, 2) }));
        Assert.Contains("t.0: f32[2], t.1: f32[], s: f32[2]", e.Message);
        var r = exe.Execute(new[] { Up(new[] { 1f, 2 }, 2), Cpu.Upload(Tensor<float>.Scalar(7)), Up(new[] { 3f, 4 }, 2) });
        Assert.Equal(new[] { 4f, 6 }, Down(r[0]));
        Assert.Equal(new[] { 7f }, Down(r[1]));
    }

    [Fact]
    public void UploadAndDownloadCopy()
    {
        var data = new[] { 1f, 2, 3 };
        var buffer = Cpu.Upload(new Tensor<float>(new long[] { 3 }, data));
        data[0] = 100;
        var down = (Tensor<float>)Cpu.Download(buffer);
        Assert.Equal(new[] { 1f, 2, 3 }, down.Data);
        down.Data[1] = 200;
        Assert.Equal(new[] { 1f, 2, 3 }, Down(buffer));
        Assert.Equal("f32[3]", buffer.Shape.ToString());
        foreach (var t in new Tensor[] { Tensor<byte>.FromArray(new byte[] { 255 }, 1), Tensor<uint>.FromArray(new uint[] { uint.MaxValue }, 1), Tensor<bool>.Scalar(true) })
            Assert.Equal(t.ShapeText, Cpu.Download(Cpu.Upload(t)).ShapeText);
    }

    [Fact]
    public void DescribesTheDevice()
    {
        var info = Cpu.Info;
        Assert.Equal("cpu", info.Platform);
        Assert.False(string.IsNullOrWhiteSpace(info.DeviceKind));
        Assert.False(string.IsNullOrWhiteSpace(info.Version));
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), info.Attributes!["cores"]);
        if (File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains("model name"))
            Assert.Contains(info.DeviceKind, File.ReadAllText("/proc/cpuinfo"));
        Assert.Same(Cpu, Devices.Cpu());
    }

    [Fact]
    public void RejectsBuffersOfAnotherDevice()
    {
        using var other = new CpuDevice();
        var b = new HloBuilder("neg");
        var p = b.Parameter(ElementType.F32, new Dim[] { 1 }, "x");
        using var exe = Cpu.CompileHlo(b.BuildModule(b.Negate(p)));
        var foreign = other.Upload(Tensor<float>.FromArray(new[] { 1f }, 1));
        var e = Assert.Throws<ArgumentException>(() => exe.Execute(new[] { foreign }));
        Assert.Contains("not to this CPU device", e.Message);
    }

    /// <summary>while (i &lt; limit) { i += 1; v = tanh(v · m) }: with limit = int.MaxValue it runs for ever.</summary>
    static HloModule CountedLoop()
    {
        var b = new HloBuilder("counted_loop");
        var matrix = Shape.Array(ElementType.F32, 48, 48);
        var state = Shape.Tuple(Shape.Scalar(ElementType.S32), Shape.Scalar(ElementType.S32), matrix, matrix);
        var cond = b.CreateSubBuilder("cond");
        var cs = cond.Parameter(state, "s");
        var condition = cond.Build(cond.Compare(cond.GetTupleElement(cs, 0), cond.GetTupleElement(cs, 1), "LT"));
        var body = b.CreateSubBuilder("body");
        var bs = body.Parameter(state, "s");
        var next = body.Tanh(body.MatMul(body.GetTupleElement(bs, 2), body.GetTupleElement(bs, 3)));
        var loopBody = body.Build(body.Tuple(
            body.Add(body.GetTupleElement(bs, 0), body.Constant(ElementType.S32, 1)), body.GetTupleElement(bs, 1), next, body.GetTupleElement(bs, 3)));
        var limit = b.Parameter(Shape.Scalar(ElementType.S32), "limit");
        var v = b.Parameter(matrix, "v");
        var m = b.Parameter(matrix, "m");
        var loop = b.AddInstruction("while", new[] { b.Tuple(b.Constant(ElementType.S32, 0), limit, v, m) }, called: new[] { loopBody, condition });
        return b.BuildModule(b.GetTupleElement(loop, 2));
    }

    static float[] Ramp(int n, float scale) => Enumerable.Range(0, n).Select(i => (float)Math.Sin(i * scale)).ToArray();

    [Fact]
    public void CancellationStopsAnEndlessLoopAndTheExecutableStaysUsable()
    {
        using var exe = Cpu.CompileHlo(CountedLoop());
        var m = Up(Ramp(48 * 48, 0.37f), 48, 48);
        var v = Up(Ramp(48 * 48, 0.11f), 48, 48);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => exe.Execute(
            new[] { Cpu.Upload(Tensor<int>.Scalar(int.MaxValue)), v, m },
            new ExecuteOptions { DonatedArguments = new[] { 1 }, Cancellation = cts.Token }));
        Assert.Contains("'counted_loop' was cancelled", e.Message);
        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"cancelling took {clock.Elapsed}");
        // the donated argument is consumed, as after any execution that takes it
        Assert.True(v.IsDeleted);
        Assert.Throws<ObjectDisposedException>(() => Cpu.Download(v));

        // the same executable (and its pooled run context) then computes the right values
        var v2 = Ramp(48 * 48, 0.11f);
        using var live = new CancellationTokenSource();
        var got = Down(exe.Execute(new[] { Cpu.Upload(Tensor<int>.Scalar(3)), Up(v2, 48, 48), m }, new ExecuteOptions { Cancellation = live.Token })[0]);
        var mm = Ramp(48 * 48, 0.37f);
        for (int step = 0; step < 3; step++)
        {
            var next = new float[48 * 48];
            for (int i = 0; i < 48; i++)
            {
                for (int j = 0; j < 48; j++)
                {
                    double acc = 0;
                    for (int k = 0; k < 48; k++) acc += (double)v2[i * 48 + k] * mm[k * 48 + j];
                    next[i * 48 + j] = (float)Math.Tanh(acc);
                }
            }
            v2 = next;
        }
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - v2[i]) < 1e-4, $"element {i}: {got[i]} vs {v2[i]}");
    }

    /// <summary>One instruction that runs for minutes (issue 13's reduce-window, an 8192³ dot through the GEMM pool) is
    /// stopped inside its kernel, on every thread it forked, with the caller's OperationCanceledException (not an
    /// AggregateException from the parallel split).</summary>
    [Theory]
    [InlineData("ROOT r = f32[513,513] reduce-window(x, zero), window={size=512x512}, to_apply=add")]
    [InlineData("y = f32[8192,8192] broadcast(p), dimensions={}\n  ROOT r = f32[8192,8192] dot(y, y), lhs_contracting_dims={1}, rhs_contracting_dims={0}")]
    public void CancellationStopsALongKernelFromInside(string body)
    {
        var module = HloTextParser.Parse($$"""
            HloModule long_kernel

            add {
              a = f32[] parameter(0)
              b = f32[] parameter(1)
              ROOT s = f32[] add(a, b)
            }

            ENTRY main {
              p = f32[] parameter(0)
              x = f32[1024,1024] broadcast(p), dimensions={}
              zero = f32[] constant(0)
              {{body}}
            }
            """);
        using var exe = Cpu.CompileHlo(module);
        // Cancelled from a thread of its own: a CancelAfter timer fires on the thread pool, which the kernel's chunks and
        // the other tests running in parallel can keep busy for seconds (the server reserves spare pool threads for that).
        using var cts = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            Thread.Sleep(300);
            cts.Cancel();
        }) { IsBackground = true };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        canceller.Start();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => exe.Execute(new[] { Cpu.Upload(Tensor<float>.Scalar(1f)) }, new ExecuteOptions { Cancellation = cts.Token }));
        Assert.Contains("'long_kernel' was cancelled", e.Message);
        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"cancelling inside the kernel took {clock.Elapsed}");
        // Nothing of the cancelled run is left on this thread: an uncancellable token is not polled as cancelled.
        Assert.False(XlaGen.Backends.Cpu.Kernels.KernelCancellation.Current.IsCancellationRequested);
    }

    [Fact]
    public void AnAlreadyCancelledTokenRunsNothing()
    {
        using var exe = Cpu.CompileHlo(Mlp());
        var e = Assert.ThrowsAny<OperationCanceledException>(() => exe.Execute(
            new[] { Up(new float[2 * 784], 2, 784), Up(new float[784 * 256], 784, 256) },
            new ExecuteOptions { Cancellation = new CancellationToken(canceled: true) }));
        Assert.Contains("'mlp' was cancelled", e.Message);
    }

    /// <summary>The executable's peak-memory estimate follows the plan's liveness, worked out by hand here (f32[1000]
    /// values are 4000 bytes; parameters belong to the caller).</summary>
    [Fact]
    public void PeakMemoryFollowsLiveness()
    {
        static HloInstruction Neg(HloBuilder b, HloInstruction x) => b.Negate(x);
        // the plan's liveness, instruction by instruction: without loop fusion, which would make each chain one kernel
        var Cpu = new CpuDevice { Fusion = false };

        // a = -p; b = -a; c = -b: a dies at b, b at c, so at most two values are alive: 8000
        var chain = new HloBuilder("chain");
        var p = chain.Parameter(ElementType.F32, new Dim[] { 1000 }, "p");
        using (var exe = Cpu.CompileHlo(chain.BuildModule(Neg(chain, Neg(chain, Neg(chain, p))))))
            Assert.Equal(8000, exe.PeakMemoryBytes);

        // d = a + c keeps a alive across b and c: a, b and c at once while c is made: 12000
        var kept = new HloBuilder("kept");
        p = kept.Parameter(ElementType.F32, new Dim[] { 1000 }, "p");
        var a = Neg(kept, p);
        using (var exe = Cpu.CompileHlo(kept.BuildModule(kept.Add(a, Neg(kept, Neg(kept, a))))))
            Assert.Equal(12000, exe.PeakMemoryBytes);

        // a call's own peak (8000, a chain of two) adds to its result's 4000 while it runs: 12000
        var outer = new HloBuilder("outer");
        var inner = outer.CreateSubBuilder("inner");
        var q = inner.Parameter(ElementType.F32, new Dim[] { 1000 }, "q");
        var callee = inner.Build(Neg(inner, Neg(inner, q)));
        p = outer.Parameter(ElementType.F32, new Dim[] { 1000 }, "p");
        using (var exe = Cpu.CompileHlo(outer.BuildModule(outer.AddInstruction("call", new[] { p }, called: new[] { callee }))))
            Assert.Equal(12000, exe.PeakMemoryBytes);

        // a tuple of views allocates nothing of its own
        var views = new HloBuilder("views");
        p = views.Parameter(ElementType.F32, new Dim[] { 1000 }, "p");
        using (var exe = Cpu.CompileHlo(views.BuildModule(views.Tuple(p, p))))
            Assert.Equal(0, exe.PeakMemoryBytes);
    }
}
