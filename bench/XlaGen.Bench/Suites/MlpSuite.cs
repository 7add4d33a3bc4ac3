using System.Text.Json.Nodes;
using XlaGen.Bench.Infrastructure;
using XlaGen.Data;
using XlaGen.Training;
#if XLAGEN_TORCHSHARP
using TorchSharp;
using TT = TorchSharp.torch.Tensor;
#endif

namespace XlaGen.Bench.Suites;

/// <summary>
/// Train-step throughput of the 784-256-10 MLP (Adam 1e-3, softmax cross-entropy) at batch 128: XlaGen's generated
/// train step on the CPU executor against TorchSharp (libtorch) in the same process, interleaved. One timed call is
/// one pass over the same 5120 examples (40 steps), shuffled and batched by each side's own data path.
/// </summary>
internal sealed class MlpSuite : IBenchSuite
{
    const int Batch = 128;
    const int Examples = 40 * Batch;

    public string Name => "mlp-inproc";

    public string Description => "MLP 784-256-10 train step (Adam, batch 128), synthetic data: XlaGen vs TorchSharp in one process (-p:WithTorchSharp=true), samples/s.";

    public JsonObject Run(BenchOptions options)
    {
        var (x, y, data) = BenchMlpData.Synthetic(Examples);

        using var model = BenchMlp.Create(Devices.Cpu(), seed: 1);
        model.Compile(new Adam(1e-3));
        var fit = new FitOptions { Epochs = 1, BatchSize = Batch, Verbose = false };
        var ops = new List<Action> { () => model.Fit(data, fit) };
        var names = new List<string> { "xlagen" };
        string? peerNote = null;
#if XLAGEN_TORCHSHARP
        torch.set_num_threads(options.Threads);
        var peer = new TorchMlp(x, y);
        ops.Add(peer.Epoch);
        names.Add("torchsharp");
#else
        peerNote = "TorchSharp peer not built: run bench/run.sh (dotnet run -p:WithTorchSharp=true …) to compare";
#endif
        var stats = Timing.MeasureInterleaved(ops, options);
        var result = new JsonObject { ["batch"] = Batch, ["examples_per_call"] = Examples, ["threads"] = options.Threads };
        Console.WriteLine();
        Console.WriteLine($"{"implementation",-14} {"samples/s",12} {"ms/step",9}");
        double ours = Examples / stats[0].Median;
        for (int i = 0; i < ops.Count; i++)
        {
            double rate = Examples / stats[i].Median;
            Console.WriteLine($"{names[i],-14} {rate,12:N0} {stats[i].Median * 1000 / (Examples / Batch),9:F3}");
            result[names[i]] = new JsonObject
            {
                ["samples_per_second"] = rate,
                ["ms_per_step_median"] = stats[i].Median * 1000 / (Examples / Batch),
                ["min_seconds_per_call"] = stats[i].Min,
                ["max_seconds_per_call"] = stats[i].Max,
            };
        }
        if (ops.Count > 1)
        {
            double ratio = ours / (Examples / stats[1].Median);
            Console.WriteLine($"xlagen / torchsharp = {ratio:F2}x");
            result["ratio_xlagen_over_torchsharp"] = ratio;
        }
        if (peerNote != null)
        {
            Console.WriteLine(peerNote);
            result["note"] = peerNote;
        }
        return result;
    }

#if XLAGEN_TORCHSHARP
    /// <summary>The same network, optimizer and loss in TorchSharp, with its own shuffled batching.</summary>
    sealed class TorchMlp
    {
        readonly torch.nn.Module<TT, TT> model;
        readonly torch.optim.Optimizer optimizer;
        readonly torch.nn.Module<TT, TT, TT> loss = torch.nn.CrossEntropyLoss();
        readonly TT x;
        readonly TT y;
        int epoch;

        public TorchMlp(float[] images, int[] labels)
        {
            torch.manual_seed(1);
            model = torch.nn.Sequential(("fc1", torch.nn.Linear(784, 256)), ("relu", torch.nn.ReLU()), ("fc2", torch.nn.Linear(256, 10)));
            optimizer = torch.optim.Adam(model.parameters(), 1e-3);
            x = torch.tensor(images, new long[] { Examples, 784 });
            y = torch.tensor(labels.Select(l => (long)l).ToArray(), new long[] { Examples });
        }

        public void Epoch()
        {
            using var scope = torch.NewDisposeScope();
            var order = torch.randperm(Examples, generator: new torch.Generator((ulong)epoch++));
            for (int start = 0; start < Examples; start += Batch)
            {
                using var step = torch.NewDisposeScope();
                var index = order.narrow(0, start, Batch);
                optimizer.zero_grad();
                var l = loss.forward(model.forward(x.index_select(0, index)), y.index_select(0, index));
                l.backward();
                optimizer.step();
            }
        }
    }
#endif
}
