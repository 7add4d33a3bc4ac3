using System.Reflection;
using XlaGen.Tests.Conformance;

namespace XlaGen.Server.Tests;

/// <summary>The backend conformance suite (tests/XlaGen.Runtime.Tests/Conformance, expected values from naive reference
/// code) on the remote device: every case the CPU executor passes in process must pass through xlagen-server too.
/// Case files are found by reflection (every static <c>All()</c> in the cases namespace), so new ones join here.</summary>
public class RemoteConformanceTests(SharedServer shared)
{
    static readonly Lazy<Dictionary<string, ConformanceCase>> Cases = new(() =>
        typeof(ConformanceCase).Assembly.GetTypes()
            .Where(t => t.Namespace == "XlaGen.Tests.Conformance.Cases")
            .Select(t => t.GetMethod("All", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes))
            .Where(m => m != null && typeof(IEnumerable<ConformanceCase>).IsAssignableFrom(m.ReturnType))
            .SelectMany(m => (IEnumerable<ConformanceCase>)m!.Invoke(null, null)!)
            .ToDictionary(c => c.Name, StringComparer.Ordinal));

    public static TheoryData<string> Names => new(Cases.Value.Keys.OrderBy(n => n, StringComparer.Ordinal));

    [Fact]
    public void EveryCaseFileIsFound() => Assert.True(Cases.Value.Count > 300, $"{Cases.Value.Count} conformance cases found");

    [Theory]
    [MemberData(nameof(Names))]
    public void Case(string name) => Cases.Value[name].RunOn(shared.Device);
}
