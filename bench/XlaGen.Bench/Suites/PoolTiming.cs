using System.Diagnostics;
using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Bench.Suites;

/// <summary>
/// `XlaGen.Bench pool [reps]`: the FashionMnistCnn max pools at batch 128 (reduce-window and its select-and-scatter
/// gradient, f32[128,26,26,32] and f32[128,11,11,64], 2x2 stride 2), each compiled with the direct pooling kernels
/// and with the rows kernels they replaced, run alternately; prints the median milliseconds per call of each.
/// </summary>
internal static class PoolTiming
{
    public static int Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 41;
        var cpu = new CpuDevice();
        foreach (var (h, c) in new[] { (26L, 32L), (11L, 64L) })
        {
            long o = (h - 2) / 2 + 1;
            string x = $"f32[128,{h},{h},{c}]", y = $"f32[128,{o},{o},{c}]";
            string head = """
                HloModule pool

                ge {
                  a = f32[] parameter(0)
                  b = f32[] parameter(1)
                  ROOT c = pred[] compare(a, b), direction=GE
                }

                add {
                  a = f32[] parameter(0)
                  b = f32[] parameter(1)
                  ROOT r = f32[] add(a, b)
                }

                mx {
                  a = f32[] parameter(0)
                  b = f32[] parameter(1)
                  ROOT r = f32[] maximum(a, b)
                }

                """;
            const string win = "window={size=1x2x2x1 stride=1x2x2x1}";
            var modules = new (string Name, string Text, Tensor[] Args)[]
            {
                ($"reduce-window {x}", head + $"ENTRY main {{\n  x = {x} parameter(0)\n  i = f32[] parameter(1)\n  ROOT r = {y} reduce-window(x, i), {win}, to_apply=mx\n}}\n",
                    [Random(x, h, c, 1), Tensor<float>.FromArray([float.NegativeInfinity])]),
                ($"select-and-scatter {x}", head + $"ENTRY main {{\n  x = {x} parameter(0)\n  g = {y} parameter(1)\n  i = f32[] parameter(2)\n  ROOT r = {x} select-and-scatter(x, g, i), {win}, select=ge, scatter=add\n}}\n",
                    [Random(x, h, c, 1), Random(y, o, c, 2), Tensor<float>.FromArray([0f])]),
            };
            foreach (var (name, text, a) in modules)
            {
                var module = HloTextParser.Parse(text);
                IExecutable Compile(PoolShape.Path p)
                {
                    using var _ = PoolShape.ForceForTesting(p);
                    return cpu.CompileHlo(module);
                }
                using var direct = Compile(PoolShape.Path.Direct);
                using var rows = Compile(PoolShape.Path.Rows);
                var inputs = a.Select(cpu.Upload).ToArray();
                double Time(IExecutable e)
                {
                    var sw = Stopwatch.StartNew();
                    var outs = e.Execute(inputs);
                    double ms = sw.Elapsed.TotalMilliseconds;
                    foreach (var t in outs) t.Dispose();
                    return ms;
                }
                for (int i = 0; i < 5; i++)
                {
                    Time(rows);
                    Time(direct);
                }
                var tr = new List<double>();
                var td = new List<double>();
                for (int i = 0; i < reps; i++)
                {
                    tr.Add(Time(rows));
                    td.Add(Time(direct));
                }
                tr.Sort();
                td.Sort();
                Console.WriteLine($"{name}: rows {tr[reps / 2]:F3} ms, direct {td[reps / 2]:F3} ms (medians of {reps}, alternating)");
            }
        }
        return 0;
    }

    static Tensor Random(string _, long h, long c, int seed)
    {
        var rng = new Random(seed);
        long n = 128 * h * h * c;
        return Tensor<float>.FromArray(Enumerable.Range(0, (int)n).Select(_ => (float)rng.NextDouble()).ToArray(), 128, h, h, c);
    }
}
