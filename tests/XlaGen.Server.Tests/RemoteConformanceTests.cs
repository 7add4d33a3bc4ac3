using System.Reflection;
using XlaGen.Tests.Conformance;

namespace XlaGen.Server.Tests;

/// <summary>The backend conformance suite (tests/XlaGen.Conformance, expected values from naive reference code) on the
/// remote device: every case the CPU executor passes in process must pass through xlagen-server too.</summary>
public class RemoteConformanceTests(SharedServer shared)
{
    public static TheoryData<string> Names => new(ConformanceSuite.Names);

    /// <summary>Every case file (every static <c>All()</c> in the cases namespace, found by reflection) is in the suite,
    /// so a new case file cannot be left out of the remote (and the device check's) runs.</summary>
    [Fact]
    public void EveryCaseFileIsFound()
    {
        var byReflection = typeof(ConformanceCase).Assembly.GetTypes()
            .Where(t => t.Namespace == "XlaGen.Tests.Conformance.Cases")
            .Select(t => t.GetMethod("All", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes))
            .Where(m => m != null && typeof(IEnumerable<ConformanceCase>).IsAssignableFrom(m.ReturnType))
            .SelectMany(m => (IEnumerable<ConformanceCase>)m!.Invoke(null, null)!)
            .Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        Assert.True(byReflection.Count > 300, $"{byReflection.Count} conformance cases found");
        var missing = byReflection.Where(n => !ConformanceSuite.Cases.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "cases not in ConformanceSuite: " + string.Join(", ", missing.Take(20)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Case(string name) => ConformanceSuite.Cases[name].RunOn(shared.Device);
}
