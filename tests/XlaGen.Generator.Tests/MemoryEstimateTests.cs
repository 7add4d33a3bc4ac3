extern alias gen;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using XlaGen.Hlo;
using gen::XlaGen.Generator;
using DeviceMemory = gen::XlaGen.Generator.Parsing.DeviceMemory;
using GenModelSpec = gen::XlaGen.Generator.Model.ModelSpec;

namespace XlaGen.Tests;

/// <summary>Build-time memory (issue 9, item 7): the byte polynomials, the liveness estimate against an independent
/// brute force, parameter bytes against a hand count, and the XlaGenDeviceMemory diagnostics (XG0024, XG0025).</summary>
public class MemoryEstimateTests
{
    static readonly Dictionary<string, long> B128 = new() { ["B"] = 128 };

    // ---- SymbolicBytes -------------------------------------------------------------------------------------------

    [Fact]
    public void BytesOfAShapeAreAMonomialTimesTheElementSize()
    {
        var x = SymbolicBytes.Of(Shape.Array(ElementType.F32, Dim.Symbol("B"), 784));
        Assert.Equal("3,136·B", x.ToString());
        Assert.Equal("3136*B", x.ToCanonicalString());
        Assert.Equal(3136L * 128, x.Evaluate(B128));
        var tuple = SymbolicBytes.Of(Shape.Tuple(Shape.Array(ElementType.S32, Dim.Symbol("B")), Shape.Scalar(ElementType.F64), Shape.Token()));
        Assert.Equal("4·B + 8", tuple.ToString());
        var bt = SymbolicBytes.Of(Shape.Array(ElementType.Bf16, Dim.Symbol("T"), Dim.Symbol("B"), 3));
        Assert.Equal("6·B·T", bt.ToString());
        Assert.Equal(6L * 128 * 5, bt.Evaluate(new Dictionary<string, long> { ["B"] = 128, ["T"] = 5 }));
    }

    [Fact]
    public void PolynomialArithmetic()
    {
        var a = SymbolicBytes.Parse("3136*B + 40*B + 814120");
        Assert.Equal("3,176·B + 814,120", a.ToString());
        Assert.Equal(3176, a.Coefficient("B"));
        Assert.Equal(814120, a.ConstantTerm);
        var b = SymbolicBytes.Parse("2*T*B + 100");
        Assert.Equal("2·B·T + 3,176·B + 814,220", (a + b).ToString());
        Assert.Equal("-2·B·T + 3,176·B + 814,020", (a - b).ToString());
        Assert.Equal("0", (a - a).ToString());
        Assert.Equal(SymbolicBytes.Zero, a - a);
        Assert.Equal("6,352·B + 1,628,240", (a * 2).ToString());
        Assert.Equal(a, SymbolicBytes.Parse(a.ToCanonicalString()));
        Assert.Equal(a.GetHashCode(), SymbolicBytes.Parse(a.ToCanonicalString()).GetHashCode());
        Assert.Equal(new[] { "B", "T" }, (a + b).SymbolNames);
        Assert.Equal("3,176·B + 2·T + 814,120", (a + SymbolicBytes.Parse("2*T")).ToString());
        Assert.Equal("1,280·B + 1,000", (SymbolicBytes.Parse("1000*B") + SymbolicBytes.Parse("280*B + 1000")).ToString());
        Assert.Equal(SymbolicBytes.Constant(3176 * 2 + 814120), a.Substitute(new Dictionary<string, long> { ["B"] = 2 }));
    }

    [Fact]
    public void MaxIsCoefficientWiseAndDominanceIsCoefficientWise()
    {
        var wide = SymbolicBytes.Parse("10*B");
        var fixedCost = SymbolicBytes.Parse("1000 + 1*B");
        Assert.False(wide.IsDominatedBy(fixedCost));
        Assert.False(fixedCost.IsDominatedBy(wide));
        var max = SymbolicBytes.Max(wide, fixedCost);
        Assert.Equal("10·B + 1,000", max.ToString());
        Assert.True(wide.IsDominatedBy(max) && fixedCost.IsDominatedBy(max));
        foreach (var v in new long[] { 1, 50, 111, 112, 10_000 })
        {
            var at = new Dictionary<string, long> { ["B"] = v };
            Assert.True(max.Evaluate(at) >= Math.Max(wide.Evaluate(at), fixedCost.Evaluate(at)));
        }
        Assert.True(SymbolicBytes.Parse("5*B").IsDominatedBy(SymbolicBytes.Parse("5*B + 1")));
        // Dims are at least 1: 48·B + 156 ≤ 576·B + 152 for every B ≥ 1 (not coefficient-wise), but not 48·B + 700.
        Assert.True(SymbolicBytes.Parse("48*B + 156").IsDominatedBy(SymbolicBytes.Parse("576*B + 152")));
        Assert.False(SymbolicBytes.Parse("48*B + 700").IsDominatedBy(SymbolicBytes.Parse("576*B + 152")));
        Assert.True(SymbolicBytes.Parse("2*B*T + 10").IsDominatedBy(SymbolicBytes.Parse("4*B*T + 8")));
        Assert.False(SymbolicBytes.Parse("2*B*T + 10").IsDominatedBy(SymbolicBytes.Parse("4*B*T + 5")));   // B = T = 1: 12 > 9
        Assert.True(SymbolicBytes.Parse("2*B*T + 10").IsDominatedBy(SymbolicBytes.Parse("12*B*T")));
        Assert.False(SymbolicBytes.Parse("B*B").IsDominatedBy(SymbolicBytes.Parse("100*B")));
        Assert.False(SymbolicBytes.Parse("5*B + 1").IsDominatedBy(SymbolicBytes.Parse("5*B")));
    }

    [Fact]
    public void EvaluationNamesAMissingSymbolAndOverflowIsChecked()
    {
        var e = Assert.Throws<KeyNotFoundException>(() => SymbolicBytes.Parse("4*B*T").Evaluate(B128));
        Assert.Equal("the byte count 4·B·T needs a value for the symbolic dimension T", e.Message);
        Assert.Throws<OverflowException>(() => SymbolicBytes.Parse("9223372036854775807*B").Evaluate(new Dictionary<string, long> { ["B"] = 2 }));
        Assert.Throws<OverflowException>(() => SymbolicBytes.Parse("9223372036854775807") + SymbolicBytes.Constant(1));
        Assert.Throws<FormatException>(() => SymbolicBytes.Parse("4*B+"));
        Assert.Throws<FormatException>(() => SymbolicBytes.Parse("4*B+x y"));
    }

    // ---- the liveness estimate against a brute force ----------------------------------------------------------

    const string SmallProgram = """
        HloModule small

        %add (a: f32[], b: f32[]) -> f32[] {
          %a = f32[] parameter(0)
          %b = f32[] parameter(1)
          ROOT %s = f32[] add(f32[] %a, f32[] %b)
        }

        ENTRY %main (x: f32[B,8], w: f32[8,4], bias: f32[4]) -> (f32[B,4], f32[]) {
          %x = f32[B,8]{1,0} parameter(0)
          %w = f32[8,4]{1,0} parameter(1)
          %bias = f32[4]{0} parameter(2)
          %zero0 = f32[] constant(0)
          %zero = f32[] constant(0)
          %wide = f32[B,8,16]{2,1,0} broadcast(f32[B,8]{1,0} %x), dimensions={0,1}
          %sum16 = f32[B,8]{1,0} reduce(f32[B,8,16]{2,1,0} %wide, f32[] %zero0), dimensions={2}, to_apply=%add
          %h = f32[B,4]{1,0} dot(f32[B,8]{1,0} %sum16, f32[8,4]{1,0} %w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
          %bb = f32[B,4]{1,0} broadcast(f32[4]{0} %bias), dimensions={1}
          %y = f32[B,4]{1,0} add(f32[B,4]{1,0} %h, f32[B,4]{1,0} %bb)
          %flat = f32[4,B]{1,0} reshape(f32[B,4]{1,0} %y)
          %unused = f32[B,8,16]{2,1,0} multiply(f32[B,8,16]{2,1,0} %wide, f32[B,8,16]{2,1,0} %wide)
          %total = f32[] reduce(f32[4,B]{1,0} %flat, f32[] %zero), dimensions={0,1}, to_apply=%add
          ROOT %out = (f32[B,4]{1,0}, f32[]) tuple(f32[B,4]{1,0} %y, f32[] %total)
        }
        """;

    [Fact]
    public void PeakOfASmallProgramMatchesABruteForce()
    {
        var module = HloTextParser.Parse(SmallProgram);
        var estimate = ProgramMemory.Estimate(module);
        Assert.Equal(SymbolicBytes.Parse("32*B + 144"), estimate.Arguments);
        Assert.Equal(SymbolicBytes.Parse("16*B + 4"), estimate.Outputs);
        foreach (var b in new long[] { 1, 3, 128, 100_000 })
        {
            var at = new Dictionary<string, long> { ["B"] = b };
            Assert.Equal(BruteForcePeak(module, at), estimate.PeakFor(at));
        }
        // By hand: at the reduce, x (32·B), w and bias (144), both constants (8), the broadcast (512·B, read here for the
        // last time) and the reduce's result (32·B) are live; %unused is dead code and %flat a view of %y.
        Assert.Equal(SymbolicBytes.Parse("576*B + 152"), Assert.Single(estimate.PeakCandidates));
    }

    [Fact]
    public void ACallAddsItsCalleesTemporariesWhileItRuns()
    {
        var module = HloTextParser.Parse("""
            HloModule calls

            %f (a: f32[B,4]) -> f32[B,4] {
              %a = f32[B,4]{1,0} parameter(0)
              %e = f32[B,4]{1,0} exponential(f32[B,4]{1,0} %a)
              ROOT %r = f32[B,4]{1,0} negate(f32[B,4]{1,0} %e)
            }

            ENTRY %main (p: f32[B,4]) -> f32[B,4] {
              %p = f32[B,4]{1,0} parameter(0)
              %c = f32[B,4]{1,0} call(f32[B,4]{1,0} %p), to_apply=%f
              ROOT %n = f32[B,4]{1,0} negate(f32[B,4]{1,0} %c)
            }
            """);
        // The callee peaks at a, e and r (48·B) less its parameter (a view of p): 32·B more while the call runs, on top
        // of p and the call's result.
        Assert.Equal(SymbolicBytes.Parse("64*B"), Assert.Single(ProgramMemory.Estimate(module).PeakCandidates));
    }

    [Fact]
    public void ManyIncomparableCandidatesCollapseIntoTheirCoefficientWiseMax()
    {
        var list = new List<SymbolicBytes>();
        for (int k = 0; k < ProgramMemory.MaxPeakCandidates; k++) ProgramMemory.AddCandidate(list, SymbolicBytes.Parse($"{k + 1}*B*B + {1000 - k * 100}*B"));
        Assert.Equal(ProgramMemory.MaxPeakCandidates, list.Count);
        ProgramMemory.AddCandidate(list, SymbolicBytes.Parse("1*B*B*T"));
        Assert.Equal(SymbolicBytes.Parse("1*B*B*T + 8*B*B + 1000*B"), Assert.Single(list));
        ProgramMemory.AddCandidate(list, SymbolicBytes.Parse("3*B*B"));   // dominated: dropped
        Assert.Single(list);
    }

    [Fact]
    public void PeakOfGeneratedProgramsMatchesABruteForce()
    {
        var r = GeneratorHarness.Run(("Classifier.cs", Models.Classifier));
        Assert.Empty(r.Errors);
        var spec = Spec(r);
        var programs = spec.Forwards.Select(f => (f.HloText, f.Memory!)).Append((spec.Loss!.HloText, spec.Loss.Memory!)).ToList();
        foreach (var (text, memory) in programs)
        {
            var module = HloTextParser.Parse(text);
            Assert.DoesNotContain(module.Entry.Instructions, i => i.Opcode is "call" or "while" or "conditional" || (i.Shape.IsTuple && i.Opcode != "tuple"));
            var candidates = memory.PeakCandidates.Select(SymbolicBytes.Parse).ToList();
            foreach (var b in new long[] { 1, 2, 64, 128, 4096 })
            {
                var at = new Dictionary<string, long> { ["B"] = b };
                Assert.Equal(BruteForcePeak(module, at), candidates.Max(c => c.Evaluate(at)));
            }
        }
    }

    [Fact]
    public void TheFormulaAgreesWithTheConcreteProgramsTheEmittedBuildersMake()
    {
        var r = GeneratorHarness.Run(("Classifier.cs", Models.Classifier));
        Assert.Empty(r.Errors);
        var spec = Spec(r);
        var type = GeneratorHarness.Load(r.Output).GetType("Samples.Classifier")!;
        foreach (var (method, text, memory) in spec.Forwards.Select(f => (f.MethodName, f.HloText, f.Memory!)).Append((spec.Loss!.MethodName, spec.Loss.HloText, spec.Loss.Memory!)))
        {
            var symbolic = HloTextParser.Parse(text);
            foreach (var b in new[] { 1, 7, 128 })
            {
                var concrete = (HloModule)type.GetMethod("Build" + method + "Program")!.Invoke(null, new object[] { b })!;
                var at = new Dictionary<string, long> { ["B"] = b };
                // The builders bind the symbols: get-dimension-size of B becomes a constant.
                // Parameters are live for the whole program, so where they stand does not matter (a parameter created on
                // first use, like sample_weight, is printed where it was made but emitted with the others).
                string Ops(HloModule m) => string.Join("\n", m.Entry.Instructions.Where(i => i.Opcode != "parameter")
                    .Select(i => (i.Opcode == "get-dimension-size" ? "constant" : i.Opcode) + " " + i.Shape.Substitute(at)));
                string Parameters(HloModule m) => string.Join("\n", m.Entry.Parameters.Select(p => p.Name + " " + p.Shape.Substitute(at)));
                Assert.Equal(Ops(symbolic), Ops(concrete));
                Assert.Equal(Parameters(symbolic), Parameters(concrete));
                Assert.Equal(ProgramMemory.Estimate(concrete).PeakFor(at), memory.PeakCandidates.Select(SymbolicBytes.Parse).Max(c => c.Evaluate(at)));
            }
        }
    }

    /// <summary>
    /// An independent statement of the model on concrete shapes: at each scheduled point t (an instruction the root
    /// needs), a buffer-defining instruction v is live if it is a parameter, a needed constant, an output, or defined at
    /// or before t and read (directly or through views) by a needed instruction at or after t.
    /// </summary>
    static long BruteForcePeak(HloModule module, IReadOnlyDictionary<string, long> at)
    {
        var ins = module.Entry.Instructions.ToList();
        var needed = new HashSet<HloInstruction>();
        void Need(HloInstruction i) { if (needed.Add(i)) foreach (var o in i.Operands) Need(o); }
        Need(module.Entry.Root);
        bool IsView(HloInstruction i) => i.Opcode is "tuple" or "get-tuple-element" or "bitcast"
            || (i.Opcode == "reshape" && i.Shape.HasDefaultLayout && i.Operands[0].Shape.HasDefaultLayout);
        IEnumerable<HloInstruction> Sources(HloInstruction v) => v.Opcode switch
        {
            "tuple" => v.Operands.SelectMany(Sources),
            "get-tuple-element" => Sources(v.Operands[0].Operands[(int)v.Attributes.TupleIndex]),
            "bitcast" or "reshape" when IsView(v) => Sources(v.Operands[0]),
            _ => new[] { v },
        };
        var outputs = Sources(module.Entry.Root).ToHashSet();
        long Bytes(HloInstruction v) => v.Shape.IsArray ? v.Shape.Substitute(at).ElementCount * v.Shape.ElementType.ByteSize() : 0;
        long peak = 0;
        for (int t = 0; t < ins.Count; t++)
        {
            if (!needed.Contains(ins[t]) && t != 0) continue;
            long live = 0;
            for (int d = 0; d < ins.Count; d++)
            {
                var v = ins[d];
                if (IsView(v)) continue;
                bool held = v.Opcode == "parameter" || (v.Opcode is "constant" or "get-dimension-size" && needed.Contains(v));
                bool alive = held || (needed.Contains(v) && d <= t && (outputs.Contains(v)
                    || ins.Skip(t).Any(u => needed.Contains(u) && u.Opcode != "get-tuple-element" && u.Operands.Any(o => Sources(o).Contains(v)))));
                if (alive) live += Bytes(v);
            }
            peak = Math.Max(peak, live);
        }
        return peak;
    }

    // ---- parameter bytes and the generated estimate --------------------------------------------------------------

    static GenModelSpec Spec(GeneratorHarness.Result r, int index = 0) =>
        (GenModelSpec)r.Run.TrackedSteps[XlaGenerator.SpecStep].SelectMany(s => s.Outputs).Select(o => o.Value).Where(v => v != null).ElementAt(index);

    [Fact]
    public void ParameterBytesMatchAHandCount()
    {
        var r = GeneratorHarness.Run(("Classifier.cs", Models.Classifier));
        Assert.Empty(r.Errors);
        var type = GeneratorHarness.Load(r.Output).GetType("Samples.Classifier")!;
        var memory = (ModelMemoryEstimate)type.GetProperty("MemoryEstimate")!.GetValue(null)!;
        const long hand = (784 * 64 + 64 + 64 * 10) * 4;   // w1, b1, w2: f32
        Assert.Equal(203_520, hand);
        Assert.Equal(hand, memory.ParameterBytes);
        Assert.Equal(hand, memory.OptimizerStateBytesPerSlot);
        Assert.Equal(2 * hand, memory.OptimizerStateBytes(2));
        Assert.Equal(new[] { "Logits", "Loss" }, memory.Programs.Select(p => p.Method));
        var logits = memory["Logits"];
        Assert.False(logits.IsLoss);
        Assert.True(memory["Loss"].IsLoss);
        Assert.Equal("3,136·B", logits.Inputs.ToString());
        Assert.Equal("40·B", logits.Outputs.ToString());
        Assert.Equal("3,140·B", memory["Loss"].Inputs.ToString());   // x and the s32 labels
        // The peak holds at least the parameters, the input and the output; the formula is what Summary prints.
        Assert.True(logits.Bytes(128) >= hand + (3136 + 40) * 128);
        Assert.Equal(logits.Bytes(B128), logits.Bytes(128));
        Assert.Equal(logits.Peak.Evaluate(B128), logits.Bytes(128));   // one candidate: the formula is the peak
        var e = Assert.Throws<ArgumentException>(() => logits.Bytes(new Dictionary<string, long> { ["N"] = 1 }));
        Assert.StartsWith("Logits: the memory estimate needs a value for B (its symbols: B)", e.Message);
    }

    [Fact]
    public void NonTrainableAndIntegerParametersAreNotOptimizerState()
    {
        var r = GeneratorHarness.Run(("M.cs", """
            using XlaGen;
            namespace Samples;
            [XlaModel]
            public partial class Counted
            {
                [Param(100, 10)] Tensor<float> w;
                [Param(10, Trainable = false)] Tensor<float> scale;
                [Param(3)] Tensor<int> ids;
                [Param(5)] Tensor<double> d;

                [Loss]
                public Tensor<float> Loss([Shape("B", 100)] Tensor<float> x) => (x.MatMul(w) * scale).Mean();
            }
            """));
        Assert.Empty(r.Errors);
        var memory = (ModelMemoryEstimate)GeneratorHarness.Load(r.Output).GetType("Samples.Counted")!.GetProperty("MemoryEstimate")!.GetValue(null)!;
        Assert.Equal(4000 + 40 + 12 + 40, memory.ParameterBytes);
        Assert.Equal(4000 + 40, memory.OptimizerStateBytesPerSlot);   // w and d: floating point and trainable
    }

    [Fact]
    public void GeneratedCodeCarriesTheEstimate()
    {
        var r = GeneratorHarness.Run(("FashionMlp.cs", Models.FashionMlp));
        Assert.Empty(r.Errors);
        var text = r.Generated("FashionMlp.g.cs");
        Assert.Contains("public static global::XlaGen.ModelMemoryEstimate MemoryEstimate { get; } = new(814120L, 0L, new global::XlaGen.MemoryEstimate[]", text);
        Assert.Contains("global::XlaGen.MemoryEstimate.Create(\"Logits\", false, new string[] { \"B\" }, \"3136*B\", \"40*B\", new string[] {", text);
        Assert.Contains("public override global::XlaGen.ModelMemoryEstimate MemoryEstimate => FashionMlp.MemoryEstimate;", text);
    }

    // ---- XlaGenDeviceMemory ------------------------------------------------------------------------------------

    [Theory]
    [InlineData("16GiB", 17_179_869_184L)]
    [InlineData("16 GiB", 17_179_869_184L)]
    [InlineData("16gib", 17_179_869_184L)]
    [InlineData("80GB", 80_000_000_000L)]
    [InlineData("1.5KiB", 1536L)]
    [InlineData("512MiB", 536_870_912L)]
    [InlineData("2TB", 2_000_000_000_000L)]
    [InlineData("1TiB", 1_099_511_627_776L)]
    [InlineData("100B", 100L)]
    [InlineData("3kB", 3000L)]
    [InlineData(" 7MB ", 7_000_000L)]
    public void DeviceMemoryUnits(string text, long bytes)
    {
        var s = DeviceMemory.Parse(text);
        Assert.Null(s.Problem);
        Assert.Equal(bytes, s.Bytes);
        Assert.True(s.IsSet);
    }

    [Theory]
    [InlineData("16", "it is not a number followed by a unit")]
    [InlineData("16 GiBs", "'GiBs' is not a unit")]
    [InlineData("sixteen GiB", "it is not a number followed by a unit")]
    [InlineData("-1GiB", "it is not a number followed by a unit")]
    [InlineData("0GB", "a device has more than 0 bytes")]
    [InlineData("0.5B", "it is not a whole number of bytes")]
    [InlineData("9000000TiB", "it is more than 9,223,372,036,854,775,807 bytes")]
    public void MalformedDeviceMemory(string text, string why)
    {
        var s = DeviceMemory.Parse(text);
        Assert.Equal(why, s.Problem);
        Assert.False(s.IsSet);
    }

    const string Big = """
        using XlaGen;
        namespace Samples;

        [XlaModel]
        public partial class [|Big|]
        {
            [Param(32768, 32768)] Tensor<float> a;
            [Param(32768, 16384)] Tensor<float> b;
            [Param(16)] Tensor<float> c;
            [Param(32768, 32768)] Tensor<float> d;

            [Forward]
            public Tensor<float> F([Shape("B", 16)] Tensor<float> x) => x * c;
        }
        """;

    static (GeneratorHarness.Result Result, CSharpCompilation Compilation, TextSpan Marked) RunWithDeviceMemory(string marked, string? deviceMemory)
    {
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        int end = marked.IndexOf("|]", StringComparison.Ordinal);
        var clean = start < 0 ? marked : marked.Remove(end, 2).Remove(start, 2);
        var properties = deviceMemory == null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["XlaGenDeviceMemory"] = deviceMemory };
        var compilation = GeneratorHarness.Compilation(("Model.cs", clean));
        var r = GeneratorHarness.Run(compilation, GeneratorHarness.Driver(properties));
        return (r, compilation, start < 0 ? default : new TextSpan(start, end - start - 2));
    }

    [Fact]
    public void ParametersOverTheDeviceMemoryAreAnErrorOnTheModelClass()
    {
        var (r, _, span) = RunWithDeviceMemory(Big, "8GiB");
        var d = Assert.Single(r.GeneratorDiagnostics);
        Assert.Equal("XG0024", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Equal("Model.cs", d.Location.GetLineSpan().Path);
        Assert.Equal("[XlaModel] class 'Big' has 10,737,418,304 bytes (10.0 GiB) of parameters, more than the device memory XlaGenDeviceMemory = 8GiB (8,589,934,592 bytes); "
            + "the largest: a f32[32768,32768] 4,294,967,296 bytes (4.0 GiB), d f32[32768,32768] 4,294,967,296 bytes (4.0 GiB), b f32[32768,16384] 2,147,483,648 bytes (2.0 GiB)",
            d.GetMessage());
    }

    [Fact]
    public void ParametersWithinTheDeviceMemoryOrNoSettingAreFine()
    {
        Assert.Empty(RunWithDeviceMemory(Big, "16GiB").Result.GeneratorDiagnostics);
        Assert.Empty(RunWithDeviceMemory(Big, "10737418304B").Result.GeneratorDiagnostics);   // exactly the parameters
        Assert.Equal("XG0024", Assert.Single(RunWithDeviceMemory(Big, "10737418303B").Result.GeneratorDiagnostics).Id);
        Assert.Equal("XG0024", Assert.Single(RunWithDeviceMemory(Big, "10GB").Result.GeneratorDiagnostics).Id);   // decimal: 10,000,000,000
        Assert.Empty(RunWithDeviceMemory(Big, null).Result.GeneratorDiagnostics);
        Assert.Empty(RunWithDeviceMemory(Big, "").Result.GeneratorDiagnostics);   // CompilerVisibleProperty of an unset property
        Assert.Empty(GeneratorHarness.Run(("Model.cs", Big.Replace("[|", "").Replace("|]", ""))).GeneratorDiagnostics);
    }

    [Fact]
    public void MalformedDeviceMemoryIsItsOwnDiagnostic()
    {
        var (r, _, _) = RunWithDeviceMemory(Big, "16 gigs");
        var d = Assert.Single(r.GeneratorDiagnostics);
        Assert.Equal("XG0025", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(Location.None, d.Location);
        Assert.Equal("The build property XlaGenDeviceMemory = '16 gigs' is not a memory size: 'gigs' is not a unit; write a number and a unit, such as 16GiB or 80GB "
            + "(B; KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024)", d.GetMessage());
    }

    [Fact]
    public void ChangingTheDeviceMemoryRechecksWithoutReparsing()
    {
        var (first, compilation, _) = RunWithDeviceMemory(Big, "16GiB");
        Assert.Empty(first.GeneratorDiagnostics);
        var driver = first.Driver.WithUpdatedAnalyzerConfigOptions(new GeneratorHarness.BuildProperties(new Dictionary<string, string> { ["XlaGenDeviceMemory"] = "1GiB" }));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out _, out var diagnostics);
        Assert.Equal("XG0024", Assert.Single(diagnostics).Id);
        var run = driver.GetRunResult().Results.Single();
        Assert.All(run.TrackedSteps[XlaGenerator.ParseStep].SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        Assert.All(run.TrackedSteps[XlaGenerator.SpecStep].SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        Assert.Contains(run.TrackedSteps[XlaGenerator.DeviceMemoryCheckStep].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }
}
