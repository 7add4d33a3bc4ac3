using XlaGen.Hlo;

namespace XlaGen.Tests.Conformance;

/// <summary>
/// Reference semantics of the windowed ops (XLA operation semantics, written as plain loops and independently of the
/// executor's tables): convolution materialises the dilated, padded input and then slides a dilated window over it;
/// reduce-window and select-and-scatter walk each window in row-major order.
/// </summary>
public static partial class Ref
{
    /// <summary>Dimension numbers from XLA's dim_labels text, e.g. "b01f_01io->b01f".</summary>
    public static ConvolutionDimensionNumbers Labels(string text)
    {
        var parts = text.Split(new[] { '_', '-', '>' }, StringSplitOptions.RemoveEmptyEntries);
        long[] Spatial(string s) => Enumerable.Range(0, s.Length - 2).Select(d => (long)s.IndexOf((char)('0' + d))).ToArray();
        return new ConvolutionDimensionNumbers
        {
            InputBatchDimension = parts[0].IndexOf('b'),
            InputFeatureDimension = parts[0].IndexOf('f'),
            InputSpatialDimensions = Spatial(parts[0]),
            KernelInputFeatureDimension = parts[1].IndexOf('i'),
            KernelOutputFeatureDimension = parts[1].IndexOf('o'),
            KernelSpatialDimensions = Spatial(parts[1]),
            OutputBatchDimension = parts[2].IndexOf('b'),
            OutputFeatureDimension = parts[2].IndexOf('f'),
            OutputSpatialDimensions = Spatial(parts[2]),
        };
    }

    /// <summary>XLA ConvGeneralDilated in f64. The lhs is dilated (base dilation) and padded with zeros (negative
    /// padding crops) into a plain array first; then output[b, o, y…] = Σ over the group's input features c and kernel
    /// positions k of padded[batch(b, o), c, y·stride + k·rhs_dilation] · kernel[c, o, k (reversed when
    /// window_reversal)]. Batch groups split the lhs batch into batch_group_count slices (outer), matched with
    /// consecutive slices of the output features; feature groups split input and output features alike.</summary>
    public static (double[] Data, long[] Dims) Convolution(double[] lhs, long[] lhsDims, double[] rhs, long[] rhsDims,
        ConvolutionDimensionNumbers dn, WindowDimension[] window, long featureGroups = 1, long batchGroups = 1)
    {
        int sp = window.Length;
        long batch = lhsDims[dn.InputBatchDimension], features = lhsDims[dn.InputFeatureDimension];
        long kIn = rhsDims[dn.KernelInputFeatureDimension], kOut = rhsDims[dn.KernelOutputFeatureDimension];
        // the padded input as [batch, feature, spatial…]
        var padded = new long[sp];
        for (int s = 0; s < sp; s++)
        {
            long n = lhsDims[dn.InputSpatialDimensions[s]];
            long dilated = n == 0 ? 0 : (n - 1) * window[s].BaseDilation + 1;
            padded[s] = Math.Max(0, dilated + window[s].PaddingLow + window[s].PaddingHigh);
        }
        var pDims = new[] { batch, features }.Concat(padded).ToArray();
        var p = new double[Count(pDims)];
        foreach (var idx in Indices(lhsDims))
        {
            var at = new long[pDims.Length];
            at[0] = idx[dn.InputBatchDimension];
            at[1] = idx[dn.InputFeatureDimension];
            bool inside = true;
            for (int s = 0; s < sp; s++)
            {
                long v = idx[dn.InputSpatialDimensions[s]] * window[s].BaseDilation + window[s].PaddingLow;
                if (v < 0 || v >= padded[s]) inside = false;
                at[2 + s] = v;
            }
            if (inside) p[Ravel(pDims, at)] = lhs[Ravel(lhsDims, idx)];
        }
        var outSpatial = new long[sp];
        for (int s = 0; s < sp; s++)
        {
            long span = (window[s].Size - 1) * window[s].WindowDilation + 1;
            outSpatial[s] = padded[s] < span ? 0 : (padded[s] - span) / window[s].Stride + 1;
        }
        var outDims = new long[sp + 2];
        outDims[dn.OutputBatchDimension] = batch / batchGroups;
        outDims[dn.OutputFeatureDimension] = kOut;
        for (int s = 0; s < sp; s++) outDims[dn.OutputSpatialDimensions[s]] = outSpatial[s];
        var result = new double[Count(outDims)];
        var kSizes = window.Select(w => w.Size).ToArray();
        foreach (var oIdx in Indices(outDims))
        {
            long b = oIdx[dn.OutputBatchDimension], o = oIdx[dn.OutputFeatureDimension];
            long lhsBatch = o / (kOut / batchGroups) * (batch / batchGroups) + b;
            long group = o / (kOut / featureGroups);
            double sum = 0;
            foreach (var k in Indices(kSizes))
            {
                var at = new long[pDims.Length];
                at[0] = lhsBatch;
                var kAt = new long[rhsDims.Length];
                kAt[dn.KernelOutputFeatureDimension] = o;
                for (int s = 0; s < sp; s++)
                {
                    at[2 + s] = oIdx[dn.OutputSpatialDimensions[s]] * window[s].Stride + k[s] * window[s].WindowDilation;
                    kAt[dn.KernelSpatialDimensions[s]] = window[s].WindowReversal ? kSizes[s] - 1 - k[s] : k[s];
                }
                for (long c = 0; c < kIn; c++)
                {
                    at[1] = group * kIn + c;
                    kAt[dn.KernelInputFeatureDimension] = c;
                    sum += p[Ravel(pDims, at)] * rhs[Ravel(rhsDims, kAt)];
                }
            }
            result[Ravel(outDims, oIdx)] = sum;
        }
        return (result, outDims);
    }

    /// <summary>The window positions of a base of size <paramref name="n"/> (the same formula as XLA's shape inference).</summary>
    public static long WindowOutputSize(long n, WindowDimension w)
    {
        long dilated = n == 0 ? 0 : (n - 1) * w.BaseDilation + 1;
        long padded = dilated + w.PaddingLow + w.PaddingHigh;
        long span = (w.Size - 1) * w.WindowDilation + 1;
        return padded < span ? 0 : (padded - span) / w.Stride + 1;
    }

    /// <summary>For one output position, the input multi-indices its window reads in row-major window order, skipping
    /// padding and the holes of base dilation.</summary>
    public static IEnumerable<long[]> WindowElements(long[] inDims, WindowDimension[] window, long[] outIndex)
    {
        foreach (var k in Indices(window.Select(w => w.Size).ToArray()))
        {
            var at = new long[inDims.Length];
            bool inside = true;
            for (int d = 0; d < inDims.Length; d++)
            {
                long dilated = outIndex[d] * window[d].Stride + k[d] * window[d].WindowDilation - window[d].PaddingLow;
                if (dilated < 0 || dilated % window[d].BaseDilation != 0 || dilated / window[d].BaseDilation >= inDims[d]) inside = false;
                at[d] = dilated / window[d].BaseDilation;
            }
            if (inside) yield return at;
        }
    }

    /// <summary>reduce-window: each output folds its window's real elements, acc = f(acc, x), starting from init.</summary>
    public static (T[] Data, long[] Dims) ReduceWindow<T>(T[] x, long[] dims, WindowDimension[] window, T init, Func<T, T, T> f)
    {
        var outDims = dims.Select((n, d) => WindowOutputSize(n, window[d])).ToArray();
        var r = new T[Count(outDims)];
        foreach (var o in Indices(outDims))
        {
            T acc = init;
            foreach (var at in WindowElements(dims, window, o)) acc = f(acc, x[Ravel(dims, at)]);
            r[Ravel(outDims, o)] = acc;
        }
        return (r, outDims);
    }

    public static Tensor<T> ReduceWindow<T>(Tensor<T> x, WindowDimension[] window, T init, Func<T, T, T> f) where T : unmanaged
    {
        var (data, dims) = ReduceWindow(x.Data, x.Shape.ToArray(), window, init, f);
        return new Tensor<T>(dims, data);
    }

    /// <summary>select-and-scatter: the result starts as init; each window (source position) selects its first real
    /// element, replaced by each later one e while select(selected, e) is false; the source value is scattered there.</summary>
    public static Tensor<T> SelectAndScatter<T>(Tensor<T> operand, Tensor<T> source, WindowDimension[] window, T init,
        Func<T, T, bool> select, Func<T, T, T> scatter) where T : unmanaged
    {
        var dims = operand.Shape.ToArray();
        var r = Enumerable.Repeat(init, (int)operand.ElementCount).ToArray();
        foreach (var s in Indices(source.Shape))
        {
            long[]? chosen = null;
            foreach (var at in WindowElements(dims, window, s))
            {
                if (chosen == null || !select(operand.Data[Ravel(dims, chosen)], operand.Data[Ravel(dims, at)])) chosen = at;
            }
            if (chosen == null) continue;
            long i = Ravel(dims, chosen);
            r[i] = scatter(r[i], source.Data[Ravel(source.Shape, s)]);
        }
        return new Tensor<T>(dims, r);
    }
}
