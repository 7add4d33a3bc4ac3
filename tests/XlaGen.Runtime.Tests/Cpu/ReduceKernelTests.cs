using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The f32 column-sum path of reduce (BatchNorm's statistics: [N·H·W, C] summed to [C], columns kept in registers)
/// against a plain loop, bitwise: every column summed in blocks of 2048 / C rows (each in row order from its first
/// row), the block sums added in order to the init value. A fused loop sums one chunk of rows as a block, so fused and
/// unfused sums agree bitwise (LoopFusionTests). Channel counts around the 16- and 64-lane strips, a non-zero init,
/// NaN, infinities and signed zeros, kept outer dims, and the split into column strips across cores (the same order
/// at every core count).
/// </summary>
public class ReduceKernelTests
{
    static readonly CpuDevice Cpu = new();

    [Theory]
    [InlineData(999, 10, false)]
    [InlineData(513, 16, false)]
    [InlineData(777, 32, false)]
    [InlineData(777, 32, true)]
    [InlineData(300, 48, true)]
    [InlineData(260, 64, false)]
    [InlineData(260, 64, true)]
    [InlineData(131, 100, true)]
    [InlineData(65, 200, true)]
    public void ColumnSumsAreTheRowOrderSums(int rows, int channels, bool split)
    {
        // rows as [a, b, channels] reduced over {0, 1}: the reduced dims merge into one strided group
        int a = rows % 2 == 0 ? 2 : 1, b = rows / a;
        var rng = new Random(rows * 7 + channels);
        var x = new float[a * b * channels];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.Next(50) switch { 0 => -0f, 1 => 1e30f, 2 => -1e-30f, _ => (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(10, rng.Next(-3, 4)) };
        if (channels > 3) x[3 * channels + 2] = float.NaN;
        if (channels > 5) { x[channels + 5] = float.PositiveInfinity; x[2 * channels + 5] = float.NegativeInfinity; }
        const float init = 0.25f;
        var module = HloTextParser.Parse($$"""
            HloModule column_sums

            add {
              p = f32[] parameter(0)
              q = f32[] parameter(1)
              ROOT s = f32[] add(p, q)
            }

            ENTRY main {
              x = f32[{{a}},{{b}},{{channels}}] parameter(0)
              init = f32[] parameter(1)
              ROOT r = f32[{{channels}}] reduce(x, init), dimensions={0,1}, to_apply=add
            }
            """);
        var args = new Tensor[] { Tensor<float>.FromArray(x, a, b, channels), Tensor<float>.Scalar(init) };
        byte[] got;
        using (split ? Par.ScaleGrainsForTesting(12) : null)
            got = ResultBytes.Of(Cpu, Cpu.CompileHlo(module), args)[0];
        var expect = new float[channels];
        for (int c = 0; c < channels; c++) expect[c] = BlockOrderSum(x, 0, a * b, channels, c, init);
        var bytes = new byte[channels * 4];
        Buffer.BlockCopy(expect, 0, bytes, 0, bytes.Length);
        Assert.Equal(bytes, got);
    }

    /// <summary>Column <paramref name="c"/> of the [rows, channels] matrix at <paramref name="offset"/>: init + the sums of
    /// its blocks of max(1, 2048 / channels) rows, each summed from its first row, in order.</summary>
    static float BlockOrderSum(float[] x, int offset, int rows, int channels, int c, float init)
    {
        int blockRows = Math.Max(1, 2048 / channels);
        float s = init;
        for (int r0 = 0; r0 < rows; r0 += blockRows)
        {
            float block = x[offset + r0 * channels + c];
            for (int r = r0 + 1; r < Math.Min(rows, r0 + blockRows); r++) block += x[offset + r * channels + c];
            s += block;
        }
        return s;
    }

    /// <summary>A kept outer dim ([batch, positions, C] -> [batch, C]) sums each batch's columns the same way.</summary>
    [Fact]
    public void ColumnSumsWithAKeptOuterDim()
    {
        const int batch = 3, positions = 401, channels = 40;
        var rng = new Random(5);
        var x = Enumerable.Range(0, batch * positions * channels).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var module = HloTextParser.Parse($$"""
            HloModule per_batch

            add {
              p = f32[] parameter(0)
              q = f32[] parameter(1)
              ROOT s = f32[] add(p, q)
            }

            ENTRY main {
              x = f32[{{batch}},{{positions}},{{channels}}] parameter(0)
              zero = f32[] constant(0)
              ROOT r = f32[{{batch}},{{channels}}] reduce(x, zero), dimensions={1}, to_apply=add
            }
            """);
        var got = ResultBytes.Of(Cpu, Cpu.CompileHlo(module), new Tensor[] { Tensor<float>.FromArray(x, batch, positions, channels) })[0];
        var expect = new float[batch * channels];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++) expect[n * channels + c] = BlockOrderSum(x, n * positions * channels, positions, channels, c, 0);
        var bytes = new byte[expect.Length * 4];
        Buffer.BlockCopy(expect, 0, bytes, 0, bytes.Length);
        Assert.Equal(bytes, got);
    }

    /// <summary>A sum over a broadcast scalar (BatchNorm's gradient sums a broadcast constant) reads the scalar and never
    /// materialises the broadcast; every output is bitwise the column sum of the materialised array.</summary>
    [Theory]
    [InlineData(0.1f, 86528, 32)]
    [InlineData(1e-3f, 999, 10)]
    [InlineData(-3.3f, 4097, 64)]
    public void SumOfABroadcastScalarIsTheColumnSum(float c, int rows, int channels)
    {
        const float init = 0.25f;
        string add = """
            add {
              p = f32[] parameter(0)
              q = f32[] parameter(1)
              ROOT s = f32[] add(p, q)
            }
            """;
        var fromScalar = HloTextParser.Parse($$"""
            HloModule broadcast_sum

            {{add}}

            ENTRY main {
              c = f32[] parameter(0)
              init = f32[] parameter(1)
              b = f32[{{rows}},{{channels}}] broadcast(c), dimensions={}
              ROOT r = f32[{{channels}}] reduce(b, init), dimensions={0}, to_apply=add
            }
            """);
        var fromArray = HloTextParser.Parse($$"""
            HloModule array_sum

            {{add}}

            ENTRY main {
              x = f32[{{rows}},{{channels}}] parameter(0)
              init = f32[] parameter(1)
              ROOT r = f32[{{channels}}] reduce(x, init), dimensions={0}, to_apply=add
            }
            """);
        var filled = Enumerable.Repeat(c, rows * channels).ToArray();
        var scalarSum = Cpu.CompileHlo(fromScalar);
        // the broadcast is never built: the program's peak is far below the array it would be
        Assert.True(scalarSum.PeakMemoryBytes < (long)rows * channels * 4, $"peak {scalarSum.PeakMemoryBytes} B: the broadcast was materialised");
        var a = ResultBytes.Of(Cpu, scalarSum, new Tensor[] { Tensor<float>.Scalar(c), Tensor<float>.Scalar(init) })[0];
        var b = ResultBytes.Of(Cpu, Cpu.CompileHlo(fromArray), new Tensor[] { Tensor<float>.FromArray(filled, rows, channels), Tensor<float>.Scalar(init) })[0];
        Assert.Equal(b, a);
    }
}
