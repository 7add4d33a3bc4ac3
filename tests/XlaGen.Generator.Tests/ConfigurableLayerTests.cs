using Microsoft.CodeAnalysis;

namespace XlaGen.Tests;

/// <summary>Issue 9, deliverable 1: sub-models configured by constant constructor arguments ([Param("In", "Out")]), arrays
/// of them unrolled by foreach/for, and if/?:/switch on build-time constants, with their diagnostics.</summary>
public class ConfigurableLayerTests
{
    const string Header = """
        using System;
        using XlaGen;
        namespace Samples;

        """;

    /// <summary>A configurable layer in both constructor styles: a primary constructor, and an ordinary one that sets fields.</summary>
    public const string Layers = """
        public enum Activation { None, Relu, Tanh }

        [XlaModel]
        public partial class Dense(int In, int Out, bool useBias = true, Activation activation = Activation.None)
        {
            [Param("In", "Out", Init = Init.GlorotUniform)] Tensor<float> kernel;
            [Param("Out")] Tensor<float> bias;

            public Tensor<float> Call(Tensor<float> x)
            {
                var y = x.MatMul(kernel);
                if (useBias) y = y + bias;
                return activation switch
                {
                    Activation.Relu => Nn.Relu(y),
                    Activation.Tanh => Nn.Tanh(y),
                    _ => y,
                };
            }
        }

        [XlaModel]
        public partial class ResBlock
        {
            readonly int width;
            readonly float scale;
            Dense inner;
            Dense outer;

            public ResBlock(int width, float scale = 1f)
            {
                this.width = width;
                this.scale = scale;
                inner = new Dense(width, width * 2, activation: Activation.Relu);
                outer = new(In: width * 2, Out: width);
            }

            public Tensor<float> Call(Tensor<float> x) => x + outer.Call(inner.Call(x)) * scale;
        }
        """;

    static GeneratorHarness.Result Run(string source) => GeneratorHarness.Run(("Layers.cs", Header + Layers), ("Model.cs", Header + source));

    static string Hlo(GeneratorHarness.Result r, string type, string method) => SubModelTests.ForwardHlo(r.Output, "Samples." + type, method);

    [Fact]
    public void TwoInstancesOfALayerGetTheirOwnShapesAndNames()
    {
        var r = Run("""
            [XlaModel]
            public partial class Mlp
            {
                const int Hidden = 64;
                Dense d1 = new(784, Hidden * 4, activation: Activation.Relu);
                Dense d2 = new((int)Math.Sqrt(Hidden) * 32, 10, useBias: false);

                [Forward]
                public Tensor<float> Call([Shape("B", 784)] Tensor<float> x) => d2.Call(d1.Call(x));
            }
            """);
        Assert.Empty(r.Errors);
        var hlo = Hlo(r, "Mlp", "Call");
        Assert.Contains("%d1.kernel = f32[784,256]{1,0} parameter(1)", hlo);
        Assert.Contains("%d1.bias = f32[256]{0} parameter(2)", hlo);
        Assert.Contains("%d2.kernel = f32[256,10]{1,0} parameter(3)", hlo);
        Assert.Contains("%d2.bias = f32[10]{0} parameter(4)", hlo);
        // d1 adds its bias and applies relu (maximum); d2 has useBias: false and no activation: one add, one maximum.
        Assert.Single(hlo.Split('\n'), l => l.Contains(" add(", StringComparison.Ordinal));
        Assert.Single(hlo.Split('\n'), l => l.Contains(" maximum(", StringComparison.Ordinal));
        Assert.Contains("op_name=\"Mlp.Call/d1.Call\"", hlo);
        var generated = r.Generated("Mlp.g.cs");
        Assert.Contains("new(\"d1.kernel\", global::XlaGen.Hlo.ElementType.F32, new long[] { 784, 256 }, global::XlaGen.Init.GlorotUniform", generated);
        Assert.Contains("new(\"d2.kernel\", global::XlaGen.Hlo.ElementType.F32, new long[] { 256, 10 }", generated);
        // The layer itself has no programs of its own: it only loads the parameters of its instance.
        var dense = r.Generated("Dense.g.cs");
        Assert.Contains("public void LoadParameters(", dense);
        Assert.DoesNotContain("class Runner", dense);
        Assert.DoesNotContain("XlaModelForward", dense);
    }

    [Fact]
    public void AnArrayOfBlocksUnrollsByForeachAndByFor()
    {
        var r = Run("""
            [XlaModel]
            public partial class Deep
            {
                ResBlock[] blocks = { new(8), new(8, scale: 0.5f), new(8) };

                [Forward]
                public Tensor<float> ByForeach([Shape("B", 8)] Tensor<float> x)
                {
                    foreach (var b in blocks) x = b.Call(x);
                    return x;
                }

                [Forward(Default = true)]
                public Tensor<float> ByFor([Shape("B", 8)] Tensor<float> x)
                {
                    var h = x;
                    for (int i = 0; i < blocks.Length; i++)
                    {
                        if (i == 1) continue;
                        h = blocks[i].Call(h);
                    }
                    return h;
                }
            }
            """);
        Assert.Empty(r.Errors);
        var each = Hlo(r, "Deep", "ByForeach");
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains($"%blocks.{i}.inner.kernel = f32[8,16]{{1,0}} parameter", each);
            Assert.Contains($"%blocks.{i}.outer.kernel = f32[16,8]{{1,0}} parameter", each);
            Assert.Contains($"op_name=\"Deep.ByForeach/blocks.{i}.Call/inner.Call\"", each);
        }
        Assert.Contains("f32[] constant(0.5)", each);
        var byFor = Hlo(r, "Deep", "ByFor");
        Assert.Contains("op_name=\"Deep.ByFor/blocks.2.Call", byFor);
        Assert.DoesNotContain("op_name=\"Deep.ByFor/blocks.1.Call", byFor);   // skipped by continue
        var generated = r.Generated("Deep.g.cs");
        Assert.Contains("for (int __i = 0; __i < (blocks?.Length ?? 0); __i++)", generated);
    }

    [Fact]
    public void BranchesOnConstantsAreTakenAtBuildTime()
    {
        var r = Run("""
            public enum Mode { Plain, Doubled, Squared }

            [XlaModel]
            public partial class Branches
            {
                const bool Center = true;
                readonly Mode mode = Mode.Squared;
                readonly int repeats = 2;
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    var y = x * w;
                    if (Center) y = y - y.Mean();
                    else return y;
                    switch (mode)
                    {
                        case Mode.Plain:
                            break;
                        case Mode.Doubled:
                            y = y * 2f;
                            break;
                        default:
                            y = y * y;
                            break;
                    }
                    int k = 0;
                    while (k < repeats)
                    {
                        y = Nn.Tanh(y);
                        k++;
                    }
                    return repeats > 5 ? y : y + 1f;
                }
            }
            """);
        Assert.Empty(r.Errors);
        var hlo = Hlo(r, "Branches", "F");
        Assert.Equal(2, hlo.Split('\n').Count(l => l.Contains(" tanh(", StringComparison.Ordinal)));
        Assert.Contains(" subtract(", hlo);
        Assert.DoesNotContain("f32[] constant(2)", hlo);   // the Doubled case is not taken
        Assert.Contains("f32[] constant(1)", hlo);
    }

    [Fact]
    public void AConfigurableLayerTrainsAsPartOfTheLoss()
    {
        var r = Run("""
            [XlaModel]
            public partial class Classifier
            {
                Dense d1 = new(4, 8, activation: Activation.Tanh);
                Dense d2 = new(8, 3);

                [Forward]
                public Tensor<float> Call([Shape("B", 4)] Tensor<float> x) => d2.Call(d1.Call(x));

                [Loss]
                public Tensor<float> Loss([Shape("B", 4)] Tensor<float> x, [Shape("B")] Tensor<int> y) => Losses.SparseSoftmaxCrossEntropy(Call(x), y);
            }
            """);
        Assert.Empty(r.Errors);
        var generated = r.Generated("Classifier.g.cs");
        Assert.Contains("new string[] { \"d1.kernel\", \"d1.bias\", \"d2.kernel\", \"d2.bias\" }", generated);
    }

    [Fact]
    public void ANameInParamThatMatchesNothingIsReported()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Bad(int units)
            {
                [[|Param("Units", 3)|]] Tensor<float> w;

                public Tensor<float> Call(Tensor<float> x) => x.MatMul(w);
            }
            """, "XG0020");
        Assert.Equal("[Param] field 'w' of 'Bad' names the dimension 'Units', which is neither a constructor parameter nor a field or property of 'Bad' (it has units)", d.GetMessage());
    }

    [Fact]
    public void AConstructorArgumentThatIsNotConstantIsReported()
    {
        var d = DiagnosticTests.Single(Layers + """

            [XlaModel]
            public partial class Host
            {
                static int width = 3;
                Dense d = new([|width|], 4);

                [Forward]
                public Tensor<float> Call([Shape("B", 3)] Tensor<float> x) => d.Call(x);
            }
            """, "XG0021");
        Assert.Equal("Argument 'width' for parameter 'In' of sub-model 'd' (Dense) is not a build-time constant; a sub-model is configured at build time, so its arguments are literals, consts, constructor parameters and constant fields of the model that creates it, or arithmetic and Math calls on them", d.GetMessage());
    }

    [Fact]
    public void ANonPositiveDimensionIsReportedAtTheInstance()
    {
        var d = DiagnosticTests.Single(Layers + """

            [XlaModel]
            public partial class Host
            {
                const int Width = 4;
                Dense d = [|new(Width, Width - 4)|];

                [Forward]
                public Tensor<float> Call([Shape("B", 4)] Tensor<float> x) => d.Call(x);
            }
            """, "XG0022");
        Assert.Equal("Sub-model 'd' (new(Width, Width - 4)) gives [Param] field 'kernel' of 'Dense' the shape [4,0]; every dimension must be positive", d.GetMessage());
    }

    [Fact]
    public void ATooLargeDimensionIsReportedAtTheInstance()
    {
        var d = DiagnosticTests.Single(Layers + """

            [XlaModel]
            public partial class Host
            {
                Dense d = [|new(65536, 65536)|];

                [Forward]
                public Tensor<float> Call([Shape("B", 65536)] Tensor<float> x) => d.Call(x);
            }
            """, "XG0022");
        Assert.StartsWith("Sub-model 'd' (new(65536, 65536)) gives [Param] field 'kernel' of 'Dense' the shape [65536,65536], which has 4294967296 elements", d.GetMessage());
    }

    [Fact]
    public void AShapeErrorCausedByOneInstanceIsReportedAtItsInitializer()
    {
        // d2 expects 5 inputs but d1 gives 4: the error is inside Dense.Call, caused by d2's arguments.
        var d = DiagnosticTests.Single(Layers + """

            [XlaModel]
            public partial class Host
            {
                Dense d1 = new(3, 4);
                Dense d2 = [|new(5, 2)|];

                [Forward]
                public Tensor<float> Call([Shape("B", 3)] Tensor<float> x) => d2.Call(d1.Call(x));
            }
            """, "XG0022");
        Assert.Equal("Sub-model 'd2' (new(5, 2)) does not fit in 'Dense.Call' (Model.cs line 13) with these arguments: 'x.MatMul(kernel)': MatMul: f32[B,4] × f32[5,2]: inner dimensions differ (4 vs 5)", d.GetMessage());
    }

    [Fact]
    public void ALayerWithoutArgumentsIsReported()
    {
        var d = DiagnosticTests.Single(Layers + """

            [XlaModel]
            public partial class Host
            {
                Dense [|d|];

                [Forward]
                public Tensor<float> Call([Shape("B", 3)] Tensor<float> x) => d.Call(x);
            }
            """, "XG0010");
        Assert.Equal("Field 'd' has model type 'Dense', which needs constructor arguments (it has no constructor callable without them); create it with constant arguments, e.g. 'Dense d = new(…);'", d.GetMessage());
    }

    [Fact]
    public void ALoopBeyondTheUnrollLimitIsReported()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Long
            {
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    [|for (int i = 0; i < 5000; i++) x = x * w;|]
                    return x;
                }
            }
            """, "XG0023");
        Assert.Equal("'for (int i = 0; i < 5000; i++) x = x * w;' in model method 'Long.F' runs more than 1024 iterations at build time; loops over constants are unrolled into the program, so keep them under 1024 iterations or write the computation with tensor ops", d.GetMessage());
    }

    [Fact]
    public void ABranchOnARunTimeValueSuggestsWhere()
    {
        var d = DiagnosticTests.Single("""
            [XlaModel]
            public partial class Flagged
            {
                public bool Training;
                [Param(3)] Tensor<float> w;

                [Forward]
                public Tensor<float> F([Shape("B", 3)] Tensor<float> x)
                {
                    var y = x * w;
                    [|if (Training) y = y * 2f;|]
                    return y;
                }
            }
            """, "XG0003");
        Assert.Equal("XlaGen cannot compile 'if (Training) y = y * 2f;' (an if statement), whose condition reads 'Training', which has no build-time value in model method 'Flagged.F': branches are taken at build time, so a condition may only use build-time constants (consts, constructor arguments, fields set from them, loop variables); to choose between tensor values elementwise use Nn.Where(condition, a, b)", d.GetMessage());
    }

    const string Stack = """
        [XlaModel]
        public partial class Stack
        {
            const int Width = 4;
            Dense stem = new(6, Width, activation: Activation.Tanh);
            ResBlock[] blocks = new ResBlock[] { new(Width), new(Width, scale: 0.5f) };
            Dense head = new(Width, 3, useBias: false);

            [Forward]
            public Tensor<float> Call([Shape("B", 6)] Tensor<float> x)
            {
                var h = stem.Call(x);
                foreach (var b in blocks) h = b.Call(h);
                return head.Call(h);
            }
        }
        """;

    static MetadataReference LayersLibrary()
    {
        var lib = GeneratorHarness.Run(GeneratorHarness.Compilation("LayersLib", new[] { ("Layers.cs", Header + Layers) }, Array.Empty<MetadataReference>()));
        Assert.Empty(lib.Errors);
        using var image = new MemoryStream();
        Assert.True(lib.Output.Emit(image).Success);
        return MetadataReference.CreateFromImage(image.ToArray());
    }

    [Fact]
    public void ConfigurableLayersFromAnotherAssemblyCompileFromTheirRecordedSource()
    {
        var app = GeneratorHarness.Run(GeneratorHarness.Compilation("App", new[] { ("Model.cs", Header + Stack) }, new[] { LayersLibrary() }));
        Assert.Empty(app.Errors);
        var local = Run(Stack);
        Assert.Empty(local.Errors);
        // The same program, op names and source lines included, whichever assembly the layers come from.
        var hlo = Hlo(app, "Stack", "Call");
        Assert.Equal(Hlo(local, "Stack", "Call"), hlo);
        Assert.Contains("%blocks.1.outer.kernel = f32[8,4]{1,0} parameter", hlo);
        Assert.Contains("source_file=\"Layers.cs\"", hlo);
    }

    [Fact]
    public void AnInstanceErrorInALayerFromAnotherAssemblyIsReportedAtTheInstance()
    {
        var source = Header + """
            [XlaModel]
            public partial class Host
            {
                Dense d1 = new(3, 4);
                Dense d2 = new(5, 2);

                [Forward]
                public Tensor<float> Call([Shape("B", 3)] Tensor<float> x) => d2.Call(d1.Call(x));
            }
            """;
        var app = GeneratorHarness.Run(GeneratorHarness.Compilation("App", new[] { ("Model.cs", source) }, new[] { LayersLibrary() }));
        var d = Assert.Single(app.GeneratorDiagnostics);
        Assert.Equal("XG0022", d.Id);
        Assert.Equal("Model.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(source.IndexOf("new(5, 2)", StringComparison.Ordinal), d.Location.SourceSpan.Start);
        Assert.Equal("Sub-model 'd2' (new(5, 2)) does not fit in 'Dense.Call' (Layers.cs line 14) with these arguments: 'x.MatMul(kernel)': MatMul: f32[B,4] × f32[5,2]: inner dimensions differ (4 vs 5)", d.GetMessage());
    }
}
