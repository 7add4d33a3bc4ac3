extern alias gen;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using XlaGen.Hlo;
using XlaGen.Ops;
using SurfaceTable = gen::XlaGen.Generator.Parsing.SurfaceTable;
using OpCatalogue = gen::XlaGen.Ops.OpCatalogue;

namespace XlaGen.Tests;

/// <summary>
/// DESIGN.md's op checklist, item 6: every op of the catalogue is reachable from the C# surface. One model uses every
/// surface member and operator; the generator compiles it; the opcodes of all its programs (forward programs and the
/// loss program with its gradients) must cover the catalogue, except the ops listed in <see cref="NotFromTheSurface"/>.
/// The printed programs are a snapshot.
/// </summary>
public class SurfaceCoverageTests
{
    public const string Tour = """
        using XlaGen;

        namespace Tour;

        [XlaModel]
        public partial class SurfaceTour
        {
            [Param(3, 3, 1, 4, Init = Init.HeNormal)] Tensor<float> kernel;
            [Param(2, 2, 2, 4, Init = Init.GlorotUniform)] Tensor<float> grouped;
            [Param(10, 4, Init = Init.Normal, Value = 0.1)] Tensor<float> table;
            [Param(8, Init = Init.Ones)] Tensor<float> gamma;
            [Param(8)] Tensor<float> beta;
            [Param(8, Trainable = false)] Tensor<float> movingMean;
            [Param(8, Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance;
            [Param(8, 3, Init = Init.GlorotUniform)] Tensor<float> w;

            /// <summary>Images and token ids to 8 features: the CNN, indexing and layout members.</summary>
            [Forward]
            public Tensor<float> Features([Shape("B", 6, 6, 1)] Tensor<float> x, [Shape("B", 2)] Tensor<int> ids)
            {
                var h = Nn.Relu(Nn.Conv2D(x, kernel, padding: Padding.Same));                       // [B,6,6,4]
                var pooled = Nn.MaxPool2D(h, 2) + Nn.AvgPool2D(h, 3, 2, Padding.Same);               // [B,3,3,4]
                var g = Nn.Conv2D(pooled, grouped, stride: 2, padding: Padding.Same, groups: 2);     // [B,2,2,4]
                var flat = Nn.Gelu(g).Flatten() + Nn.Silu(g.Reverse(1, 2)).Flatten();               // [B,16]
                var emb = Nn.Embedding(table, ids).Flatten() + table.Take(ids, 0).Flatten();         // [B,8]
                var halves = Tensor.Stack(1, flat.Slice(1, 0, 8), flat.Slice(1, -8)).Sum(1);        // [B,8]
                var joined = Tensor.Concat(1, halves.Slice(1, 0, 4), emb.Slice(1, 1, null, 2))
                    .Pad(new[] { 0, 1 }, new[] { 0, 1 }, 0.5f).Slice(1, 1, -1);                      // [B,8]
                var mixed = Nn.Elu(joined, 0.5) + Nn.LeakyRelu(joined) + Nn.Softplus(joined.Clamp(-3f, 3f))
                    + Nn.GlobalAvgPool2D(h).Mean(1).Reshape(-1, 1);
                return Nn.LayerNorm(Nn.Dropout(Nn.BatchNorm(mixed, gamma, beta, movingMean, movingVariance), 0.1), gamma, beta) * mixed.Std(1).Reshape(-1, 1) + mixed.Var(1).Reshape(-1, 1);
            }

            /// <summary>Elementwise members, comparisons, operators, reductions and reshapes.</summary>
            [Forward]
            public Tensor<float> Elementwise([Shape("B", 4)] Tensor<float> x, [Shape("B", 4)] Tensor<float> y)
            {
                var a = (x.Abs() + 1f).Log() + x.Exp().Sqrt() + (x.Square() + 1f).Rsqrt() + x.Tanh() + Nn.Tanh(y) + Nn.Sigmoid(y) + x.Pow(2f);
                var b = x.Maximum(y).Minimum(1f) + x.Sign() + x.Floor() + x.Ceil() + x % y + Nn.Softmax(x) + Nn.LogSoftmax(y, 0) - x / y;
                var zero = x * 0f;
                var masks = (x.Greater(y) & y.Less(zero)) | (x.GreaterOrEqual(zero) ^ !y.LessOrEqual(x)) | x.ElementwiseEquals(y) | x.ElementwiseNotEquals(zero);
                var bits = (~x.Cast<int>() & y.Cast<int>()) | (x.Cast<int>() ^ y.Cast<int>());
                var stats = x.Sum(1) + x.Mean(0).Sum() + x.Max(1) - x.Min(-1);
                var t = x.Reshape(-1, 2, 2).Transpose(0, 2, 1).Reshape(-1, 4).MatMul(y.Transpose());
                return Nn.Where(masks, a, -b) + bits.Cast<float>() + stats.Reshape(-1, 1) + t.Sum(1).Reshape(-1, 1)
                    + Nn.CausalMask(x.Reshape(-1, 2, 2)).Reshape(-1, 4);
            }

            /// <summary>A block of the table read and written at a run-time position.</summary>
            [Forward]
            public Tensor<float> Window([Shape(2)] Tensor<int> starts) => table.DynamicUpdateSlice(table.DynamicSlice(starts, 2, 2) * 2f, starts);

            [Loss]
            public Tensor<float> Loss([Shape("B", 6, 6, 1)] Tensor<float> x, [Shape("B", 2)] Tensor<int> ids, [Shape("B")] Tensor<int> labels)
            {
                var logits = Losses.Observe(Features(x, ids).MatMul(w), labels, PredictionKind.ClassLogits);
                var targets = Nn.OneHot(labels, 3);
                return Losses.SparseSoftmaxCrossEntropy(logits, labels) + Losses.SoftmaxCrossEntropy(logits, targets)
                    + Losses.MeanSquaredError(Nn.Softmax(logits), targets) + Losses.BinaryCrossEntropyWithLogits(logits, targets) + 1e-4f * Losses.L2(w);
            }
        }
        """;

    /// <summary>Catalogue ops no surface member produces, each with the reason. The test also fails when one of them
    /// does appear, so the list stays minimal.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotFromTheSurface = new Dictionary<string, string>
    {
        ["bitcast"] = "a layout-level reinterpretation XLA's own passes insert; the surface reshapes with reshape",
        ["copy"] = "a new buffer with the same value; only read from XLA's modules (autodiff uses it inside call/fusion rules)",
        ["call"] = "model methods and sub-models are inlined at build time, so programs never call computations",
        ["fusion"] = "made by XLA's fusion passes, never written by a front end",
        ["map"] = "the surface has no user-defined scalar functions; elementwise members lower to elementwise ops",
        ["while"] = "model methods have no control flow (a loop is an XG0003 diagnostic)",
        ["sort"] = "no surface member sorts yet (it would be forward-only: sort has no gradient rule)",
        ["all-reduce"] = "a model is written for one replica; the runtime adds the gradient all-reduce to the train step (TrainingPrograms) when it runs on several",
        ["replica-id"] = "a model's math does not depend on which replica runs it; only runtime-built programs and XLA modules read it",
        ["all-gather"] = "a model is written for one replica; collectives come from runtime-built programs and XLA modules (JAX's all_gather)",
        ["reduce-scatter"] = "a model is written for one replica; collectives come from runtime-built programs and XLA modules (JAX's psum_scatter)",
    };

    sealed record Compilation(Assembly Assembly, Microsoft.CodeAnalysis.Compilation Output, gen::XlaGen.Generator.Model.ModelSpec Spec);

    static Compilation Compile()
    {
        var r = GeneratorHarness.Run(("SurfaceTour.cs", Tour));
        Assert.True(!r.Errors.Any(), string.Join("\n", r.Errors));
        var spec = r.Run.TrackedSteps[gen::XlaGen.Generator.XlaGenerator.SpecStep].SelectMany(s => s.Outputs)
            .Select(o => o.Value).OfType<gen::XlaGen.Generator.Model.ModelSpec>().Single();
        return new Compilation(GeneratorHarness.Load(r.Output), r.Output, spec);
    }

    static readonly Lazy<Compilation> Compiled = new(Compile);

    /// <summary>The programs as the generator wrote them (symbolic dims, HLO text), by method.</summary>
    static IReadOnlyList<(string Method, string Text)> SymbolicPrograms()
    {
        var spec = Compiled.Value.Spec;
        return spec.Forwards.Select(f => (f.MethodName, f.HloText)).Append((spec.Loss!.MethodName, spec.Loss.HloText)).ToList();
    }

    [Fact]
    public void EveryCatalogueOpIsReachableFromTheSurface()
    {
        var programs = SymbolicPrograms();
        Assert.Equal(new[] { "Features", "Elementwise", "Window", "Loss" }, programs.Select(p => p.Method));
        var used = programs.SelectMany(p => HloTextParser.Parse(p.Text).AllInstructions).Select(i => i.Opcode).ToHashSet(StringComparer.Ordinal);
        var missing = OpCatalogue.Opcodes.Where(o => !used.Contains(o) && !NotFromTheSurface.ContainsKey(o)).ToList();
        Assert.True(missing.Count == 0, "catalogue ops no surface member produced: " + string.Join(", ", missing));
        var listedButUsed = NotFromTheSurface.Keys.Where(used.Contains).ToList();
        Assert.True(listedButUsed.Count == 0, "ops listed as not produced by the surface, but produced: " + string.Join(", ", listedButUsed));
        Assert.All(NotFromTheSurface.Keys, o => Assert.True(OpCatalogue.TryGet(o, out _), $"{o} is not a catalogue op"));
        Snapshot.Match(string.Join("\n", programs.Select(p => $"// [{(p.Method == "Loss" ? "Loss" : "Forward")}] {p.Method}\n{p.Text}")));
    }

    /// <summary>The emitted program builders rebuild every program for a concrete batch (every instruction re-checked by
    /// the catalogue, the module verified), with the generator's instructions.</summary>
    [Fact]
    public void EmittedBuildersRebuildThePrograms()
    {
        var type = Compiled.Value.Assembly.GetType("Tour.SurfaceTour")!;
        foreach (var (method, text) in SymbolicPrograms())
        {
            var builder = type.GetMethod("Build" + method + "Program", BindingFlags.Public | BindingFlags.Static)!;
            var module = (HloModule)builder.Invoke(null, builder.GetParameters().Select(_ => (object)3).ToArray())!;
            HloVerifier.Verify(module);
            var symbolic = HloTextParser.Parse(text);
            Assert.All(module.Entry.Parameters, p => Assert.True(p.Shape.IsStatic, $"{method}: {p.Describe()}"));
            // a symbolic size (get-dimension-size) becomes a constant once B is bound; everything else is rebuilt as it was
            var want = symbolic.AllInstructions.Select(i => i.Opcode == "get-dimension-size" ? "constant" : i.Opcode).OrderBy(o => o, StringComparer.Ordinal);
            Assert.Equal(want, module.AllInstructions.Select(i => i.Opcode).OrderBy(o => o, StringComparer.Ordinal));
        }
    }

    /// <summary>The tour calls every member of the generator's surface table (so the op coverage above is the surface's).</summary>
    [Fact]
    public void TheTourUsesEverySurfaceMemberAndOperator()
    {
        var output = Compiled.Value.Output;
        var tree = output.SyntaxTrees.Single(t => t.FilePath == "SurfaceTour.cs");
        var model = output.GetSemanticModel(tree);
        var called = new HashSet<string>(StringComparer.Ordinal);
        var operators = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in tree.GetRoot().DescendantNodes())
        {
            switch (model.GetOperation(node))
            {
                case IInvocationOperation inv:
                    called.Add(inv.TargetMethod.ContainingType.Name + "." + inv.TargetMethod.Name);
                    break;
                case IBinaryOperation { OperatorMethod: not null } when node is BinaryExpressionSyntax b:
                    operators.Add(b.OperatorToken.Text);
                    break;
                case IUnaryOperation { OperatorMethod: not null } when node is PrefixUnaryExpressionSyntax u:
                    operators.Add("unary " + u.OperatorToken.Text);
                    break;
            }
        }
        var unused = SurfaceTable.Members.Where(m => !called.Contains(m)).ToList();
        Assert.True(unused.Count == 0, "surface members the tour does not call: " + string.Join(", ", unused));
        Assert.Equal(new[] { "%", "&", "*", "+", "-", "/", "^", "unary !", "unary -", "unary ~", "|" }, operators.OrderBy(o => o, StringComparer.Ordinal));
    }

    /// <summary>Every member the generator compiles is also a public member of the runtime's surface types (where it runs
    /// eagerly through the same lowering), and vice versa for the model-building types Nn and Losses.</summary>
    [Fact]
    public void EverySurfaceMemberRunsEagerlyToo()
    {
        var types = new Dictionary<string, Type[]>
        {
            ["Tensor"] = new[] { typeof(Tensor<>), typeof(Tensor) },
            ["Nn"] = new[] { typeof(Nn) },
            ["Losses"] = new[] { typeof(Losses) },
        };
        foreach (var member in SurfaceTable.Members)
        {
            var parts = member.Split('.');
            Assert.True(types[parts[0]].Any(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly).Any(m => m.Name == parts[1])),
                $"{member} is compiled by the generator but is not a public member of the runtime");
        }
        var runtime = new[] { typeof(Nn), typeof(Losses) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly).Select(m => t.Name + "." + m.Name))
            .Distinct().ToList();
        var notCompiled = runtime.Where(m => !SurfaceTable.Members.Contains(m)).ToList();
        Assert.True(notCompiled.Count == 0, "runtime members the generator does not compile: " + string.Join(", ", notCompiled));
    }
}
