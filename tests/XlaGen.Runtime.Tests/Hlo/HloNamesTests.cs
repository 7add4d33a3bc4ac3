using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>The printer writes names as XLA's NameUniquer would (characters outside [a-zA-Z0-9_.-] become '_', primitive
/// type names get a suffix, collisions a numeric suffix), so the text of any module the proto reader accepts parses,
/// and printing it again gives the same text.</summary>
public class HloNamesTests
{
    [Theory]
    [InlineData("x*x.3", "x_x.3")]
    [InlineData("x*x, sqrt(x).5", "x_x__sqrt_x_.5")]
    [InlineData("add.12", "add.12")]
    [InlineData("a-b_c.d", "a-b_c.d")]
    [InlineData("token", "token_")]
    [InlineData("f32", "f32_")]
    [InlineData("pred", "pred_")]
    [InlineData("bf16", "bf16_")]
    [InlineData("tuple", "tuple")]
    [InlineData("f32x", "f32x")]
    [InlineData("3d", "_d")]
    [InlineData(".x", "_x")]
    [InlineData("-x", "_x")]
    [InlineData("__llvm_retpoline", "a_llvm_retpoline")]
    [InlineData("__xla_keep", "__xla_keep")]
    [InlineData("größe", "gr__e")]
    [InlineData("", "")]
    public void SanitizeFollowsXlasRules(string name, string expected) => Assert.Equal(expected, HloNames.Sanitize(name));

    [Fact]
    public void CollisionsAfterSanitisingGetTheNextFreeSuffix()
    {
        var u = new HloNames.Uniquer();
        Assert.Equal(new[] { "a_b", "a_b.1", "a_b.2", "a_b.5", "a_b.3", "c", "name", "name.1" },
            new[] { "a*b", "a,b", "a b", "a b.5", "a(b", "c", "", "" }.Select(u.Unique).ToArray());
    }

    /// <summary>A module with names the proto reader accepts but the text syntax does not, and names that collide once
    /// sanitised, written to a proto and read back.</summary>
    static HloModule HostileNames()
    {
        var b = new HloBuilder("x*x, sqrt(x).5");
        var sum = b.CreateSubBuilder("sum");
        var sx = sum.Parameter(Shape.Scalar(ElementType.F32), "lhs");
        var sy = sum.Parameter(Shape.Scalar(ElementType.F32), "rhs");
        var reducer = sum.Build(sum.Add(sx, sy));
        reducer.Name = "f32";
        var x = b.Parameter(Shape.Array(ElementType.F32, 3), "token");
        var y = b.Parameter(Shape.Array(ElementType.F32, 3), "x*y");
        var added = b.Add(x, y);
        added.Name = "x_y";
        var negated = b.Unary("negate", added);
        negated.Name = "x,y";
        var reduced = b.Reduce(negated, b.Constant(ElementType.F32, 0), new long[] { 0 }, reducer);
        reduced.Name = "__reduce";
        var module = b.BuildModule(b.Tuple(reduced, negated));
        return HloProto.Read(HloProto.Write(module));
    }

    [Fact]
    public void AModuleWithHostileNamesPrintsTextThatParsesAndPrintsTheSame()
    {
        var module = HostileNames();
        var text = HloPrinter.Print(module);
        Assert.StartsWith("HloModule x_x__sqrt_x_.5, ", text);
        Assert.Contains("%f32_ (lhs: f32[], rhs: f32[]) -> f32[]", text);
        Assert.Contains("%token_ = f32[3]{0} parameter(0)", text);
        Assert.Contains("%x_y = f32[3]{0} parameter(1)", text);
        Assert.Contains("%x_y.1 = f32[3]{0} add(%token_, %x_y)", text);
        Assert.Contains("%x_y.2 = f32[3]{0} negate(%x_y.1)", text);
        Assert.Contains("%a_reduce = f32[] reduce(%x_y.2, ", text);
        Assert.Contains("to_apply=%f32_", text);
        var again = HloPrinter.Print(HloTextParser.Parse(text));
        Assert.Equal(text, again);
    }

    public static TheoryData<string> PbFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Corpus.Files("pb", "*.pb")) data.Add(Path.GetFileName(f));
        return data;
    }

    /// <summary>Every proto of the corpus (gopjrt-test_hlo.pb is named "x*x.3", gopjrt-test_tuple_hlo.pb
    /// "x*x, sqrt(x).5") prints as text that parses and prints the same.</summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(PbFiles))]
    public void EveryCorpusProtoPrintsParsesAndPrintsTheSame(string file)
    {
        Corpus.Require();
        var module = HloProto.Read(File.ReadAllBytes(Path.Combine(Corpus.Root!, "pb", file)));
        var text = HloPrinter.Print(module);
        Assert.Equal(text, HloPrinter.Print(HloTextParser.Parse(text)));
    }
}
