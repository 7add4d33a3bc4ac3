using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// convolution (XLA's ConvGeneralDilated) with general dimension numbers, padding (negative too), strides, lhs
/// (base) and rhs (window) dilation, window reversal, feature_group_count and batch_group_count.
/// f32 and f64 are lowered to im2col + GEMM (<see cref="Im2Col"/>); every other element type (integers, mixed types)
/// runs the direct definition (XLA's HloEvaluator loop) with compile-time strides and window tables.
/// </summary>
internal static class Convolution
{
    /// <summary>The sizes and strides every convolution kernel needs, computed at compile time.</summary>
    internal sealed class Geometry
    {
        public Geometry(KernelContext ctx)
        {
            var attrs = ctx.Instruction.Attributes;
            Dn = attrs.Convolution!;
            var window = attrs.Window ?? Array.Empty<WindowDimension>();
            Lhs = ctx.OperandShape(0).ConcreteDims();
            Rhs = ctx.OperandShape(1).ConcreteDims();
            Out = ctx.Shape.ConcreteDims();
            FeatureGroups = attrs.FeatureGroupCount;
            BatchGroups = attrs.BatchGroupCount;
            Spatial = Dn.InputSpatialDimensions.Length;
            InSpatial = Dn.InputSpatialDimensions.Select(d => Lhs[d]).ToArray();
            KernelSpatial = Dn.KernelSpatialDimensions.Select(d => Rhs[d]).ToArray();
            OutSpatial = Dn.OutputSpatialDimensions.Select(d => Out[d]).ToArray();
            Batch = Lhs[Dn.InputBatchDimension];
            InFeatures = Lhs[Dn.InputFeatureDimension];
            GroupInFeatures = Rhs[Dn.KernelInputFeatureDimension];
            OutFeatures = Rhs[Dn.KernelOutputFeatureDimension];
            // the window table pairs kernel element k with input position rev(k) when the window is reversed
            Window = new WindowGeometry(InSpatial, OutSpatial, window, applyReversal: true);
            WindowDims = window;
        }

        public ConvolutionDimensionNumbers Dn { get; }

        public long[] Lhs { get; }

        public long[] Rhs { get; }

        public long[] Out { get; }

        public long FeatureGroups { get; }

        public long BatchGroups { get; }

        public int Spatial { get; }

        public long[] InSpatial { get; }

        public long[] KernelSpatial { get; }

        public long[] OutSpatial { get; }

        public long Batch { get; }

        public long InFeatures { get; }

        /// <summary>Input features per feature group (the kernel's input feature dim).</summary>
        public long GroupInFeatures { get; }

        public long OutFeatures { get; }

        public WindowGeometry Window { get; }

        public IReadOnlyList<WindowDimension> WindowDims { get; }

        public long KernelPositions => KernelSpatial.Aggregate(1L, (a, b) => a * b);

        public long OutPositions => OutSpatial.Aggregate(1L, (a, b) => a * b);

        public long InPositions => InSpatial.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>An f32 convolution kernel for a special form (x, w → y, with the run's pool), which tests and the bench
    /// switch off at run time through <paramref name="enabled"/> to compare it with <paramref name="general"/>, the
    /// kernel the convolution would otherwise have.</summary>
    internal static Kernel SwitchableF32(int lhs, int rhs, int dst, int n, Func<bool> enabled, Kernel general,
        Action<float[], float[], float[], BufferPool> run) => f =>
    {
        if (!enabled())
        {
            general(f);
            return;
        }
        run((float[])f.Data[lhs]!, (float[])f.Data[rhs]!, f.Alloc<float>(dst, n), f.Context.Pool);
    };

    public static Kernel HandleConvolution(KernelContext ctx)
    {
        var g = new Geometry(ctx);
        var lt = ctx.OperandShape(0).ElementType;
        var rt = ctx.OperandShape(1).ElementType;
        var result = ctx.ElementType;
        if (result == ElementType.Pred || lt == ElementType.Pred || rt == ElementType.Pred)
            throw ctx.Error("convolution of pred values is not supported");
        if (result == ElementType.F32 && lt == ElementType.F32 && rt == ElementType.F32)
        {
            var general = ConvFewRows.TryCreate(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount) ?? Im2Col.Create(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, Im2Col.F32);
            return ConvKernelGradient.TryCreate(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, general)
                ?? ConvScatter.TryCreate(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, general)
                ?? general;
        }
        if (result == ElementType.F64 && lt == ElementType.F64 && rt == ElementType.F64)
            return Im2Col.Create(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, Im2Col.F64);
        return TypeDispatch.Numeric(result, new DirectFactory(g, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, lt, rt));
    }

    readonly struct DirectFactory(Geometry g, int lhs, int rhs, int dst, int n, ElementType lhsType, ElementType rhsType) : INumericTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            var geo = g;
            var toL = Converted<T>(lhsType);
            var toR = Converted<T>(rhsType);
            int ls = lhs, rs = rhs, ds = dst, count = n;
            long perOutput = Math.Max(1, geo.KernelPositions * geo.GroupInFeatures);
            return f =>
            {
                var x = toL(f, f.Data[ls]!);
                var w = toR(f, f.Data[rs]!);
                var o = f.Alloc<T>(ds, count);
                if (count > 0)
                {
                    if (Par.Worth(count * perOutput, Par.CostlyGrain)) Par.For(count, Math.Max(1, Par.CostlyGrain / perOutput), (lo, hi) => Direct(geo, x, w, o, lo, hi));
                    else Direct(geo, x, w, o, 0, count);
                }
                if (!ReferenceEquals(x, f.Data[ls])) f.Context.Pool.Return(x);
                if (!ReferenceEquals(w, f.Data[rs])) f.Context.Pool.Return(w);
            };
        }
    }

    /// <summary>The definition, output element by output element (XLA's HloEvaluator loop): for each kernel position
    /// whose input position is real (not padding, not a dilation hole), sum over the group's input features.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Direct<T>(Geometry g, T[] x, T[] w, T[] o, long lo, long hi) where T : unmanaged, INumber<T>
    {
        var dn = g.Dn;
        var ls = StridedCopy.RowMajorStrides(g.Lhs);
        var rs = StridedCopy.RowMajorStrides(g.Rhs);
        int sp = g.Spatial;
        var lsSpatial = dn.InputSpatialDimensions.Select(d => ls[d]).ToArray();
        var rsSpatial = dn.KernelSpatialDimensions.Select(d => rs[d]).ToArray();
        long lsBatch = ls[dn.InputBatchDimension], lsFeature = ls[dn.InputFeatureDimension];
        long rsIn = rs[dn.KernelInputFeatureDimension], rsOut = rs[dn.KernelOutputFeatureDimension];
        long cg = g.GroupInFeatures;
        long outGroup = g.OutFeatures / g.FeatureGroups;
        long batchGroupOut = g.OutFeatures / g.BatchGroups;
        long batchGroupSize = g.Batch / g.BatchGroups;
        long kernelPositions = g.KernelPositions;
        Span<long> outIndex = stackalloc long[g.Out.Length];
        Span<long> k = stackalloc long[Math.Max(1, sp)];
        ReduceWindow.Unravel(lo, g.Out, outIndex);
        var poll = new WorkPoll();
        for (long oi = lo; oi < hi; oi++)
        {
            poll.Add(kernelPositions * cg + 1);
            long b = outIndex[(int)dn.OutputBatchDimension];
            long z = outIndex[(int)dn.OutputFeatureDimension];
            long lhsBase = (b + z / batchGroupOut * batchGroupSize) * lsBatch + z / outGroup * cg * lsFeature;
            long rhsBase = z * rsOut;
            T acc = T.Zero;
            k.Clear();
            for (long kp = 0; kp < kernelPositions; kp++)
            {
                long lOff = lhsBase, rOff = rhsBase;
                bool inside = true;
                for (int s = 0; s < sp; s++)
                {
                    int u = g.Window.Index(s, outIndex[(int)dn.OutputSpatialDimensions[s]], k[s]);
                    if (u < 0)
                    {
                        inside = false;
                        break;
                    }
                    lOff += u * lsSpatial[s];
                    rOff += k[s] * rsSpatial[s];
                }
                if (inside)
                {
                    for (long c = 0; c < cg; c++) acc += x[lOff + c * lsFeature] * w[rOff + c * rsIn];
                }
                for (int s = sp - 1; s >= 0; s--)
                {
                    if (++k[s] < g.KernelSpatial[s]) break;
                    k[s] = 0;
                }
            }
            o[oi] = acc;
            ReduceWindow.Next(outIndex, g.Out);
        }
    }

    delegate T[] ConvertedArray<T>(Frame f, Array source);

    /// <summary>The operand as T[] (itself when it already is; else a pooled converted copy, s8 x s8 -> s32 convolutions).</summary>
    static ConvertedArray<T> Converted<T>(ElementType from) where T : unmanaged, INumber<T>, IMinMaxValue<T> =>
        TypeDispatch.Numeric(from, new ConvertedFactory<T>());

    readonly struct ConvertedFactory<T> : INumericTypeFactory<ConvertedArray<T>> where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        public ConvertedArray<T> Create<TFrom>() where TFrom : unmanaged, INumber<TFrom>, IMinMaxValue<TFrom> => (f, source) =>
        {
            if (source.GetType() == typeof(T[])) return (T[])source;
            var s = (TFrom[])source;
            var r = f.Context.Pool.Rent<T>(s.Length);
            for (int i = 0; i < s.Length; i++) r[i] = Conversions.Convert<TFrom, T>(s[i]);
            return r;
        };
    }
}
