using XlaGen.Autodiff;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Tests.Conformance;

namespace XlaGen.Tests.Ops;

/// <summary>
/// Issue 10: an elementwise op is its catalogue entry (type class, cost class, gradient rule or the reason there is
/// none) plus its kernel. These tests hold the CPU executor and autodiff to the entries: a kernel for every element type
/// an entry admits and none beyond, a rule or a reason, and the tables the executor derives equal to the catalogue.
/// </summary>
public class ElementwiseCatalogueTests
{
    static readonly IDevice Cpu = Devices.Cpu();

    static readonly ElementType[] CpuTypes = Enum.GetValues<ElementType>().Where(TypeDispatch.IsSupported).ToArray();

    static readonly Dim[] Dims = { 3 };

    /// <summary>One instruction of <paramref name="op"/> on operands of element type <paramref name="t"/> (convert: to <paramref name="to"/>).</summary>
    static HloModule Module(ElementwiseOpDef op, ElementType t, ElementType to)
    {
        var b = new HloBuilder($"{op.Opcode}_{t.TextName()}");
        HloInstruction P(ElementType type, int i) => b.Parameter(type, Dims, $"p{i}");
        var root = op switch
        {
            CompareOp => b.Compare(P(t, 0), P(t, 1), "LT"),
            SelectOp => b.Select(P(ElementType.Pred, 0), P(t, 1), P(t, 2)),
            ConvertOp => b.AddInstruction("convert", new[] { P(t, 0) }, null, Shape.Array(to, Dims)),
            _ => b.AddInstruction(op.Opcode, Enumerable.Range(0, op.Arity).Select(i => P(t, i)).ToArray()),
        };
        return b.BuildModule(root);
    }

    sealed class UnarySelection : IUnaryOpSink<Type>
    {
        public Type Use<T, TOp>() where T : unmanaged where TOp : struct, IUnaryOp<T> => typeof(TOp);
    }

    sealed class BinarySelection : IBinaryOpSink<Type>
    {
        public Type Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> => typeof(TOp);
    }

    [Fact]
    public void EveryEntryHasACpuKernelForExactlyTheElementTypesItAdmits()
    {
        var problems = new List<string>();
        foreach (var op in OpCatalogue.Elementwise)
        {
            foreach (var t in CpuTypes)
            {
                if (!op.Types.Accepts(t))
                {
                    // Only unary and binary entries narrow their types; the selection switch must have no line beyond them.
                    try
                    {
                        var chosen = op switch
                        {
                            UnaryOp => OpSelect.Unary(op.Opcode, t, new UnarySelection()),
                            BinaryOp => OpSelect.Binary(op.Opcode, t, new BinarySelection()),
                            _ => throw new InvalidOperationException($"{op.Opcode} has type class {op.Types} and no check for it here"),
                        };
                        problems.Add($"{op.Opcode}: the catalogue does not admit {t.TextName()}, but OpSelect chooses {chosen.Name} for it");
                    }
                    catch (NotSupportedException)
                    {
                    }
                    continue;
                }
                foreach (var to in op is ConvertOp ? CpuTypes : new[] { t })
                {
                    try
                    {
                        using var exe = Cpu.CompileHlo(Module(op, t, to));
                    }
                    catch (Exception e)
                    {
                        problems.Add($"{op.Opcode} on {t.TextName()}{(op is ConvertOp ? " to " + to.TextName() : "")}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void EveryEntryHasAGradientRuleOrAReasonAndAutodiffReadsIt()
    {
        foreach (var op in OpCatalogue.Elementwise)
        {
            Assert.True((op.Gradient == null) != (op.NoGradientReason == null), $"{op.Opcode}: exactly one of a rule and a reason");
            Assert.True(GradientRules.TryGet(op.Opcode, out var rule) == (op.Gradient != null), $"{op.Opcode}: GradientRules disagrees with the entry");
            if (op.Gradient != null) Assert.Same(op.Gradient, rule);
            Assert.Equal(op.NoGradientReason, GradientRules.NonDifferentiable.GetValueOrDefault(op.Opcode));
        }
        // The non-differentiable ones are exactly those defined on integers/pred only, and compare (a pred result).
        var none = OpCatalogue.Elementwise.Where(o => o.Gradient == null).Select(o => o.Opcode).OrderBy(o => o, StringComparer.Ordinal);
        Assert.Equal(new[] { "and", "compare", "not", "or", "xor" }, none);
    }

    /// <summary>An integer or pred result never carries a cotangent (convert's and select's rules send none to such
    /// operands), so reverse mode skips the elementwise ops without a rule instead of failing on them.</summary>
    [Fact]
    public void AnIntegerPathThroughAnOpWithoutAGradientCarriesNone()
    {
        var b = new HloBuilder("bits");
        var x = b.Parameter(ElementType.F64, Dims, "x");
        var i = b.Convert(x, ElementType.S32);
        var bits = b.Convert(b.Binary("and", i, b.Unary("not", i)), ElementType.F64);
        var loss = b.ReduceSum(b.Add(bits, b.Multiply(x, x)), new long[] { 0 });
        var dx = ReverseMode.Gradients(b, loss, new[] { x })[0];
        var got = DeviceRun.Run(Cpu, b.BuildModule(dx), new Tensor[] { Tensor<double>.FromArray(new[] { 1.5, -2, 3 }, 3) });
        Assert.Equal(new[] { 3.0, -4, 6 }, ((Tensor<double>)got[0]).Data);
    }

    /// <summary>Where autodiff does meet an op without a rule, its error carries the reason the catalogue or table states.</summary>
    [Fact]
    public void TheAutodiffErrorGivesTheStatedReason()
    {
        var b = new HloBuilder("sorted");
        var x = b.Parameter(ElementType.F32, Dims, "x");
        var cmp = b.CreateSubBuilder("less");
        var less = cmp.Build(cmp.Compare(cmp.Parameter(Shape.Scalar(ElementType.F32), "a"), cmp.Parameter(Shape.Scalar(ElementType.F32), "b"), "LT"));
        var sorted = b.AddInstruction("sort", new[] { x }, new HloAttributes { Dimensions = new long[] { 0 } }, null, new[] { less });
        var loss = b.ReduceSum(b.Multiply(sorted, x), new long[] { 0 });
        var e = Assert.Throws<GradientException>(() => ReverseMode.Gradients(b, loss, new[] { x }));
        Assert.StartsWith("no gradient rule for sort", e.Message);
        Assert.EndsWith(": " + GradientRules.NonDifferentiable["sort"], e.Message);
    }

    [Fact]
    public void TheExecutorsTablesAreTheCatalogues()
    {
        Assert.Equal(OpCatalogue.Elementwise.OfType<UnaryOp>().Select(o => o.Opcode), OpSelect.UnaryOpcodes);
        Assert.Equal(OpCatalogue.Elementwise.OfType<BinaryOp>().Select(o => o.Opcode), OpSelect.BinaryOpcodes);
        foreach (var op in OpCatalogue.Elementwise)
        {
            Assert.True(KernelRegistry.Has(op.Opcode), $"{op.Opcode} has no CPU kernel");
            int want = op.Cost == ElementCost.Costly ? Par.CostlyGrain : Par.CheapGrain;
            Assert.True(want == Elementwise.GrainFor(op.Opcode), $"{op.Opcode}: the threading grain does not follow its cost class {op.Cost}");
        }
        // The cost classes as they were written before they moved onto the entries (Elementwise.cs's costly list), plus the new ops.
        var costly = OpCatalogue.Elementwise.Where(o => o.Cost == ElementCost.Costly).Select(o => o.Opcode).OrderBy(o => o, StringComparer.Ordinal);
        Assert.Equal(new[] { "divide", "exponential", "exponential-minus-one", "log", "log-plus-one", "logistic", "power", "remainder", "rsqrt", "sqrt", "tanh" }, costly);
    }

    [Fact]
    public void ClampOfPredOrdersFalseBeforeTrue()
    {
        // XLA's evaluator clamps pred with std::min/max: min(hi, max(x, lo)) with false < true.
        var lo = Tensor<bool>.FromArray(new[] { false, true, false, true }, 4);
        var x = Tensor<bool>.FromArray(new[] { true, false, false, false }, 4);
        var hi = Tensor<bool>.FromArray(new[] { false, true, true, true }, 4);
        var b = new HloBuilder("clamp_pred");
        var ps = Enumerable.Range(0, 3).Select(i => b.Parameter(ElementType.Pred, new Dim[] { 4 }, $"p{i}")).ToArray();
        var got = DeviceRun.Run(Cpu, b.BuildModule(b.AddInstruction("clamp", ps)), new Tensor[] { lo, x, hi });
        Assert.Equal(new[] { false, true, false, true }, ((Tensor<bool>)got[0]).Data);
    }

    /// <summary>The new ops keep their digits near 0 (within a few ulps), where exp(x) − 1 and log(1 + x) lose them all.</summary>
    [Theory]
    [InlineData(1e-10)]
    [InlineData(-3e-9)]
    [InlineData(2.5e-5)]
    [InlineData(-0.3)]
    [InlineData(0.7)]
    public void ExpM1AndLogP1AreAccurateNearZero(double v)
    {
        Assert.Equal(ExpM1Series(v), ExpM1Op<double>.Apply(v), 1e-15 * Math.Abs(ExpM1Series(v)));
        Assert.Equal(LogP1Series(v), LogP1Op<double>.Apply(v), 1e-15 * Math.Abs(LogP1Series(v)));
        float f = (float)v;
        Assert.Equal(ExpM1Series(f), ExpM1Op<float>.Apply(f), 5e-7 * Math.Abs(ExpM1Series(f)));
        Assert.Equal(LogP1Series(f), LogP1Op<float>.Apply(f), 5e-7 * Math.Abs(LogP1Series(f)));
    }

    /// <summary>Taylor series, which converge fast for |v| &lt; 1 and need no exp or log.</summary>
    static double ExpM1Series(double v)
    {
        double sum = 0, term = 1;
        for (int k = 1; k < 60; k++) sum += term *= v / k;
        return sum;
    }

    static double LogP1Series(double v)
    {
        double sum = 0, power = 1;
        for (int k = 1; k < 200; k++) sum += (k % 2 == 1 ? 1 : -1) * (power *= v) / k;
        return sum;
    }
}
