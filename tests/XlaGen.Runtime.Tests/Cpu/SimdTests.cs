using XlaGen.Backends.Cpu.Kernels;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The hand-written SIMD compare (lane masks narrowed to pred bytes) and select (pred bytes widened to lane masks)
/// against scalar loops, with both the 512-bit and 256-bit paths: every direction, f32 with NaNs, signed zeros and
/// ties, s32, either side a broadcast scalar, lengths around the vector widths (the scalar tail is the caller's).
/// </summary>
public class SimdTests
{
    static float[] Floats(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(12) switch
    {
        0 => float.NaN,
        1 => -0f,
        2 => 0f,
        _ => rng.Next(5) - 2f,
    }).ToArray();

    static void CheckCompare<T, TDir>(T[] x, T[] y, bool xScalar, bool yScalar, bool wide) where T : IComparable<T>, System.Numerics.IComparisonOperators<T, T, bool>
        where TDir : struct, ICompareDirection
    {
        int n = Math.Max(x.Length, y.Length);
        var o = new bool[n];
        int done = Simd.Compare<T, TDir>(x, y, o, xScalar, yScalar, wide);
        // the vector path ran over all but a tail shorter than its width (32 lanes at 256 bits, 16 at 512)
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.InRange(done, Math.Max(0, n - 31), n);
        for (int i = 0; i < done; i++)
            Assert.True(o[i] == TDir.Test(x[xScalar ? 0 : i], y[yScalar ? 0 : i]), $"{typeof(TDir).Name} {typeof(T).Name} at {i} of {n}: {x[xScalar ? 0 : i]} vs {y[yScalar ? 0 : i]}");
        Assert.All(o.AsSpan(0, done).ToArray().Select((b, i) => (b, i)), t => Assert.True(System.Runtime.CompilerServices.Unsafe.As<bool, byte>(ref o[t.i]) <= 1));
    }

    static void Directions<T>(T[] x, T[] y, bool xs, bool ys, bool wide) where T : IComparable<T>, System.Numerics.IComparisonOperators<T, T, bool>
    {
        CheckCompare<T, CmpEq>(x, y, xs, ys, wide);
        CheckCompare<T, CmpNe>(x, y, xs, ys, wide);
        CheckCompare<T, CmpLt>(x, y, xs, ys, wide);
        CheckCompare<T, CmpLe>(x, y, xs, ys, wide);
        CheckCompare<T, CmpGt>(x, y, xs, ys, wide);
        CheckCompare<T, CmpGe>(x, y, xs, ys, wide);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CompareAndSelectMatchScalarLoops(bool wide)
    {
        var rng = new Random(wide ? 1 : 2);
        foreach (int n in new[] { 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000 })
        {
            float[] x = Floats(rng, n), y = Floats(rng, n);
            int[] a = Enumerable.Range(0, n).Select(_ => rng.Next(-3, 4)).ToArray(), b = Enumerable.Range(0, n).Select(_ => rng.Next(-3, 4)).ToArray();
            foreach (var (xs, ys) in new[] { (false, false), (true, false), (false, true) })
            {
                Directions(xs ? x[..1] : x, ys ? y[..1] : y, xs, ys, wide);
                Directions(xs ? a[..1] : a, ys ? b[..1] : b, xs, ys, wide);
                var p = Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToArray();
                var o = new float[n];
                int done = Simd.Select<float>(p, xs ? x[..1] : x, ys ? y[..1] : y, o, xs, ys, wide);
                if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.InRange(done, Math.Max(0, n - 15), n);
                for (int i = 0; i < done; i++)
                {
                    float want = p[i] ? x[xs ? 0 : i] : y[ys ? 0 : i];
                    Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(o[i]));
                }
                var oi = new int[n];
                done = Simd.Select<int>(p, xs ? a[..1] : a, ys ? b[..1] : b, oi, xs, ys, wide);
                for (int i = 0; i < done; i++) Assert.Equal(p[i] ? a[xs ? 0 : i] : b[ys ? 0 : i], oi[i]);
            }
        }
    }
}
