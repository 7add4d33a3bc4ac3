using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json.Nodes;
using XlaGen.Backends.Remote;
using XlaGen.Bench.Infrastructure;
using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Bench.Suites;

/// <summary>
/// The remote device on loopback against its peers in the same run: a training step through xlagen-server against
/// the same step in process (the overhead per step, in µs), and buffer uploads against a raw loopback TCP copy of
/// the same bytes (throughput, and the ratio the issue asks to be ≥ 0.5).
/// </summary>
internal sealed class RemoteSuite : IBenchSuite
{
    public string Name => "remote";

    public string Description => "xlagen-server on loopback: per-step overhead vs in-process (small SGD step), Fit of the 784-256-10 MLP with batches streamed (prefetch to device on and off; steps per execution 1 and 16), upload/download throughput (gRPC streams and the bulk data channel) vs raw loopback TCP.";

    public JsonObject Run(BenchOptions options)
    {
        using var server = LocalServer.Start();
        Console.WriteLine($"server: {server.Address} (pid {server.ProcessId})");
        using var remote = Devices.ConnectAsync(server.Address).GetAwaiter().GetResult();
        var result = new JsonObject
        {
            ["server"] = server.Address,
            ["steps"] = MeasureSteps(remote, options),
            ["fit"] = MeasureFit(remote, options),
            ["fit_steps_per_execution"] = MeasureFitStepsPerExecution(remote, options),
            ["transfers"] = MeasureTransfers(remote, server.ProcessId, options),
        };
        return result;
    }

    // ---------------------------------------------------------------- per-step overhead

    /// <summary>One least-squares SGD step (w' = w − lr·∇, loss): small enough that the transport dominates.</summary>
    static HloModule SgdStep(long n, long d, long k)
    {
        var b = new HloBuilder("sgd_step");
        var w = b.Parameter(Shape.Array(ElementType.F32, d, k), "w");
        var x = b.Parameter(Shape.Array(ElementType.F32, n, d), "x");
        var t = b.Parameter(Shape.Array(ElementType.F32, n, k), "t");
        var r = b.Subtract(b.MatMul(x, w), t);
        var loss = b.Divide(b.ReduceSum(b.Multiply(r, r), 0, 1), b.Constant(ElementType.F32, n));
        var grad = b.Dot(x, r, new DotDimensionNumbers(new long[] { 0 }, new long[] { 0 }));
        var next = b.Subtract(w, b.Multiply(b.Full(ElementType.F32, 0.01 / n, new Dim[] { d, k }), grad));
        return b.BuildModule(b.Tuple(next, loss));
    }

    sealed class Trainer
    {
        readonly IDevice device;
        readonly IExecutable step;
        readonly DeviceBuffer x;
        readonly DeviceBuffer t;
        DeviceBuffer w;

        public Trainer(IDevice device, HloModule module, long n, long d, long k)
        {
            this.device = device;
            step = device.CompileHlo(module);
            x = device.Upload(Random(1, n, d));
            t = device.Upload(Random(2, n, k));
            w = device.Upload(Random(3, d, k));
        }

        /// <summary>A step as a training loop runs it: weights donated and kept on the device, the loss left there too.</summary>
        public void Step()
        {
            var outputs = step.Execute(new[] { w, x, t }, new ExecuteOptions { DonatedArguments = new[] { 0 } });
            w = outputs[0];
            outputs[1].Dispose();
        }

        /// <summary>A step whose loss comes back to the host (one more round trip locally; inline remotely).</summary>
        public float StepWithLoss()
        {
            if (step is RemoteExecutable remote)
            {
                // The weights stay put (no donation: an inline call returns values, not handles).
                var r = remote.ExecuteToHostAsync(new[] { w, x, t }).GetAwaiter().GetResult();
                return ((Tensor<float>)r[1]).Data[0];
            }
            var outputs = step.Execute(new[] { w, x, t });
            var loss = ((Tensor<float>)device.Download(outputs[1])).Data[0];
            foreach (var o in outputs) o.Dispose();
            return loss;
        }
    }

    static JsonArray MeasureSteps(RemoteDevice remote, BenchOptions options)
    {
        var rows = new JsonArray();
        Console.WriteLine();
        string header = $"{"step",-28} {"in-process µs",14} {"remote µs",10} {"overhead µs",12} {"remote/local",13}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        foreach (var (name, n, d, k) in new[] { ("sgd 32x16x4 (tiny)", 32L, 16L, 4L), ("sgd 128x784x10 (mnist-like)", 128L, 784L, 10L) })
        {
            if (!options.Matches(name)) continue;
            var module = SgdStep(n, d, k);
            var local = new Trainer(Devices.Cpu(), module, n, d, k);
            var onServer = new Trainer(remote, module, n, d, k);
            var t = Timing.MeasureInterleaved(new Action[] { local.Step, onServer.Step, () => local.StepWithLoss(), () => onServer.StepWithLoss() }, options);
            foreach (var (variant, l, r) in new[] { ("step", t[0], t[1]), ("step+loss to host", t[2], t[3]) })
            {
                double lus = l.Median * 1e6, rus = r.Median * 1e6;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name + " " + variant,-28} {lus,14:F1} {rus,10:F1} {rus - lus,12:F1} {rus / lus,13:F1}"));
                rows.Add(new JsonObject
                {
                    ["name"] = $"{name} {variant}",
                    ["in_process_us"] = lus,
                    ["remote_us"] = rus,
                    ["overhead_us"] = rus - lus,
                    ["remote_over_in_process"] = rus / lus,
                    ["remote_min_us"] = r.Min * 1e6,
                    ["remote_max_us"] = r.Max * 1e6,
                });
            }
        }
        return rows;
    }

    // ---------------------------------------------------------------- Fit with streamed batches

    /// <summary>
    /// The main job's MLP trained by Fit over 5120 examples (40 steps of 128; Adam on a cosine schedule, so the learning
    /// rate changes every step), in process and on the server, with the next batch prefetched to the device and
    /// without: what a user's epoch costs remotely, batch uploads included (MeasureSteps keeps its inputs resident).
    /// </summary>
    static JsonArray MeasureFit(RemoteDevice remote, BenchOptions options)
    {
        var rows = new JsonArray();
        if (!options.Matches("fit mlp")) return rows;
        const int batch = 128, examples = 40 * batch;
        var data = BenchMlpData.Synthetic(examples).Data;
        var fit = new FitOptions { Epochs = 1, BatchSize = batch, Verbose = false };
        Optimizer Adam() => new Adam(LearningRate.CosineWithWarmup(1e-3, 10, 1_000_000));

        using var local = BenchMlp.Create(Devices.Cpu(), seed: 1);
        local.Compile(Adam());
        using var prefetched = BenchMlp.Create(remote, seed: 1);
        prefetched.Compile(Adam());
        using var serial = BenchMlp.Create(remote, seed: 1);
        serial.Compile(Adam());
        serial.PrefetchToDevice = false;
        var t = Timing.MeasureInterleaved(new Action[] { () => local.Fit(data, fit), () => prefetched.Fit(data, fit), () => serial.Fit(data, fit) }, options);

        Console.WriteLine();
        string header = $"{"fit mlp 784-256-10, batch 128",-34} {"samples/s",10} {"µs/step",9} {"vs in-process",14}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        foreach (var (name, s) in new[] { ("in-process", t[0]), ("remote, prefetch to device", t[1]), ("remote, serial uploads", t[2]) })
        {
            double rate = examples / s.Median, stepUs = s.Median / 40 * 1e6, ratio = t[0].Median / s.Median;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-34} {rate,10:F0} {stepUs,9:F0} {ratio,14:F2}"));
            rows.Add(new JsonObject
            {
                ["name"] = $"fit mlp {name}",
                ["samples_per_s"] = rate,
                ["us_per_step"] = stepUs,
                ["throughput_over_in_process"] = ratio,
            });
        }
        double gain = t[2].Median / t[1].Median;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"prefetch to device: {gain:F2}x the serial remote throughput"));
        rows.Add(new JsonObject { ["name"] = "fit mlp remote prefetch over serial", ["ratio"] = gain });
        return rows;
    }

    /// <summary>
    /// Issue 10: the same Fit with <see cref="FitOptions.StepsPerExecution"/> 1 and 16, in process and remote (prefetch
    /// to device on; with asynchronous dispatch, the default, and without: <see cref="RemoteDeviceOptions.PipelineDepth"/> 0), over 6144 examples (48 steps of 128: three calls of 16 steps). The issue's target is remote Fit
    /// with K = 16 at ≥ 0.9 of the in-process throughput.
    /// </summary>
    static JsonArray MeasureFitStepsPerExecution(RemoteDevice remote, BenchOptions options)
    {
        var rows = new JsonArray();
        if (!options.Matches("fit mlp steps per execution")) return rows;
        const int batch = 128, steps = 48, examples = steps * batch;
        var data = BenchMlpData.Synthetic(examples).Data;
        Optimizer Adam() => new Adam(LearningRate.CosineWithWarmup(1e-3, 10, 1_000_000));
        var runners = new List<ModelRunner>();
        // The same server without asynchronous dispatch (every step waits for its response before the next is sent).
        using var synchronous = Devices.ConnectAsync(remote.Address, new RemoteDeviceOptions { PipelineDepth = 0, ClientName = "bench (no pipelining)" }).GetAwaiter().GetResult();
        try
        {
            var cases = new List<(string Name, Action Fit)>();
            foreach (var (where, device) in new (string, IDevice)[] { ("in-process", Devices.Cpu()), ("remote", remote), ("remote, no pipelining", synchronous) })
            {
                foreach (int k in new[] { 1, 16 })
                {
                    var model = BenchMlp.Create(device, seed: 1);
                    runners.Add(model);
                    model.Compile(Adam());
                    var fit = new FitOptions { Epochs = 1, BatchSize = batch, Verbose = false, StepsPerExecution = k };
                    cases.Add(($"{where}, K={k}", () => model.Fit(data, fit)));
                }
            }
            var t = Timing.MeasureInterleaved(cases.Select(c => c.Fit).ToArray(), options);

            Console.WriteLine();
            string header = $"{"fit mlp, steps per execution K",-38} {"samples/s",10} {"best",8} {"µs/step",9} {"vs in-process K=1",18} {"(bests)",8} {"vs in-process, same K",22}";
            Console.WriteLine(header);
            Console.WriteLine(new string('-', header.Length));
            for (int i = 0; i < cases.Count; i++)
            {
                var s = t[i];
                double rate = examples / s.Median, stepUs = s.Median / steps * 1e6, ratio = t[0].Median / s.Median, sameK = t[i % 2].Median / s.Median;
                double best = examples / s.Min, bestRatio = t[0].Min / s.Min;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cases[i].Name,-38} {rate,10:F0} {best,8:F0} {stepUs,9:F0} {ratio,18:F2} {bestRatio,8:F2} {sameK,22:F2}"));
                rows.Add(new JsonObject
                {
                    ["name"] = $"fit mlp {cases[i].Name}",
                    ["samples_per_s"] = rate,
                    ["us_per_step"] = stepUs,
                    ["throughput_over_in_process_k1"] = ratio,
                    ["best_samples_per_s"] = best,
                    ["best_over_in_process_k1_best"] = bestRatio,
                    ["throughput_over_in_process_same_k"] = sameK,
                });
            }
            double gain = t[2].Median / t[3].Median;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"remote: K=16 runs at {gain:F2}x the K=1 throughput; remote K=16 at {t[0].Median / t[3].Median:F2} of in-process K=1 (target >= 0.9)"));
            rows.Add(new JsonObject { ["name"] = "fit mlp remote K=16 over remote K=1", ["ratio"] = gain });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"asynchronous dispatch: {t[4].Median / t[2].Median:F2}x the synchronous remote throughput at K=1, {t[5].Median / t[3].Median:F2}x at K=16"));
            rows.Add(new JsonObject { ["name"] = "fit mlp remote pipelined over synchronous K=1", ["ratio"] = t[4].Median / t[2].Median });
            rows.Add(new JsonObject { ["name"] = "fit mlp remote pipelined over synchronous K=16", ["ratio"] = t[5].Median / t[3].Median });
        }
        finally
        {
            foreach (var r in runners) r.Dispose();
        }
        return rows;
    }

    // ---------------------------------------------------------------- throughput

    /// <summary>User plus system CPU seconds a process has used (Linux /proc; null elsewhere).</summary>
    static double? CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>CPU seconds per GiB moved by <paramref name="transfer"/>, over the bench process and the server together.
    /// Unlike wall time this barely depends on what else runs on the machine.</summary>
    static double? CpuPerGiB(Action transfer, long bytes, int serverPid)
    {
        int runs = (int)Math.Max(2, (256L << 20) / bytes);
        double? c0 = CpuSeconds(Environment.ProcessId), s0 = CpuSeconds(serverPid);
        for (int i = 0; i < runs; i++) transfer();
        double? c1 = CpuSeconds(Environment.ProcessId), s1 = CpuSeconds(serverPid);
        if (c0 is null || c1 is null || s0 is null || s1 is null) return null;
        return (c1.Value - c0.Value + s1.Value - s0.Value) / ((double)runs * bytes / (1L << 30));
    }

    static JsonArray MeasureTransfers(RemoteDevice remote, int serverPid, BenchOptions options)
    {
        var rows = new JsonArray();
        // The same server through gRPC streams only (as a version-1 client, or with the data port unreachable).
        using var streamed = Devices.ConnectAsync(remote.Address, new RemoteDeviceOptions { BulkTransfers = false, ClientName = "bench (gRPC streams)" }).GetAwaiter().GetResult();
        Console.WriteLine();
        Console.WriteLine("transfer throughput (MB/s, median of interleaved repetitions) and CPU s/GiB (bench process + server)");
        string header = $"{"transfer",-18} {"raw TCP",8} {"gRPC",7} {"gRPC/raw",9} {"bulk",7} {"bulk/raw",9} {"CPU raw",8} {"CPU gRPC",9} {"CPU bulk",9}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        using var tcp = new LoopbackCopy();
        foreach (long mib in new long[] { 1, 8, 64 })
        {
            bool up = options.Matches($"upload {mib} MiB"), down = options.Matches($"download {mib} MiB");
            if (!up && !down) continue;
            var tensor = Random(7, mib << 18);   // mib MiB of f32
            long bytes = mib << 20;
            var copy = TensorBytes.Slice(tensor, 0, (int)bytes);
            var onStreamed = streamed.Upload(tensor);
            var onBulk = remote.Upload(tensor);
            Action raw = () => tcp.Send(copy);
            Action grpcUp = () => streamed.UploadAsync(tensor).GetAwaiter().GetResult().Dispose();
            Action bulkUp = () => remote.UploadAsync(tensor).GetAwaiter().GetResult().Dispose();
            Action grpcDown = () => streamed.Download(onStreamed);
            Action bulkDown = () => remote.Download(onBulk);
            var t = Timing.MeasureInterleaved(new[] { raw, grpcUp, bulkUp, grpcDown, bulkDown },
                options with { WarmupSeconds = Math.Max(options.WarmupSeconds, 0.3) });
            double rawMb = bytes / t[0].Median / 1e6;
            var rawCpu = CpuPerGiB(raw, bytes, serverPid);
            foreach (var (direction, grpcTime, bulkTime, grpcOp, bulkOp) in new[] { ("upload", t[1], t[2], grpcUp, bulkUp), ("download", t[3], t[4], grpcDown, bulkDown) })
            {
                string name = $"{direction} {mib} MiB";
                if (!options.Matches(name)) continue;
                double g = bytes / grpcTime.Median / 1e6, b = bytes / bulkTime.Median / 1e6;
                var gCpu = CpuPerGiB(grpcOp, bytes, serverPid);
                var bCpu = CpuPerGiB(bulkOp, bytes, serverPid);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-18} {rawMb,8:F0} {g,7:F0} {g / rawMb,9:F2} {b,7:F0} {b / rawMb,9:F2} {rawCpu,8:F2} {gCpu,9:F2} {bCpu,9:F2}"));
                rows.Add(new JsonObject
                {
                    ["name"] = name,
                    ["bytes"] = bytes,
                    ["raw_tcp_mb_s"] = rawMb,
                    ["grpc_mb_s"] = g,
                    ["grpc_over_raw"] = g / rawMb,
                    ["bulk_mb_s"] = b,
                    ["bulk_over_raw"] = b / rawMb,
                    ["raw_cpu_s_per_gib"] = rawCpu,
                    ["grpc_cpu_s_per_gib"] = gCpu,
                    ["bulk_cpu_s_per_gib"] = bCpu,
                    ["bulk_min_mb_s"] = bytes / bulkTime.Max / 1e6,
                    ["bulk_max_mb_s"] = bytes / bulkTime.Min / 1e6,
                });
            }
            onStreamed.Dispose();
            onBulk.Dispose();
        }
        if (remote.BulkChannelProblem is { } problem) Console.WriteLine("bulk channel NOT used: " + problem);
        Console.WriteLine($"(transfers: {remote.BulkTransfers} over the bulk data channel, {streamed.StreamedTransfers + remote.StreamedTransfers} over gRPC streams)");
        Console.WriteLine("(gRPC: Upload/Download streams of 1 MiB messages; bulk: BeginTransfer + the data port. Uploads include fingerprinting the host");
        Console.WriteLine(" tensor kept for reconnects; raw TCP is socket to socket in this process, 1 MiB writes, into a reused buffer)");
        return rows;
    }

    static Tensor<float> Random(int seed, params long[] dims)
    {
        var rng = new Random(seed);
        long n = dims.Aggregate(1L, (a, b) => a * b);
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() - 0.5);
        return new Tensor<float>(dims, data);
    }

    /// <summary>The peer: the same bytes written in 1 MiB runs through a loopback TCP connection to a reader thread that
    /// drains them and acknowledges the whole transfer with one byte.</summary>
    sealed class LoopbackCopy : IDisposable
    {
        readonly Socket sender;
        readonly Socket receiver;
        readonly Thread reader;
        readonly BlockingQueue expected = new();

        public LoopbackCopy()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sender.Connect(listener.LocalEndPoint!);
            receiver = listener.Accept();
            reader = new Thread(Drain) { IsBackground = true, Name = "loopback reader" };
            reader.Start();
        }

        public void Send(Memory<byte> data)
        {
            expected.Add(data.Length);
            for (int offset = 0; offset < data.Length; offset += 1 << 20)
                sender.Send(data.Span.Slice(offset, Math.Min(1 << 20, data.Length - offset)));
            Span<byte> ack = stackalloc byte[1];
            sender.Receive(ack);
        }

        void Drain()
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (true)
                {
                    long remaining = expected.Take();
                    while (remaining > 0)
                    {
                        int n = receiver.Receive(buffer, 0, (int)Math.Min(buffer.Length, remaining), SocketFlags.None);
                        if (n == 0) return;
                        remaining -= n;
                    }
                    receiver.Send(new byte[] { 1 });
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        public void Dispose()
        {
            expected.Complete();
            sender.Dispose();
            receiver.Dispose();
            reader.Join(1000);
        }

        sealed class BlockingQueue
        {
            readonly System.Collections.Concurrent.BlockingCollection<long> items = new();

            public void Add(long n) => items.Add(n);

            public long Take() => items.Take();

            public void Complete() => items.CompleteAdding();
        }
    }

    /// <summary>xlagen-server started from the build next to this harness, on a free loopback port.</summary>
    sealed class LocalServer : IDisposable
    {
        readonly Process process;

        LocalServer(Process process, string address)
        {
            this.process = process;
            Address = address;
        }

        public string Address { get; }

        public int ProcessId => process.Id;

        public static LocalServer Start()
        {
            var dll = typeof(RemoteSuite).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "XlaGenServerDll").Value!;
            if (!File.Exists(dll)) throw new FileNotFoundException($"xlagen-server is not built at {dll}", dll);
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { dll, "--listen", "127.0.0.1:0", "--log-level", "warning" }) info.ArgumentList.Add(a);
            var process = Process.Start(info)!;
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) Console.Error.WriteLine("  [server] " + e.Data); };
            process.BeginErrorReadLine();
            const string prefix = "xlagen-server listening on ";
            var read = process.StandardOutput.ReadLineAsync();
            if (!read.Wait(TimeSpan.FromSeconds(60)) || read.Result is not { } line || !line.StartsWith(prefix, StringComparison.Ordinal))
            {
                process.Kill();
                throw new InvalidOperationException("xlagen-server did not start");
            }
            var uri = new Uri(line[prefix.Length..].Trim());
            return new LocalServer(process, $"grpc://{uri.Host}:{uri.Port}");
        }

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
            process.Dispose();
        }
    }
}
