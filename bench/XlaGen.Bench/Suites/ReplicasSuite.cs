using System.Text.Json.Nodes;
using XlaGen.Bench.Infrastructure;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Bench.Suites;

/// <summary>
/// Data parallelism on the CPU executor's virtual devices: Fit throughput of the 784-256-10 MLP (Adam) at the same
/// per-replica batch on 1, 2 and 4 replicas (global batch 64·N, 40 steps per call), one replica on one core (its
/// kernels serial, as two replicas' kernels are on two cores: the 1 → 2 scaling at equal compute per replica), and the cost of the gradient
/// all-reduce alone: one all-reduce of the MLP's 203,530 gradient floats plus its 3 accumulator increments on N
/// replicas (thread start, two rendezvous, the reduction), against the same call on 1 replica. The 2-replica and
/// one-core runs are timed again with 8 steps per execution (5 calls of 8 per Fit).
/// </summary>
internal sealed class ReplicasSuite : IBenchSuite
{
    const int PerReplica = 64;
    const int Steps = 40;
    const int StepsPerCall = 8;

    public string Name => "replicas";

    public string Description => "MLP Fit on 1/2/4 CPU replicas at 64 examples per replica (samples/s), and the all-reduce cost per step.";

    public JsonObject Run(BenchOptions options)
    {
        var counts = new[] { 1, 2, 4 };
        var models = new List<(BenchMlp.Runner Model, IDevice Device, Data.Dataset Data, FitOptions Fit)>();
        foreach (var n in counts)
        {
            var (_, _, data) = BenchMlpData.Synthetic(Steps * PerReplica * n);
            IDevice device = n == 1 ? Devices.Cpu() : Devices.Cpu(replicas: n);
            var model = BenchMlp.Create(device, seed: 1);
            model.Compile(new Adam(1e-3));
            models.Add((model, device, data, new FitOptions { Epochs = 1, BatchSize = PerReplica * n, Verbose = false, Shuffle = false }));
        }
        // One replica on one core (its kernels serial, as each of two replicas' kernels are on two cores): the scaling
        // from 1 to 2 replicas at the same per-replica batch and the same compute per replica, as on a TPU's cores.
        var (_, _, oneCoreData) = BenchMlpData.Synthetic(Steps * PerReplica);
        var oneCore = BenchMlp.Create(Devices.Cpu(), seed: 1);
        oneCore.Compile(new Adam(1e-3));
        var oneCoreFit = new FitOptions { Epochs = 1, BatchSize = PerReplica, Verbose = false, Shuffle = false };
        var runs = models.Select(m => (Action)(() => m.Model.Fit(m.Data, m.Fit))).ToList();
        runs.Add(() =>
        {
            using var serial = XlaGen.Backends.Cpu.Kernels.CpuThreadPool.Serial();
            oneCore.Fit(oneCoreData, oneCoreFit);
        });
        // The same two with K = 8 steps per execution (Keras' steps_per_execution under TPUStrategy): the per-call
        // dispatch and staging are paid once per 8 steps on both sides.
        var twoK = models[1];
        runs.Add(() => twoK.Model.Fit(twoK.Data, twoK.Fit with { StepsPerExecution = StepsPerCall }));
        runs.Add(() =>
        {
            using var serial = XlaGen.Backends.Cpu.Kernels.CpuThreadPool.Serial();
            oneCore.Fit(oneCoreData, oneCoreFit with { StepsPerExecution = StepsPerCall });
        });
        var stats = Timing.MeasureInterleaved(runs, options);
        var result = new JsonObject { ["per_replica_batch"] = PerReplica, ["steps_per_call"] = Steps, ["threads"] = options.Threads };
        Console.WriteLine();
        Console.WriteLine($"{"replicas",-9} {"global batch",12} {"samples/s",11} {"ms/step",9} {"vs 1",6}");
        double one = Steps * PerReplica / stats[0].Median;
        for (int i = 0; i < counts.Length; i++)
        {
            double rate = Steps * PerReplica * counts[i] / stats[i].Median;
            Console.WriteLine($"{counts[i],-9} {PerReplica * counts[i],12} {rate,11:N0} {stats[i].Median * 1000 / Steps,9:F2} {rate / one,6:F2}");
            result[$"replicas_{counts[i]}"] = new JsonObject { ["samples_per_second"] = rate, ["ms_per_step_median"] = stats[i].Median * 1000 / Steps, ["speedup_vs_1"] = rate / one };
        }

        double oneCoreRate = Steps * PerReplica / stats[counts.Length].Median;
        double twoRate = Steps * PerReplica * 2 / stats[1].Median;
        Console.WriteLine($"{"1, 1 core",-9} {PerReplica,12} {oneCoreRate,11:N0} {stats[counts.Length].Median * 1000 / Steps,9:F2}   2 replicas (a core each) vs 1 replica on 1 core: {twoRate / oneCoreRate:F2}x");
        result["replicas_1_one_core"] = new JsonObject { ["samples_per_second"] = oneCoreRate, ["ms_per_step_median"] = stats[counts.Length].Median * 1000 / Steps };
        result["scaling_2_replicas_vs_1_on_one_core"] = twoRate / oneCoreRate;
        double twoRateK = Steps * PerReplica * 2 / stats[counts.Length + 1].Median, oneCoreRateK = Steps * PerReplica / stats[counts.Length + 2].Median;
        Console.WriteLine($"{"K=" + StepsPerCall,-9} {PerReplica * 2,12} {twoRateK,11:N0} {stats[counts.Length + 1].Median * 1000 / Steps,9:F2}   2 replicas vs 1 on 1 core ({oneCoreRateK:N0} samples/s, {stats[counts.Length + 2].Median * 1000 / Steps:F2} ms/step), both {StepsPerCall} steps per call: {twoRateK / oneCoreRateK:F2}x");
        result["steps_per_call_k"] = StepsPerCall;
        result["replicas_2_k"] = new JsonObject { ["samples_per_second"] = twoRateK, ["ms_per_step_median"] = stats[counts.Length + 1].Median * 1000 / Steps };
        result["replicas_1_one_core_k"] = new JsonObject { ["samples_per_second"] = oneCoreRateK, ["ms_per_step_median"] = stats[counts.Length + 2].Median * 1000 / Steps };
        result["scaling_2_replicas_vs_1_on_one_core_k"] = twoRateK / oneCoreRateK;
        oneCore.Dispose();

        // The collective alone: all-reduce(gradient-sized f32 arrays) per call.
        var b = new HloBuilder("gradient_all_reduce");
        var shapes = new long[][] { new long[] { 784, 256 }, new long[] { 256 }, new long[] { 256, 10 }, new long[] { 10 }, Array.Empty<long>(), Array.Empty<long>(), Array.Empty<long>() };
        var ps = shapes.Select((s, i) => b.Parameter(Shape.Array(ElementType.F32, s), "g" + i)).ToList();
        var module = b.BuildModule(b.AllReduce(ps));
        var collective = new List<Action>();
        var disposables = new List<IDisposable>();
        foreach (var n in new[] { 1, 2, 4 })
        {
            var device = Devices.Cpu(replicas: n);
            var exe = device.CompileHlo(module);
            var args = shapes.Select(s => device.Upload(new Tensor<float>(s, new float[s.Aggregate(1L, (x, y) => x * y)]))).ToList();
            disposables.Add(device);
            collective.Add(() =>
            {
                foreach (var o in exe.Execute(args)) o.Dispose();
            });
        }
        var cstats = Timing.MeasureInterleaved(collective, options);
        Console.WriteLine();
        Console.WriteLine($"{"replicas",-9} {"all-reduce of 203,533 floats, ms",34}");
        for (int i = 0; i < 3; i++)
        {
            int n = new[] { 1, 2, 4 }[i];
            Console.WriteLine($"{n,-9} {cstats[i].Median * 1000,34:F3}");
            result[$"all_reduce_ms_replicas_{n}"] = cstats[i].Median * 1000;
        }
        foreach (var m in models)
        {
            m.Model.Dispose();
            if (m.Device is ReplicatedDevice) m.Device.Dispose();
        }
        foreach (var d in disposables) d.Dispose();
        return result;
    }
}
