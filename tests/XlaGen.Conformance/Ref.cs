using System.Globalization;

namespace XlaGen.Tests.Conformance;

/// <summary>
/// Naive reference semantics for the conformance suite, written from XLA's operation semantics as plain loops over
/// multi-indices. Deliberately simple and independent of the executor (no strides tricks, no collapsing).
/// </summary>
public static partial class Ref
{
    // ---- tensors ----

    public static Tensor<T> T<T>(T[] data, params long[] dims) where T : unmanaged => Tensor<T>.FromArray(data, dims);

    public static Tensor<T> Scalar<T>(T v) where T : unmanaged => Tensor<T>.Scalar(v);

    public static long Count(IReadOnlyList<long> dims) => dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>Every multi-index of <paramref name="dims"/> in row-major order.</summary>
    public static IEnumerable<long[]> Indices(IReadOnlyList<long> dims)
    {
        long n = Count(dims);
        for (long i = 0; i < n; i++) yield return Unravel(dims, i);
    }

    public static long[] Unravel(IReadOnlyList<long> dims, long linear)
    {
        var idx = new long[dims.Count];
        for (int d = dims.Count - 1; d >= 0; d--)
        {
            idx[d] = linear % dims[d];
            linear /= dims[d];
        }
        return idx;
    }

    public static long Ravel(IReadOnlyList<long> dims, IReadOnlyList<long> idx)
    {
        long r = 0;
        for (int d = 0; d < dims.Count; d++) r = r * dims[d] + idx[d];
        return r;
    }

    public static string IndexText(IReadOnlyList<long> dims, long linear) =>
        "[" + string.Join(",", Unravel(dims, linear).Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]";

    // ---- generators ----

    public static float[] RandomF32(int seed, int n, float lo = -2, float hi = 2)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(lo + r.NextDouble() * (hi - lo))).ToArray();
    }

    public static double[] RandomF64(int seed, int n, double lo = -2, double hi = 2)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + r.NextDouble() * (hi - lo)).ToArray();
    }

    public static int[] RandomS32(int seed, int n, int lo = -50, int hi = 50)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => r.Next(lo, hi)).ToArray();
    }

    // ---- elementwise ----

    public static Tensor<R> Map<TA, R>(Tensor<TA> a, Func<TA, R> f) where TA : unmanaged where R : unmanaged =>
        new(a.Shape, a.Data.Select(f).ToArray());

    public static Tensor<R> Zip<TA, TB, R>(Tensor<TA> a, Tensor<TB> b, Func<TA, TB, R> f) where TA : unmanaged where TB : unmanaged where R : unmanaged =>
        new(a.Shape, a.Data.Zip(b.Data, f).ToArray());

    // ---- structural ----

    /// <summary>result[i] = x[i mapped through dims]: operand dim j is result dim map[j].</summary>
    public static Tensor<T> Broadcast<T>(Tensor<T> x, long[] resultDims, long[] map) where T : unmanaged
    {
        var r = new T[Count(resultDims)];
        foreach (var idx in Indices(resultDims))
        {
            var src = new long[x.Rank];
            for (int j = 0; j < map.Length; j++) src[j] = x.Shape[j] == 1 ? 0 : idx[map[j]];
            r[Ravel(resultDims, idx)] = x.Data[Ravel(x.Shape, src)];
        }
        return new Tensor<T>(resultDims, r);
    }

    /// <summary>result dim i = operand dim perm[i].</summary>
    public static Tensor<T> Transpose<T>(Tensor<T> x, long[] perm) where T : unmanaged
    {
        var dims = perm.Select(p => x.Shape[(int)p]).ToArray();
        var r = new T[x.ElementCount];
        foreach (var idx in Indices(dims))
        {
            var src = new long[x.Rank];
            for (int i = 0; i < perm.Length; i++) src[perm[i]] = idx[i];
            r[Ravel(dims, idx)] = x.Data[Ravel(x.Shape, src)];
        }
        return new Tensor<T>(dims, r);
    }

    public static Tensor<T> Reverse<T>(Tensor<T> x, long[] axes) where T : unmanaged
    {
        var r = new T[x.ElementCount];
        foreach (var idx in Indices(x.Shape))
        {
            var src = (long[])idx.Clone();
            foreach (var a in axes) src[a] = x.Shape[(int)a] - 1 - idx[a];
            r[Ravel(x.Shape, idx)] = x.Data[Ravel(x.Shape, src)];
        }
        return new Tensor<T>(x.Shape, r);
    }

    public static Tensor<T> Slice<T>(Tensor<T> x, long[] start, long[] limit, long[] stride) where T : unmanaged
    {
        var dims = start.Select((s, i) => (limit[i] - s + stride[i] - 1) / stride[i]).ToArray();
        var r = new T[Count(dims)];
        foreach (var idx in Indices(dims))
        {
            var src = idx.Select((v, i) => start[i] + v * stride[i]).ToArray();
            r[Ravel(dims, idx)] = x.Data[Ravel(x.Shape, src)];
        }
        return new Tensor<T>(dims, r);
    }

    public static Tensor<T> Concatenate<T>(long axis, params Tensor<T>[] parts) where T : unmanaged
    {
        var dims = parts[0].Shape.ToArray();
        dims[axis] = parts.Sum(p => p.Shape[(int)axis]);
        var r = new T[Count(dims)];
        foreach (var idx in Indices(dims))
        {
            long k = idx[axis];
            int part = 0;
            while (k >= parts[part].Shape[(int)axis])
            {
                k -= parts[part].Shape[(int)axis];
                part++;
            }
            var src = (long[])idx.Clone();
            src[axis] = k;
            r[Ravel(dims, idx)] = parts[part].Data[Ravel(parts[part].Shape, src)];
        }
        return new Tensor<T>(dims, r);
    }

    /// <summary>XLA pad: operand element i of a dim lands at low + i·(interior+1); positions outside the result
    /// (negative low/high) are dropped; every other position holds the pad value.</summary>
    public static Tensor<T> Pad<T>(Tensor<T> x, T value, (long Low, long High, long Interior)[] config) where T : unmanaged
    {
        var dims = x.Shape.Select((n, i) => config[i].Low + config[i].High + n + Math.Max(0, n - 1) * config[i].Interior).ToArray();
        var r = Enumerable.Repeat(value, (int)Count(dims)).ToArray();
        foreach (var idx in Indices(x.Shape))
        {
            var dst = idx.Select((v, i) => config[i].Low + v * (config[i].Interior + 1)).ToArray();
            if (dst.Where((v, i) => v < 0 || v >= dims[i]).Any()) continue;
            r[Ravel(dims, dst)] = x.Data[Ravel(x.Shape, idx)];
        }
        return new Tensor<T>(dims, r);
    }

    public static Tensor<T> Iota<T>(long[] dims, int axis, Func<long, T> of) where T : unmanaged =>
        new(dims, Indices(dims).Select(idx => of(idx[axis])).ToArray());

    // ---- dot ----

    /// <summary>DotGeneral by definition: result[batch, lhsFree, rhsFree] = Σ over contracting indices of lhs·rhs,
    /// accumulated in <typeparamref name="R"/> after converting each operand element.</summary>
    public static Tensor<R> Dot<TA, TB, R>(Tensor<TA> lhs, Tensor<TB> rhs, long[] lc, long[] rc, long[] lb, long[] rb,
        Func<TA, R> ca, Func<TB, R> cb, Func<R, R, R> add, Func<R, R, R> mul) where TA : unmanaged where TB : unmanaged where R : unmanaged
    {
        var lFree = Enumerable.Range(0, lhs.Rank).Where(d => !lc.Contains(d) && !lb.Contains(d)).ToArray();
        var rFree = Enumerable.Range(0, rhs.Rank).Where(d => !rc.Contains(d) && !rb.Contains(d)).ToArray();
        var dims = lb.Select(d => lhs.Shape[(int)d]).Concat(lFree.Select(d => lhs.Shape[d])).Concat(rFree.Select(d => rhs.Shape[d])).ToArray();
        var cDims = lc.Select(d => lhs.Shape[(int)d]).ToArray();
        var r = new R[Count(dims)];
        foreach (var idx in Indices(dims))
        {
            var li = new long[lhs.Rank];
            var ri = new long[rhs.Rank];
            int at = 0;
            for (int j = 0; j < lb.Length; j++, at++)
            {
                li[lb[j]] = idx[at];
                ri[rb[j]] = idx[at];
            }
            foreach (var d in lFree) li[d] = idx[at++];
            foreach (var d in rFree) ri[d] = idx[at++];
            R sum = default;
            foreach (var k in Indices(cDims))
            {
                for (int j = 0; j < lc.Length; j++)
                {
                    li[lc[j]] = k[j];
                    ri[rc[j]] = k[j];
                }
                sum = add(sum, mul(ca(lhs.Data[Ravel(lhs.Shape, li)]), cb(rhs.Data[Ravel(rhs.Shape, ri)])));
            }
            r[Ravel(dims, idx)] = sum;
        }
        return new Tensor<R>(dims, r);
    }

    public static Tensor<float> DotF32(Tensor<float> lhs, Tensor<float> rhs, long[] lc, long[] rc, long[]? lb = null, long[]? rb = null) =>
        Dot(lhs, rhs, lc, rc, lb ?? Array.Empty<long>(), rb ?? Array.Empty<long>(), x => (double)x, y => (double)y, (a, b) => a + b, (a, b) => a * b)
            is var d ? Map(d, v => (float)v) : throw new InvalidOperationException();

    // ---- reduce ----

    /// <summary>Reduces <paramref name="axes"/> in row-major order of the reduced elements: acc = f(acc, x).</summary>
    public static Tensor<T> Reduce<T>(Tensor<T> x, long[] axes, T init, Func<T, T, T> f) where T : unmanaged
    {
        var keep = Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)).ToArray();
        var dims = keep.Select(d => x.Shape[d]).ToArray();
        var r = Enumerable.Repeat(init, (int)Count(dims)).ToArray();
        foreach (var idx in Indices(x.Shape))
        {
            long o = Ravel(dims, keep.Select(d => idx[d]).ToArray());
            r[o] = f(r[o], x.Data[Ravel(x.Shape, idx)]);
        }
        return new Tensor<T>(dims, r);
    }

    // ---- sort ----

    /// <summary>Stable sort of every slice along <paramref name="axis"/> by <paramref name="less"/> on positions.</summary>
    public static long[][] SortPermutations(IReadOnlyList<long> dims, int axis, Func<long, long, bool> less)
    {
        var outer = dims.Where((_, i) => i != axis).ToArray();
        var result = new List<long[]>();
        foreach (var o in Indices(outer))
        {
            long Pos(long k)
            {
                var idx = new List<long>(o);
                idx.Insert(axis, k);
                return Ravel(dims, idx);
            }
            var positions = Enumerable.Range(0, (int)dims[axis]).Select(k => Pos(k)).ToList();
            // insertion sort: stable, uses only less(a, b)
            var sorted = new List<long>();
            foreach (var p in positions)
            {
                int at = sorted.Count;
                while (at > 0 && less(p, sorted[at - 1])) at--;
                sorted.Insert(at, p);
            }
            result.Add(positions.Concat(sorted).ToArray());
        }
        return result.ToArray();
    }

    /// <summary>Applies permutations from <see cref="SortPermutations"/> to a tensor.</summary>
    public static Tensor<T> Permute<T>(Tensor<T> x, long[][] perms) where T : unmanaged
    {
        var r = new T[x.ElementCount];
        foreach (var p in perms)
        {
            int n = p.Length / 2;
            for (int i = 0; i < n; i++) r[p[i]] = x.Data[p[n + i]];
        }
        return new Tensor<T>(x.Shape, r);
    }
}
