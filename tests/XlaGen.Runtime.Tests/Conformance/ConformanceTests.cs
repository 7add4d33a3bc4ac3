using XlaGen.Tests.Conformance.Cases;

namespace XlaGen.Tests.Conformance;

/// <summary>Every conformance case on every backend.</summary>
public class ConformanceTests
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
            .ToList();
        var byName = new Dictionary<string, ConformanceCase>(StringComparer.Ordinal);
        foreach (var c in all)
        {
            if (!byName.TryAdd(c.Name, c)) throw new InvalidOperationException($"two conformance cases are named {c.Name}");
        }
        return byName;
    });

    public static IReadOnlyDictionary<string, ConformanceCase> Cases => CasesByName.Value;

    public static TheoryData<string, string> BackendCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var backend in ConformanceBackends.All)
            {
                foreach (var name in Cases.Keys.OrderBy(n => n, StringComparer.Ordinal)) data.Add(backend.Name, name);
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
