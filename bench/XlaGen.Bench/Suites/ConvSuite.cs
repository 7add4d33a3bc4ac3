using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Bench.Infrastructure;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen.Bench.Suites;

/// <summary>
/// Every convolution and reduction of the sample CNN's train step (batch 128), cut out of the compiled program as a
/// module of its own and timed alone on the CPU executor: ms per call and GF/s (convolutions) or GB/s read
/// (reductions). Shows where the CNN's step goes, kernel by kernel.
/// </summary>
internal sealed partial class ConvSuite : IBenchSuite
{
    public string Name => "conv";

    public string Description => "The sample CNN's train-step convolutions and per-channel reductions (batch 128), each alone: ms per call, GF/s or GB/s.";

    [GeneratedRegex(@"^\s*(?:ROOT )?%(?<name>\S+) = \S+ (?:convolution|reduce)\([^)]*\)(?<rest>.*?)(?:, metadata=\{.*)?$")]
    private static partial Regex Line();

    public JsonObject Run(BenchOptions options)
    {
        const int batch = 128;
        var device = new CpuDevice();
        var rng = new Random(1);
        using var model = BenchCnn.Create(device, seed: 1);
        model.Compile(new Adam(1e-3));
        var images = Tensor<float>.FromArray(Enumerable.Range(0, batch * 784).Select(_ => (float)rng.NextDouble()).ToArray(), batch, 28, 28, 1);
        var labels = Tensor<int>.FromArray(Enumerable.Range(0, batch).Select(_ => rng.Next(10)).ToArray(), batch);
        model.TrainStep(images, labels);
        var step = ((CpuExecutable)model.CompiledTrainStep(model.CompiledTrainSteps.Single())!).Module;
        var attributes = new Dictionary<string, string>();
        foreach (var line in step.ToString().Split('\n'))
            if (Line().Match(line) is { Success: true } m) attributes[m.Groups["name"].Value] = m.Groups["rest"].Value;
        var result = new JsonObject();
        Console.WriteLine($"{"instruction",-18} {"ms",8} {"best",8} {"rate",11}  operands -> result");
        var seen = new HashSet<string>();
        foreach (var ins in step.Entry.Instructions)
        {
            string op = ins.Opcode;
            if (op is not ("convolution" or "reduce") || !attributes.TryGetValue(ins.Name, out var rest)) continue;
            if (op == "reduce" && (ins.Shape.IsTuple || ins.Shape.ElementType != ElementType.F32 || ins.CalledComputations[0].Root.Opcode != "add")) continue;
            string a = Plain(ins.Operands[0].Shape), b = Plain(ins.Operands[1].Shape), shape = Plain(ins.Shape);
            if (op == "reduce") rest = Regex.Replace(rest, @"to_apply=%?[^,\s]+", "to_apply=add");
            string signature = $"{shape} {op}({a}, {b}){rest}";
            if (!seen.Add(signature)) continue;
            string add = op == "reduce" ? """
                add {
                  x = f32[] parameter(0)
                  y = f32[] parameter(1)
                  ROOT s = f32[] add(x, y)
                }

                """ : "";
            var module = HloTextParser.Parse($$"""
                HloModule one

                {{add}}ENTRY main {
                  a = {{a}} parameter(0)
                  b = {{b}} parameter(1)
                  ROOT r = {{shape}} {{op}}(a, b){{rest}}
                }
                """);
            var args = module.Entry.Parameters.Select(p => device.Upload(HloSuite.RandomOf(p.Shape, rng))).ToArray();
            var exe = device.CompileHlo(module);
            void Call()
            {
                foreach (var o in exe.Execute(args)) o.Dispose();
            }
            // CONV_AB=1: each convolution also with the blocked im2col path only (no tiles, no Pᵀ·dY kernel gradient, no
            // col2im input gradient),
            // interleaved with the default
            if (op == "convolution" && Environment.GetEnvironmentVariable("CONV_AB") == "1")
            {
                var ab = Timing.MeasureInterleaved(new Action[] { () => { Im2Col.Tiled = false; ConvKernelGradient.Allow = false; ConvScatter.Allow = false; Call(); }, () => { Im2Col.Tiled = true; ConvKernelGradient.Allow = true; ConvScatter.Allow = true; Call(); } }, options);
                Console.WriteLine($"{ins.Name,-18} blocked {ab[0].Median * 1e3,8:F3} (best {ab[0].Min * 1e3:F3})  default {ab[1].Median * 1e3,8:F3} (best {ab[1].Min * 1e3:F3})");
            }
            var stats = Timing.MeasureInterleaved(new Action[] { Call }, options)[0];
            bool conv = op == "convolution";
            double work = conv ? ConvFlops(module.Entry.Root) : module.Entry.Parameters[0].Shape.ElementCount * 4.0;
            double rate = work / stats.Median / 1e9;
            Console.WriteLine($"{ins.Name,-18} {stats.Median * 1e3,8:F3} {stats.Min * 1e3,8:F3} {rate,6:F1} {(conv ? "GF/s" : "GB/s")}  {a}, {b} -> {shape}");
            result[ins.Name] = new JsonObject
            {
                ["signature"] = signature,
                ["ms_median"] = stats.Median * 1e3,
                ["ms_best"] = stats.Min * 1e3,
                [conv ? "gflops_median" : "gbytes_per_s_median"] = rate,
            };
        }
        TimeMemoryBoundKernels(options, LoopFusion.Run(step), rng, result);
        return result;
    }

    /// <summary>
    /// The step's large memory-bound instructions as the CPU executor runs them (after its loop fusion): every fusion
    /// over at least 100k elements, reduce-window and select-and-scatter, each cut out as a module of its own (the same
    /// fused computation, operands random) and timed alone: ms per call and GB/s moved (operands read plus results
    /// written, once each).
    /// </summary>
    static void TimeMemoryBoundKernels(BenchOptions options, HloModule fused, Random rng, JsonObject result)
    {
        var device = new CpuDevice { Fusion = false };   // the cut modules are fused already
        Console.WriteLine();
        Console.WriteLine($"{"instruction",-24} {"ms",8} {"best",8} {"rate",11}  operands -> result");
        foreach (var ins in fused.Entry.Instructions)
        {
            bool fusion = ins.Opcode == "fusion" && ins.Operands.Concat(new[] { ins }).SelectMany(Leaves).Any(l => l.ElementCount >= 100_000);
            if (!fusion && ins.Opcode is not ("reduce-window" or "select-and-scatter")) continue;
            var entry = new HloComputation(1, "main");
            var parameters = ins.Operands.Select((o, i) => entry.Add(new HloInstruction(2 + i, $"p{i}", "parameter", o.Shape,
                attributes: new HloAttributes { ParameterNumber = i }))).ToList();
            entry.Root = entry.Add(new HloInstruction(2 + parameters.Count, "cut", ins.Opcode, ins.Shape, parameters, ins.Attributes, ins.CalledComputations));
            var callees = new List<HloComputation>();
            void Place(HloComputation c)
            {
                if (callees.Contains(c)) return;
                foreach (var i in c.Instructions) foreach (var callee in i.CalledComputations) Place(callee);
                callees.Add(c);
            }
            foreach (var c in ins.CalledComputations) Place(c);
            var module = new HloModule("cut", callees.Append(entry), entry);
            var exe = device.CompileHlo(module);
            var args = module.Entry.Parameters.Select(p => device.Upload(HloSuite.RandomOf(p.Shape, rng))).ToArray();
            void Call()
            {
                foreach (var o in exe.Execute(args)) o.Dispose();
            }
            var stats = Timing.MeasureInterleaved(new Action[] { Call }, options)[0];
            double bytes = ins.Operands.Concat(new[] { ins }).SelectMany(Leaves).Sum(l => (double)l.ElementCount * l.ElementType.ByteSize());
            string shapes = string.Join(", ", ins.Operands.Select(o => Plain(o.Shape)));
            string results = ins.Shape.IsTuple ? "(" + string.Join(", ", ins.Shape.TupleShapes.Select(Plain)) + ")" : Plain(ins.Shape);
            Console.WriteLine($"{ins.Name,-24} {stats.Median * 1e3,8:F3} {stats.Min * 1e3,8:F3} {bytes / stats.Median / 1e9,6:F1} GB/s  {shapes} -> {results}");
            result[ins.Name] = new JsonObject
            {
                ["signature"] = $"{results} {ins.Opcode}({shapes})",
                ["ms_median"] = stats.Median * 1e3,
                ["ms_best"] = stats.Min * 1e3,
                ["gbytes_per_s_median"] = bytes / stats.Median / 1e9,
            };
        }
    }

    static IEnumerable<Shape> Leaves(HloInstruction i) => i.Shape.IsTuple ? i.Shape.TupleShapes : new[] { i.Shape };

    static string Plain(Shape s) => $"{s.ElementType.ToString().ToLowerInvariant()}[{string.Join(',', s.ConcreteDims())}]";

    /// <summary>2 × output elements × kernel positions × input features per group.</summary>
    static double ConvFlops(HloInstruction conv)
    {
        var a = conv.Attributes;
        var rhs = conv.Operands[1].Shape;
        var dn = a.Convolution!;
        double window = dn.KernelSpatialDimensions.Aggregate(1.0, (p, d) => p * rhs.ConcreteDims()[(int)d]);
        double inFeatures = rhs.ConcreteDims()[(int)dn.KernelInputFeatureDimension];
        return 2.0 * conv.Shape.ElementCount * window * inFeatures;
    }
}
