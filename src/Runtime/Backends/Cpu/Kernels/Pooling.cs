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

    /// <summary>The windows tile the image exactly: no padding, stride = size and nothing left over, so every input
    /// element lies in exactly one window (a 2x2 max-pool of an even image).</summary>
    public bool Tiles { get; private init; }

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
        bool tiles = oh * kh == g.InDims[hd] && ow * kw == g.InDims[wd];
        for (long i = 0; i < hi.Length && tiles; i++) tiles = hi[i] == i;
        for (long i = 0; i < wi.Length && tiles; i++) tiles = wi[i] == i;
        return new PoolShape(batch, g.InDims[hd], g.InDims[wd], oh, ow, (int)kh, (int)kw, inner, hi, wi) { Tiles = tiles };
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
        var reducer = ReducerOf<T, TOp>();
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
                            // whole vectors of lanes accumulate in a register; the rest as rows of spans
                            long done = reducer == WindowReducer.None ? 0
                                : WindowVectors(ref Unsafe.Add(ref x0, (nint)xb), offsets[..m], ref Unsafe.Add(ref o0, (nint)ob), inner, init, reducer, swapped);
                            if (done == inner) continue;
                            var a = MemoryMarshal.CreateSpan(ref Unsafe.Add(ref o0, (nint)(ob + done)), (int)(inner - done));
                            a.Fill(init);
                            for (int w = 0; w < m; w++)
                            {
                                var row = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref x0, (nint)(xb + offsets[w] + done)), (int)(inner - done));
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

    enum WindowReducer { None, Max, Add }

    /// <summary>The reducers <see cref="WindowVectors"/> computes as the span ops do: f32/f64 maximum (TensorPrimitives'
    /// maximum is the vector one: NaN wins, +0 over -0) and add.</summary>
    static WindowReducer ReducerOf<T, TOp>()
    {
        if (!Vector512.IsHardwareAccelerated && !Vector256.IsHardwareAccelerated || typeof(T) != typeof(float) && typeof(T) != typeof(double)) return WindowReducer.None;
        if (typeof(TOp) == typeof(FloatMaxOp<float>) || typeof(TOp) == typeof(FloatMaxOp<double>)) return WindowReducer.Max;
        if (typeof(TOp) == typeof(AddOp<float>) || typeof(TOp) == typeof(AddOp<double>)) return WindowReducer.Add;
        return WindowReducer.None;
    }

    /// <summary>The whole vectors of one window position's lanes: acc = init, then acc = op(acc, row) per window row in
    /// order, in a register (the span path's order and rounding, one store instead of a pass per row). Returns how
    /// many lanes it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long WindowVectors<T>(ref T x, ReadOnlySpan<long> offsets, ref T o, long inner, T init, WindowReducer reducer, bool swapped)
    {
        long j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var start = Vector512.Create(init);
            for (; j + Vector512<T>.Count <= inner; j += Vector512<T>.Count)
            {
                var acc = start;
                foreach (long off in offsets)
                {
                    var v = Vector512.LoadUnsafe(ref x, (nuint)(off + j));
                    acc = reducer == WindowReducer.Max ? (swapped ? Vector512.Max(v, acc) : Vector512.Max(acc, v)) : (swapped ? v + acc : acc + v);
                }
                acc.StoreUnsafe(ref o, (nuint)j);
            }
        }
        var start256 = Vector256.Create(init);
        for (; j + Vector256<T>.Count <= inner; j += Vector256<T>.Count)
        {
            var acc = start256;
            foreach (long off in offsets)
            {
                var v = Vector256.LoadUnsafe(ref x, (nuint)(off + j));
                acc = reducer == WindowReducer.Max ? (swapped ? Vector256.Max(v, acc) : Vector256.Max(acc, v)) : (swapped ? v + acc : acc + v);
            }
            acc.StoreUnsafe(ref o, (nuint)j);
        }
        return j;
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
        // windows that tile the image: each result element is written once (init, or init plus its source) instead of
        // filled with init first and updated in place
        bool direct = ps.Tiles;
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
                    if (!direct) MemoryMarshal.CreateSpan(ref oi, (int)inImage).Fill(init);
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
                                        offsets[..m], inner, selectSwapped, scatterSwapped, Unsafe.As<TS, float>(ref init), direct);
                                }
                                else
                                {
                                    j = Lanes<double, long, TDir>(ref Unsafe.As<T, double>(ref xi), ref Unsafe.As<TS, double>(ref si), ref Unsafe.As<TS, double>(ref oi),
                                        offsets[..m], inner, selectSwapped, scatterSwapped, Unsafe.As<TS, double>(ref init), direct);
                                }
                            }
                            if (direct)
                            {
                                for (int w = 0; w < m; w++) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref oi, (nint)(offsets[w] + j)), (int)(inner - j)).Fill(init);
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
    /// window row (only the chosen row's lanes change; with <paramref name="direct"/> every row is written, from
    /// <paramref name="init"/> instead of its old value). Returns how many lanes it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Lanes<TV, TI, TDir>(ref TV x, ref TV s, ref TV o, ReadOnlySpan<long> offsets, long inner, bool selectSwapped, bool scatterSwapped,
        TV init, bool direct)
        where TV : unmanaged where TI : unmanaged, IBinaryInteger<TI> where TDir : struct, ICompareDirection
    {
        int m = offsets.Length;
        long j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var start = Vector512.Create(init);
            for (; j + Vector512<TV>.Count <= inner; j += Vector512<TV>.Count)
            {
                var best = Vector512.LoadUnsafe(ref x, (nuint)(offsets[0] + j));
                var at = Vector512<TI>.Zero;
                for (int w = 1; w < m; w++)
                {
                    var v = Vector512.LoadUnsafe(ref x, (nuint)(offsets[w] + j));
                    var keep = selectSwapped ? Simd.Mask512<TV, TDir>(v, best) : Simd.Mask512<TV, TDir>(best, v);
                    best = Vector512.ConditionalSelect(keep, best, v);
                    at = Vector512.ConditionalSelect(keep.As<TV, TI>(), at, Vector512.Create(TI.CreateTruncating(w)));
                }
                var sv = Vector512.LoadUnsafe(ref s, (nuint)j);
                for (int w = 0; w < m; w++)
                {
                    nuint k = (nuint)(offsets[w] + j);
                    var cur = direct ? start : Vector512.LoadUnsafe(ref o, k);
                    var sum = scatterSwapped ? sv + cur : cur + sv;
                    var hit = Vector512.Equals(at, Vector512.Create(TI.CreateTruncating(w))).As<TI, TV>();
                    Vector512.ConditionalSelect(hit, sum, cur).StoreUnsafe(ref o, k);
                }
            }
        }
        var start256 = Vector256.Create(init);
        for (; j + Vector256<TV>.Count <= inner; j += Vector256<TV>.Count)
        {
            var best = Vector256.LoadUnsafe(ref x, (nuint)(offsets[0] + j));
            var at = Vector256<TI>.Zero;
            for (int w = 1; w < m; w++)
            {
                var v = Vector256.LoadUnsafe(ref x, (nuint)(offsets[w] + j));
                var keep = selectSwapped ? Simd.Mask256<TV, TDir>(v, best) : Simd.Mask256<TV, TDir>(best, v);
                best = Vector256.ConditionalSelect(keep, best, v);
                at = Vector256.ConditionalSelect(keep.As<TV, TI>(), at, Vector256.Create(TI.CreateTruncating(w)));
            }
            var sv = Vector256.LoadUnsafe(ref s, (nuint)j);
            for (int w = 0; w < m; w++)
            {
                nuint k = (nuint)(offsets[w] + j);
                var cur = direct ? start256 : Vector256.LoadUnsafe(ref o, k);
                var sum = scatterSwapped ? sv + cur : cur + sv;
                var hit = Vector256.Equals(at, Vector256.Create(TI.CreateTruncating(w))).As<TI, TV>();
                Vector256.ConditionalSelect(hit, sum, cur).StoreUnsafe(ref o, k);
            }
        }
        return j;
    }
}
