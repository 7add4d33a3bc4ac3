using System.Globalization;

namespace XlaGen.Tests.Conformance;

/// <summary>
/// How close a floating-point result must be to the value it is compared with (integers and pred always compare
/// exactly; NaN matches NaN; an infinity matches only the same infinity). Two forms are in use:
/// <list type="bullet">
/// <item><see cref="Scaled"/>: |got − want| ≤ t · max(1, |want|), the conformance cases' form and the one for comparing
/// two backends (<see cref="Backends"/>, 1e-5);</item>
/// <item><see cref="AbsRel"/>: |got − want| ≤ abs + rel · |want|, the form XLA's own tests state in the corpus.</item>
/// </list>
/// A tolerance of zero in either form means exact.
/// </summary>
public sealed record Tolerance
{
    Tolerance(double abs, double rel, bool scaled)
    {
        if (abs < 0 || rel < 0 || double.IsNaN(abs) || double.IsNaN(rel))
            throw new ArgumentOutOfRangeException(nameof(abs), $"a tolerance must be a non-negative number (abs {abs}, rel {rel})");
        Abs = abs;
        Rel = rel;
        IsScaled = scaled;
    }

    public double Abs { get; }

    public double Rel { get; }

    /// <summary>True for the t · max(1, |want|) form (then <see cref="Rel"/> is t).</summary>
    public bool IsScaled { get; }

    public bool IsExact => Abs == 0 && Rel == 0;

    public static Tolerance Exact { get; } = new(0, 0, scaled: false);

    /// <summary>|got − want| ≤ t · max(1, |want|); 0 is exact.</summary>
    public static Tolerance Scaled(double t) => new(0, t, scaled: true);

    /// <summary>|got − want| ≤ abs + rel · |want|; both 0 is exact.</summary>
    public static Tolerance AbsRel(double abs, double rel) => new(abs, rel, scaled: false);

    /// <summary>Two backends running the same program: 1e-5 relative (to at least 1) for floating point, exact otherwise.</summary>
    public static Tolerance Backends { get; } = Scaled(1e-5);

    /// <summary>Whether <paramref name="got"/> is close enough to <paramref name="want"/>.</summary>
    public bool Accepts(double want, double got)
    {
        if (double.IsNaN(want)) return double.IsNaN(got);
        if (double.IsInfinity(want) || IsExact) return want == got;
        double bound = IsScaled ? Rel * Math.Max(1, Math.Abs(want)) : Abs + Rel * Math.Abs(want);
        return Math.Abs(got - want) <= bound;
    }

    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        if (IsExact) return "exact";
        if (IsScaled) return string.Create(c, $"{Rel:R} x max(1,|want|)");
        return string.Create(c, $"abs {Abs:R} + rel {Rel:R} x |want|");
    }
}
