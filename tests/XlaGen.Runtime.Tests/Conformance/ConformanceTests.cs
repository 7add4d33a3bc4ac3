namespace XlaGen.Tests.Conformance;

/// <summary>Every conformance case (tests/XlaGen.Conformance) on every backend of <see cref="ConformanceBackends"/>.</summary>
public class ConformanceTests
{
    public static IReadOnlyDictionary<string, ConformanceCase> Cases => ConformanceSuite.Cases;

    public static TheoryData<string, string> BackendCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var backend in ConformanceBackends.All)
            {
                foreach (var name in ConformanceSuite.Names) data.Add(backend.Name, name);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(BackendCases))]
    public void Case(string backend, string name)
    {
        var device = ConformanceBackends.Open(backend);
        Assert.SkipWhen(device == null, $"backend {backend} is not available: {ConformanceBackends.Reason(backend)}");
        Cases[name].RunOn(device!);
    }

    [Fact]
    public void CoversEveryCatalogueOpcode()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in Cases.Values)
        {
            foreach (var ins in c.Build().AllInstructions) used.Add(ins.Opcode);
        }
        var missing = XlaGen.Ops.OpCatalogue.Opcodes.Where(o => !used.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "no conformance case uses: " + string.Join(", ", missing));
    }
}
