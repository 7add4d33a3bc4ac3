using XlaGen.Tests.Conformance;

namespace XlaGen.Tests.CorpusExecution;

/// <summary>
/// The real XLA corpus run on the CPU executor: every HLO text case (../shared/xla-corpus/cases/NN-*.hlo) with the
/// inputs of its .json, compared with the values XLA's own tests state (exactly when the source compared exactly,
/// else |got - want| &lt;= abs + rel·|want|), and every proto fixture that states input/output pairs (expected_io).
/// Reading the cases and comparing is <see cref="XlaCorpus"/> (tests/XlaGen.Conformance), which the GPU device check
/// (tools/DeviceCheck) runs too.
/// </summary>
public class CorpusExecutionTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("cases", "*.hlo")) data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    public static TheoryData<string, int> ProtoPairs()
    {
        var data = new TheoryData<string, int>();
        // Corpus.Files is empty without the corpus, and throws under CI=true (which fails the theory with its message).
        if (!Corpus.Files("pb", "*.json").Any() || Corpus.Root == null) return data;
        foreach (var (name, pair) in XlaCorpus.ProtoPairs(Corpus.Root)) data.Add(name, pair);
        return data;
    }

    [Fact]
    public void CorpusHasTheCasesThisTestRuns()
    {
        Corpus.Require();
        Assert.Equal(29, Corpus.Files("cases", "*.hlo").Count());
        Assert.Equal(11, ProtoPairs().Count);
        Assert.Equal(40, XlaCorpus.All(Corpus.Root!).Count);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Cases))]
    public void HloCaseGivesTheExpectedValues(string name)
    {
        Corpus.Require();
        XlaCorpus.HloCase(Corpus.Root!, name).RunOn(Devices.Cpu());
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(ProtoPairs))]
    public void ProtoFixtureGivesItsStatedOutput(string name, int pair)
    {
        Corpus.Require();
        XlaCorpus.ProtoPair(Corpus.Root!, name, pair).RunOn(Devices.Cpu());
    }
}
