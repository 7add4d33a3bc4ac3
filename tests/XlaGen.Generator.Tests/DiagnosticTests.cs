using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace XlaGen.Tests;

/// <summary>Every XG diagnostic: id, exact message, and the span it points at (marked [| |] in the source).</summary>
public class DiagnosticTests
{
    const string Header = """
        using XlaGen;
        namespace Samples;

        """;

    /// <summary>Runs the generator on <paramref name="marked"/> and returns the single XG diagnostic, asserting it sits on the [| |] span.</summary>
    internal static Diagnostic Single(string marked, string id)
    {
        var source = Header + marked;
        int start = source.IndexOf("[|", StringComparison.Ordinal);
        int end = source.IndexOf("|]", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "test source needs a [| |] span");
        var clean = source.Remove(end, 2).Remove(start, 2);
        var expected = new TextSpan(start, end - start - 2);
        var r = GeneratorHarness.Run(("Model.cs", clean));
        var xg = r.GeneratorDiagnostics.Where(d => d.Id.StartsWith("XG", StringComparison.Ordinal)).ToList();
        Assert.True(xg.Count == 1, "expected one XG diagnostic, got:\n" + string.Join("\n", r.GeneratorDiagnostics));
        var d = xg[0];
        Assert.Equal(id, d.Id);
        Assert.Equal("Model.cs", d.Location.GetLineSpan().Path);
        Assert.True(expected == d.Location.SourceSpan,
            $"diagnostic at '{clean.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)}' ({d.Location.SourceSpan}), expected '{clean.Substring(expected.Start, expected.Length)}' ({expected})");
        return d;
    }

    [Fact]
    public void ShapeMismatchInMatMulNamesBothShapesAndTheOp()
    {
        var d = Single("""
            [XlaModel]
            public partial class Mlp
            {
                [Param(784, 256)] Tensor<float> w1;
                [Param(256, 10)] Tensor<float> w2;

                [Forward]
                public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => [|x.MatMul(w2)|];
            }
            """, "XG0001");
        Assert.Equal("'x.MatMul(w2)': MatMul: f32[B,784] × f32[256,10]: inner dimensions differ (784 vs 256)", d.GetMessage());
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void ShapeMismatchInBroadcastAdd()
    {
        var d = Single("""
            [XlaModel]
            public partial class Mlp
            {
                [Param(784, 256)] Tensor<float> w1;
                [Param(128)] Tensor<float> b1;

                [Forward]
                public Tensor<float> Hidden([Shape("B", 784)] Tensor<float> x)
                {
                    var h = x.MatMul(w1);
                    return Nn.Relu([|h + b1|]);
                }
            }
            """, "XG0001");
        Assert.Equal("'h + b1': +: shapes [B,256] and [128] do not broadcast: dimension 256 and 128 differ (NumPy rules: equal, or one of them 1)", d.GetMessage());
    }

    [Fact]
    public void SymbolicDimensionsNeverMatchConstants()
    {
        var d = Single("""
            [XlaModel]
            public partial class Pairs
            {
                [Param(4)] Tensor<float> w;

                [Forward]
                public Tensor<float> Sum([Shape("B", 4)] Tensor<float> x, [Shape("C", 4)] Tensor<float> y) => [|x + y|];
            }
            """, "XG0001");
        Assert.Equal("'x + y': +: shapes [B,4] and [C,4] do not broadcast: dimension B and C differ (NumPy rules: equal, or one of them 1)", d.GetMessage());
    }

    [Fact]
    public void ElementTypeMismatch()
    {
        var d = Single("""
            [XlaModel]
            public partial class Ints
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<int> Squash([Shape("B")] Tensor<int> x) => [|Nn.Sigmoid(x)|];
            }
            """, "XG0002");
        Assert.Equal("'Nn.Sigmoid(x)': logistic: needs a floating-point element type, got s32[B]", d.GetMessage());
    }

    [Fact]
    public void UnsupportedConstructNamesTheConstruct()
    {
        var d = Single("""
            [XlaModel]
            public partial class Branchy
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    var y = x * w;
                    [|try { y = y * 2f; } finally { }|]
                    return y;
                }
            }
            """, "XG0003");
        // An if on a constant compiles now (ConfigurableLayerTests); a try statement is still no part of a program.
        Assert.Equal("XlaGen cannot compile 'try { y = y * 2f; } finally { }' (a try statement) (model methods hold local declarations, assignments to locals, returns, and if, switch and loops on build-time constants) in model method 'Branchy.F': see the supported surface in README.md", d.GetMessage());
    }

    [Fact]
    public void CallsOutsideTheSurfaceAreUnsupported()
    {
        var d = Single("""
            [XlaModel]
            public partial class Calls
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x * [|Helpers.Scale(w)|];
            }

            public static class Helpers
            {
                public static Tensor<float> Scale(Tensor<float> t) => t;
            }
            """, "XG0003");
        Assert.Contains("the call to 'Helpers.Scale(Tensor<float>)' (only the tensor surface, methods of this model and methods of its sub-models compile)", d.GetMessage());
    }

    [Fact]
    public void ClassMustBePartial()
    {
        var d = Single("""
            [XlaModel]
            public class [|Plain|]
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x * w;
            }
            """, "XG0004");
        Assert.Equal("[XlaModel] class 'Plain' must be declared partial (and so must any class containing it), so XlaGen can add its programs and runner", d.GetMessage());
    }

    [Fact]
    public void ParamShapeMustBePositive()
    {
        var d = Single("""
            [XlaModel]
            public partial class Bad
            {
                [[|Param(0, 10)|]] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 10)] Tensor<float> x) => x;
            }
            """, "XG0005");
        Assert.Equal("[Param] field 'w' has shape [0,10]; every dimension must be a positive constant", d.GetMessage());
    }

    [Fact]
    public void UnknownSymbolicDimensionInReturnShape()
    {
        var d = Single("""
            [XlaModel]
            public partial class Out
            {
                [Param(784, 10)] Tensor<float> w;

                [Forward]
                [return: [|Shape("N", 10)|]]
                public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => x.MatMul(w);
            }
            """, "XG0006");
        Assert.Equal("[return: Shape] of 'Logits' names the dimension 'N', which is not a number and not a symbol of its inputs (B)", d.GetMessage());
    }

    [Fact]
    public void InvalidDimensionInShape()
    {
        var d = Single("""
            [XlaModel]
            public partial class Dims
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([[|Shape("B", "3x")|]] Tensor<float> x) => x * w;
            }
            """, "XG0006");
        Assert.Equal("[Shape] of input 'x' has the dimension '3x'; use a positive int for a fixed dimension or an identifier string (\"B\") for a symbolic one", d.GetMessage());
    }

    [Fact]
    public void ReturnShapeIsChecked()
    {
        var d = Single("""
            [XlaModel]
            public partial class Out
            {
                [Param(784, 10)] Tensor<float> w;

                [Forward]
                [return: [|Shape("B", 11)|]]
                public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => x.MatMul(w);
            }
            """, "XG0001");
        Assert.Equal("'Logits' returns f32[B,10], but its [return: Shape] says [B,11]: dimension 1 is 10, expected 11", d.GetMessage());
    }

    [Fact]
    public void UnsupportedInputType()
    {
        var d = Single("""
            [XlaModel]
            public partial class Arrays
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F(float[] [|x|]) => w;
            }
            """, "XG0007");
        Assert.Equal("Input 'x' of [Forward] method 'F' has type 'float[]'; inputs must be Tensor<T> with a [Shape]", d.GetMessage());
    }

    [Fact]
    public void UnsupportedParamType()
    {
        var d = Single("""
            [XlaModel]
            public partial class Fields
            {
                [Param(3)] float[] [|w|];

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x;
            }
            """, "XG0007");
        Assert.Equal("[Param] field 'w' has type 'float[]'; a parameter must be a Tensor<T> with T one of float, double, int, long, bool, sbyte, short, byte, ushort, uint, ulong, Half", d.GetMessage());
    }

    [Fact]
    public void InputShapeMissing()
    {
        var d = Single("""
            [XlaModel]
            public partial class NoShape
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F(Tensor<float> [|x|]) => x * w;
            }
            """, "XG0008");
        Assert.Equal("Tensor input 'x' of 'F' needs a [Shape(...)] attribute such as [Shape(\"B\", 784)], where numbers are fixed dims and strings are symbolic dims", d.GetMessage());
    }

    [Fact]
    public void RecursionIsReported()
    {
        var d = Single("""
            [XlaModel]
            public partial class Loop
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => G(x);

                Tensor<float> G(Tensor<float> x) => [|G(x * w)|];
            }
            """, "XG0009");
        Assert.Equal("'G' calls itself through F → G → G; model methods are inlined at build time and cannot recurse", d.GetMessage());
    }

    [Fact]
    public void SubModelCycle()
    {
        // Both classes are models, so each reports the field that closes the cycle, on the field's name.
        var source = Header + """
            [XlaModel]
            public partial class A
            {
                [Param(3)] Tensor<float> w;
                B inner;

                [Forward]
                public Tensor<float> F([Shape("N", 3)] Tensor<float> x) => x * w;
            }

            [XlaModel]
            public partial class B
            {
                A outer;

                [Forward]
                public Tensor<float> F([Shape("N", 3)] Tensor<float> x) => x;
            }
            """;
        var r = GeneratorHarness.Run(("Model.cs", source));
        Assert.All(r.GeneratorDiagnostics, d => Assert.Equal("XG0010", d.Id));
        var found = r.GeneratorDiagnostics.Select(d => (d.GetMessage(), d.Location.GetLineSpan().Path, d.Location.SourceSpan, d.Location.GetLineSpan().StartLinePosition.Line))
            .OrderBy(m => m.SourceSpan.Start).ToList();
        static TextSpan Field(string source, string declaration) =>
            new(source.IndexOf(declaration, StringComparison.Ordinal) + declaration.IndexOf(' ') + 1, declaration.Length - declaration.IndexOf(' ') - 2);
        Assert.Equal(new[]
        {
            ("Field 'inner' has model type 'B', which contains this model again (a model cannot contain itself, directly or through its sub-models)", "Model.cs", Field(source, "B inner;"), 6),
            ("Field 'outer' has model type 'A', which contains this model again (a model cannot contain itself, directly or through its sub-models)", "Model.cs", Field(source, "A outer;"), 15),
        }, found);
    }

    [Fact]
    public void GenericModelIsUnsupported()
    {
        var d = Single("""
            [XlaModel]
            public partial class [|Gen|]<T>
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x * w;
            }
            """, "XG0011");
        Assert.Equal("[XlaModel] class 'Gen' is generic; a model's programs are fixed at build time, so its class cannot have type parameters", d.GetMessage());
    }

    [Fact]
    public void ModelWithoutProgramsWarns()
    {
        var d = Single("""
            [XlaModel]
            public partial class [|Empty|]
            {
                [Param(3)] Tensor<float> w;
            }
            """, "XG0012");
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("[XlaModel] class 'Empty' has no [Forward] or [Loss] method, so XlaGen generates no program for it", d.GetMessage());
    }

    [Fact]
    public void OneMistakeGivesOneDiagnostic()
    {
        // The poisoned value of the bad MatMul must not produce follow-up errors in the expressions using it.
        var r = GeneratorHarness.Run(("Model.cs", Header + """
            [XlaModel]
            public partial class Mlp
            {
                [Param(784, 256)] Tensor<float> w1;
                [Param(256)] Tensor<float> b1;
                [Param(10, 10)] Tensor<float> w2;

                [Forward]
                public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
                {
                    var h = Nn.Relu(x.MatMul(w1) + b1);
                    var o = h.MatMul(w2);
                    return Nn.Softmax(o * 2f + 1f);
                }
            }
            """));
        Assert.Single(r.GeneratorDiagnostics);
        Assert.Empty(r.Run.GeneratedSources);
    }

    [Fact]
    public void LossMustBeAScalar()
    {
        var d = Single("""
            [XlaModel]
            public partial class Vec
            {
                [Param(4, 3)] Tensor<float> w;

                [Loss]
                public Tensor<float> [|Loss|]([Shape("B", 4)] Tensor<float> x) => x.MatMul(w).Sum(1);
            }
            """, "XG0013");
        Assert.Equal("[Loss] method 'Loss' returns f32[B]; a loss must be a floating-point scalar (reduce it, for example with Mean())", d.GetMessage());
    }

    [Fact]
    public void RoundingToIntegersCutsTheGradientWithoutAnError()
    {
        // Integer values carry no cotangent: the gradient flows through h only, as in JAX.
        var r = GeneratorHarness.Run(("Model.cs", Header + """
            [XlaModel]
            public partial class Rounded
            {
                [Param(4, 3)] Tensor<float> w;

                [Loss]
                public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x)
                {
                    var h = x.MatMul(w);
                    return (h * h.Cast<int>().Cast<float>()).Mean();
                }
            }
            """));
        Assert.Empty(r.Errors);
    }

    [Fact]
    public void OpWithoutAGradientOnTheLossPathIsReportedAtItsCall()
    {
        // A sub-model from another assembly whose recorded program sorts: sort has no gradient rule.
        const string hlo = "HloModule SortLib.Sorted, entry_computation_layout={(f32[N,4]{1,0})->f32[N,4]{1,0}}\n\n" +
            "%less (a: f32[], b: f32[]) -> pred[] {\n  %a = f32[] parameter(0)\n  %b = f32[] parameter(1)\n  ROOT %lt = pred[] compare(%a, %b), direction=LT\n}\n\n" +
            "ENTRY %main (x: f32[N,4]) -> f32[N,4] {\n  %x = f32[N,4]{1,0} parameter(0)\n  ROOT %s = f32[N,4]{1,0} sort(%x), dimensions={1}, to_apply=%less\n}\n";
        var library = GeneratorHarness.Compilation("SortLib", new[] { ("SortLib.cs", Header + $$"""
            [XlaModel]
            [XlaGen.Generated.XlaModelForward("Sorted", 1, "{{hlo.Replace("\n", "\\n")}}")]
            public partial class SortLib
            {
                [Forward]
                public Tensor<float> Sorted([Shape("N", 4)] Tensor<float> x) => x;
            }
            """) }, Array.Empty<MetadataReference>());
        using var image = new MemoryStream();
        Assert.True(library.Emit(image).Success);
        var source = Header + """
            [XlaModel]
            public partial class UsesSort
            {
                [Param(4)] Tensor<float> w;
                SortLib sorter;

                [Loss]
                public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x) => [|sorter.Sorted(x * w)|].Mean();
            }
            """;
        int start = source.IndexOf("[|", StringComparison.Ordinal);
        int end = source.IndexOf("|]", StringComparison.Ordinal) - 2;
        var clean = source.Replace("[|", "").Replace("|]", "");
        var r = GeneratorHarness.Run(GeneratorHarness.Compilation("App", new[] { ("Model.cs", clean) }, new[] { MetadataReference.CreateFromImage(image.ToArray()) }));
        var d = Assert.Single(r.GeneratorDiagnostics, x => x.Id == "XG0014");
        Assert.Equal(new TextSpan(start, end - start), d.Location.SourceSpan);
        Assert.StartsWith("'sort' cannot be differentiated for [Loss] 'Loss': no gradient rule for sort", d.GetMessage());
    }

    [Fact]
    public void LossInputsNeedTheBatchDimension()
    {
        var d = Single("""
            [XlaModel]
            public partial class NoBatch
            {
                [Param(4, 3)] Tensor<float> w;

                [Loss]
                public Tensor<float> [|Loss|]([Shape("B", 4)] Tensor<float> x, [Shape(3)] Tensor<float> t) => (x.MatMul(w) - t).Mean();
            }
            """, "XG0015");
        Assert.Equal("[Loss] method 'Loss' has inputs starting with x: [B,4], t: [3]; every input of a loss must start with the same symbolic batch dimension, such as [Shape(\"B\", 784)] x and [Shape(\"B\")] labels", d.GetMessage());
    }

    [Fact]
    public void OnlyOneLoss()
    {
        var d = Single("""
            [XlaModel]
            public partial class Two
            {
                [Param(4)] Tensor<float> w;

                [Loss]
                public Tensor<float> A([Shape("B", 4)] Tensor<float> x) => (x * w).Mean();

                [Loss]
                public Tensor<float> [|B|]([Shape("B", 4)] Tensor<float> x) => (x * w).Sum();
            }
            """, "XG0016");
        Assert.Equal("[XlaModel] class 'Two' has more than one [Loss] method (A, B); training uses one loss, so mark one of them", d.GetMessage());
    }
}
