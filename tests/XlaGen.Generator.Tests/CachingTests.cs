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

    static (string, string)[] LayerSources(string model) => new[]
    {
        ("Layers.cs", "using System;\nusing XlaGen;\nnamespace Samples;\n" + ConfigurableLayerTests.Layers),
        ("Model.cs", "using System;\nusing XlaGen;\nnamespace Samples;\n" + model),
    };

    const string TwoDense = """
        [XlaModel]
        public partial class Mlp
        {
            Dense d1 = new(784, 256, activation: Activation.Relu);
            ResBlock[] blocks = { new(256), new(256) };
            Dense d2 = new(256, 10);

            [Forward]
            public Tensor<float> Call([Shape("B", 784)] Tensor<float> x)
            {
                var h = d1.Call(x);
                foreach (var b in blocks) h = b.Call(h);
                return d2.Call(h);
            }
        }
        """;

    [Fact]
    public void ConfigurableLayerSpecsHoldNoRoslynObjects()
    {
        var r = GeneratorHarness.Run(GeneratorHarness.Compilation(LayerSources(TwoDense)));
        Assert.Empty(r.Errors);
        var values = r.Driver.GetRunResult().Results.Single().TrackedSteps[XlaGenerator.ParseStep].SelectMany(s => s.Outputs).Select(o => o.Value).ToList();
        Assert.Equal(3, values.Count);   // Dense, ResBlock (configurable: LoadParameters and their source) and Mlp
        foreach (var v in values) GeneratorHarness.AssertNoRoslynObjects(v);
    }

    [Fact]
    public void ChangingAnInstancesArgumentsRegeneratesTheModelNotTheLayer()
    {
        var compilation = GeneratorHarness.Compilation(LayerSources(TwoDense));
        var first = GeneratorHarness.Run(compilation);
        var model = compilation.SyntaxTrees.Single(t => t.FilePath == "Model.cs");
        var text = model.GetText().ToString();
        var changed = model.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(text.Replace("new(784, 256, activation", "new(784, 128, activation").Replace("new(256), new(256)", "new(128), new(128)").Replace("new(256, 10)", "new(128, 10)")));
        var second = GeneratorHarness.Run(compilation.ReplaceSyntaxTree(model, changed), first.Driver);
        Assert.Empty(second.Errors);
        Assert.Contains("new(\"d1.kernel\", global::XlaGen.Hlo.ElementType.F32, new long[] { 784, 256 }", first.Generated("Mlp.g.cs"));
        Assert.Contains("new(\"d1.kernel\", global::XlaGen.Hlo.ElementType.F32, new long[] { 784, 128 }", second.Generated("Mlp.g.cs"));
        Assert.Contains("new(\"blocks.1.inner.kernel\", global::XlaGen.Hlo.ElementType.F32, new long[] { 128, 256 }", second.Generated("Mlp.g.cs"));
        var specs = second.Driver.GetRunResult().Results.Single().TrackedSteps[XlaGenerator.SpecStep].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(2, specs.Count(o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));   // Dense and ResBlock
        Assert.Single(specs, o => o.Reason == IncrementalStepRunReason.Modified);
    }
}
