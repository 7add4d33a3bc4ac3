using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>Each member of the compiled surface (in the Zoo model), against a naive loop.</summary>
public class SurfaceTests
{
    static readonly Zoo.Runner Model = Zoo.Create(seed: 11);
    const int B = 6;

    static double[] Row(Tensor<float> x, int i) => Enumerable.Range(0, (int)x.Shape[1]).Select(j => (double)x[i, j]).ToArray();

    [Fact]
    public void MeanOverSymbolicBatch()
    {
        var x = Naive.Random(1, B, 4);
        var want = Enumerable.Range(0, 4).Select(j => Enumerable.Range(0, B).Average(i => (double)x[i, j])).ToArray();
        Naive.AssertClose(want, Model.BatchMean(x));
        var x2 = Naive.Random(2, 50, 4);
        var want2 = Enumerable.Range(0, 4).Select(j => Enumerable.Range(0, 50).Average(i => (double)x2[i, j])).ToArray();
        Naive.AssertClose(want2, Model.BatchMean(x2));
    }

    [Fact]
    public void Reductions()
    {
        var x = Naive.Random(3, B, 4);
        var want = Enumerable.Range(0, B).Select(i => { var r = Row(x, i); return r.Sum() + r.Max() * 2 - r.Min() + r.Average(); }).ToArray();
        Naive.AssertClose(want, Model.Reductions(x));
    }

    [Fact]
    public void Elementwise()
    {
        var x = Naive.Random(4, B, 4);
        double F(double v)
        {
            var a = Math.Log(Math.Abs(v) + 1) + Math.Tanh(v) - v * v / 8;
            var c = Math.Sqrt(v * v + 0.5) + 1 / Math.Sqrt(v * v + 2) + 1 / (1 + Math.Exp(-v)) - Math.Exp(-v) * 0.01;
            return a + Math.Min(Math.Max(c, 0.5), v + 1) + (1 - v) + Math.Pow(v, 2);
        }
        Naive.AssertClose(Naive.Map(Naive.Matrix(x), F), Model.Elementwise(x));
    }

    [Fact]
    public void ReshapeTransposeMatMul()
    {
        var x = Naive.Random(5, B, 4);
        var p = Model.GetParameters();
        var t = new double[B, 4];
        for (int i = 0; i < B; i++)
        {
            // [a b; c d] per row, transposed to [a c; b d]
            t[i, 0] = x[i, 0]; t[i, 1] = x[i, 2]; t[i, 2] = x[i, 1]; t[i, 3] = x[i, 3];
        }
        Naive.AssertClose(Naive.AddRow(Naive.MatMul(t, Naive.Matrix(p["w"])), Naive.Vector(p["b"])), Model.Shapes(x));
    }

    [Fact]
    public void WhereAndComparisons()
    {
        var x = Naive.Random(6, B, 4);
        var y = Naive.Random(7, B, 4);
        var want = new double[B, 4];
        for (int i = 0; i < B; i++)
        for (int j = 0; j < 4; j++)
        {
            double a = x[i, j], b = y[i, j];
            want[i, j] = (a > b ? a : -b) + (a <= b ? a : 0);
        }
        Naive.AssertClose(want, Model.Select(x, y));
    }

    [Fact]
    public void BatchedMatMul()
    {
        var x = Naive.Random(8, B, 2, 3);
        var y = Naive.Random(9, B, 3, 2);
        var got = Model.Batched(x, y);
        Assert.Equal(new long[] { B, 2, 2 }, got.Shape);
        for (int b = 0; b < B; b++)
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
        {
            double s = 0;
            for (int k = 0; k < 3; k++) s += (double)x[b, i, k] * y[b, k, j];
            Assert.True(Math.Abs(got[b, i, j] - s) <= 1e-5, $"[{b},{i},{j}]: {got[b, i, j]} vs {s}");
        }
    }

    [Fact]
    public void CastTruncatesTowardZero()
    {
        var x = new Tensor<float>(new long[] { 2, 4 }, new[] { 0.5f, -0.5f, 1.2f, -1.2f, 0.34f, -0.34f, 2.9f, -2.9f });
        Naive.AssertClose(Naive.Map(Naive.Matrix(x), v => Math.Truncate(v * 3)), Model.Casts(x), 0);
    }

    [Fact]
    public void SoftmaxAlongEitherAxis()
    {
        var x = Naive.Random(10, B, 4);
        var m = Naive.Matrix(x);
        var rows = Naive.SoftmaxRows(m);
        var t = new double[4, B];
        for (int i = 0; i < B; i++) for (int j = 0; j < 4; j++) t[j, i] = m[i, j];
        var cols = Naive.SoftmaxRows(t);
        var want = new double[B, 4];
        for (int i = 0; i < B; i++) for (int j = 0; j < 4; j++) want[i, j] = cols[j, i] + rows[i, j];
        Naive.AssertClose(want, Model.Softmaxes(x));
    }
}
