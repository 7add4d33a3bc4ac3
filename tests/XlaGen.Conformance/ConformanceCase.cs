using XlaGen.Hlo;

namespace XlaGen.Tests.Conformance;

/// <summary>
/// One backend conformance case: a module, its arguments, and the expected results (one tensor per result leaf;
/// tuple results are flattened). Expected values come from the naive reference code in <see cref="Ref"/> or are
/// written literally; they are never produced by a backend. <see cref="Tolerance"/> 0 means exact (NaN matches
/// NaN); otherwise |got - want| &lt;= tolerance · max(1, |want|).
/// </summary>
public sealed record ConformanceCase(string Name, Func<HloModule> Build, Tensor[] Inputs, Tensor[] Expected, double Tolerance = 0)
{
    public override string ToString() => Name;

    /// <summary>The case's own tolerance for its expected values.</summary>
    public Tolerance ExpectedTolerance => Conformance.Tolerance.Scaled(Tolerance);

    /// <summary>Runs the case on <paramref name="device"/> and throws a <see cref="ConformanceMismatchException"/>
    /// naming every result that differs from the expected values.</summary>
    public void RunOn(IDevice device)
    {
        var problems = Check(Run(device));
        if (problems.Count > 0) throw new ConformanceMismatchException(string.Join(Environment.NewLine, problems));
    }

    /// <summary>Compiles and runs the case on <paramref name="device"/> and returns its results on the host.</summary>
    public Tensor[] Run(IDevice device) => DeviceRun.Run(device, Build(), Inputs);

    /// <summary>One message per result of <paramref name="results"/> that differs from the expected values; empty when all match.</summary>
    public List<string> Check(IReadOnlyList<Tensor> results) => TensorComparison.Mismatches(Expected, results, _ => ExpectedTolerance, Name);
}

/// <summary>Builds small modules for cases: parameters named p0, p1, … with the inputs' shapes.</summary>
public static class CaseModule
{
    public static Func<HloModule> Of(string name, Tensor[] inputs, Func<HloBuilder, HloInstruction[], HloInstruction> body) => () =>
    {
        var b = new HloBuilder(name.Replace('/', '_'));
        var ps = inputs.Select((t, i) => b.Parameter(t.HloShape, "p" + i)).ToArray();
        return b.BuildModule(body(b, ps));
    };

    /// <summary>A scalar computation (a, b) -> a op b, or any body over two scalar parameters.</summary>
    public static HloComputation Binary(HloBuilder b, string name, ElementType type, Func<HloBuilder, HloInstruction, HloInstruction, HloInstruction> body)
    {
        var sub = b.CreateSubBuilder(name);
        var x = sub.Parameter(Shape.Scalar(type), "x");
        var y = sub.Parameter(Shape.Scalar(type), "y");
        return sub.Build(body(sub, x, y));
    }
}
