using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>rng-bit-generator: the bits and the new state, exact, for both algorithms, every bit width, odd and even
/// shapes, and counters about to wrap. Run under PJRT these compare our bits with XLA's own expansion.</summary>
public static class RngCases
{
    public static IEnumerable<ConformanceCase> All()
    {
        ulong[] zero = { 0, 0 };
        ulong[] keyed = { 0x0123456789ABCDEF, 42 };
        ulong[] wrapping = { 0xFEDCBA9876543210, ulong.MaxValue - 1 };
        ulong[] philox3 = { 0x9E3779B97F4A7C15, ulong.MaxValue - 1, 7 };   // the 128-bit counter's low word carries
        yield return Case("three_fry/u32-3x2-zero-state", "rng_three_fry", zero, typeof(uint), 3, 2);
        yield return Case("three_fry/u32-5x3-odd", "rng_three_fry", keyed, typeof(uint), 5, 3);
        yield return Case("three_fry/u32-2x3x4-wrapping-counter", "rng_three_fry", wrapping, typeof(uint), 2, 3, 4);
        yield return Case("three_fry/u32-scalar", "rng_three_fry", keyed, typeof(uint));
        yield return Case("three_fry/u64-7", "rng_three_fry", keyed, typeof(ulong), 7);
        yield return Case("three_fry/u16-3x3", "rng_three_fry", wrapping, typeof(ushort), 3, 3);
        yield return Case("three_fry/u8-1x5", "rng_three_fry", keyed, typeof(byte), 1, 5);
        yield return Case("philox/u32-10-u64x3-state", "rng_philox", philox3, typeof(uint), 10);
        yield return Case("philox/u32-2x3-u64x2-state", "rng_philox", keyed, typeof(uint), 2, 3);
        yield return Case("philox/u64-5", "rng_philox", philox3, typeof(ulong), 5);
        yield return Case("philox/u64-4-u64x2-wrapping", "rng_philox", wrapping, typeof(ulong), 4);
        yield return Case("philox/u16-3x3", "rng_philox", keyed, typeof(ushort), 3, 3);
        yield return Case("default/u32-2x3-is-philox", "rng_default", philox3, typeof(uint), 2, 3);
        yield return ChainedCase();
    }

    static ElementType TypeOf(Type t) =>
        t == typeof(ulong) ? ElementType.U64 : t == typeof(uint) ? ElementType.U32 : t == typeof(ushort) ? ElementType.U16 : ElementType.U8;

    static Tensor BitsTensor(Array bits, long[] dims) => bits switch
    {
        ulong[] a => T(a, dims),
        uint[] a => T(a, dims),
        ushort[] a => T(a, dims),
        byte[] a => T(a, dims),
        _ => throw new ArgumentException(bits.GetType().Name),
    };

    static ConformanceCase Case(string name, string algorithm, ulong[] state, Type bitsType, params long[] dims)
    {
        var input = T(state, state.Length);
        var (newState, bits) = RngBitGenerator(algorithm, state, dims, bitsType);
        return new ConformanceCase("rng-bit-generator/" + name,
            CaseModule.Of("rng", new Tensor[] { input }, (b, p) =>
            {
                var r = b.RngBitGenerator(p[0], Shape.Array(TypeOf(bitsType), dims), algorithm);
                return b.Tuple(b.GetTupleElement(r, 0), b.GetTupleElement(r, 1));
            }),
            new Tensor[] { input }, new Tensor[] { T(newState, newState.Length), BitsTensor(bits, dims) });
    }

    /// <summary>Two draws in a row: the second starts from the first's state, as a train step's dropout does.</summary>
    static ConformanceCase ChainedCase()
    {
        ulong[] state = { 5, 0 };
        var input = T(state, 2);
        var (s1, first) = RngBitGenerator("rng_three_fry", state, new long[] { 4 }, typeof(uint));
        var (s2, second) = RngBitGenerator("rng_three_fry", s1, new long[] { 4 }, typeof(uint));
        return new ConformanceCase("rng-bit-generator/three_fry/chained-draws",
            CaseModule.Of("rng2", new Tensor[] { input }, (b, p) =>
            {
                var r1 = b.RngBitGenerator(p[0], Shape.Array(ElementType.U32, 4), "rng_three_fry");
                var r2 = b.RngBitGenerator(b.GetTupleElement(r1, 0), Shape.Array(ElementType.U32, 4), "rng_three_fry");
                return b.Tuple(b.GetTupleElement(r2, 0), b.GetTupleElement(r1, 1), b.GetTupleElement(r2, 1));
            }),
            new Tensor[] { input }, new Tensor[] { T(s2, 2), BitsTensor(first, new long[] { 4 }), BitsTensor(second, new long[] { 4 }) });
    }
}
