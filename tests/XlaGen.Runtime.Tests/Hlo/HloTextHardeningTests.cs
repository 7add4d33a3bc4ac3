using System.Text;
using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>Hostile HLO text and modules (issue 13, finding 4): no recursion whose depth the input controls in the text
/// parser or the printer, out-of-range numbers are the parser's own error with line and column, and what the proto
/// reader accepts prints as text the parser reads back to the same text.</summary>
public class HloTextHardeningTests
{
    const int Rank = 50_000;

    static string Ones(int rank) => string.Join(",", Enumerable.Repeat("1", rank));

    /// <summary>ENTRY returning a constant of shape f32[1,1,…] (<paramref name="rank"/> ones) and one value, 1.5: for rank
    /// 50,000 a 200 KB text.</summary>
    static string DeepConstantText(int rank)
    {
        var sb = new StringBuilder();
        sb.Append("HloModule deep\n\nENTRY %main {\n  ROOT %c = f32[").Append(Ones(rank)).Append("] constant(");
        sb.Append('{', rank).Append("1.5").Append('}', rank).Append(")\n}\n");
        return sb.ToString();
    }

    [Fact]
    public void ARank50000ConstantParsesAndPrintsOnASmallStack()
    {
        var text = DeepConstantText(Rank);
        Assert.InRange(text.Length, 190_000, 210_000); // the size of the file in the report
        var (printed, again) = SmallStack.Run(() =>
        {
            var module = HloTextParser.Parse(text);
            var p = HloPrinter.Print(module);
            return (p, HloPrinter.Print(HloTextParser.Parse(p)));
        });
        Assert.Equal(printed, again);
        Assert.Contains("constant({ { ", printed);
        Assert.Contains("{1.5}" + string.Concat(Enumerable.Repeat(" }", Rank - 1)) + ")", printed);
    }

    [Fact]
    public void ARank50000ConstantFromTheBuilderAndTheProtoReaderPrintsOnASmallStack()
    {
        var shape = Shape.Array(ElementType.F32, Enumerable.Repeat(Dim.Constant(1), Rank).ToArray());
        var b = new HloBuilder("deep_proto");
        var module = b.BuildModule(b.Constant(Literal.Create(shape, new[] { 2.5f })));
        var bytes = HloProto.Write(module);
        var text = SmallStack.Run(() => HloPrinter.Print(HloProto.Read(bytes)));
        Assert.Contains("{2.5}" + string.Concat(Enumerable.Repeat(" }", Rank - 1)) + ")", text);
        Assert.Equal("{ { {3, 4} } }", SmallStack.Run(() => Literal.Create(Shape.Array(ElementType.S32, 1, 1, 2), new[] { 3, 4 }).ToText()));
    }

    [Fact]
    public void AConstantThatDoesNotMatchItsDeepShapeIsAParseErrorAtItsPlace()
    {
        var text = DeepConstantText(Rank).Replace("{1.5}", "{1.5, 2}", StringComparison.Ordinal);
        var e = SmallStack.Run(() => Assert.Throws<HloParseException>(() => HloTextParser.Parse(text)));
        Assert.Equal($"the constant has 2 elements in dimension {Rank - 1} but the shape says 1", e.Problem);
        Assert.Equal(4, e.Line);
    }

    public static TheoryData<string, int, int, string> OutOfRangeNumbers() => new()
    {
        { "HloModule m\nENTRY e {\n  ROOT x = f32[] constant(1), metadata={source_line=9223372036854775807}\n}", 3, 53,
            "source_line 9223372036854775807 is out of range: it must be an integer from -2147483648 to 2147483647" },
        { "HloModule m\nENTRY e {\n  ROOT x = f32[] constant(1), metadata={source_line=2147483648}\n}", 3, 53,
            "source_line 2147483648 is out of range: it must be an integer from -2147483648 to 2147483647" },
        { "HloModule m\nENTRY e {\n  ROOT x = f32[] constant(1), metadata={source_line=99999999999999999999999}\n}", 3, 53,
            "source_line 99999999999999999999999 is out of range: it must be an integer from -2147483648 to 2147483647" },
        { "HloModule m\nENTRY e {\n  ROOT x = f32[2]{99999999999999999999} parameter(0)\n}", 3, 19,
            "a layout dimension 99999999999999999999 is out of range: it must be an integer from -9223372036854775808 to 9223372036854775807" },
        { "HloModule m\nENTRY e {\n  ROOT x = f32[4294967296*4294967296] parameter(0)\n}", 3, 16,
            "dimension '4294967296*4294967296' is out of range: its size does not fit a 64-bit integer" },
    };

    [Theory]
    [MemberData(nameof(OutOfRangeNumbers))]
    public void AnOutOfRangeNumberIsTheParsersOwnErrorWithLineAndColumn(string text, int line, int column, string problem)
    {
        var e = Assert.Throws<HloParseException>(() => HloTextParser.Parse(text));
        Assert.Equal(problem, e.Problem);
        Assert.Equal((line, column), (e.Line, e.Column));
    }

    [Fact]
    public void TheLargestSourceLineStillParses()
    {
        var m = HloTextParser.Parse("HloModule m\nENTRY e {\n  ROOT x = f32[] constant(1), metadata={source_line=2147483647}\n}");
        Assert.Contains("source_line=2147483647", HloPrinter.Print(m));
    }
}
