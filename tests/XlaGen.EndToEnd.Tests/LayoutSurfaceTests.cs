using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>Indexing, layout, elementwise, statistics and activation members (the LayoutZoo model, compiled by the
/// generator), each against a naive loop; then the same model run eagerly on the host.</summary>
public class LayoutSurfaceTests
{
    static readonly LayoutZoo.Runner Model = LayoutZoo.Create(seed: 21);
    const int B = 5;

    static Tensor<int> Ints(long[] shape, params int[] values) => new(shape, values);

    [Fact]
    public void SliceWithNegativeClampedAndStridedBounds()
    {
        var x = Naive.Random(1, B, 10);
        var columns = new[] { 2, 3, 4, 7, 8, 9, 1, 4, 7, 0, 1 };   // [2:5], [-3:], [1::3], [-100:2]
        Naive.AssertAll(Model.Slices(x), new long[] { B, 11 }, i => x[i[0], columns[i[1]]]);
    }

    [Fact]
    public void StackAlongANewMiddleAxis()
    {
        var x = Naive.Random(2, B, 3);
        var y = Naive.Random(3, B, 3);
        Naive.AssertAll(Model.Stacked(x, y), new long[] { B, 3, 3 }, i =>
        {
            double a = x[i[0], i[2]], b = y[i[0], i[2]];
            return i[1] switch { 0 => a, 1 => b, _ => (float)(a * b) };
        });
    }

    [Fact]
    public void PadWithAValueAndWithZeros()
    {
        var x = Naive.Random(4, B, 4);
        Naive.AssertAll(Model.Padded(x), new long[] { B, 7 }, i =>
        {
            long j = i[1];
            double a = j >= 2 && j < 6 ? x[i[0], j - 2] : 0.5;
            double b = j >= 1 && j < 5 ? x[i[0], j - 1] : 0;
            return a + 10 * b;
        });
    }

    [Fact]
    public void ReverseSomeAxesAndAll()
    {
        var x = Naive.Random(5, B, 2, 3);
        Naive.AssertAll(Model.Reversed(x), new long[] { B, 2, 3 }, i =>
            x[i[0], 1 - i[1], 2 - i[2]] + 10.0 * x[i[0], i[1], 2 - i[2]] + 100.0 * x[B - 1 - i[0], 1 - i[1], 2 - i[2]]);
    }

    [Fact]
    public void SignFloorCeilClampAndRemainder()
    {
        var x = Naive.Random(6, B, 4);
        var y = Naive.Random(7, B, 4);
        x[0, 0] = 0;
        x[0, 1] = -0.3f;
        Naive.AssertAll(Model.Rounding(x, y), new long[] { B, 4 }, i =>
        {
            float a = x[i[0], i[1]], b = y[i[0], i[1]];
            // in float, as the program computes; % is C#'s (truncated, the sign of the dividend)
            return Math.Sign(a) + Math.Floor(a) * 2 + Math.Ceiling(a * 3f) * 4 + Math.Clamp(a, -0.5f, 0.25f) * 8 + (a * 5f) % b * 16 + a % 0.3f * 32;
        }, 1e-5);
    }

    [Fact]
    public void LogicalAndBitwiseOperators()
    {
        var x = Naive.Random(8, B, 4);
        var y = Naive.Random(9, B, 4);
        Naive.AssertAll(Model.Logic(x, y), new long[] { B, 4 }, i =>
        {
            float a = x[i[0], i[1]], b = y[i[0], i[1]];
            bool p = a > 0, q = b > a;
            bool mask = (p && q) || (!p ^ q);
            int xi = (int)(a * 10f), yi = (int)(b * 10f);
            int bits = (xi & yi) | (~xi ^ yi);
            return (mask ? a : b) + bits * 100.0;
        });
    }

    [Fact]
    public void FlattenKeepsTheBatch()
    {
        var x = Naive.Random(10, B, 2, 3, 2);
        var got = Model.Flat(x);
        Assert.Equal(new long[] { B, 12 }, got.Shape);
        Assert.Equal(x.Data, got.Data);
    }

    [Fact]
    public void TakeColumnsOfABatchWithClampedIndices()
    {
        var x = Naive.Random(11, B, 6);
        var idx = Ints(new long[] { 3 }, 4, 7, -2);
        var clamped = new[] { 4, 5, 0 };
        Naive.AssertAll(Model.Taken(x, idx), new long[] { B, 3 }, i => x[i[0], clamped[i[1]]]);
    }

    [Fact]
    public void EmbeddingRowsAndOneHot()
    {
        var table = (Tensor<float>)Model.GetParameter("table");
        var ids = Ints(new long[] { 3, 2 }, 0, 4, 2, 2, 9, -1);
        var rows = new[] { 0, 4, 2, 2, 4, 0 };   // clamped into [0, 4]
        Naive.AssertAll(Model.Embed(ids), new long[] { 3, 2, 3 }, i => table[rows[i[0] * 2 + i[1]], i[2]]);
        var labels = Ints(new long[] { 4 }, 3, 0, 5, -1);
        Naive.AssertAll(Model.OneHots(labels), new long[] { 4, 5 }, i => labels.Data[i[0]] == i[1] ? 1 : 0, 0);
    }

    [Fact]
    public void DynamicSliceAndUpdateClampTheirStarts()
    {
        var table = (Tensor<float>)Model.GetParameter("table");
        foreach (var (s0, s1, r0, c0) in new[] { (1, 0, 1, 0), (4, 2, 3, 1), (-3, 1, 0, 1) })
        {
            var got = Model.Dynamic(Ints(new long[] { 2 }, s0, s1));
            Naive.AssertAll(got, new long[] { 7, 2 }, i =>
            {
                if (i[0] < 2) return table[r0 + i[0], c0 + i[1]];
                long r = i[0] - 2, c = i[1];
                bool written = r >= r0 && r < r0 + 2 && c >= c0 && c < c0 + 2;
                return written ? -1 : table[r, c];
            });
        }
    }

    [Fact]
    public void VarianceAndStandardDeviationDivideByN()
    {
        var x = Naive.Random(12, B, 6);
        double Var(IEnumerable<double> v)
        {
            var a = v.ToArray();
            double m = a.Average();
            return a.Sum(e => (e - m) * (e - m)) / a.Length;
        }
        double overBatch = Enumerable.Range(0, 6).Sum(j => Var(Enumerable.Range(0, B).Select(i => (double)x[i, j])));
        Naive.AssertAll(Model.Stats(x), new long[] { B }, i =>
        {
            var row = Enumerable.Range(0, 6).Select(j => (double)x[i[0], j]);
            return Var(row) + Math.Sqrt(Var(row)) * 10 + overBatch * 100;
        });
    }

    [Fact]
    public void Activations()
    {
        var x = Naive.Random(13, B, 4);
        for (int j = 0; j < 4; j++) x[0, j] = new[] { 30f, -30f, 0f, 1e-3f }[j];   // softplus/elu extremes
        Naive.AssertAll(Model.Activations(x), new long[] { B, 4 }, i =>
        {
            double v = x[i[0], i[1]];
            double leaky = v > 0 ? v : 0.2 * v, leakyDefault = v > 0 ? v : 0.01 * v;
            double gelu = 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            double elu = v > 0 ? v : 0.7 * (Math.Exp(v) - 1);
            double softplus = Math.Log(1 + Math.Exp(v));
            double silu = v / (1 + Math.Exp(-v));
            return leaky + 2 * leakyDefault + 4 * gelu + 8 * elu + 16 * softplus + 32 * silu;
        });
    }

    [Fact]
    public void LayerNormOverTheLastAxis()
    {
        var x = Naive.Random(14, B, 6);
        var p = Model.GetParameters();
        var gamma = (Tensor<float>)p["gamma"];
        var beta = (Tensor<float>)p["beta"];
        Naive.AssertAll(Model.Normalized(x), new long[] { B, 6 }, i =>
        {
            var row = Enumerable.Range(0, 6).Select(j => (double)x[i[0], j]).ToArray();
            double m = row.Average(), v = row.Sum(e => (e - m) * (e - m)) / 6;
            return (row[i[1]] - m) / Math.Sqrt(v + 1e-3) * gamma[i[1]] + beta[i[1]];
        }, 1e-4);
    }

    /// <summary>The model's own C# methods, run on the host: every member goes through its eager path (Eager.Run with
    /// the same lowering), which must agree with the generator's program.</summary>
    [Fact]
    public void EagerExecutionOfTheSameMethodsAgrees()
    {
        var host = Model.ToModel();
        var x = Naive.Random(15, B, 4);
        var y = Naive.Random(16, B, 4);
        var x6 = Naive.Random(17, B, 6);
        Naive.AssertSame(Model.Slices(Naive.Random(18, B, 10)), host.Slices(Naive.Random(18, B, 10)));
        Naive.AssertSame(Model.Stacked(x.Slice(1, 0, 3), y.Slice(1, 1)), host.Stacked(x.Slice(1, 0, 3), y.Slice(1, 1)));
        Naive.AssertSame(Model.Padded(x), host.Padded(x));
        Naive.AssertSame(Model.Reversed(x6.Reshape(B, 2, 3)), host.Reversed(x6.Reshape(B, 2, 3)));
        Naive.AssertSame(Model.Rounding(x, y), host.Rounding(x, y));
        Naive.AssertSame(Model.Logic(x, y), host.Logic(x, y));
        var x12 = Naive.Random(20, B, 2, 3, 2);
        Naive.AssertSame(Model.Flat(x12), host.Flat(x12));
        var idx = Ints(new long[] { 3 }, 5, 0, 3);
        Naive.AssertSame(Model.Taken(x6, idx), host.Taken(x6, idx));
        var ids = Ints(new long[] { 2, 2 }, 1, 3, 4, 0);
        Naive.AssertSame(Model.Embed(ids), host.Embed(ids));
        Naive.AssertSame(Model.OneHots(ids.Reshape(4)), host.OneHots(ids.Reshape(4)));
        var starts = Ints(new long[] { 2 }, 2, 1);
        Naive.AssertSame(Model.Dynamic(starts), host.Dynamic(starts));
        Naive.AssertSame(Model.Stats(x6), host.Stats(x6));
        Naive.AssertSame(Model.Activations(x), host.Activations(x));
        Naive.AssertSame(Model.Normalized(x6), host.Normalized(x6));
    }

    [Fact]
    public void EagerShapeErrorsAreThePhrasesOfTheCall()
    {
        var x = Naive.Random(19, 3, 4);
        Assert.Equal("Slice: [3:1] of axis 1 (size 4) of f32[3,4] is empty", Assert.Throws<Ops.ShapeException>(() => x.Slice(1, 3, 1)).Message);
        Assert.Equal("Slice: step 0 must be at least 1 (use Reverse to flip an axis)", Assert.Throws<Ops.ShapeException>(() => x.Slice(0, 0, null, 0)).Message);
        Assert.Equal("Concat: part 1 f32[3,3] differs from part 0 f32[3,4] in dimension 1 (only axis 0 may differ)",
            Assert.Throws<Ops.ShapeException>(() => Tensor.Concat(0, x, x.Slice(1, 0, 3))).Message);
        Assert.Equal("Pad: needs one amount per dimension of f32[3,4] (2), got 1 before and 2 after",
            Assert.Throws<Ops.ShapeException>(() => x.Pad(new[] { 1 }, new[] { 1, 1 })).Message);
        Assert.Equal("&: needs bool or integer tensors, got f32[3,4]", Assert.Throws<Ops.ShapeException>(() => x & x).Message);
        Assert.Equal("Take: indices must be integers, got f32[3,4]", Assert.Throws<Ops.ShapeException>(() => x.Take(x, 1)).Message);
        Assert.Equal("Reverse: axis listed twice in (1, -1)", Assert.Throws<Ops.ShapeException>(() => x.Reverse(1, -1)).Message);
    }
}
