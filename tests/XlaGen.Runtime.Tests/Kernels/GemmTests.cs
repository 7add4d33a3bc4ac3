using XlaGen.Backends.Cpu.Kernels;

namespace XlaGen.Tests.Kernels;

public class GemmTests
{
    private static readonly int[] Sizes = { 0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 64, 65, 127, 129, 255, 300 };

    /// <summary>A deterministic sample of (m, n, k) combos from <see cref="Sizes"/>, biased away from all-large.</summary>
    public static TheoryData<int, int, int> SampledShapes()
    {
        var data = new TheoryData<int, int, int>();
        var rng = new Random(1234);
        var seen = new HashSet<(int, int, int)>();
        // Every size appears in every position at least once, against small partners.
        foreach (int s in Sizes)
        {
            seen.Add((s, 7, 17));
            seen.Add((5, s, 33));
            seen.Add((17, 31, s));
        }
        while (seen.Count < 90)
        {
            int m = Sizes[rng.Next(Sizes.Length)], n = Sizes[rng.Next(Sizes.Length)], k = Sizes[rng.Next(Sizes.Length)];
            if ((long)m * n * k <= 300L * 130 * 130)
                seen.Add((m, n, k));
        }
        foreach (var (m, n, k) in seen)
            data.Add(m, n, k);
        return data;
    }

    /// <summary>The ISAs this CPU supports, by name (GemmIsa is internal).</summary>
    public static TheoryData<string> Isas()
    {
        var data = new TheoryData<string> { nameof(GemmIsa.Scalar) };
        if (Gemm.ResolveIsa(GemmIsa.Avx2) == GemmIsa.Avx2) data.Add(nameof(GemmIsa.Avx2));
        if (Gemm.ResolveIsa(GemmIsa.Avx512) == GemmIsa.Avx512) data.Add(nameof(GemmIsa.Avx512));
        return data;
    }

    [Theory]
    [MemberData(nameof(SampledShapes))]
    public void SgemmMatchesReference_AllTransposes(int m, int n, int k)
    {
        var rng = new Random(m * 1_000_003 + n * 1009 + k);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var (alpha, beta) = rng.Next(3) switch { 0 => (1f, 0f), 1 => (0.75f, 1f), _ => (-1.5f, 0.5f) };
                Check(rng, ta, tb, m, n, k, alpha, beta, GemmOptions.Default, padA: rng.Next(3), padB: rng.Next(3), padC: rng.Next(3));
            }
    }

    [Theory]
    [MemberData(nameof(SampledShapes))]
    public void SgemmPackedPathOnEveryIsa(int m, int n, int k)
    {
        if ((long)m * n * k > 1_000_000)
            return;
        var rng = new Random(m + 31 * n + 977 * k);
        foreach (var isa in new[] { GemmIsa.Scalar, GemmIsa.Avx2, GemmIsa.Avx512 })
        {
            // Small blocking forces several M/N/K blocks; threshold 0 forces the threaded split.
            var opt = new GemmOptions(isa, AllowDirect: false, AllowTransposedC: rng.Next(2) == 0,
                Blocking: new GemmBlocking(MC: 40, KC: 24, NC: 48), ParallelThreshold: 0, AllowSmallN: false);
            bool ta = rng.Next(2) == 0, tb = rng.Next(2) == 0;
            Check(rng, ta, tb, m, n, k, 1.25f, rng.Next(2) == 0 ? 0f : -0.5f, opt, padA: 1, padB: 2, padC: 3);
        }
    }

    [Theory]
    [InlineData(512, 256, 784, false, false)] // x·W1 at batch 512
    [InlineData(512, 256, 784, true, false)]
    [InlineData(512, 256, 784, false, true)]
    [InlineData(512, 256, 784, true, true)]
    [InlineData(128, 10, 256, false, false)]  // h·W2
    [InlineData(128, 256, 10, false, true)]   // dH = dY·W2ᵀ
    [InlineData(256, 10, 128, true, false)]   // dW2 = hᵀ·dY
    [InlineData(784, 256, 128, true, false)]  // dW1 = xᵀ·dH
    [InlineData(128, 784, 256, false, true)]  // dX = dH·W1ᵀ
    public void SgemmLargeMlpShapes(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Random(m ^ (n << 10) ^ (k << 20));
        Check(rng, ta, tb, m, n, k, 1f, 0f, GemmOptions.Default, 0, 0, 0);
        Check(rng, ta, tb, m, n, k, -0.5f, 1f, GemmOptions.Default, 3, 1, 5);
    }

    /// <summary>One row of A (batch-1 inference) takes <see cref="GemmRowVector"/> on AVX-512 CPUs. It must give the
    /// blocked driver's result bit for bit: the same k-blocks summed the same way, full panels and the ragged last
    /// panel merged as the driver merges them, single- and multi-threaded, with padded B and C and NaN in a C that
    /// beta = 0 must not read.</summary>
    [Fact]
    public void SgemmRowVectorEqualsTheDriverBitwise()
    {
        if (Gemm.ResolveIsa(GemmIsa.Avx512) != GemmIsa.Avx512)
            return;   // the path exists only on AVX-512 CPUs; SgemmMatchesReference covers m = 1 elsewhere
        var rng = new Random(2026);
        var shapes = new[] { (1, 600), (3, 1000), (10, 256), (15, 800), (16, 40), (17, 9), (31, 385), (32, 384), (33, 769), (64, 1), (128, 784), (129, 300), (250, 1000), (256, 784), (300, 64), (1000, 3), (512, 2048) };
        foreach (var (n, k) in shapes)
            foreach (var blocking in new GemmBlocking?[] { null, new GemmBlocking(MC: 40, KC: 24, NC: 48) })
                foreach (var (alpha, beta) in new[] { (1f, 0f), (1f, 1f), (-0.5f, 0.75f), (1.25f, 0f) })
                {
                    int padB = rng.Next(3) * 5, padC = rng.Next(2) * 3;
                    int ldb = n + padB;
                    var a = Rand(rng, k);
                    var b = Rand(rng, k * ldb);
                    var c0 = Rand(rng, n + padC);
                    if (beta == 0) Array.Fill(c0, float.NaN, 0, n);
                    var viaRow = (float[])c0.Clone();
                    var viaDriver = (float[])c0.Clone();
                    Gemm.Sgemm(false, false, 1, n, k, alpha, a, k, b, ldb, beta, viaRow, n, new GemmOptions(Blocking: blocking));
                    Gemm.Sgemm(false, false, 1, n, k, alpha, a, k, b, ldb, beta, viaDriver, n, new GemmOptions(Blocking: blocking, AllowRowVector: false));
                    for (int j = 0; j < viaRow.Length; j++)
                        Assert.True(BitConverter.SingleToInt32Bits(viaRow[j]) == BitConverter.SingleToInt32Bits(viaDriver[j]),
                            $"n={n} k={k} KC={blocking?.KC} alpha={alpha} beta={beta} ldb={ldb}: C[{j}] = {viaRow[j]:R} by row, {viaDriver[j]:R} by the driver");
                    double tol = 1e-5 * Math.Sqrt(k);
                    for (int j = 0; j < n; j += 7)
                    {
                        double s = 0, mag = 0;
                        for (int p = 0; p < k; p++)
                        {
                            s += (double)a[p] * b[p * ldb + j];
                            mag += Math.Abs((double)a[p] * b[p * ldb + j]);
                        }
                        double expect = alpha * s + (beta == 0 ? 0 : beta * c0[j]);
                        Assert.True(Math.Abs(viaRow[j] - expect) <= tol * (Math.Abs(alpha) * mag + Math.Abs(beta * (beta == 0 ? 0 : c0[j]))) + 1e-30,
                            $"n={n} k={k}: C[{j}] = {viaRow[j]}, expected {expect}");
                    }
                }
    }

    [Fact]
    public void SgemmNarrowOutputPath()
    {
        // n <= 16 with non-transposed A takes the dot-product path on AVX-512 CPUs (the driver elsewhere);
        // k tails (k % 16), row tails (m % 4), column tails (n % 4), single- and multi-threaded.
        var rng = new Random(99);
        foreach (var (m, n, k) in new[] { (4, 1, 32), (5, 3, 33), (7, 10, 47), (128, 10, 256), (130, 16, 100), (9, 13, 64), (61, 2, 300) })
            foreach (bool tb in new[] { false, true })
                foreach (long threshold in new[] { long.MaxValue, 0 })
                    Check(rng, false, tb, m, n, k, 0.5f, rng.Next(2) == 0 ? 0f : 2f,
                        new GemmOptions(ParallelThreshold: threshold), rng.Next(3), rng.Next(3), rng.Next(3));
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void SgemmBlockBoundariesPerIsa(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        // Sizes straddling the default MC/KC/NC and the micro-tile sizes, single- and multi-threaded.
        var rng = new Random((int)isa);
        var shapes = isa == GemmIsa.Scalar
            ? new[] { (129, 513, 257), (6, 1000, 3), (1000, 6, 5) } // scalar blocking: MC 128, KC 256, NC 512
            : new[] { (513, 385, 385), (97, 401, 770), (6, 1000, 3), (1000, 6, 5) };
        foreach (var (m, n, k) in shapes)
            foreach (int threads in new[] { 1, 0 })
                Check(rng, rng.Next(2) == 0, rng.Next(2) == 0, m, n, k, 1f, 0.5f, new GemmOptions(isa, MaxThreads: threads), 1, 1, 1);
    }

    [Fact]
    public void BetaZeroIgnoresNaNAndAlphaZeroOnlyScales()
    {
        var rng = new Random(7);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (33, 65, 17), (129, 40, 300) })
        {
            var a = Rand(rng, m * k);
            var b = Rand(rng, k * n);
            var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
            Gemm.Sgemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
            Assert.All(c, v => Assert.False(float.IsNaN(v)));

            // alpha = 0: C = beta * C without touching A/B (which may hold NaN).
            var nanA = Enumerable.Repeat(float.NaN, m * k).ToArray();
            var c2 = Rand(rng, m * n);
            var expect = c2.Select(v => v * 2f).ToArray();
            Gemm.Sgemm(false, false, m, n, k, 0f, nanA, k, b, n, 2f, c2, n);
            Assert.Equal(expect, c2);

            // k = 0: C = beta * C; beta = 0 clears NaN.
            var c3 = Enumerable.Repeat(float.NaN, m * n).ToArray();
            Gemm.Sgemm(true, true, m, n, 0, 1f, ReadOnlySpan<float>.Empty, m, ReadOnlySpan<float>.Empty, 0, 0f, c3, n);
            Assert.All(c3, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void ZeroSizedIsANoOp()
    {
        var c = new[] { 1f, 2f };
        Gemm.Sgemm(false, false, 0, 2, 3, 1f, ReadOnlySpan<float>.Empty, 3, new float[6], 2, 0f, ReadOnlySpan<float>.Empty.Length == 0 ? Span<float>.Empty : c, 2);
        Gemm.Sgemm(false, false, 1, 0, 3, 1f, new float[3], 3, ReadOnlySpan<float>.Empty, 0, 0f, c, 0);
        Assert.Equal(new[] { 1f, 2f }, c);
    }

    [Fact]
    public void RejectsShortSpansAndBadLeadingDimensions()
    {
        var a = new float[6];
        var b = new float[6];
        var c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1f, a.AsSpan(0, 5), 3, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c.AsSpan(0, 3), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, true, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        // Minimal lengths are accepted: last row only needs `cols` elements.
        Gemm.Sgemm(false, false, 2, 2, 3, 1f, a.AsSpan(0, 3 + 3), 3, b, 2, 0f, new float[5 + 2].AsSpan(0, 5 + 2), 5);
    }

    [Fact]
    public void ConcurrentCallsFromSeveralThreads()
    {
        // Mixed sizes so that some callers get the worker pool and others run inline.
        var shapes = new[] { (300, 129, 255), (64, 65, 127), (128, 256, 10), (7, 300, 33), (255, 255, 64), (33, 17, 300) };
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var threads = Enumerable.Range(0, 6).Select(t => new Thread(() =>
        {
            try
            {
                var rng = new Random(100 + t);
                for (int iter = 0; iter < 6; iter++)
                {
                    var (m, n, k) = shapes[(t + iter) % shapes.Length];
                    Check(rng, iter % 2 == 1, iter % 3 == 1, m, n, k, 1f, iter % 2 == 0 ? 0f : 1f, GemmOptions.Default, t % 2, 0, 1);
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e.Message);
            }
        })).ToArray();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 9, 5)]
    [InlineData(33, 17, 65)]
    [InlineData(129, 31, 64)]
    [InlineData(64, 300, 129)]
    [InlineData(255, 129, 100)]
    [InlineData(128, 10, 256)]
    public void DgemmMatchesReference(int m, int n, int k)
    {
        var rng = new Random(m + 7 * n + 13 * k);
        var isas = (long)m * n * k > 1_000_000 ? new[] { GemmIsa.Auto, GemmIsa.Avx2 } : new[] { GemmIsa.Auto, GemmIsa.Avx2, GemmIsa.Scalar };
        foreach (var isa in isas)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    CheckD(rng, ta, tb, m, n, k, rng.Next(2) == 0 ? 1.0 : -0.25, rng.Next(2) == 0 ? 0.0 : 1.5,
                        new GemmOptions(isa, AllowDirect: rng.Next(2) == 0), 1, 2, 0);
    }

    // ---- helpers ----

    private static float[] Rand(Random rng, int len)
    {
        var x = new float[len];
        for (int i = 0; i < len; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Builds operands with padded leading dimensions inside larger buffers, runs Sgemm, compares with a double reference.</summary>
    private static void Check(Random rng, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
        GemmOptions opt, int padA, int padB, int padC)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k;
        int bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + padA, ldb = bCols + padB, ldc = n + padC;
        // Offsets into the buffers exercise unaligned sub-matrix views.
        int offA = padA, offB = padB, offC = padC;
        var aBuf = Rand(rng, offA + aRows * lda + 3);
        var bBuf = Rand(rng, offB + bRows * ldb + 3);
        var cBuf = Rand(rng, offC + m * ldc + 3);
        if (beta == 0)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    cBuf[offC + i * ldc + j] = float.NaN;
        var cOrig = (float[])cBuf.Clone();

        Gemm.Sgemm(ta, tb, m, n, k, alpha, aBuf.AsSpan(offA), lda, bBuf.AsSpan(offB), ldb, beta, cBuf.AsSpan(offC), ldc, opt);

        double tol = 1e-5 * Math.Sqrt(Math.Max(k, 1));
        foreach (var (i, j) in EntriesToCheck(rng, m, n, k))
        {
            double s = 0, mag = 0;
            for (int p = 0; p < k; p++)
            {
                double av = ta ? aBuf[offA + p * lda + i] : aBuf[offA + i * lda + p];
                double bv = tb ? bBuf[offB + j * ldb + p] : bBuf[offB + p * ldb + j];
                s += av * bv;
                mag += Math.Abs(av * bv);
            }
            double c0 = cOrig[offC + i * ldc + j];
            double expect = alpha * s + (beta == 0 ? 0 : beta * c0);
            double scale = Math.Abs(alpha) * mag + (beta == 0 ? 0 : Math.Abs(beta * c0)) + 1e-30;
            double got = cBuf[offC + i * ldc + j];
            if (!(Math.Abs(got - expect) <= tol * scale))
                Assert.Fail($"{opt.Isa} ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta}: C[{i},{j}] = {got}, expected {expect} (scale {scale})");
        }
        // Nothing outside the C view may change.
        for (int idx = 0; idx < cBuf.Length; idx++)
        {
            int rel = idx - offC;
            bool inside = ldc > 0 && rel >= 0 && rel / ldc < m && rel % ldc < n;
            if (!inside && BitConverter.SingleToInt32Bits(cBuf[idx]) != BitConverter.SingleToInt32Bits(cOrig[idx]))
                Assert.Fail($"{opt.Isa} m={m} n={n} k={k}: wrote outside C at buffer index {idx}");
        }
    }

    /// <summary>
    /// Every entry of C for moderate problems; for big ones (to keep the reference cheap) the first and last two
    /// rows and columns, which cover all edge tiles, plus a few thousand random entries.
    /// </summary>
    private static IEnumerable<(int I, int J)> EntriesToCheck(Random rng, int m, int n, int k)
    {
        if ((long)m * n * Math.Max(k, 1) <= 4_000_000)
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    yield return (i, j);
            yield break;
        }
        foreach (int i in new[] { 0, 1, m - 2, m - 1 })
            if (i >= 0)
                for (int j = 0; j < n; j++)
                    yield return (i, j);
        foreach (int j in new[] { 0, 1, n - 2, n - 1 })
            if (j >= 0)
                for (int i = 0; i < m; i++)
                    yield return (i, j);
        int samples = (int)Math.Min((long)m * n, 2_000_000 / Math.Max(k, 1));
        for (int s = 0; s < samples; s++)
            yield return (rng.Next(m), rng.Next(n));
    }

    private static void CheckD(Random rng, bool ta, bool tb, int m, int n, int k, double alpha, double beta,
        GemmOptions opt, int padA, int padB, int padC)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k;
        int bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + padA, ldb = bCols + padB, ldc = n + padC;
        var a = Enumerable.Range(0, aRows * lda).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var b = Enumerable.Range(0, bRows * ldb).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var c = Enumerable.Range(0, m * ldc).Select(_ => beta == 0 ? double.NaN : rng.NextDouble()).ToArray();
        var cOrig = (double[])c.Clone();
        Gemm.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, opt);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double prod = (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    s += prod;
                    mag += Math.Abs(prod);
                }
                double c0 = cOrig[i * ldc + j];
                double expect = alpha * s + (beta == 0 ? 0 : beta * c0);
                double scale = Math.Abs(alpha) * mag + (beta == 0 ? 0 : Math.Abs(beta * c0)) + 1e-300;
                Assert.True(Math.Abs(c[i * ldc + j] - expect) <= 1e-13 * Math.Sqrt(Math.Max(k, 1)) * scale,
                    $"{opt.Isa} ta={ta} tb={tb} m={m} n={n} k={k}: C[{i},{j}] = {c[i * ldc + j]}, expected {expect}");
            }
    }
}
