extern alias gen;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using gen::XlaGen.Generator;

namespace XlaGen.Tests;

/// <summary>Incremental caching, as NetEscapades.EnumGenerators tests it: a second run over the same input is
/// all Cached/Unchanged, an unrelated edit regenerates nothing, and no Roslyn object hides in the specs.
/// GeneratorHarness.Run checks all three on every generator test; these add the edits that must regenerate.</summary>
public class CachingTests
{
    const string Unrelated = "namespace Other; public class Unrelated { public int X => 1; }";

    static IEnumerable<(string, string)> Sources() => new[] { ("FashionMlp.cs", Models.FashionMlp), ("Encoder.cs", Models.Encoder), ("Autoencoder.cs", Models.Autoencoder) };

    [Fact]
    public void SecondRunIsCached()
    {
        var compilation = GeneratorHarness.Compilation(Sources().ToArray());
        var first = GeneratorHarness.Run(compilation);
        Assert.Empty(first.Errors);
        var second = GeneratorHarness.Run((CSharpCompilation)compilation.Clone(), first.Driver);
        GeneratorHarness.AssertAllCached(second.Driver);
    }

    [Fact]
    public void UnrelatedEditRegeneratesNothing()
    {
        var compilation = GeneratorHarness.Compilation(Sources().ToArray());
        var first = GeneratorHarness.Run(compilation);
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(Unrelated, GeneratorHarness.ParseOptions, path: "Unrelated.cs"));
        var second = GeneratorHarness.Run(edited, first.Driver);
        GeneratorHarness.AssertAllCached(second.Driver);
        Assert.Equal(first.Run.GeneratedSources.Select(s => s.SourceText.ToString()), second.Run.GeneratedSources.Select(s => s.SourceText.ToString()));
    }

    [Fact]
    public void EditingAMethodBodyRegeneratesItsModel()
    {
        var compilation = GeneratorHarness.Compilation(("FashionMlp.cs", Models.FashionMlp));
        var first = GeneratorHarness.Run(compilation);
        var tree = compilation.SyntaxTrees.Single();
        var changed = tree.WithChangedText(tree.GetText().Replace(Models.FashionMlp.IndexOf("Nn.Softmax", StringComparison.Ordinal), "Nn.Softmax".Length, "Nn.LogSoftmax"));
        var second = GeneratorHarness.Run(compilation.ReplaceSyntaxTree(tree, changed), first.Driver);
        var outputs = second.Driver.GetRunResult().Results.Single().TrackedSteps[XlaGenerator.SpecStep].SelectMany(s => s.Outputs).ToList();
        Assert.Contains(outputs, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("exponential", second.Generated("FashionMlp.g.cs"));
        Assert.NotEqual(first.Generated("FashionMlp.g.cs"), second.Generated("FashionMlp.g.cs"));
    }

    [Fact]
    public void EditingASubModelInAnotherFileRegeneratesTheParent()
    {
        var compilation = GeneratorHarness.Compilation(Sources().ToArray());
        var first = GeneratorHarness.Run(compilation);
        var encoder = compilation.SyntaxTrees.Single(t => t.FilePath == "Encoder.cs");
        var text = encoder.GetText().ToString();
        var changed = encoder.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(text.Replace("Nn.Relu", "Nn.Tanh")));
        var second = GeneratorHarness.Run(compilation.ReplaceSyntaxTree(encoder, changed), first.Driver);
        Assert.Empty(second.Errors);
        Assert.DoesNotContain("\"tanh\"", first.Generated("Autoencoder.g.cs"));
        Assert.Contains("\"tanh\"", second.Generated("Autoencoder.g.cs"));
    }

    [Fact]
    public void SpecsHoldNoRoslynObjects()
    {
        var r = GeneratorHarness.Run(GeneratorHarness.Compilation(Sources().ToArray()));
        var steps = r.Driver.GetRunResult().Results.Single().TrackedSteps;
        var values = steps[XlaGenerator.ParseStep].SelectMany(s => s.Outputs).Select(o => o.Value).ToList();
        Assert.Equal(3, values.Count);
        foreach (var v in values) GeneratorHarness.AssertNoRoslynObjects(v);
    }

    [Fact]
    public void SpecsAreEquatableByValue()
    {
        var a = GeneratorHarness.Run(GeneratorHarness.Compilation(("FashionMlp.cs", Models.FashionMlp)));
        var b = GeneratorHarness.Run(GeneratorHarness.Compilation(("FashionMlp.cs", Models.FashionMlp)));
        object Spec(GeneratorHarness.Result r) => r.Driver.GetRunResult().Results.Single().TrackedSteps[XlaGenerator.SpecStep].Single().Outputs.Single().Value;
        Assert.Equal(Spec(a), Spec(b));
        Assert.Equal(Spec(a).GetHashCode(), Spec(b).GetHashCode());
    }
}
