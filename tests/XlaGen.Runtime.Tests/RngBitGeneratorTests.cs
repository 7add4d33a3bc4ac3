using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Tests.Conformance;

namespace XlaGen.Tests;

/// <summary>
/// rng-bit-generator: both block ciphers against Random123's known-answer vectors (kat_vectors: threefry2x32_20 and
/// philox4x32_10), the kernel's layout against values XLA itself printed, the shape rule, and text/proto round trips.
/// The layouts of every algorithm and width are checked against the reference in the conformance suite
/// (rng-bit-generator/* cases), on every backend.
/// </summary>
public class RngBitGeneratorTests
{
    public static TheoryData<uint, uint, uint, uint, uint, uint> ThreeFryVectors => new()
    {
        // key0, key1, ctr0, ctr1 → out0, out1
        { 0, 0, 0, 0, 0x6b200159, 0x99ba4efe },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x1cb996fc, 0xbb002be7 },
        { 0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3, 0xc4923a9c, 0x483df7a0 },
    };

    [Theory]
    [MemberData(nameof(ThreeFryVectors))]
    public void ThreeFryMatchesRandom123(uint k0, uint k1, uint c0, uint c1, uint o0, uint o1)
    {
        Assert.Equal((o0, o1), Rng.ThreeFry2x32(k0, k1, c0, c1));
        Assert.Equal((o0, o1), Ref.ThreeFry2x32(k0, k1, c0, c1));
    }

    public static TheoryData<uint[], uint[], uint[]> PhiloxVectors => new()
    {
        // key, counter → output
        { new uint[] { 0, 0 }, new uint[] { 0, 0, 0, 0 }, new uint[] { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 } },
        { new uint[] { 0xffffffff, 0xffffffff }, new uint[] { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff }, new uint[] { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd } },
        { new uint[] { 0xa4093822, 0x299f31d0 }, new uint[] { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 }, new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 } },
    };

    [Theory]
    [MemberData(nameof(PhiloxVectors))]
    public void PhiloxMatchesRandom123(uint[] key, uint[] counter, uint[] expected)
    {
        var (a, b, c, d) = Rng.Philox4x32(key[0], key[1], counter[0], counter[1], counter[2], counter[3]);
        Assert.Equal(expected, new[] { a, b, c, d });
        Assert.Equal(expected, Ref.Philox4x32(key[0], key[1], counter));
    }

    /// <summary>XLA's CPU backend, asked for u32[3,2] by three-fry from state [0, 0], printed these values (as floats,
    /// five digits: r-xla/anvil's rng_bit_generator reference page) and the new state [0, 3]. Row 0 is the first known
    /// answer above; rows 1 and 2 are counters 1 and 2.</summary>
    [Fact]
    public void ThreeFryLayoutMatchesWhatXlaPrinted()
    {
        var b = new HloBuilder("rng");
        var r = b.RngBitGenerator(b.Parameter(Shape.Array(ElementType.U64, 2), "state"), Shape.Array(ElementType.U32, 3, 2), "rng_three_fry");
        var module = b.BuildModule(b.Tuple(b.GetTupleElement(r, 0), b.GetTupleElement(r, 1)));
        var results = DeviceRun.Run(Devices.Cpu(), module, new Tensor[] { Tensor<ulong>.FromArray(new ulong[] { 0, 0 }, 2) });
        Assert.Equal(new ulong[] { 0, 3 }, ((Tensor<ulong>)results[0]).Data);
        var bits = ((Tensor<uint>)results[1]).Data;
        Assert.Equal(0x6b200159u, bits[0]);
        Assert.Equal(0x99ba4efeu, bits[1]);
        double[] printed = { 1.7973e9, 2.5791e9, 1.3515e9, 3.2358e9, 1.6886e9, 4.2293e9 };
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(bits[i] - printed[i]) <= 0.5e5, $"element {i}: {bits[i]} is not XLA's {printed[i]:E4}");
    }

    [Fact]
    public void TextAndProtoRoundTripKeepTheAlgorithm()
    {
        const string text = """
            HloModule rng, entry_computation_layout={(u64[3]{0})->(u64[3]{0}, u32[2,5]{1,0})}

            ENTRY %main (s: u64[3]) -> (u64[3], u32[2,5]) {
              %s = u64[3]{0} parameter(0)
              ROOT %r = (u64[3]{0}, u32[2,5]{1,0}) rng-bit-generator(u64[3]{0} %s), algorithm=rng_philox
            }
            """;
        var module = HloTextParser.Parse(text);
        Assert.Equal("rng_philox", module.Entry.Root.Attributes.RngAlgorithm);
        var printed = HloPrinter.Print(module);
        Assert.Contains("rng-bit-generator(%s), algorithm=rng_philox", printed);
        Assert.Equal(printed, HloPrinter.Print(HloTextParser.Parse(printed)));
        Assert.Equal(printed, HloPrinter.Print(HloProto.Read(HloProto.Write(module))));
    }

    [Theory]
    [InlineData("u64[2]", "(u64[2], s32[4])", "rng_philox", "the bits must be an array of u8, u16, u32 or u64, not s32[4]")]
    [InlineData("u32[2]", "(u32[2], u32[4])", "rng_philox", "the state must be u64[n], not u32[2]")]
    [InlineData("u64[4]", "(u64[4], u32[4])", "rng_philox", "rng_philox keeps its state in u64[3] (key, 128-bit counter) or u64[2], not u64[4]")]
    [InlineData("u64[2]", "(u64[3], u32[4])", "rng_three_fry", "the new state u64[3] must have the state's shape u64[2]")]
    [InlineData("u64[2]", "(u64[2], u32[4])", "rng_mersenne", "unknown algorithm 'rng_mersenne' (one of rng_default, rng_three_fry, rng_philox)")]
    public void TheShapeRuleNamesWhatIsWrong(string state, string result, string algorithm, string message)
    {
        var text = $$"""
            HloModule bad

            ENTRY %main (s: {{state}}) -> {{result}} {
              %s = {{state}} parameter(0)
              ROOT %r = {{result}} rng-bit-generator({{state}} %s), algorithm={{algorithm}}
            }
            """;
        var e = Assert.Throws<HloParseException>(() => HloTextParser.Parse(text));
        Assert.Contains("rng-bit-generator: " + message, e.Message);
    }

    [Fact]
    public void HasNoGradientRuleAndSaysWhy() =>
        Assert.Contains("unsigned integers", XlaGen.Autodiff.GradientRules.NonDifferentiable["rng-bit-generator"]);
}
