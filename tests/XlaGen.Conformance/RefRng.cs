using System.Numerics;

namespace XlaGen.Tests.Conformance;

/// <summary>
/// rng-bit-generator's reference: a literal port of the dataflow XLA's RngBitGeneratorExpander builds from
/// xla/hlo/builder/lib/prng.cc (split the shape in halves, add iota counters, run the block cipher, concatenate,
/// reshape, slice; philox blocks laid out round-robin), with the two ciphers written from Random123's
/// specification (rotation and injection schedule tables, 128-bit counters as BigInteger). It shares no code with
/// the executor's kernel, which computes the same layout by index arithmetic.
/// </summary>
public static partial class Ref
{
    static readonly int[] ThreeFryRotations = { 13, 15, 26, 6, 17, 29, 16, 24 };

    /// <summary>Threefry-2x32, 20 rounds: a key schedule of three words, injected after every fourth round.</summary>
    public static (uint, uint) ThreeFry2x32(uint k0, uint k1, uint c0, uint c1)
    {
        var ks = new[] { k0, k1, 0x1BD11BDAu ^ k0 ^ k1 };
        var x = new[] { c0 + ks[0], c1 + ks[1] };
        for (int round = 0; round < 20; round++)
        {
            x[0] += x[1];
            x[1] = (x[1] << ThreeFryRotations[round % 8]) | (x[1] >> (32 - ThreeFryRotations[round % 8]));
            x[1] ^= x[0];
            if (round % 4 == 3)
            {
                int s = round / 4 + 1;
                x[0] += ks[s % 3];
                x[1] += ks[(s + 1) % 3] + (uint)s;
            }
        }
        return (x[0], x[1]);
    }

    /// <summary>Philox-4x32, 10 rounds, with the Weyl-sequence key bumps.</summary>
    public static uint[] Philox4x32(uint k0, uint k1, uint[] counter)
    {
        var c = (uint[])counter.Clone();
        var k = new[] { k0, k1 };
        for (int round = 0; round < 10; round++)
        {
            ulong a = (ulong)0xD2511F53u * c[0];
            ulong b = (ulong)0xCD9E8D57u * c[2];
            c = new[] { (uint)(b >> 32) ^ c[1] ^ k[0], (uint)b, (uint)(a >> 32) ^ c[3] ^ k[1], (uint)a };
            k[0] += 0x9E3779B9u;
            k[1] += 0xBB67AE85u;
        }
        return c;
    }

    /// <summary>The (new state, bits) an rng-bit-generator returns for <paramref name="algorithm"/>, with
    /// <paramref name="bitsType"/> one of byte, ushort, uint, ulong.</summary>
    public static (ulong[] State, Array Bits) RngBitGenerator(string algorithm, ulong[] state, long[] dims, Type bitsType)
    {
        int width = bitsType == typeof(ulong) ? 64 : 32;
        ulong[] newState;
        ulong[] wide;   // the 32- or 64-bit values, row-major
        if (algorithm == "rng_three_fry")
            (newState, wide) = width == 64 ? ThreeFry64Ref(state, dims) : ThreeFry32Ref(state, dims);
        else
            (newState, wide) = PhiloxRef(state, Count(dims), width);
        Array bits = bitsType == typeof(ulong) ? wide
            : bitsType == typeof(uint) ? wide.Select(v => (uint)v).ToArray()
            : bitsType == typeof(ushort) ? wide.Select(v => (ushort)v).ToArray()
            : wide.Select(v => (byte)v).ToArray();
        return (newState, bits);
    }

    static (ulong[], ulong[]) ThreeFry32Ref(ulong[] state, long[] dims)
    {
        // SplitShapeIntoHalves
        long[] half, concat;
        int split, concatDim;
        if (dims.Length == 0)
        {
            half = new long[] { 1 };
            concat = new long[] { 2 };
            split = 0;
            concatDim = 0;
        }
        else
        {
            split = Array.FindIndex(dims, d => d % 2 == 0);
            if (split < 0)
            {
                split = 0;
                for (int i = 0; i < dims.Length; i++) if (dims[i] > dims[split]) split = i;
            }
            var h = new List<long>();
            var c = new List<long>();
            for (int i = 0; i < dims.Length; i++)
            {
                if (i == split)
                {
                    h.Add((dims[i] + 1) / 2); h.Add(1);
                    c.Add((dims[i] + 1) / 2); c.Add(2);
                }
                else
                {
                    h.Add(dims[i]);
                    c.Add(dims[i]);
                }
            }
            half = h.ToArray();
            concat = c.ToArray();
            concatDim = split + 1;
        }
        // GetThreeFryInputsAndUpdatedState: state + Σ iota_i · (product of the later dims of size ≥ 2)
        long n = Count(half);
        var counters = new ulong[n];
        foreach (var idx in Indices(half))
        {
            ulong v = state[1];
            ulong trailing = 1;
            for (int i = half.Length - 1; i >= 0; i--)
            {
                if (half[i] < 2) continue;
                v += (ulong)idx[i] * trailing;
                trailing *= (ulong)half[i];
            }
            counters[Ravel(half, idx)] = v;
        }
        var x0 = new ulong[n];
        var x1 = new ulong[n];
        for (long i = 0; i < n; i++)
        {
            var (a, b) = ThreeFry2x32((uint)state[0], (uint)(state[0] >> 32), (uint)counters[i], (uint)(counters[i] >> 32));
            x0[i] = a;
            x1[i] = b;
        }
        var newState = new[] { state[0], state[1] + (ulong)n };
        if (dims.Length == 0) return (newState, new[] { x0[0] });
        // CombineShapePair: concatenate along the new dim, reshape to the even-rounded shape, slice to the request
        var combined = new ulong[Count(concat)];
        foreach (var idx in Indices(concat))
        {
            var from = (long[])idx.Clone();
            from[concatDim] = 0;
            combined[Ravel(concat, idx)] = idx[concatDim] == 0 ? x0[Ravel(half, from)] : x1[Ravel(half, from)];
        }
        var even = (long[])dims.Clone();
        even[split] = (dims[split] + 1) / 2 * 2;   // a reshape keeps the row-major order of `combined`
        var result = new ulong[Count(dims)];
        foreach (var idx in Indices(dims)) result[Ravel(dims, idx)] = combined[Ravel(even, idx)];
        return (newState, result);
    }

    static (ulong[], ulong[]) ThreeFry64Ref(ulong[] state, long[] dims)
    {
        long n = Count(dims);
        var result = new ulong[n];
        for (long i = 0; i < n; i++)
        {
            ulong c = state[1] + (ulong)i;
            var (a, b) = ThreeFry2x32((uint)state[0], (uint)(state[0] >> 32), (uint)c, (uint)(c >> 32));
            result[i] = a | (ulong)b << 32;
        }
        return (new[] { state[0], state[1] + (ulong)n }, result);
    }

    static (ulong[], ulong[]) PhiloxRef(ulong[] state, long count, int width)
    {
        var mod = BigInteger.One << 128;
        // the counter: words (1, 2) of a u64[3] state; a u64[2] state reversed, so (1, 0)
        var counter = new BigInteger(state[1]) + (new BigInteger(state.Length >= 3 ? state[2] : state[0]) << 64);
        long words32 = width == 64 ? 2 * count : count;
        long blocks = (words32 + 3) / 4;
        var perBlock = new List<uint[]>();
        for (long i = 0; i < blocks; i++)
        {
            var c = (counter + i) % mod;
            var w = new uint[4];
            for (int j = 0; j < 4; j++) w[j] = (uint)((c >> (32 * j)) & uint.MaxValue);
            perBlock.Add(Philox4x32((uint)state[0], (uint)(state[0] >> 32), w));
        }
        var result = new ulong[count];
        for (long e = 0; e < count; e++)
        {
            if (width == 64)
            {
                var w = perBlock[(int)(e / 2)];
                int k = (int)(e % 2);
                result[e] = w[2 * k] | (ulong)w[2 * k + 1] << 32;
            }
            else
            {
                result[e] = perBlock[(int)(e / 4)][e % 4];
            }
        }
        var next = (counter + blocks) % mod;
        ulong low = (ulong)(next & ulong.MaxValue), high = (ulong)(next >> 64);
        return (state.Length >= 3 ? new[] { state[0], low, high } : new[] { state[0], low }, result);
    }
}
