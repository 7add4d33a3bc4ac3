using System.Globalization;
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

    /// <summary>Runs the case on <paramref name="device"/> and asserts every result.</summary>
    public void RunOn(IDevice device)
    {
        var module = Build();
        using var exe = device.Compile(module);
        var args = Inputs.Select(device.Upload).ToArray();
        var results = exe.Execute(args);
        Assert.True(results.Length == Expected.Length, $"{Name}: {results.Length} results, expected {Expected.Length}");
        for (int i = 0; i < results.Length; i++) AssertClose(Expected[i], device.Download(results[i]), $"{Name} result {i}");
    }

    public void AssertClose(Tensor want, Tensor got, string what)
    {
        Assert.True(want.ShapeText == got.ShapeText, $"{what}: expected {want.ShapeText}, got {got.ShapeText}");
        for (long i = 0; i < want.ElementCount; i++)
        {
            var w = want.Data.GetValue(i)!;
            var g = got.Data.GetValue(i)!;
            if (!Close(w, g))
                Assert.Fail($"{what}: element {i} ({Ref.IndexText(want.Shape, i)}) is {Show(g)}, expected {Show(w)} (tolerance {Tolerance})");
        }
    }

    bool Close(object w, object g)
    {
        switch (w)
        {
            case float wf:
                return CloseDouble(wf, (float)g);
            case double wd:
                return CloseDouble(wd, (double)g);
            default:
                return w.Equals(g);
        }
    }

    bool CloseDouble(double w, double g)
    {
        if (double.IsNaN(w)) return double.IsNaN(g);
        if (double.IsInfinity(w) || Tolerance == 0) return w == g;
        return Math.Abs(g - w) <= Tolerance * Math.Max(1, Math.Abs(w));
    }

    static string Show(object v) => v switch
    {
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "null",
    };
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
