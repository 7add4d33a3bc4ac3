using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// The pooling layout the direct reduce-window and select-and-scatter kernels handle: the window moves over two
/// dims (H, W), every dim before them is left alone (batch), and the dims after them are the row of lanes (NHWC
/// channels). Any padding, stride and window size work; the per-dim input indices come from
/// <see cref="WindowGeometry"/>, so a window position's elements are visited in the same row-major order (padding
/// skipped) as the generic kernels visit them.
/// </summary>
internal sealed class PoolShape
{
    /// <summary>Which kernel a reduce-window / select-and-scatter compiles to (tests compare them bitwise).</summary>
    internal enum Path
    {
        /// <summary>The direct pooling kernel where the shape allows, else the next.</summary>
        Direct,

        /// <summary>The op-struct kernel over rows of lanes (any window over leading dims).</summary>
        Rows,

        /// <summary>The scalar-program kernel (any computation).</summary>
        Generic,
    }

    [ThreadStatic]
    static Path forced;

    /// <summary>The kernel kind that reduce-window and select-and-scatter compiled on this thread use.</summary>
    internal static Path Forced => forced;

    /// <summary>Until disposed, reduce-window and select-and-scatter compiled on this thread use <paramref name="path"/>
    /// (or a more general one where it does not apply).</summary>
    internal static IDisposable ForceForTesting(Path path)
    {
        var saved = forced;
        forced = path;
        return new Restore(saved);
    }

    sealed class Restore(Path saved) : IDisposable
    {
        public void Dispose() => forced = saved;
    }

    readonly long[] hIndex, wIndex;

    PoolShape(long batch, long h, long w, long oh, long ow, int kh, int kw, long inner, long[] hIndex, long[] wIndex)
    {
        Batch = batch;
        H = h;
        W = w;
        OH = oh;
        OW = ow;
        KH = kh;
        KW = kw;
        Inner = inner;
        this.hIndex = hIndex;
        this.wIndex = wIndex;
    }

    public long Batch { get; }

    public long H { get; }

    public long W { get; }

    public long OH { get; }

    public long OW { get; }

    public int KH { get; }

    public int KW { get; }

    /// <summary>Lanes per spatial position (product of the dims after H and W).</summary>
    public long Inner { get; }

    /// <summary>Window elements per position, padding included.</summary>
    public int WindowSize => KH * KW;

    /// <summary>The pooling shape of a window whose first <paramref name="lead"/> dims are the windowed ones, or null
    /// when a dim before the last two of them is windowed or the shapes are too large for int row offsets.</summary>
    public static PoolShape? Of(WindowGeometry g, IReadOnlyList<WindowDimension> window, int lead)
    {
        if (forced != Path.Direct || lead < 2) return null;
        for (int d = 0; d < lead - 2; d++)
        {
            if (!XlaGen.Ops.WindowShapes.IsIdentity(window[d])) return null;
        }
        int hd = lead - 2, wd = lead - 1;
        long batch = 1;
        for (int d = 0; d < hd; d++) batch *= g.InDims[d];
        long inner = 1;
        for (int d = lead; d < g.Rank; d++) inner *= g.InDims[d];
        long kh = g.Sizes[hd], kw = g.Sizes[wd];
        if (kh * kw > 1 << 12 || kh * kw == 0) return null;
        long oh = g.OutDims[hd], ow = g.OutDims[wd];
        var hi = new long[oh * kh];
        var wi = new long[ow * kw];
        for (long o = 0; o < oh; o++)
        {
            for (long k = 0; k < kh; k++) hi[o * kh + k] = g.Index(hd, o, k);
        }
        for (long o = 0; o < ow; o++)
        {
            for (long k = 0; k < kw; k++) wi[o * kw + k] = g.Index(wd, o, k);
        }
        return new PoolShape(batch, g.InDims[hd], g.InDims[wd], oh, ow, (int)kh, (int)kw, inner, hi, wi);
    }

    /// <summary>Writes the in-bounds window elements of output position (<paramref name="oh"/>, <paramref name="ow"/>)
    /// as element offsets (h·W + w)·Inner into one image, in row-major window order; returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Window(long oh, long ow, Span<long> offsets)
    {
        int m = 0;
        for (int a = 0; a < KH; a++)
        {
            long h = hIndex[oh * KH + a];
            if (h < 0) continue;
            for (int b = 0; b < KW; b++)
            {
                long w = wIndex[ow * KW + b];
                if (w < 0) continue;
                offsets[m++] = (h * W + w) * Inner;
            }
        }
        return m;
    }

    /// <summary>Runs <paramref name="body"/> over image ranges, split across the cores when the work is large (images
    /// never share output elements, so each element's updates keep their order).</summary>
    public void ForBatches(long grain, Action<long, long> body)
    {
        long perImage = Math.Max(1, OH * OW * WindowSize * Inner);
        if (Batch >= 2 && Par.Worth(Batch * perImage, grain)) Par.For(Batch, Math.Max(1, grain / perImage), body);
        else if (Batch > 0) body(0, Batch);
    }
}

/// <summary>The direct pooling kernels (see <see cref="PoolShape"/>).</summary>
internal static class Pooling
{
    /// <summary>reduce-window with a binary op reducer: per output position, acc = init, then acc = op(acc, row) for each
    /// in-bounds window row in order (op(row, acc) when swapped) — the same op calls as the rows kernel.</summary>
    public static Kernel ReduceWindow<T, TOp>(PoolShape ps, int input, int initSlot, int dst, int count, bool swapped)
        where T : unmanaged where TOp : struct, IBinaryOp<T>
    {
        long inner = ps.Inner;
        long inImage = ps.H * ps.W * inner, outImage = ps.OH * ps.OW * inner;
        int windowSize = ps.WindowSize;
        return f =>
        {
            var x = (T[])f.Data[input]!;
            T init = ((T[])f.Data[initSlot]!)[0];
            var o = f.Alloc<T>(dst, count);
            if (count == 0) return;
            void Range(long lo, long hi)
            {
                Span<long> offsets = stackalloc long[windowSize];
                var poll = new WorkPoll();
                ref T x0 = ref MemoryMarshal.GetArrayDataReference(x);
                ref T o0 = ref MemoryMarshal.GetArrayDataReference(o);
                for (long r = lo; r < hi; r++)
                {
                    long b = r / ps.OH, oh = r % ps.OH;
                    long xb = b * inImage, ob = b * outImage + oh * ps.OW * inner;
                    {
                        poll.Add(ps.OW * windowSize * inner + 1);
                        for (long ow = 0; ow < ps.OW; ow++, ob += inner)
                        {
                            int m = ps.Window(oh, ow, offsets);
                            if (inner == 1)
                            {
                                T acc = init;
                                if (swapped)
                                {
                                    for (int w = 0; w < m; w++) acc = TOp.Apply(Unsafe.Add(ref x0, (nint)(xb + offsets[w])), acc);
                                }
                                else
                                {
                                    for (int w = 0; w < m; w++) acc = TOp.Apply(acc, Unsafe.Add(ref x0, (nint)(xb + offsets[w])));
                                }
                                Unsafe.Add(ref o0, (nint)ob) = acc;
                                continue;
                            }
                            var a = MemoryMarshal.CreateSpan(ref Unsafe.Add(ref o0, (nint)ob), (int)inner);
                            a.Fill(init);
                            for (int w = 0; w < m; w++)
                            {
                                var row = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref x0, (nint)(xb + offsets[w])), (int)inner);
                                if (TOp.Vectorized)
                                {
                                    if (swapped) TOp.ApplySpan(row, a, a);
                                    else TOp.ApplySpan(a, row, a);
                                }
                                else if (swapped)
                                {
                                    for (int i = 0; i < a.Length; i++) a[i] = TOp.Apply(row[i], a[i]);
                                }
                                else
                                {
                                    for (int i = 0; i < a.Length; i++) a[i] = TOp.Apply(a[i], row[i]);
                                }
                            }
                        }
                    }
                }
            }
            // Output rows are independent: split over (image, output row) pairs, so one large image splits too.
            long rows = ps.Batch * ps.OH, perRow = Math.Max(1, ps.OW * windowSize * inner);
            if (rows >= 2 && Par.Worth(rows * perRow, Par.CheapGrain)) Par.For(rows, Math.Max(1, Par.CheapGrain / perRow), Range);
            else if (rows > 0) Range(0, rows);
        };
    }

    /// <summary>select-and-scatter with select a plain compare and scatter a binary op. Per image: the result is
    /// filled with init, then each source position in row-major order picks, per lane, the first in-bounds window
    /// element and replaces it with a later one e only when select(chosen, e) is false, and adds its source value
    /// into the chosen element — exactly the rows kernel's order, so overlapping windows accumulate identically.
    /// f32 and f64 with a by-value compare and add scatter run the lanes as 256-bit vectors.</summary>
    public static Kernel SelectAndScatter<T, TKey, TKeyFn, TDir, TS, TOp>(PoolShape ps, int operand, int source, int initSlot, int dst, int count,
        bool selectSwapped, bool scatterSwapped)
        where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool> where TKeyFn : struct, ICompareKey<T, TKey>
        where TDir : struct, ICompareDirection where TS : unmanaged where TOp : struct, IBinaryOp<TS>
    {
        long inner = ps.Inner;
        long inImage = ps.H * ps.W * inner, srcImage = ps.OH * ps.OW * inner;
        int windowSize = ps.WindowSize;
        bool vector = Vector256.IsHardwareAccelerated && typeof(T) == typeof(TS) && typeof(TKeyFn) == typeof(IdentityKey<T>)
            && (typeof(T) == typeof(float) && typeof(TOp) == typeof(AddOp<float>) || typeof(T) == typeof(double) && typeof(TOp) == typeof(AddOp<double>));
        return f =>
        {
            var x = (T[])f.Data[operand]!;
            var s = (TS[])f.Data[source]!;
            TS init = ((TS[])f.Data[initSlot]!)[0];
            var o = f.Alloc<TS>(dst, count);
            if (count == 0) return;
            if (s.Length == 0)
            {
                o.AsSpan().Fill(init);
                return;
            }
            void Range(long lo, long hi)
            {
                Span<long> offsets = stackalloc long[windowSize];
                var poll = new WorkPoll();
                ref T x0 = ref MemoryMarshal.GetArrayDataReference(x);
                ref TS s0 = ref MemoryMarshal.GetArrayDataReference(s);
                ref TS o0 = ref MemoryMarshal.GetArrayDataReference(o);
                for (long b = lo; b < hi; b++)
                {
                    long xb = b * inImage, sb = b * srcImage;
                    ref T xi = ref Unsafe.Add(ref x0, (nint)xb);
                    ref TS oi = ref Unsafe.Add(ref o0, (nint)xb);
                    MemoryMarshal.CreateSpan(ref oi, (int)inImage).Fill(init);
                    for (long oh = 0; oh < ps.OH; oh++)
                    {
                        poll.Add(ps.OW * windowSize * inner + 1);
                        for (long ow = 0; ow < ps.OW; ow++, sb += inner)
                        {
                            int m = ps.Window(oh, ow, offsets);
                            if (m == 0) continue;
                            ref TS si = ref Unsafe.Add(ref s0, (nint)sb);
                            long j = 0;
                            if (vector)
                            {
                                if (typeof(T) == typeof(float))
                                {
                                    j = Lanes<float, int, TDir>(ref Unsafe.As<T, float>(ref xi), ref Unsafe.As<TS, float>(ref si), ref Unsafe.As<TS, float>(ref oi),
                                        offsets[..m], inner, selectSwapped, scatterSwapped);
                                }
                                else
                                {
                                    j = Lanes<double, long, TDir>(ref Unsafe.As<T, double>(ref xi), ref Unsafe.As<TS, double>(ref si), ref Unsafe.As<TS, double>(ref oi),
                                        offsets[..m], inner, selectSwapped, scatterSwapped);
                                }
                            }
                            for (; j < inner; j++)
                            {
                                T best = Unsafe.Add(ref xi, (nint)(offsets[0] + j));
                                int at = 0;
                                for (int w = 1; w < m; w++)
                                {
                                    T v = Unsafe.Add(ref xi, (nint)(offsets[w] + j));
                                    bool keep = selectSwapped ? TDir.Test(TKeyFn.Key(v), TKeyFn.Key(best)) : TDir.Test(TKeyFn.Key(best), TKeyFn.Key(v));
                                    if (!keep)
                                    {
                                        best = v;
                                        at = w;
                                    }
                                }
                                ref TS d = ref Unsafe.Add(ref oi, (nint)(offsets[at] + j));
                                TS sv = Unsafe.Add(ref si, (nint)j);
                                d = scatterSwapped ? TOp.Apply(sv, d) : TOp.Apply(d, sv);
                            }
                        }
                    }
                }
            }
            ps.ForBatches(Par.CheapGrain, Range);
        };
    }

    /// <summary>The vector prefix of one source position's lanes: select by compare, then a masked add into every
    /// window row (only the chosen row's lanes change). Returns how many lanes it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Lanes<TV, TI, TDir>(ref TV x, ref TV s, ref TV o, ReadOnlySpan<long> offsets, long inner, bool selectSwapped, bool scatterSwapped)
        where TV : unmanaged where TI : unmanaged, IBinaryInteger<TI> where TDir : struct, ICompareDirection
    {
        int step = Vector256<TV>.Count;
        int m = offsets.Length;
        long j = 0;
        for (; j + step <= inner; j += step)
        {
            var best = Vector256.LoadUnsafe(ref x, (nuint)(offsets[0] + j));
            var at = Vector256<TI>.Zero;
            for (int w = 1; w < m; w++)
            {
                var v = Vector256.LoadUnsafe(ref x, (nuint)(offsets[w] + j));
                var keep = selectSwapped ? Mask<TV, TDir>(v, best) : Mask<TV, TDir>(best, v);
                best = Vector256.ConditionalSelect(keep, best, v);
                at = Vector256.ConditionalSelect(keep.As<TV, TI>(), at, Vector256.Create(TI.CreateTruncating(w)));
            }
            var sv = Vector256.LoadUnsafe(ref s, (nuint)j);
            for (int w = 0; w < m; w++)
            {
                nuint k = (nuint)(offsets[w] + j);
                var cur = Vector256.LoadUnsafe(ref o, k);
                var sum = scatterSwapped ? sv + cur : cur + sv;
                var hit = Vector256.Equals(at, Vector256.Create(TI.CreateTruncating(w))).As<TI, TV>();
                Vector256.ConditionalSelect(hit, sum, cur).StoreUnsafe(ref o, k);
            }
        }
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<TV> Mask<TV, TDir>(Vector256<TV> a, Vector256<TV> b) where TDir : struct, ICompareDirection
    {
        if (typeof(TDir) == typeof(CmpEq)) return Vector256.Equals(a, b);
        if (typeof(TDir) == typeof(CmpNe)) return ~Vector256.Equals(a, b);
        if (typeof(TDir) == typeof(CmpLt)) return Vector256.LessThan(a, b);
        if (typeof(TDir) == typeof(CmpLe)) return Vector256.LessThanOrEqual(a, b);
        if (typeof(TDir) == typeof(CmpGt)) return Vector256.GreaterThan(a, b);
        return Vector256.GreaterThanOrEqual(a, b);
    }
}
