using Microsoft.CodeAnalysis;

namespace XlaGen.Tests;

/// <summary>Issue 9's build-time gaps: Math/MathF on constants fold, scalar [Shape()] inputs compile, parameters too large
/// to exist are XG0017, Predict is chosen explicitly (XG0018/XG0019), and constructs are named in plain words, once.</summary>
public class BuildTimeTests
{
    const string Header = """
        using System;
        using XlaGen;
        namespace Samples;

        """;

    static GeneratorHarness.Result Run(string source) => GeneratorHarness.Run(("Model.cs", Header + source));

    [Fact]
    public void MathOnConstantsFoldsIntoAScalarConstant()
    {
        var r = Run("""
            [XlaModel]
            public partial class Attention
            {
                [Param(32)] Tensor<float> w;

                [Forward]
                public Tensor<float> Scaled([Shape("B", 32)] Tensor<float> x)
                    => x * w / MathF.Sqrt(32f) + (float)Math.Pow(2, 3) - Math.Max(1, 4) * MathF.Exp(0f) + (float)Math.Log(Math.E);
            }
            """);
        Assert.Empty(r.Errors);
        var hlo = SubModelTests.ForwardHlo(r.Output, "Samples.Attention", "Scaled");
        Assert.Contains("f32[] constant(5.656854)", hlo);   // MathF.Sqrt(32f), a float
        Assert.Contains("f32[] constant(8)", hlo);
        Assert.Contains("f32[] constant(4)", hlo);   // Math.Max(1, 4) * MathF.Exp(0f)
        Assert.Contains("f32[] constant(1)", hlo);
    }

    [Fact]
    public void MathOnTensorsNamesTheTensorSurfaceInstead()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Clip
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x * [|MathF.Max(w, 0f)|];
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile 'MathF.Max(w, 0f)' (a Math call on tensors) in model method 'Clip.F': Math and MathF work on numbers only; on tensors write a.Maximum(b) or a.Minimum(b) (Tensor.Maximum/Minimum), Nn.Relu(x) for max(x, 0), x.Sqrt(), x.Exp(), x.Log(), x.Abs()", d.GetMessage());
    }

    [Fact]
    public void CodeWithCompileErrorsIsNamedAsSuchNotAsARoslynNode()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Typo
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x * [|w.Squash()|];
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile 'w.Squash()' (code with C# compile errors) in model method 'Typo.F': fix the C# compile errors reported for this code first", d.GetMessage());
    }

    [Fact]
    public void ScalarInputCompilesEndToEnd()
    {
        var r = Run("""
            [XlaModel]
            public partial class Scale
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> Apply([Shape("B", 3)] Tensor<float> x, [Shape()] Tensor<float> s) => x * w * s;
            }
            """);
        Assert.Empty(r.Errors);
        var generated = r.Generated("Scale.g.cs");
        Assert.Contains("__shapes.Bind(\"s\", s, global::XlaGen.Hlo.ElementType.F32);", generated);
        Assert.Contains("%s = f32[] parameter(1)", SubModelTests.ForwardHlo(r.Output, "Samples.Scale", "Apply"));
    }

    [Fact]
    public void ParameterTooLargeToExistIsReportedOnItsAttribute()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Huge
            {
                [[|Param(65536, 65536)|]] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 65536)] Tensor<float> x) => x.MatMul(w);
            }
            """, "XG0017");
        Assert.Equal("[Param] field 'w' of shape [65536,65536] has 4294967296 elements (17179869184 bytes of f32), more than one .NET array holds (2147483591 elements); split it into smaller parameters", d.GetMessage());
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void ParameterWhoseElementCountOverflowsIsReported()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Huge
            {
                [[|Param(2147483647, 2147483647, 2147483647)|]] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x) => x;
            }
            """, "XG0017");
        Assert.Equal("[Param] field 'w' of shape [2147483647,2147483647,2147483647] has more elements than a 64-bit count can hold", d.GetMessage());
    }

    [Fact]
    public void ParameterWhoseByteSizeOverflowsIsReported()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Huge
            {
                [[|Param(2147483647, 2147483647)|]] Tensor<double> w;

                [Forward]
                public Tensor<double> F([Shape("B", 3)] Tensor<double> x) => x;
            }
            """, "XG0017");
        Assert.Equal("[Param] field 'w' of shape [2147483647,2147483647] has 4611686014132420609 elements, whose byte size overflows a 64-bit count", d.GetMessage());
    }

    const string TwoForwards = """
        [XlaModel]
        public partial class Two
        {
            [Param(4, 3)] Tensor<float> w;

            [Forward]
            public Tensor<float> Hidden([Shape("B", 4)] Tensor<float> x) => x.MatMul(w);

            ATTR
            public Tensor<float> NAME([Shape("B", 4)] Tensor<float> x) => Nn.Softmax(Hidden(x));
        }
        """;

    [Fact]
    public void SeveralForwardsWithoutAChoiceWarnNamingTheRule()
    {
        var d = DiagnosticTests.Single(TwoForwards.Replace("ATTR", "[Forward]").Replace("public Tensor<float> Hidden", "public Tensor<float> [|Hidden|]").Replace("NAME", "Probabilities"), "XG0018");
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("[XlaModel] class 'Two' has several [Forward] methods (Hidden, Probabilities) and none is chosen for Predict, so Predict runs 'Hidden'; mark one [Forward(Default = true)] or name it Predict or Call", d.GetMessage());
    }

    [Theory]
    [InlineData("[Forward(Default = true)]", "Probabilities")]
    [InlineData("[Forward]", "Call")]
    public void PredictRunsTheChosenForward(string attribute, string name)
    {
        var r = Run(TwoForwards.Replace("ATTR", attribute).Replace("NAME", name));
        Assert.Empty(r.GeneratorDiagnostics);
        Assert.Empty(r.Errors);
        Assert.Contains($"Predict(global::XlaGen.Tensor<float> x, int batchSize = 1024) => {name}(x, batchSize);", r.Generated("Two.g.cs"));
    }

    [Fact]
    public void TwoDefaultForwardsAreAnError()
    {
        var d = DiagnosticTests.Single(TwoForwards.Replace("[Forward]", "[Forward(Default = true)]").Replace("ATTR", "[Forward(Default = true)]").Replace("NAME", "[|Probabilities|]"), "XG0019");
        Assert.Equal("[XlaModel] class 'Two' marks more than one [Forward] method Default = true (Hidden, Probabilities); Predict runs one, so mark only one", d.GetMessage());
    }

    [Fact]
    public void LambdaIsNamedInPlainWordsWithTheFix()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Lambdas
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    System.Func<Tensor<float>, Tensor<float>> twice = [|t => t * 2f|];
                    return twice(x * w);
                }
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile 't => t * 2f' (a lambda) in model method 'Lambdas.F': a lambda cannot become part of a program; write it as a method of the model and call that method", d.GetMessage());
    }

    [Fact]
    public void LocalFunctionIsReportedAtItsCallWithTheFix()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Locals
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    return [|Twice(x * w)|];
                    Tensor<float> Twice(Tensor<float> t) => t * 2f;
                }
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile the call to the local function 'Twice' in model method 'Locals.F': move the local function into a method of the model and call that method", d.GetMessage());
    }

    [Fact]
    public void MistakeInAHelperReachedByEveryProgramIsReportedOnce()
    {
        // Logits reaches Hidden directly and through the loss: two call paths, one location, one diagnostic.
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Shared
            {
                [Param(4, 3)] Tensor<float> w;

                Tensor<float> Hidden(Tensor<float> x)
                {
                    var h = x.MatMul(w);
                    [|try { } finally { }|]
                    return h;
                }

                [Forward]
                public Tensor<float> Logits([Shape("B", 4)] Tensor<float> x) => Hidden(x);

                [Loss]
                public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
                    => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile 'try { } finally { }' (a try statement) (model methods hold local declarations, assignments to locals, returns, and if, switch and loops on build-time constants) in model method 'Shared.Hidden': see the supported surface in README.md", d.GetMessage());
    }

    [Fact]
    public void LabelRangesAreRecordedForLabelInputsOfSparseLosses()
    {
        var source = """
            [XlaModel]
            public partial class Tagger
            {
                [Param(4, 7)] Tensor<float> w;

                [Loss]
                public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B")] Tensor<long> tags)
                    => Losses.SparseSoftmaxCrossEntropy(x.MatMul(w), LABELS);
            }
            """;
        var direct = Run(source.Replace("LABELS", "tags"));
        Assert.Empty(direct.Errors);
        Assert.Contains("new global::XlaGen.Training.LabelRange[] { new(1, 7L, \"SparseSoftmaxCrossEntropy\") },", direct.Generated("Tagger.g.cs"));
        // Labels computed from an input are not the input's values: nothing to check on the host.
        var computed = Run(source.Replace("LABELS", "tags + 1L"));
        Assert.Empty(computed.Errors);
        Assert.Contains("new global::XlaGen.Training.LabelRange[] {  },", computed.Generated("Tagger.g.cs"));
    }
}
