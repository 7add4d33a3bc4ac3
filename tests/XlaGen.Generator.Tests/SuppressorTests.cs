extern alias gen;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using gen::XlaGen.Generator;

namespace XlaGen.Tests;

public class SuppressorTests
{
    static async Task<ImmutableArray<Diagnostic>> Diagnostics(Compilation c) =>
        await c.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ParamFieldSuppressor()), new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), null, concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: true))
            .GetAllDiagnosticsAsync(TestContext.Current.CancellationToken);

    [Fact]
    public async Task ParamFieldsAreExemptFromNullableAndUnusedWarnings()
    {
        var source = Models.FashionMlp.Replace("[Param(10)] Tensor<float> b2;", "[Param(10)] Tensor<float> b2;\n    Tensor<float> notAParam;\n    int unused;");
        // Without the generator: CS0169/CS0649 for [Param] fields are suppressed too (the case of a model with an error).
        var compilation = GeneratorHarness.Compilation(("FashionMlp.cs", source));
        var all = await Diagnostics(compilation);
        var warnings = all.Where(d => d.Id is "CS8618" or "CS0169" or "CS0649").ToList();
        Assert.NotEmpty(warnings);
        foreach (var d in warnings)
        {
            var name = d.GetMessage().Split('\'')[1];
            bool isParam = name.EndsWith("w1") || name.EndsWith("b1") || name.EndsWith("w2") || name.EndsWith("b2");
            Assert.True(isParam == d.IsSuppressed, $"{d.Id} on {name}: suppressed={d.IsSuppressed}");
        }
        Assert.Contains(warnings, d => d.GetMessage().Contains("notAParam") && !d.IsSuppressed);
    }
}
