using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// rng-bit-generator, bit for bit as XLA computes it (RngBitGeneratorExpander with the generators of
/// xla/hlo/builder/lib/prng.cc), so a program draws the same bits here as under XLA on CPU and GPU:
/// <list type="bullet">
/// <item>Three-fry (Threefry-2x32, 20 rounds; state u64[2] = key, counter). 32-bit bits: the shape is split in halves
/// along its first even dimension (else its largest), each counter value c = counter + i (i the row-major index in
/// the half shape) gives two words, and word k of half-row j lands at index 2j + k of the split dimension; the
/// counter advances by the half shape's element count. 64-bit bits: one counter per element, word 0 low.
/// Narrower bits are the low bits of the 32-bit ones.</item>
/// <item>Philox (Philox-4x32, 10 rounds; key = state word 0; a 128-bit counter = words (1, 2), or (1, 0) for a u64[2]
/// state). Each counter value gives four 32-bit words, laid out round-robin (element 4i + j is word j of counter + i);
/// 64-bit bits pair words (0,1) and (2,3). The counter advances by the number of 128-bit blocks used; a u64[2] state
/// keeps only its low word. rng_default is philox, as in XLA's CPU and GPU compilers.</item>
/// </list>
/// </summary>
internal static class Rng
{
    public static Kernel HandleRngBitGenerator(KernelContext ctx)
    {
        int stateSlot = ctx.In(0);
        var outs = ctx.OutLeaves;
        var bitsShape = ctx.Shape.TupleShapes[1];
        var dims = bitsShape.ConcreteDims();
        int words = (int)ctx.OperandShape(0).Dims[0].Value;
        int count = KernelContext.Count(bitsShape);
        bool threeFry = ctx.Instruction.Attributes.RngAlgorithm == "rng_three_fry";
        var type = bitsShape.ElementType;
        return f =>
        {
            var state = (ulong[])f.Data[stateSlot]!;
            var newState = f.Alloc<ulong>(outs[0], words);
            state.AsSpan().CopyTo(newState);
            switch (type)
            {
                case ElementType.U64:
                {
                    var o = f.Alloc<ulong>(outs[1], count);
                    if (threeFry) ThreeFry64(newState, o);
                    else Philox64(newState, o);
                    break;
                }
                case ElementType.U32:
                {
                    var o = f.Alloc<uint>(outs[1], count);
                    if (threeFry) ThreeFry32(newState, dims, o);
                    else Philox32(newState, o);
                    break;
                }
                default:
                {
                    var wide = new uint[count];
                    if (threeFry) ThreeFry32(newState, dims, wide);
                    else Philox32(newState, wide);
                    if (type == ElementType.U16)
                    {
                        var o = f.Alloc<ushort>(outs[1], count);
                        for (int i = 0; i < count; i++) o[i] = (ushort)wide[i];
                    }
                    else
                    {
                        var o = f.Alloc<byte>(outs[1], count);
                        for (int i = 0; i < count; i++) o[i] = (byte)wide[i];
                    }
                    break;
                }
            }
        };
    }

    // ---- three-fry ----

    /// <summary>Threefry-2x32 with 20 rounds (Random123's threefry2x32_20): the words for counter (x0, x1) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint) ThreeFry2x32(uint k0, uint k1, uint x0, uint x1)
    {
        uint k2 = 0x1BD11BDA ^ k0 ^ k1;
        x0 += k0;
        x1 += k1;
        Rounds(ref x0, ref x1, 13, 15, 26, 6);
        x0 += k1; x1 += k2 + 1;
        Rounds(ref x0, ref x1, 17, 29, 16, 24);
        x0 += k2; x1 += k0 + 2;
        Rounds(ref x0, ref x1, 13, 15, 26, 6);
        x0 += k0; x1 += k1 + 3;
        Rounds(ref x0, ref x1, 17, 29, 16, 24);
        x0 += k1; x1 += k2 + 4;
        Rounds(ref x0, ref x1, 13, 15, 26, 6);
        x0 += k2; x1 += k0 + 5;
        return (x0, x1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rounds(ref uint x0, ref uint x1, int r0, int r1, int r2, int r3)
    {
        x0 += x1; x1 = uint.RotateLeft(x1, r0) ^ x0;
        x0 += x1; x1 = uint.RotateLeft(x1, r1) ^ x0;
        x0 += x1; x1 = uint.RotateLeft(x1, r2) ^ x0;
        x0 += x1; x1 = uint.RotateLeft(x1, r3) ^ x0;
    }

    /// <summary>32-bit three-fry bits of shape <paramref name="dims"/> into <paramref name="o"/>; advances state[1].</summary>
    public static void ThreeFry32(ulong[] state, long[] dims, Span<uint> o)
    {
        uint k0 = (uint)state[0], k1 = (uint)(state[0] >> 32);
        ulong counter = state[1];
        long outer = 1, size = 1, inner = 1;
        if (dims.Length > 0)
        {
            int split = -1;
            for (int i = 0; i < dims.Length && split < 0; i++)
            {
                if (dims[i] % 2 == 0) split = i;
            }
            if (split < 0)
            {
                split = 0;
                for (int i = 1; i < dims.Length; i++)
                {
                    if (dims[i] > dims[split]) split = i;
                }
            }
            for (int i = 0; i < split; i++) outer *= dims[i];
            size = dims[split];
            for (int i = split + 1; i < dims.Length; i++) inner *= dims[i];
        }
        long half = (size + 1) / 2;
        var poll = new WorkPoll();
        for (long a = 0; a < outer; a++)
        {
            for (long j = 0; j < half; j++)
            {
                poll.Add(inner * 40);
                for (long b = 0; b < inner; b++)
                {
                    ulong c = counter + (ulong)((a * half + j) * inner + b);
                    var (w0, w1) = ThreeFry2x32(k0, k1, (uint)c, (uint)(c >> 32));
                    if (dims.Length == 0)
                    {
                        o[0] = w0;
                        continue;
                    }
                    o[(int)((a * size + 2 * j) * inner + b)] = w0;
                    if (2 * j + 1 < size) o[(int)((a * size + 2 * j + 1) * inner + b)] = w1;
                }
            }
        }
        state[1] = counter + (ulong)(outer * half * inner);
    }

    /// <summary>64-bit three-fry bits: one counter value per element (row-major), word 0 in the low half; advances state[1].</summary>
    public static void ThreeFry64(ulong[] state, Span<ulong> o)
    {
        uint k0 = (uint)state[0], k1 = (uint)(state[0] >> 32);
        ulong counter = state[1];
        var poll = new WorkPoll();
        for (int i = 0; i < o.Length; i++)
        {
            if ((i & 4095) == 0) poll.Add(4096 * 40);
            ulong c = counter + (ulong)i;
            var (w0, w1) = ThreeFry2x32(k0, k1, (uint)c, (uint)(c >> 32));
            o[i] = w0 | (ulong)w1 << 32;
        }
        state[1] = counter + (ulong)o.Length;
    }

    // ---- philox ----

    /// <summary>Philox-4x32 with 10 rounds (Random123's philox4x32_10): the four words for counter (c0..c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Philox4x32(uint k0, uint k1, uint c0, uint c1, uint c2, uint c3)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)c0 * 0xD2511F53u;
            ulong p1 = (ulong)c2 * 0xCD9E8D57u;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += 0x9E3779B9;
            k1 += 0xBB67AE85;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The 128-bit counter of a philox state: words (1, 2) of u64[3], (1, 0) of u64[2].</summary>
    static (ulong Low, ulong High) PhiloxCounter(ulong[] state) => state.Length >= 3 ? (state[1], state[2]) : (state[1], state[0]);

    static void AdvancePhilox(ulong[] state, ulong low, ulong high, ulong blocks)
    {
        ulong newLow = low + blocks;
        if (newLow < low) high++;
        state[1] = newLow;
        if (state.Length >= 3) state[2] = high;
    }

    /// <summary>Philox blocks 0 … <paramref name="blocks"/>-1 after the state's counter, each as its four words.</summary>
    static void PhiloxBlocks<TSink>(ulong[] state, long blocks, ref TSink sink) where TSink : struct, IPhiloxSink
    {
        uint k0 = (uint)state[0], k1 = (uint)(state[0] >> 32);
        var (low, high) = PhiloxCounter(state);
        var poll = new WorkPoll();
        for (long i = 0; i < blocks; i++)
        {
            if ((i & 1023) == 0) poll.Add(1024 * 60);
            ulong cl = low + (ulong)i;
            ulong ch = cl < low ? high + 1 : high;
            var (w0, w1, w2, w3) = Philox4x32(k0, k1, (uint)cl, (uint)(cl >> 32), (uint)ch, (uint)(ch >> 32));
            sink.Block(i, w0, w1, w2, w3);
        }
        AdvancePhilox(state, low, high, (ulong)blocks);
    }

    interface IPhiloxSink
    {
        void Block(long i, uint w0, uint w1, uint w2, uint w3);
    }

    /// <summary>32-bit philox bits, element 4i + j = word j of block i; advances the state's counter.</summary>
    public static void Philox32(ulong[] state, uint[] o)
    {
        var sink = new Words32(o);
        PhiloxBlocks(state, (o.LongLength + 3) / 4, ref sink);
    }

    /// <summary>64-bit philox bits, element 2i + k = words (2k, 2k + 1) of block i; advances the state's counter.</summary>
    public static void Philox64(ulong[] state, ulong[] o)
    {
        var sink = new Words64(o);
        PhiloxBlocks(state, (o.LongLength + 1) / 2, ref sink);
    }

    readonly struct Words32(uint[] o) : IPhiloxSink
    {
        public void Block(long i, uint w0, uint w1, uint w2, uint w3)
        {
            long at = 4 * i;
            o[at] = w0;
            if (at + 1 < o.Length) o[at + 1] = w1;
            if (at + 2 < o.Length) o[at + 2] = w2;
            if (at + 3 < o.Length) o[at + 3] = w3;
        }
    }

    readonly struct Words64(ulong[] o) : IPhiloxSink
    {
        public void Block(long i, uint w0, uint w1, uint w2, uint w3)
        {
            long at = 2 * i;
            o[at] = w0 | (ulong)w1 << 32;
            if (at + 1 < o.Length) o[at + 1] = w2 | (ulong)w3 << 32;
        }
    }
}
