using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// dst[dstOffset + Σ i_k·dstStride_k] = src[srcOffset + Σ i_k·srcStride_k] over every index of <c>dims</c>: the engine
/// behind broadcast (stride 0), transpose (permuted strides), slice (scaled strides), reverse (negative strides),
/// concatenate and pad (strided destination). Built once at compile time: dims are collapsed wherever both sides stay
/// contiguous, and the innermost loop becomes a block copy, a fill, a reversed copy or, for transposes, a loop over
/// cache-sized tiles.
/// </summary>
internal sealed class StridedCopy
{
    const int Tile = 32;

    readonly long[] dims;
    readonly long[] srcStrides;
    readonly long[] dstStrides;
    readonly long srcOffset;
    readonly long dstOffset;
    readonly long outerCount;
    /// <summary>For tiled mode: the dim read with unit stride (swapped against the innermost one); -1 otherwise.</summary>
    readonly int tileDim = -1;

    public StridedCopy(IReadOnlyList<long> dims, IReadOnlyList<long> srcStrides, IReadOnlyList<long> dstStrides, long srcOffset = 0, long dstOffset = 0)
    {
        this.srcOffset = srcOffset;
        this.dstOffset = dstOffset;
        var d = new List<long>();
        var s = new List<long>();
        var t = new List<long>();
        bool empty = false;
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] == 0) empty = true;
            if (dims[i] == 1) continue;
            int last = d.Count - 1;
            if (last >= 0 && s[last] == srcStrides[i] * dims[i] && t[last] == dstStrides[i] * dims[i])
            {
                d[last] *= dims[i];
                s[last] = srcStrides[i];
                t[last] = dstStrides[i];
                continue;
            }
            d.Add(dims[i]);
            s.Add(srcStrides[i]);
            t.Add(dstStrides[i]);
        }
        if (empty)
        {
            d.Clear();
            s.Clear();
            t.Clear();
            IsEmpty = true;
        }
        if (d.Count == 0 && !empty)
        {
            d.Add(1);
            s.Add(1);
            t.Add(1);
        }
        this.dims = d.ToArray();
        this.srcStrides = s.ToArray();
        this.dstStrides = t.ToArray();
        int r = this.dims.Length;
        long outer = 1;
        for (int i = 0; i < r - 1; i++) outer *= this.dims[i];
        outerCount = IsEmpty ? 0 : outer;
        if (r >= 2 && this.srcStrides[r - 1] != 1 && this.srcStrides[r - 1] != 0 && this.dims[r - 1] >= 4)
        {
            for (int k = r - 2; k >= 0; k--)
            {
                if (this.srcStrides[k] == 1 && this.dims[k] >= 4)
                {
                    tileDim = k;
                    break;
                }
            }
        }
    }

    public bool IsEmpty { get; }

    public long ElementCount => IsEmpty ? 0 : outerCount * dims[^1];

    /// <summary>Checks (once, at compile time) that every index stays inside arrays of the given lengths.</summary>
    public void Validate(long srcLength, long dstLength)
    {
        if (IsEmpty) return;
        Check(srcOffset, srcStrides, srcLength, "source");
        Check(dstOffset, dstStrides, dstLength, "destination");
    }

    void Check(long offset, long[] strides, long length, string what)
    {
        long lo = offset, hi = offset;
        for (int i = 0; i < dims.Length; i++)
        {
            long span = (dims[i] - 1) * strides[i];
            if (span < 0) lo += span;
            else hi += span;
        }
        if (lo < 0 || hi >= length)
            throw new InvalidOperationException($"internal error: strided copy reaches {what} index {lo}..{hi} of {length}");
    }

    public void Run<T>(T[] src, T[] dst) => Run(src, dst, 0, 0);

    /// <summary>Runs the copy with both offsets moved by run-time amounts (dynamic-slice starts, gather windows);
    /// the caller guarantees the shifted copy stays inside the arrays.</summary>
    public void Run<T>(T[] src, T[] dst, long srcShift, long dstShift)
    {
        if (IsEmpty) return;
        if (tileDim >= 0)
        {
            RunTiled(src, dst, srcShift, dstShift);
            return;
        }
        long inner = dims[^1];
        long work = outerCount * inner;
        if (!Par.Worth(work, Par.CheapGrain) || outerCount < 2)
        {
            RunRange(src, dst, 0, outerCount, srcShift, dstShift);
            return;
        }
        RunParallel(src, dst, inner, srcShift, dstShift); // no closure on the serial path
    }

    void RunParallel<T>(T[] src, T[] dst, long inner, long srcShift, long dstShift) =>
        Par.For(outerCount, Math.Max(1, Par.CheapGrain / inner), (lo, hi) => RunRange(src, dst, lo, hi, srcShift, dstShift));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void RunRange<T>(T[] src, T[] dst, long lo, long hi, long srcShift, long dstShift)
    {
        int r = dims.Length;
        long n = dims[r - 1], ss = srcStrides[r - 1], ds = dstStrides[r - 1];
        Span<long> idx = stackalloc long[Math.Max(1, r - 1)];
        long so = srcOffset + srcShift, d0 = dstOffset + dstShift, rem = lo;
        for (int k = r - 2; k >= 0; k--)
        {
            idx[k] = rem % dims[k];
            rem /= dims[k];
            so += idx[k] * srcStrides[k];
            d0 += idx[k] * dstStrides[k];
        }
        ref T s = ref MemoryMarshal.GetArrayDataReference(src);
        ref T d = ref MemoryMarshal.GetArrayDataReference(dst);
        for (long o = lo; o < hi; o++)
        {
            Inner(ref s, ref d, so, d0, n, ss, ds);
            for (int k = r - 2; k >= 0; k--)
            {
                so += srcStrides[k];
                d0 += dstStrides[k];
                if (++idx[k] < dims[k]) break;
                so -= srcStrides[k] * dims[k];
                d0 -= dstStrides[k] * dims[k];
                idx[k] = 0;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Inner<T>(ref T s, ref T d, long so, long dO, long n, long ss, long ds)
    {
        if (ds == 1)
        {
            var dspan = MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d, (nint)dO), (int)n);
            if (ss == 1)
            {
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref s, (nint)so), (int)n).CopyTo(dspan);
                return;
            }
            if (ss == 0)
            {
                dspan.Fill(Unsafe.Add(ref s, (nint)so));
                return;
            }
            if (ss == -1)
            {
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref s, (nint)(so - n + 1)), (int)n).CopyTo(dspan);
                dspan.Reverse();
                return;
            }
        }
        for (long i = 0; i < n; i++) Unsafe.Add(ref d, (nint)(dO + i * ds)) = Unsafe.Add(ref s, (nint)(so + i * ss));
    }

    /// <summary>Transpose-like copies: the innermost destination dim reads with a large stride while dim
    /// <see cref="tileDim"/> reads contiguously, so both are walked in Tile×Tile blocks that stay in L1.</summary>
    void RunTiled<T>(T[] src, T[] dst, long srcShift, long dstShift)
    {
        int r = dims.Length, k = tileDim;
        long rows = dims[k];
        long tileRows = (rows + Tile - 1) / Tile;
        long outer = 1;
        for (int i = 0; i < r - 1; i++)
        {
            if (i != k) outer *= dims[i];
        }
        long items = outer * tileRows;
        long perItem = Math.Min(rows, Tile) * dims[r - 1];
        if (!Par.Worth(items * perItem, Par.CheapGrain) || items < 2) TiledRange(src, dst, 0, items, tileRows, srcShift, dstShift);
        else TiledParallel(src, dst, items, perItem, tileRows, srcShift, dstShift); // no closure on the serial path
    }

    void TiledParallel<T>(T[] src, T[] dst, long items, long perItem, long tileRows, long srcShift, long dstShift)
    {
        Par.For(items, Math.Max(1, Par.CheapGrain / perItem), (lo, hi) => TiledRange(src, dst, lo, hi, tileRows, srcShift, dstShift));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void TiledRange<T>(T[] src, T[] dst, long lo, long hi, long tileRows, long srcShift, long dstShift)
    {
        int r = dims.Length, k = tileDim;
        long rows = dims[k], cols = dims[r - 1];
        nint dk = (nint)dstStrides[k], sc = (nint)srcStrides[r - 1], dc = (nint)dstStrides[r - 1];
        bool blocks = dc == 1 && Simd.CanTransposeBlocks<T>();
        int edge = Simd.BlockEdge<T>();
        ref T s = ref MemoryMarshal.GetArrayDataReference(src);
        ref T d = ref MemoryMarshal.GetArrayDataReference(dst);
        for (long item = lo; item < hi; item++)
        {
            long tr = item % tileRows, rem = item / tileRows;
            long so = srcOffset + srcShift, dO = dstOffset + dstShift;
            for (int i = r - 2; i >= 0; i--)
            {
                if (i == k) continue;
                long q = rem % dims[i];
                rem /= dims[i];
                so += q * srcStrides[i];
                dO += q * dstStrides[i];
            }
            // rows i run along the dim read contiguously (source stride 1); columns j along the destination's inner dim
            nint r0 = (nint)(tr * Tile), r1 = (nint)Math.Min(rows, r0 + Tile);
            for (nint c0 = 0; c0 < cols; c0 += Tile)
            {
                nint c1 = (nint)Math.Min(cols, c0 + Tile);
                nint iEnd = r0, jEnd = c0;
                if (blocks)
                {
                    iEnd = r0 + (r1 - r0) / edge * edge;
                    jEnd = c0 + (c1 - c0) / edge * edge;
                    for (nint i = r0; i < iEnd; i += edge)
                    {
                        for (nint j = c0; j < jEnd; j += edge)
                        {
                            Simd.TransposeBlock(ref Unsafe.Add(ref s, (nint)so + i + j * sc), sc, ref Unsafe.Add(ref d, (nint)dO + i * dk + j), dk);
                        }
                    }
                }
                // what the blocks did not cover: columns [jEnd, c1) of rows [r0, iEnd), then every column of rows [iEnd, r1)
                CopyCells(ref Unsafe.Add(ref s, (nint)so), ref Unsafe.Add(ref d, (nint)dO), r0, iEnd, jEnd, c1, dk, sc, dc);
                CopyCells(ref Unsafe.Add(ref s, (nint)so), ref Unsafe.Add(ref d, (nint)dO), iEnd, r1, c0, c1, dk, sc, dc);
            }
        }
    }

    /// <summary>d[i·dk + j·dc] = s[i + j·sc] over a rectangle, reading the contiguous source dim innermost.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyCells<T>(ref T s, ref T d, nint i0, nint i1, nint j0, nint j1, nint dk, nint sc, nint dc)
    {
        for (nint j = j0; j < j1; j++)
        {
            ref T scol = ref Unsafe.Add(ref s, j * sc);
            ref T dcol = ref Unsafe.Add(ref d, j * dc);
            for (nint i = i0; i < i1; i++) Unsafe.Add(ref dcol, i * dk) = Unsafe.Add(ref scol, i);
        }
    }

    public static long[] RowMajorStrides(IReadOnlyList<long> dims)
    {
        var s = new long[dims.Count];
        long acc = 1;
        for (int i = dims.Count - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }
}
