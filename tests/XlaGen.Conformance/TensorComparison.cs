using System.Globalization;

namespace XlaGen.Tests.Conformance;

/// <summary>A result that differs from what it was compared with; the message names the case, the result index, the
/// element (flat index and multi-index), the two values and the tolerance.</summary>
public sealed class ConformanceMismatchException(string message) : Exception(message);

/// <summary>Element-by-element comparison of a result tensor with the tensor it should equal.</summary>
public static class TensorComparison
{
    /// <summary>
    /// Null when <paramref name="got"/> matches <paramref name="want"/> (same element type and dims, every element
    /// within <paramref name="tolerance"/>, floating point only; other types exactly); otherwise one line naming
    /// <paramref name="what"/> ("case result 0"), the first differing element, both values, the tolerance, and how many
    /// elements differ in all.
    /// </summary>
    public static string? Mismatch(Tensor want, Tensor got, Tolerance tolerance, string what)
    {
        if (want.ShapeText != got.ShapeText) return $"{what}: expected {want.ShapeText}, got {got.ShapeText}";
        long first = -1, count = 0;
        for (long i = 0; i < want.ElementCount; i++)
        {
            if (Close(want.Data.GetValue(i)!, got.Data.GetValue(i)!, tolerance)) continue;
            if (first < 0) first = i;
            count++;
        }
        if (first < 0) return null;
        var w = want.Data.GetValue(first)!;
        var g = got.Data.GetValue(first)!;
        var more = count > 1 ? string.Create(CultureInfo.InvariantCulture, $"; {count} of {want.ElementCount} elements differ") : "";
        return $"{what}: element {first} ({Ref.IndexText(want.Shape, first)}) is {Show(g)}, expected {Show(w)} (tolerance {tolerance}){more}";
    }

    /// <summary>Compares result lists: a count mismatch, or one message per differing result.</summary>
    public static List<string> Mismatches(IReadOnlyList<Tensor> want, IReadOnlyList<Tensor> got, Func<int, Tolerance> tolerance, string what)
    {
        var messages = new List<string>();
        if (want.Count != got.Count)
        {
            messages.Add($"{what}: {got.Count} results, expected {want.Count}");
            return messages;
        }
        for (int i = 0; i < want.Count; i++)
        {
            if (Mismatch(want[i], got[i], tolerance(i), $"{what} result {i}") is { } m) messages.Add(m);
        }
        return messages;
    }

    static bool Close(object w, object g, Tolerance tolerance) => w switch
    {
        float wf => tolerance.Accepts(wf, (float)g),
        double wd => tolerance.Accepts(wd, (double)g),
        Half wh => tolerance.Accepts((double)wh, (double)(Half)g),
        _ => w.Equals(g),
    };

    public static string Show(object v) => v switch
    {
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        Half h => ((double)h).ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "null",
    };
}
