using XlaGen.Autodiff;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Tests.Conformance;

namespace XlaGen.Tests;

/// <summary>
/// DESIGN.md's "adding an op" checklist, enforced: every catalogue op has a shape rule with an exact-error test
/// (<see cref="ShapeRuleTests"/>), a lowering to XLA text and to HloModuleProto that round-trips, a CPU kernel and
/// a conformance case (ConformanceTests, CpuExecutorTests), and a gradient rule with a finite-difference check or a
/// stated reason why it has none (GradientCheckTests). The C# surface part (item 6) is SurfaceCoverageTests in the generator tests.
/// </summary>
public class OpChecklistTests
{
    /// <summary>Every instruction of every conformance module survives text and proto round trips, and together they use every op.</summary>
    [Fact]
    public void EveryOpRoundTripsThroughXlaTextAndProto()
    {
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in ConformanceTests.Cases.Values)
        {
            var module = c.Build();
            foreach (var i in module.AllInstructions) covered.Add(i.Opcode);
            var text = HloPrinter.Print(module);
            var fromText = HloTextParser.Parse(text);
            Assert.True(text == HloPrinter.Print(fromText), $"{c.Name}: text round trip changed the module");
            var fromProto = HloProto.Read(HloProto.Write(module));
            Assert.True(text == HloPrinter.Print(fromProto), $"{c.Name}: proto round trip changed the module:\n{text}\n---\n{HloPrinter.Print(fromProto)}");
        }
        var missing = OpCatalogue.Opcodes.Where(o => !covered.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "ops without a round-tripped module: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryOpHasAShapeRuleErrorTest()
    {
        var tested = ShapeRuleTests.Cases.Select(c => c.Data.Item1).ToHashSet(StringComparer.Ordinal);
        var missing = OpCatalogue.Opcodes.Where(o => !tested.Contains(o) && !ShapeRuleTests.NoOperandErrors.ContainsKey(o)).ToList();
        Assert.True(missing.Count == 0, "ops without an exact-error shape test: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryFloatOpHasAGradientRuleOrAReason()
    {
        var missing = OpCatalogue.Opcodes.Where(o => !GradientRules.TryGet(o, out _) && !GradientRules.NonDifferentiable.ContainsKey(o)).ToList();
        Assert.True(missing.Count == 0, "ops with neither a gradient rule nor a reason: " + string.Join(", ", missing));
    }
}
