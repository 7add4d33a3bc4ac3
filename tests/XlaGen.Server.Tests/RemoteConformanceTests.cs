using XlaGen.Tests.Conformance;
using XlaGen.Tests.Conformance.Cases;

namespace XlaGen.Server.Tests;

/// <summary>The backend conformance suite (tests/XlaGen.Runtime.Tests/Conformance, expected values from naive reference
/// code) on the remote device: every case the CPU executor passes in process must pass through xlagen-server too.</summary>
public class RemoteConformanceTests(SharedServer shared)
{
    static readonly Lazy<Dictionary<string, ConformanceCase>> Cases = new(() =>
        ElementwiseCases.All().Concat(StructuralCases.All()).Concat(DotCases.All()).Concat(ReduceCases.All()).Concat(ControlCases.All())
            .ToDictionary(c => c.Name, StringComparer.Ordinal));

    public static TheoryData<string> Names => new(Cases.Value.Keys.OrderBy(n => n, StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Names))]
    public void Case(string name) => Cases.Value[name].RunOn(shared.Device);
}
