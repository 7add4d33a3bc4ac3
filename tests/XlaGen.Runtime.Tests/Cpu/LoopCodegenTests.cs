using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// Fused loops compiled to one SIMD loop (<see cref="LoopCodegen"/>) against the node-by-node loop and the unfused
/// kernels: bitwise equal (NaN payloads aside) on values that find the edge cases (NaNs with payloads, infinities, signed zeros, ties),
/// at sizes that hit the merged last chunk and the multi-core split, with column sums over 16, 32 and 64 columns.
/// </summary>
public class LoopCodegenTests
{
    static readonly CpuDevice Fused = new() { Fusion = true };
    static readonly CpuDevice Unfused = new() { Fusion = false };

    /// <summary>Random values in [-2, 2] with every 7th element special: ±0, ±inf, NaN (two payloads), and ties between
    /// operands (equal values) for the comparisons.</summary>
    static Tensor<float> Special(long[] dims, int seed)
    {
        var rng = new Random(seed);
        long n = dims.Aggregate(1L, (a, b) => a * b);
        var specials = new[] { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7fc00123), BitConverter.Int32BitsToSingle(unchecked((int)0xffc00456)), 1f, -1f };
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = i % 7 == 3 ? specials[rng.Next(specials.Length)] : rng.Next(8) == 0 ? 1f : (float)(rng.NextDouble() * 4 - 2);
        return Tensor<float>.FromArray(data, dims);
    }

    /// <summary>Runs <paramref name="text"/> unfused, fused as nodes and fused as a compiled loop; every output bitwise
    /// equal. Returns how many loops were compiled.</summary>
    static int AssertSameThreeWays(string text, int seed)
    {
        var module = HloTextParser.Parse(text);
        var args = module.Entry.Parameters.Select((p, i) => p.Shape.ElementType == ElementType.Pred
            ? (Tensor)Tensor<bool>.FromArray(Enumerable.Range(0, (int)p.Shape.ElementCount).Select(k => (k * 7 + seed + i) % 3 == 0).ToArray(), p.Shape.ConcreteDims())
            : Special(p.Shape.ConcreteDims(), seed + i)).ToArray();
        byte[][] Run(CpuDevice d, bool codegen)
        {
            LoopCodegen.Allow = codegen;
            try
            {
                using var exe = d.CompileHlo(module);
                return ResultBytes.Of(d, exe, args);
            }
            finally
            {
                LoopCodegen.Allow = true;
            }
        }
        var unfused = Run(Unfused, false);
        var nodes = Run(Fused, false);
        int before = LoopCodegen.CompiledOnThisThread;
        var compiled = Run(Fused, true);
        int loops = LoopCodegen.CompiledOnThisThread - before;
        for (int i = 0; i < unfused.Length; i++)
        {
            Assert.True(unfused[i].AsSpan().SequenceEqual(nodes[i]), $"output {i}: nodes differ from unfused");
            var u = Canonical(unfused[i]);
            var c = Canonical(compiled[i]);
            int at = Enumerable.Range(0, u.Length).FirstOrDefault(k => u[k] != c[k], -1);
            Assert.True(at < 0, $"output {i}: the compiled loop differs from unfused at element {at}: {(at < 0 ? 0 : u[at]):x8} vs {(at < 0 ? 0 : c[at]):x8}");
        }
        return loops;
    }

    /// <summary>The bits of each f32, with every NaN as one NaN: where two NaNs meet in an add, x86 keeps the first
    /// operand's payload, and which one the JIT puts first is its choice (documented on <see cref="LoopCodegen"/>).</summary>
    static int[] Canonical(byte[] bytes) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray()
        .Select(v => float.IsNaN(v) ? 0x7fc00000 : BitConverter.SingleToInt32Bits(v)).ToArray();

    static string AllOps(long rows, int c) => $$"""
        HloModule ops

        add_f32 {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }

        ENTRY main {
          x = f32[{{rows}},{{c}}] parameter(0)
          y = f32[{{rows}},{{c}}] parameter(1)
          v = f32[{{c}}] parameter(2)
          s = f32[] parameter(3)
          mask = pred[{{rows}},{{c}}] parameter(4)
          bv = f32[{{rows}},{{c}}] broadcast(v), dimensions={1}
          bs = f32[{{rows}},{{c}}] broadcast(s), dimensions={}
          half = f32[] constant(0.5)
          bh = f32[{{rows}},{{c}}] broadcast(half), dimensions={}
          a = f32[{{rows}},{{c}}] add(x, bv)
          d = f32[{{rows}},{{c}}] subtract(a, y)
          m = f32[{{rows}},{{c}}] multiply(d, bs)
          q = f32[{{rows}},{{c}}] divide(m, y)
          mx = f32[{{rows}},{{c}}] maximum(x, y)
          mn = f32[{{rows}},{{c}}] minimum(y, x)
          mz = f32[{{rows}},{{c}}] maximum(q, bh)
          ng = f32[{{rows}},{{c}}] negate(mx)
          ab = f32[{{rows}},{{c}}] abs(mn)
          sq = f32[{{rows}},{{c}}] sqrt(ab)
          eq = pred[{{rows}},{{c}}] compare(x, y), direction=EQ
          ne = pred[{{rows}},{{c}}] compare(x, y), direction=NE
          lt = pred[{{rows}},{{c}}] compare(x, bv), direction=LT
          le = pred[{{rows}},{{c}}] compare(y, bs), direction=LE
          gt = pred[{{rows}},{{c}}] compare(x, bh), direction=GT
          ge = pred[{{rows}},{{c}}] compare(mx, mn), direction=GE
          s1 = f32[{{rows}},{{c}}] select(eq, ng, sq)
          s2 = f32[{{rows}},{{c}}] select(ne, s1, mz)
          s3 = f32[{{rows}},{{c}}] select(lt, s2, x)
          s4 = f32[{{rows}},{{c}}] select(le, s3, bh)
          s5 = f32[{{rows}},{{c}}] select(gt, s4, y)
          s7 = f32[{{rows}},{{c}}] select(ge, s5, ng)
          s6 = f32[{{rows}},{{c}}] select(mask, s7, a)
          zero = f32[] constant(0)
          sum1 = f32[{{c}}] reduce(s6, zero), dimensions={0}, to_apply=add_f32
          prod = f32[{{rows}},{{c}}] multiply(s6, d)
          sum2 = f32[{{c}}] reduce(prod, zero), dimensions={0}, to_apply=add_f32
          ROOT t = (f32[{{c}}], f32[{{rows}},{{c}}], f32[{{c}}], f32[{{rows}},{{c}}], pred[{{rows}},{{c}}], pred[{{rows}},{{c}}]) tuple(sum1, s6, sum2, mz, ne, lt)
        }
        """;

    [Theory]
    [InlineData(2, 16)]        // one short chunk
    [InlineData(64, 32)]       // exactly one chunk: one block of 64 rows
    [InlineData(193, 32)]      // 3 chunks, the last absorbing the remainder (two blocks in it)
    [InlineData(97, 64)]       // blocks of 32 rows
    [InlineData(5000, 32)]     // above the split grain: several cores, each summing its own blocks
    public void EveryCoveredOpIsBitwiseTheNodesAndTheUnfusedKernels(long rows, int c)
    {
        Assert.True(AssertSameThreeWays(AllOps(rows, c), seed: (int)rows) >= 1, "no loop was compiled");
    }

    [Fact]
    public void AChainWithoutRowsStepsByTheVectorWidth()
    {
        // 4096 + 48 elements in one dimension: no per-row pattern, no column sum.
        Assert.Equal(1, AssertSameThreeWays("""
            HloModule flat

            ENTRY main {
              x = f32[4144] parameter(0)
              y = f32[4144] parameter(1)
              a = f32[4144] multiply(x, y)
              b = f32[4144] add(a, x)
              ROOT c = f32[4144] maximum(b, y)
            }
            """, seed: 3));
        Assert.Null(LoopCodegen.Declined);   // the last loop compiled: no reason left over from an earlier one
    }

    [Theory]
    [InlineData("f32[1000,33]", "ops with a 33-element row: no vector rows")]
    [InlineData("f32[4099]", "a length that is not a multiple of 16")]
    public void LoopsItDoesNotCoverKeepTheNodes(string shape, string why)
    {
        Assert.True(AssertSameThreeWays($$"""
            HloModule keep

            ENTRY main {
              x = {{shape}} parameter(0)
              y = {{shape}} parameter(1)
              a = {{shape}} multiply(x, y)
              ROOT b = {{shape}} add(a, x)
            }
            """, seed: 5) == 0, why);
        // an op it does not cover (exponential), or another element type
        Assert.Equal(0, AssertSameThreeWays("""
            HloModule keep

            ENTRY main {
              x = f32[4096] parameter(0)
              y = f32[4096] parameter(1)
              a = f32[4096] exponential(x)
              ROOT b = f32[4096] add(a, y)
            }
            """, seed: 6));
        // the diagnostic names what kept the loop from compiling
        Assert.Contains("(exponential)", LoopCodegen.Declined);
    }
}
