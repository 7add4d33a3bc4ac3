using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>Damaged text and bytes fail with the documented exceptions (line/column or naming what is wrong), never
/// with NullReference, IndexOutOfRange, InvalidCast or the like.</summary>
public class MalformedInputRobustnessTests
{
    static IEnumerable<string> Texts()
    {
        foreach (var n in SampleModules.StaticNames.Concat(SampleModules.SymbolicNames)) yield return HloPrinter.Print(SampleModules.Get(n));
        foreach (var f in Corpus.Files("cases", "*.hlo")) yield return File.ReadAllText(f);
    }

    [Fact]
    public void TruncatedAndMutatedTextGivesParseErrors()
    {
        var rng = new Random(1234);
        const string junk = "{}()[],=%:\"x0-_.*/ \n";
        int parsed = 0, rejected = 0;
        foreach (var text in Texts())
        {
            var candidates = new List<string>();
            for (int cut = 0; cut < text.Length; cut += Math.Max(1, text.Length / 40)) candidates.Add(text.Substring(0, cut));
            for (int k = 0; k < 40; k++)
            {
                var chars = text.ToCharArray();
                chars[rng.Next(chars.Length)] = junk[rng.Next(junk.Length)];
                candidates.Add(new string(chars));
            }
            foreach (var c in candidates)
            {
                try
                {
                    HloTextParser.Parse(c);
                    parsed++;
                }
                catch (HloParseException e)
                {
                    Assert.True(e.Line >= 1 && e.Column >= 1, e.Message);
                    Assert.EndsWith($" at line {e.Line}, column {e.Column}", e.Message);
                    rejected++;
                }
            }
        }
        Assert.True(rejected > 0 && parsed > 0, $"{parsed} parsed, {rejected} rejected");
    }

    [Fact]
    public void CorruptedProtoBytesGiveProtoErrors()
    {
        var rng = new Random(99);
        int read = 0, rejected = 0;
        foreach (var name in SampleModules.StaticNames)
        {
            var bytes = HloProto.Write(SampleModules.Get(name));
            for (int k = 0; k < 40; k++)
            {
                var copy = (byte[])bytes.Clone();
                if (k % 3 == 0) copy = copy.Take(rng.Next(copy.Length)).ToArray();
                else
                {
                    for (int j = 0; j <= k % 4; j++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
                }
                try
                {
                    HloProto.Read(copy);
                    read++;
                }
                catch (HloProtoException e)
                {
                    Assert.False(string.IsNullOrWhiteSpace(e.Message));
                    rejected++;
                }
            }
        }
        Assert.True(rejected > 0, $"{read} read, {rejected} rejected");
    }

    /// <summary>Tuple shapes nest by recursion in the parser: 64 levels parse, deeper text is a parse error (before the
    /// limit, 100,000 parentheses overflowed the stack and ended the process).</summary>
    [Theory]
    [InlineData(65)]
    [InlineData(100_000)]
    public void DeeplyNestedTupleShapesAreAParseErrorNotAStackOverflow(int depth)
    {
        string Nested(int n) => new string('(', n) + "f32[]" + new string(')', n);
        Assert.Equal(Nested(64), HloTextParser.ParseShape(Nested(64)).ToString());
        var e = Assert.Throws<HloParseException>(() => HloTextParser.ParseShape(Nested(depth)));
        Assert.Contains("tuple shapes nest more than 64 levels deep", e.Message);
        var module = $"HloModule m\n\nENTRY %main () -> f32[] {{\n  %p = {Nested(depth)} parameter(0)\n  ROOT %c = f32[] constant(1)\n}}\n";
        var m = Assert.Throws<HloParseException>(() => HloTextParser.Parse(module));
        Assert.Contains("tuple shapes nest more than 64 levels deep", m.Message);
        Assert.Equal(4, m.Line);
    }
}
