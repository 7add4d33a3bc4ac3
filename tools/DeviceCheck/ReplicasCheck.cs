using FashionMnistSample;
using XlaGen.Backends.Pjrt;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.DeviceCheck;

/// <summary>
/// Issue 11, item 6, on a PJRT device: its client's devices as N replicas (N = 1, and N = every device when there are
/// several). Per N: (1) an all-reduce with replica-id, each replica's shard different, compiled with num_replicas = N
/// and the plugin's device assignment, every replica's sum and id checked exactly (small integers in f32); (2) the
/// Fashion-MNIST MLP's replicated train step (the all-reduce of the gradients inside) for a few steps of Fit, its
/// weights against the same Fit on the CPU executor's N replicas (relative to the largest weight).
/// </summary>
static class ReplicasCheck
{
    public const int Steps = 8;
    public const double Tolerance = 1e-4;

    public static ReplicasSection Run(IDevice device, TextWriter log)
    {
        if (device is not PjrtDevice pjrt) return new ReplicasSection { Skipped = $"{device} is not a PJRT device" };
        var section = new ReplicasSection();
        int count = pjrt.Client.Devices.Count;
        foreach (int n in count > 1 ? new[] { 1, count } : new[] { 1 })
        {
            var row = new ReplicasRow { Replicas = n };
            section.Rows.Add(row);
            try
            {
                using var replicated = pjrt.Client.Replicated(n);
                row.DeviceAssignment = replicated.Devices.Select(d => ((PjrtDevice)d).Id).ToList();
                row.AllReduce = AllReduce(replicated, n);
                row.MaxWeightDifference = TrainMlp(replicated, n, out double loss);
                row.Loss = loss;
                if (row.AllReduce != "ok") row.Error = $"all-reduce: {row.AllReduce}";
                else if (!(row.MaxWeightDifference <= Tolerance)) row.Error = $"the replicated MLP's weights differ from the CPU replicas' by {row.MaxWeightDifference:G3} (relative), over {Tolerance:G1}";
            }
            catch (Exception e)
            {
                row.Error = $"{e.GetType().Name}: {e.Message}";
            }
            log.WriteLine(row.Error == null
                ? $"  {n} replica(s) on device ids {string.Join(", ", row.DeviceAssignment)}: all-reduce ok; MLP {Steps} steps, loss {row.Loss:F5}, weights within {row.MaxWeightDifference:G3} of the CPU replicas'"
                : $"  {n} replica(s): {row.Error}");
        }
        return section;
    }

    /// <summary>(all-reduce(x), replica-id) with x = (r + 1)·[1, 2, 3, 4] on replica r: every replica gets
    /// N(N + 1)/2·[1, 2, 3, 4] and its own id. "ok" or what differed.</summary>
    static string AllReduce(ReplicatedDevice device, int n)
    {
        var b = new HloBuilder("replica_all_reduce");
        var x = b.Parameter(Shape.Array(ElementType.F32, 4), "x");
        using var exe = device.CompileHlo(b.BuildModule(b.Tuple(b.AllReduce(new[] { x }), b.ReplicaId())));
        var shards = Enumerable.Range(0, n).Select(r => (Tensor)new Tensor<float>(new long[] { 4 }, new[] { 1f, 2, 3, 4 }.Select(v => v * (r + 1)).ToArray())).ToList();
        using var input = device.UploadShards(shards);
        var outputs = exe.Execute(new DeviceBuffer[] { input }).Cast<ReplicatedBuffer>().ToArray();
        try
        {
            float factor = n * (n + 1) / 2f;
            for (int r = 0; r < n; r++)
            {
                var sum = (Tensor<float>)device.Devices[r].Download(outputs[0].Replica(r));
                var id = (Tensor<uint>)device.Devices[r].Download(outputs[1].Replica(r));
                var expected = new[] { 1f, 2, 3, 4 }.Select(v => v * factor).ToArray();
                if (!sum.Data.SequenceEqual(expected)) return $"replica {r} got [{string.Join(", ", sum.Data)}], expected [{string.Join(", ", expected)}]";
                if (id.Data[0] != r) return $"replica {r} read replica-id {id.Data[0]}";
            }
            return "ok";
        }
        finally
        {
            foreach (var o in outputs) o.Dispose();
        }
    }

    /// <summary>Fit of the MLP for <see cref="Steps"/> steps of 128·N examples (128 per replica) on the device and on
    /// the CPU executor's N replicas, same seed and data: the largest weight difference relative to the largest weight.</summary>
    static double TrainMlp(ReplicatedDevice device, int n, out double loss)
    {
        var (x, y) = MlpCheck.Synthetic(Steps * MlpCheck.BatchSize * n);
        var fit = new FitOptions { Epochs = 1, BatchSize = MlpCheck.BatchSize * n, Shuffle = false, Verbose = false };
        using var onDevice = FashionMlp.Create(device, MlpCheck.Seed);
        using var cpuReplicas = Devices.Cpu(replicas: n);
        using var onCpu = FashionMlp.Create(cpuReplicas, MlpCheck.Seed);
        onDevice.Compile(new Adam(MlpCheck.LearningRate));
        onCpu.Compile(new Adam(MlpCheck.LearningRate));
        loss = onDevice.Fit(x, y, fit).Epochs[^1].Loss;
        onCpu.Fit(x, y, fit);
        var expected = onCpu.GetParameters();
        double scale = 0, diff = 0;
        foreach (var (path, value) in onDevice.GetParameters())
        {
            var g = value.Data.Cast<float>().ToArray();
            var e = expected[path].Data.Cast<float>().ToArray();
            for (int i = 0; i < g.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(e[i]));
                diff = Math.Max(diff, Math.Abs(g[i] - e[i]));
            }
        }
        return scale == 0 ? diff : diff / scale;
    }
}
