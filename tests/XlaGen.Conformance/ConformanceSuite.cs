using XlaGen.Tests.Conformance.Cases;

namespace XlaGen.Tests.Conformance;

/// <summary>Every conformance case, by name (names are unique; a duplicate is an error naming it).</summary>
public static class ConformanceSuite
{
    static readonly Lazy<Dictionary<string, ConformanceCase>> CasesByName = new(() =>
    {
        var all = ElementwiseCases.All()
            .Concat(StructuralCases.All())
            .Concat(DotCases.All())
            .Concat(ReduceCases.All())
            .Concat(ControlCases.All())
            .Concat(ConvolutionCases.All())
            .Concat(WindowCases.All())
            .Concat(IndexedCases.All())
            .Concat(RngCases.All())
            .Concat(CollectiveCases.All())
            .ToList();
        var byName = new Dictionary<string, ConformanceCase>(StringComparer.Ordinal);
        foreach (var c in all)
        {
            if (!byName.TryAdd(c.Name, c)) throw new InvalidOperationException($"two conformance cases are named {c.Name}");
        }
        return byName;
    });

    public static IReadOnlyDictionary<string, ConformanceCase> Cases => CasesByName.Value;

    /// <summary>Case names in ordinal order.</summary>
    public static IReadOnlyList<string> Names => Cases.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();
}
