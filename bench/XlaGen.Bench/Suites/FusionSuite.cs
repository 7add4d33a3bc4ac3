using System.Text.Json.Nodes;
using XlaGen.Backends.Cpu;
using XlaGen.Bench.Infrastructure;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Bench.Suites;

/// <summary>
/// The CPU executor's loop fusion against the same programs unfused, interleaved in one process (one runtime, so no
/// thread-pool contention): a BatchNorm-style chain over the CNN's first activation (f32[128·26·26, 32]) and the whole
/// train step of the sample CNN at batch 128. Both sides compute bitwise the same results (tested).
/// </summary>
internal sealed class FusionSuite : IBenchSuite
{
    public string Name => "fusion";

    public string Description => "CPU loop fusion on vs off: a BatchNorm+ReLU chain over f32[86528,32] and the sample CNN's train step (batch 128), Adam's update of an f32[784,256] weight, ms per call.";

    const string Chain = """
        HloModule bn

        ENTRY main {
          x = f32[86528,32] parameter(0)
          mean = f32[32] parameter(1)
          scale = f32[32] parameter(2)
          beta = f32[32] parameter(3)
          bm = f32[86528,32] broadcast(mean), dimensions={1}
          centered = f32[86528,32] subtract(x, bm)
          bs = f32[86528,32] broadcast(scale), dimensions={1}
          scaled = f32[86528,32] multiply(centered, bs)
          bb = f32[86528,32] broadcast(beta), dimensions={1}
          shifted = f32[86528,32] add(scaled, bb)
          zero = f32[] constant(0)
          bz = f32[86528,32] broadcast(zero), dimensions={}
          ROOT relu = f32[86528,32] maximum(shifted, bz)
        }
        """;

    /// <summary>Adam's update of the MLP's first weight, f32[784,256], as the train step writes it (no bias
    /// correction in the chain; the learning rate arrives corrected).</summary>
    const string AdamChain = """
        HloModule adam

        ENTRY main {
          w = f32[784,256] parameter(0)
          m = f32[784,256] parameter(1)
          v = f32[784,256] parameter(2)
          g = f32[784,256] parameter(3)
          lr = f32[] parameter(4)
          b1 = f32[] constant(0.9)
          c1 = f32[] constant(0.1)
          b2 = f32[] constant(0.999)
          c2 = f32[] constant(0.001)
          eps = f32[] constant(1e-07)
          bb1 = f32[784,256] broadcast(b1), dimensions={}
          bc1 = f32[784,256] broadcast(c1), dimensions={}
          bb2 = f32[784,256] broadcast(b2), dimensions={}
          bc2 = f32[784,256] broadcast(c2), dimensions={}
          beps = f32[784,256] broadcast(eps), dimensions={}
          blr = f32[784,256] broadcast(lr), dimensions={}
          m1 = f32[784,256] multiply(bb1, m)
          m2 = f32[784,256] multiply(bc1, g)
          mn = f32[784,256] add(m1, m2)
          gg = f32[784,256] multiply(g, g)
          v1 = f32[784,256] multiply(bb2, v)
          v2 = f32[784,256] multiply(bc2, gg)
          vn = f32[784,256] add(v1, v2)
          sv = f32[784,256] sqrt(vn)
          den = f32[784,256] add(sv, beps)
          q = f32[784,256] divide(mn, den)
          st = f32[784,256] multiply(blr, q)
          wn = f32[784,256] subtract(w, st)
          ROOT out = (f32[784,256], f32[784,256], f32[784,256]) tuple(wn, mn, vn)
        }
        """;

    public JsonObject Run(BenchOptions options)
    {
        var fused = new CpuDevice { Fusion = true };
        var plain = new CpuDevice { Fusion = false };
        var result = new JsonObject();
        Console.WriteLine($"{"case",-22} {"fused ms",10} {"unfused ms",11} {"speedup",8} {"best-rep",9}");

        var module = HloTextParser.Parse(Chain);
        var rng = new Random(1);
        Tensor Random(Shape s) => Tensor<float>.FromArray(Enumerable.Range(0, (int)s.ElementCount).Select(_ => (float)rng.NextDouble()).ToArray(), s.ConcreteDims());
        var args = module.Entry.Parameters.Select(p => Random(p.Shape)).ToArray();
        Action Chained(CpuDevice d)
        {
            var exe = d.CompileHlo(module);
            var bufs = args.Select(d.Upload).ToArray();
            return () => { foreach (var o in exe.Execute(bufs)) o.Dispose(); };
        }
        Report("bn-relu-chain", Timing.MeasureInterleaved(new[] { Chained(fused), Chained(plain) }, options), result);

        var adam = HloTextParser.Parse(AdamChain);
        var adamArgs = adam.Entry.Parameters.Select(p => Random(p.Shape)).ToArray();
        Action Adam(CpuDevice d)
        {
            var exe = d.CompileHlo(adam);
            var bufs = adamArgs.Select(d.Upload).ToArray();
            return () => { foreach (var o in exe.Execute(bufs)) o.Dispose(); };
        }
        Report("adam-784x256", Timing.MeasureInterleaved(new[] { Adam(fused), Adam(plain) }, options), result);

        const int batch = 128;
        var images = Tensor<float>.FromArray(Enumerable.Range(0, batch * 784).Select(_ => (float)rng.NextDouble()).ToArray(), batch, 28, 28, 1);
        var labels = Tensor<int>.FromArray(Enumerable.Range(0, batch).Select(_ => rng.Next(10)).ToArray(), batch);
        Action Step(CpuDevice d)
        {
            var model = BenchCnn.Create(d, seed: 1);
            model.Compile(new Adam(1e-3));
            return () => model.TrainStep(images, labels);
        }
        Report("cnn-train-step-b128", Timing.MeasureInterleaved(new[] { Step(fused), Step(plain) }, options with { MinRepSeconds = Math.Max(options.MinRepSeconds, 0.3) }), result);
        return result;
    }

    static void Report(string name, TimingStats[] s, JsonObject result)
    {
        Console.WriteLine($"{name,-22} {s[0].Median * 1e3,10:F2} {s[1].Median * 1e3,11:F2} {s[1].Median / s[0].Median,8:F2} {s[1].Min / s[0].Min,9:F2}");
        result[name] = new JsonObject
        {
            ["fused_ms_median"] = s[0].Median * 1e3,
            ["unfused_ms_median"] = s[1].Median * 1e3,
            ["fused_ms_best"] = s[0].Min * 1e3,
            ["unfused_ms_best"] = s[1].Min * 1e3,
            ["speedup_median"] = s[1].Median / s[0].Median,
            ["speedup_best"] = s[1].Min / s[0].Min,
        };
    }
}
