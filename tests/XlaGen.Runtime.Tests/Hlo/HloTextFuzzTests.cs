using CsCheck;
using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>
/// Property tests (CsCheck) over the HLO text parser and the proto reader: mutations of valid texts and module bytes
/// only ever raise the project's own exceptions (HloParseException, HloProtoException, HloVerificationException), and
/// whatever is accepted prints as text that parses back to the same text. Each runs for a few seconds.
/// </summary>
public class HloTextFuzzTests
{
    static bool IsOwn(Exception e) => e is HloParseException or HloProtoException or HloVerificationException;

    static readonly HloModule[] Seeds = SampleModules.StaticNames.Concat(SampleModules.SymbolicNames).Select(SampleModules.Get).ToArray();

    /// <summary>Printed sample modules, every XLA test case of the corpus, and a constant nested 300 deep.</summary>
    static readonly string[] SeedTexts = Seeds.Select(m => HloPrinter.Print(m))
        .Concat(Corpus.Files("cases", "*.hlo").Select(File.ReadAllText))
        .Append("HloModule deep\n\nENTRY %main () -> f32[" + string.Join(",", Enumerable.Repeat("1", 300)) + "] {\n  ROOT %c = f32["
            + string.Join(",", Enumerable.Repeat("1", 300)) + "] constant(" + new string('{', 300) + "1.5" + new string('}', 300) + "), metadata={source_line=7}\n}\n")
        .ToArray();

    static readonly byte[][] SeedBytes = Seeds.Where(m => m.Computations.All(c => c.Parameters.All(p => p.Shape.IsStatic))).Select(HloProto.Write).ToArray();

    /// <summary>Characters that make trouble: brackets that nest, digits that overflow, separators, quotes, names
    /// outside the syntax.</summary>
    const string Junk = "{}()[],=%:\"*x0 9-_./\n";

    static readonly string[] Runs = { "99999999999999999999", "9223372036854775808", "-", "{{{{{{{{", "((((((((", "f32", "token", "*", "x*x" };

    static string Mutate(string text, int kind, int position, int length, int junk)
    {
        if (text.Length == 0) return Runs[junk % Runs.Length];
        int at = position % text.Length;
        int n = Math.Min(length, text.Length - at);
        return kind switch
        {
            0 => text.Substring(0, at) + Junk[junk % Junk.Length] + text.Substring(at + 1),
            1 => text.Substring(0, at),
            2 => text.Remove(at, n),
            3 => text.Insert(at, Runs[junk % Runs.Length]),
            4 => text.Insert(at, text.Substring(at, n)),
            5 => text.Insert(at, new string(Junk[junk % Junk.Length], length)),
            _ => ReplaceNumber(text, at, Huge[junk % Huge.Length]),
        };
    }

    /// <summary>Numbers just past every range the syntax uses (int, long, ulong), and far past them.</summary>
    static readonly string[] Huge = { "2147483648", "-2147483649", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999999" };

    /// <summary>The first digit run at or after <paramref name="at"/> (wrapping around) replaced by <paramref name="number"/>.</summary>
    static string ReplaceNumber(string text, int at, string number)
    {
        for (int k = 0; k < text.Length; k++)
        {
            int i = (at + k) % text.Length;
            if (!char.IsAsciiDigit(text[i])) continue;
            int end = i;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            while (i > 0 && char.IsAsciiDigit(text[i - 1])) i--;
            return text.Substring(0, i) + number + text.Substring(end);
        }
        return text + number;
    }

    static readonly Gen<string> MutatedText =
        Gen.Select(Gen.Int[0, SeedTexts.Length - 1], Gen.Int[0, 6], Gen.Int[0, 1_000_000], Gen.Int[1, 40], Gen.Int[0, 1000],
            (seed, kind, position, length, junk) => Mutate(SeedTexts[seed], kind, position, length, junk))
        .SelectMany(first => Gen.Select(Gen.Int[0, 6], Gen.Int[0, 1_000_000], Gen.Int[1, 40], Gen.Int[0, 1000], Gen.Bool,
            (kind, position, length, junk, twice) => twice ? Mutate(first, kind, position, length, junk) : first));

    /// <summary>Accepted input must print as text that parses and prints the same.</summary>
    static void AssertPrintsStably(HloModule module)
    {
        var text = HloPrinter.Print(module);
        HloModule again;
        try
        {
            again = HloTextParser.Parse(text);
        }
        catch (HloParseException e)
        {
            throw new Xunit.Sdk.XunitException($"accepted input printed text the parser rejects: {e.Message}\n{text}");
        }
        Assert.Equal(text, HloPrinter.Print(again));
    }

    [Fact]
    public void MutatedTextOnlyRaisesParseErrorsAndWhatParsesPrintsStably()
    {
        int parsed = 0, rejected = 0;
        MutatedText.Sample(text =>
        {
            HloModule module;
            try
            {
                module = HloTextParser.Parse(text);
            }
            catch (Exception e) when (IsOwn(e))
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                rejected++;
                return;
            }
            parsed++;
            AssertPrintsStably(module);
        }, time: 3, threads: 1);
        Assert.True(rejected > 100 && parsed > 10, $"{parsed} parsed, {rejected} rejected: the mutations should break most texts and keep some");
    }

    [Fact]
    public void MutatedProtoBytesOnlyRaiseOwnErrorsAndWhatIsReadPrintsStably()
    {
        int read = 0, rejected = 0;
        Gen.Select(Gen.Int[0, SeedBytes.Length - 1], Gen.Int[0, 6], Gen.Int[0, 100_000], Gen.Int[1, 16], Gen.Byte.Array[1, 16],
                (seed, kind, position, length, bytes) => ByteMutation.Mutate(SeedBytes[seed], kind, position, length, bytes, (byte)'*'))
            .Sample(bytes =>
            {
                HloModule module;
                try
                {
                    module = HloProto.Read(bytes);
                }
                catch (Exception e) when (IsOwn(e))
                {
                    Assert.False(string.IsNullOrWhiteSpace(e.Message));
                    rejected++;
                    return;
                }
                read++;
                AssertPrintsStably(module);
            }, time: 3, threads: 1);
        Assert.True(rejected > 100 && read > 10, $"{read} read, {rejected} rejected");
    }
}
