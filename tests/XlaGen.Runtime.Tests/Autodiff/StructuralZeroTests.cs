using XlaGen.Autodiff;
using XlaGen.Backends.Cpu;
using XlaGen.Hlo;

namespace XlaGen.Tests.Autodiff;

/// <summary>
/// Inlining a gradient program with a constant training flag (the train step passes training = true) folds the zero
/// cotangents of the branch not taken (<see cref="HloBuilder.Inline"/>): BatchNorm's inference branch costs the train
/// step nothing, and a NaN in it (corrupted moving statistics) no longer reaches the gradients. A zero the program itself
/// multiplies by keeps IEEE semantics.
/// </summary>
public class StructuralZeroTests
{
    static readonly CpuDevice Cpu = new();

    /// <summary>loss(x, w, m, training) = Σ select(training, x·w, (x − m)·w), and its gradient with respect to w.</summary>
    static HloModule GradientProgram()
    {
        var b = new HloBuilder("loss");
        var x = b.Parameter(Shape.Array(ElementType.F32, 4, 3), "x");
        var w = b.Parameter(Shape.Array(ElementType.F32, 3), "w");
        var m = b.Parameter(Shape.Array(ElementType.F32, 3), "m");
        var t = b.Parameter(Shape.Scalar(ElementType.Pred), "training");
        Dim[] dims = { 4, 3 };
        var wb = b.Broadcast(w, dims, new long[] { 1 });
        var trained = b.Multiply(x, wb);
        var inference = b.Multiply(b.Subtract(x, b.Broadcast(m, dims, new long[] { 1 })), wb);
        var loss = b.ReduceSum(b.Select(b.BroadcastScalar(t, dims), trained, inference), 0, 1);
        var dw = ReverseMode.Gradients(b, loss, new[] { w })[0];
        return b.BuildModule(b.Tuple(loss, dw));
    }

    static HloModule Inlined(HloModule program, bool training)
    {
        var b = new HloBuilder("step");
        var args = program.Entry.Parameters.Take(3).Select(p => b.Parameter(p.Shape, p.Name)).ToList();
        args.Add(b.Constant(Literal.Scalar(training)));
        var module = b.BuildModule(b.Inline(program.Entry, args));
        module.RemoveDeadCode();
        return module;
    }

    static readonly float[] X = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    static readonly float[] W = { 0.5f, -1, 2 };
    static readonly float[] NaNs = { float.NaN, float.NaN, float.NaN };

    static float[] Run(HloModule module, params Tensor[] args)
    {
        var outs = Cpu.CompileHlo(module).Execute(args.Select(Cpu.Upload).ToArray());
        return ((Tensor<float>)Cpu.Download(outs[1])).Data;
    }

    [Fact]
    public void TheBranchNotTakenLeavesNoWorkAndNoNaN()
    {
        var step = Inlined(GradientProgram(), training: true);
        var m = step.Entry.Parameters.Single(p => p.Name == "m");
        Assert.DoesNotContain(step.Entry.Instructions, i => i.Operands.Contains(m));
        Assert.DoesNotContain(step.Entry.Instructions, i => i.Opcode == "select");
        // d/dw Σ x·w = the column sums of x, whatever m holds
        var dw = Run(step, Tensor<float>.FromArray(X, 4, 3), Tensor<float>.FromArray(W, 3), Tensor<float>.FromArray(NaNs, 3));
        Assert.Equal(new[] { 22f, 26, 30 }, dw);
    }

    [Fact]
    public void UnfoldedTheBranchNotTakenWouldPoisonTheGradient()
    {
        // the same program with the flag as a parameter: 0 · NaN from the inference branch reaches dw
        var program = GradientProgram();
        var dw = Run(program, Tensor<float>.FromArray(X, 4, 3), Tensor<float>.FromArray(W, 3), Tensor<float>.FromArray(NaNs, 3), Tensor<bool>.Scalar(true));
        Assert.All(dw, v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void TheEvaluationFlagKeepsTheInferenceBranch()
    {
        var step = Inlined(GradientProgram(), training: false);
        // d/dw Σ (x − m)·w = Σ_rows (x − m): with m = 1, the column sums less 4
        var dw = Run(step, Tensor<float>.FromArray(X, 4, 3), Tensor<float>.FromArray(W, 3), Tensor<float>.FromArray(new[] { 1f, 1, 1 }, 3));
        Assert.Equal(new[] { 18f, 22, 26 }, dw);
    }

    [Fact]
    public void AZeroInTheProgramKeepsIeeeSemantics()
    {
        // x · 0 written in the program (not a branch's cotangent) stays: inf · 0 is NaN
        var callee = new HloBuilder("callee");
        var x = callee.Parameter(Shape.Array(ElementType.F32, 2), "x");
        var t = callee.Parameter(Shape.Scalar(ElementType.Pred), "training");
        var zero = callee.Full(ElementType.F32, 0, new Dim[] { 2 });
        var kept = callee.Select(callee.BroadcastScalar(t, new Dim[] { 2 }), callee.Multiply(x, zero), x);
        var program = callee.BuildModule(kept);
        var b = new HloBuilder("caller");
        var p = b.Parameter(Shape.Array(ElementType.F32, 2), "x");
        var module = b.BuildModule(b.Inline(program.Entry, new[] { p, b.Constant(Literal.Scalar(true)) }));
        var outs = Cpu.CompileHlo(module).Execute(new[] { Cpu.Upload(Tensor<float>.FromArray(new[] { float.PositiveInfinity, 2 }, 2)) });
        var r = ((Tensor<float>)Cpu.Download(outs[0])).Data;
        Assert.True(float.IsNaN(r[0]));
        Assert.Equal(0f, r[1]);
    }
}
