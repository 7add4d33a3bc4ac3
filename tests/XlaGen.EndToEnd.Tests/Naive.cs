namespace XlaGen.Tests;

/// <summary>Straightforward reference computations in double precision, independent of XlaGen's lowering and executor.</summary>
public static class Naive
{
    /// <summary>The sample_weight argument of a loss program that weighs its examples, every example alike.</summary>
    public static Tensor<float> Ones(int n) => new(new long[] { n }, Enumerable.Repeat(1f, n).ToArray());

    public static double[,] MatMul(double[,] a, double[,] b)
    {
        int m = a.GetLength(0), k = a.GetLength(1), n = b.GetLength(1);
        Assert.Equal(k, b.GetLength(0));
        var c = new double[m, n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++) s += a[i, p] * b[p, j];
            c[i, j] = s;
        }
        return c;
    }

    public static double[,] AddRow(double[,] a, double[] row)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++) c[i, j] += row[j];
        return c;
    }

    public static double[,] Map(double[,] a, Func<double, double> f)
    {
        var c = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++) c[i, j] = f(a[i, j]);
        return c;
    }

    public static double[,] SoftmaxRows(double[,] a)
    {
        int m = a.GetLength(0), n = a.GetLength(1);
        var c = new double[m, n];
        for (int i = 0; i < m; i++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < n; j++) max = Math.Max(max, a[i, j]);
            for (int j = 0; j < n; j++) sum += Math.Exp(a[i, j] - max);
            for (int j = 0; j < n; j++) c[i, j] = Math.Exp(a[i, j] - max) / sum;
        }
        return c;
    }

    public static double[,] Matrix(Tensor t)
    {
        Assert.Equal(2, t.Rank);
        int m = (int)t.Shape[0], n = (int)t.Shape[1];
        var c = new double[m, n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) c[i, j] = Convert.ToDouble(t.Data.GetValue(i * n + j));
        return c;
    }

    public static double[] Vector(Tensor t) => t.Data.Cast<object>().Select(v => Convert.ToDouble(v)).ToArray();

    public static Tensor<float> Random(int seed, params long[] shape)
    {
        var rng = new SplitMix64((ulong)seed);
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return new Tensor<float>(shape, data);
    }

    /// <summary>Element <paramref name="index"/> of a tensor of any rank and element type, as a double.</summary>
    public static double At(Tensor t, params long[] index)
    {
        Assert.Equal(t.Rank, index.Length);
        long offset = 0;
        for (int i = 0; i < index.Length; i++) offset = offset * t.Shape[i] + index[i];
        return Convert.ToDouble(t.Data.GetValue(offset));
    }

    /// <summary>Every multi-index of <paramref name="shape"/>, row-major.</summary>
    public static IEnumerable<long[]> Indices(IReadOnlyList<long> shape)
    {
        var index = new long[shape.Count];
        long total = shape.Aggregate(1L, (a, b) => a * b);
        for (long n = 0; n < total; n++)
        {
            yield return (long[])index.Clone();
            for (int d = shape.Count - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }

    /// <summary><paramref name="got"/> has <paramref name="shape"/> and |got − want(index)| ≤ tol·max(1, |want|) at every index.</summary>
    public static void AssertAll(Tensor got, long[] shape, Func<long[], double> want, double tol = 1e-5)
    {
        Assert.Equal(shape, got.Shape);
        foreach (var index in Indices(shape))
        {
            double w = want(index), g = At(got, index);
            if (!(Math.Abs(g - w) <= tol * Math.Max(1, Math.Abs(w))))
                Assert.Fail($"[{string.Join(",", index)}]: got {g:R}, want {w:R} (tolerance {tol})");
        }
    }

    /// <summary>Two tensors of one shape agree elementwise within <paramref name="tol"/> (relative above 1).</summary>
    public static void AssertSame(Tensor want, Tensor got, double tol = 1e-5) => AssertAll(got, want.Shape.ToArray(), i => At(want, i), tol);

    /// <summary>|got − want| ≤ tol·max(1, |want|) everywhere; the message names the first bad index.</summary>
    public static void AssertClose(double[,] want, Tensor got, double tol = 1e-5)
    {
        Assert.Equal(new long[] { want.GetLength(0), want.GetLength(1) }, got.Shape);
        var g = Matrix(got);
        for (int i = 0; i < want.GetLength(0); i++)
        for (int j = 0; j < want.GetLength(1); j++)
        {
            if (!(Math.Abs(g[i, j] - want[i, j]) <= tol * Math.Max(1, Math.Abs(want[i, j]))))
                Assert.Fail($"[{i},{j}]: got {g[i, j]:R}, want {want[i, j]:R} (tolerance {tol})");
        }
    }

    public static void AssertClose(double[] want, Tensor got, double tol = 1e-5)
    {
        var g = Vector(got);
        Assert.Equal(want.Length, g.Length);
        for (int i = 0; i < want.Length; i++)
        {
            if (!(Math.Abs(g[i] - want[i]) <= tol * Math.Max(1, Math.Abs(want[i]))))
                Assert.Fail($"[{i}]: got {g[i]:R}, want {want[i]:R} (tolerance {tol})");
        }
    }
}
