using XlaGen.Hlo;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>The generator's build-time memory estimate (issue 9, item 7) on a real model: Summary prints it, parameter
/// bytes equal the real parameter tensors', and the symbolic formula agrees with the same walk over the concrete program.</summary>
public class MemoryEstimateTests
{
    readonly ITestOutputHelper output;

    public MemoryEstimateTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void SummaryPrintsTheEstimateAtTheCompiledBatchSize()
    {
        using var model = Mlp.Create(Devices.Cpu(), seed: 3);
        model.Compile(new Adam(1e-3));
        var rng = new SplitMix64(5);
        var x = new Tensor<float>(new long[] { 128, 784 }, Enumerable.Range(0, 128 * 784).Select(_ => (float)rng.NextDouble()).ToArray());
        var labels = new Tensor<int>(new long[] { 128 }, Enumerable.Range(0, 128).Select(_ => rng.NextInt(10)).ToArray());
        model.TrainStep(x, labels);
        model.Logits(x);
        var summary = model.Summary();
        output.WriteLine(summary);

        var memory = model.MemoryEstimate!;
        Assert.Same(Mlp.MemoryEstimate, memory);
        // Parameter bytes: the sum of the real parameter tensors' sizes.
        long real = model.GetParameters().Values.Sum(t => t.ElementCount * t.ElementType.ByteSize());
        Assert.Equal((784 * 256 + 256 + 256 * 10 + 10) * 4, real);
        Assert.Equal(real, memory.ParameterBytes);
        Assert.Equal(real, memory.OptimizerStateBytesPerSlot);   // every parameter is trainable f32

        var logits = memory["Logits"];
        long at128 = logits.Bytes(new Dictionary<string, long> { ["B"] = 128 });
        // Sane: at least parameters + input + output, and below twice that plus the hidden layer's few [B,256] buffers.
        long floor = real + 128 * 784 * 4 + 128 * 10 * 4;
        Assert.InRange(at128, floor, floor + 8L * 128 * 256 * 4);

        var lines = summary.Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.Contains("Build-time memory estimate (generator; an unfused schedule, upper-bound style, not XLA's buffer assignment):", lines);
        Assert.Contains($"  parameters {real:N0} bytes; optimizer state {real:N0} bytes per slot (Adam keeps 2 slots, RMSProp 1 or 2, SGD with momentum 1)", lines);
        Assert.Single(logits.PeakCandidates);
        Assert.Contains($"  Logits(B): peak {logits.Peak} bytes, inputs 3,136·B, outputs 40·B; at B=128: {at128:N0} bytes", lines);
        var loss = memory["Loss"];
        // loss, accuracy, the gradients and the observed (logits f32[B,10], labels s32[B]) for Compile's metrics;
        // several candidate peaks, so the formula is their max.
        Assert.Contains($"  [Loss] Loss(B): peak {loss.PeakFormula} bytes, inputs 3,140·B, outputs 44·B + 814,128; at B=128: {loss.Bytes(128):N0} bytes", lines);
        Assert.StartsWith("max(", loss.PeakFormula);
        Assert.Contains($"  training adds the optimizer state to the [Loss] Loss peak: {2 * real:N0} bytes (2 slot(s))", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("  Probabilities(B):", StringComparison.Ordinal) && l.Contains("at B=", StringComparison.Ordinal));
    }

    [Fact]
    public void TheFormulaAgreesWithTheWalkOverTheConcreteProgram()
    {
        var b = new Dictionary<string, long> { ["B"] = 128 };
        foreach (var (method, module) in new[] { ("Logits", Mlp.BuildLogitsProgram(128)), ("Probabilities", Mlp.BuildProbabilitiesProgram(128)), ("Loss", Mlp.BuildLossProgram(128)) })
        {
            var concrete = ProgramMemory.Estimate(module);
            Assert.True(concrete.PeakBound.IsConstant);
            Assert.Equal(concrete.PeakFor(b), Mlp.MemoryEstimate[method].Bytes(b));
            // The CPU executor's own estimate leaves out what the caller holds (parameters, inputs) and reuses nothing
            // more than this walk, so it is never above the build-time figure.
            using var exe = Devices.Cpu().CompileHlo(module);
            output.WriteLine($"{method}(128): build time {Mlp.MemoryEstimate[method].Bytes(b):N0} bytes, CPU plan {exe.PeakMemoryBytes:N0} bytes");
            Assert.True(exe.PeakMemoryBytes <= Mlp.MemoryEstimate[method].Bytes(b));
        }
    }
}
