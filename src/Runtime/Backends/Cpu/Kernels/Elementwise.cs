using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Elementwise kernels. The op semantics live in the op structs (<see cref="OpSelect"/>); these kernels apply them
/// over arrays, with TensorPrimitives (SIMD) where the op has a vector form, in place when the operand dies here and
/// is owned, and split across cores above a size threshold.
/// </summary>
internal static class Elementwise
{
    /// <summary>The catalogue's <see cref="ElementCost.Costly"/> ops: split across cores at a smaller size.</summary>
    internal static readonly HashSet<string> Costly =
        new(OpCatalogue.Elementwise.Where(o => o.Cost == ElementCost.Costly).Select(o => o.Opcode), StringComparer.Ordinal);

    internal static int GrainFor(string opcode) => Costly.Contains(opcode) ? Par.CostlyGrain : Par.CheapGrain;

    /// <summary>Every <see cref="UnaryOp"/> of the catalogue (<see cref="OpSelect.UnaryOpcodes"/>).</summary>
    public static Kernel HandleUnary(KernelContext ctx) =>
        Unary(ctx.Instruction.Opcode, ctx.ElementType, ctx.In(0), ctx.Out, ctx.OutCount, ctx.InPlace(0));

    /// <summary>Every <see cref="BinaryOp"/> of the catalogue (<see cref="OpSelect.BinaryOpcodes"/>).</summary>
    public static Kernel HandleBinary(KernelContext ctx)
    {
        string opcode = ctx.Instruction.Opcode;
        if (ctx.IsScalar(0) || ctx.IsScalar(1))
        {
            int array = ctx.IsScalar(0) ? 1 : 0;
            return OpSelect.Binary(opcode, ctx.ElementType,
                new BinaryScalarSink(ctx.In(array), ctx.In(1 - array), array == 1, ctx.Out, ctx.OutCount, ctx.InPlace(array), GrainFor(opcode)));
        }
        return Binary(opcode, ctx.ElementType, ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, ctx.InPlace(0), ctx.InPlace(1));
    }

    /// <summary>The array kernel of a unary opcode between explicit slots (also used by map over a plain op).</summary>
    public static Kernel Unary(string opcode, ElementType type, int src, int dst, int n, int inPlace) =>
        OpSelect.Unary(opcode, type, new UnarySink(src, dst, n, inPlace, GrainFor(opcode)));

    public static Kernel Binary(string opcode, ElementType type, int a, int b, int dst, int n, int inPlaceA, int inPlaceB) =>
        OpSelect.Binary(opcode, type, new BinarySink(a, b, dst, n, inPlaceA, inPlaceB, GrainFor(opcode)));

    public static Kernel HandleCompare(KernelContext ctx)
    {
        var a = ctx.Instruction.Attributes;
        return OpSelect.Compare(a.ComparisonDirection ?? "", a.ComparisonType, ctx.OperandShape(0).ElementType,
            new CompareSink(ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, ctx.InPlace(0), ctx.InPlace(1), ctx.IsScalar(0), ctx.IsScalar(1)));
    }

    public static Kernel HandleConvert(KernelContext ctx)
    {
        var from = ctx.OperandShape(0).ElementType;
        int src = ctx.In(0), dst = ctx.Out;
        if (from == ctx.ElementType) return f => f.Alias(dst, src);
        return OpSelect.Convert(from, ctx.ElementType, new ConvertSink(src, dst, ctx.OutCount));
    }

    public static Kernel HandleSelect(KernelContext ctx)
    {
        int p = ctx.In(0), t = ctx.In(1), e = ctx.In(2), dst = ctx.Out;
        if (ctx.OperandShape(0).IsScalar) return f => f.Alias(dst, ((bool[])f.Data[p]!)[0] ? t : e);
        return TypeDispatch.Any(ctx.ElementType, new SelectFactory(p, t, e, dst, ctx.OutCount, ctx.InPlace(1), ctx.InPlace(2), ctx.IsScalar(1), ctx.IsScalar(2)));
    }

    public static Kernel HandleClamp(KernelContext ctx)
    {
        var factory = new ClampFactory(ctx.In(0), ctx.In(1), ctx.In(2), ctx.Out, ctx.OutCount,
            ctx.OperandShape(0).IsScalar, ctx.OperandShape(2).IsScalar, ctx.InPlace(1));
        if (ctx.ElementType == ElementType.Pred) return factory.CreatePred();
        return ctx.ElementType.IsFloatingPoint() ? TypeDispatch.Float(ctx.ElementType, factory) : TypeDispatch.Integer(ctx.ElementType, factory);
    }

    // ---- unary / binary ----

    sealed class UnarySink(int src, int dst, int n, int inPlace, int grain) : IUnaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IUnaryOp<T> => f =>
        {
            var x = (T[])f.Data[src]!;
            var o = f.AllocReusing<T>(dst, n, inPlace);
            if (!Par.Worth(n, grain)) Unary<T, TOp>(x, o, 0, n);
            else { var px = x; var po = o; Par.For(n, grain, (lo, hi) => Unary<T, TOp>(px, po, (int)lo, (int)hi)); } // block-scoped copies: no closure on the serial path
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Unary<T, TOp>(T[] x, T[] o, int lo, int hi) where TOp : struct, IUnaryOp<T>
    {
        var xs = new ReadOnlySpan<T>(x, lo, hi - lo);
        var os = new Span<T>(o, lo, hi - lo);
        if (TOp.Vectorized)
        {
            TOp.ApplySpan(xs, os);
            return;
        }
        for (int i = 0; i < xs.Length; i++) os[i] = TOp.Apply(xs[i]);
    }

    sealed class BinarySink(int a, int b, int dst, int n, int inPlaceA, int inPlaceB, int grain) : IBinaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> => f =>
        {
            var x = (T[])f.Data[a]!;
            var y = (T[])f.Data[b]!;
            var o = f.AllocReusing<T>(dst, n, inPlaceA, inPlaceB);
            if (!Par.Worth(n, grain)) Binary<T, TOp>(x, y, o, 0, n);
            else { var px = x; var py = y; var po = o; Par.For(n, grain, (lo, hi) => Binary<T, TOp>(px, py, po, (int)lo, (int)hi)); } // block-scoped copies: no closure on the serial path
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Binary<T, TOp>(T[] x, T[] y, T[] o, int lo, int hi) where TOp : struct, IBinaryOp<T>
    {
        var xs = new ReadOnlySpan<T>(x, lo, hi - lo);
        var ys = new ReadOnlySpan<T>(y, lo, hi - lo);
        var os = new Span<T>(o, lo, hi - lo);
        if (TOp.Vectorized)
        {
            TOp.ApplySpan(xs, ys, os);
            return;
        }
        for (int i = 0; i < xs.Length; i++) os[i] = TOp.Apply(xs[i], ys[i]);
    }

    /// <summary>x op c or c op x, where c is the scalar of a broadcast the plan never materialises.</summary>
    sealed class BinaryScalarSink(int array, int scalar, bool scalarLeft, int dst, int n, int inPlace, int grain) : IBinaryOpSink<Kernel>
    {
        public Kernel Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> => f =>
        {
            var x = (T[])f.Data[array]!;
            T c = ((T[])f.Data[scalar]!)[0];
            var o = f.AllocReusing<T>(dst, n, inPlace);
            if (!Par.Worth(n, grain)) BinaryScalar<T, TOp>(x, c, scalarLeft, o, 0, n);
            else { var px = x; var po = o; var pc = c; Par.For(n, grain, (lo, hi) => BinaryScalar<T, TOp>(px, pc, scalarLeft, po, (int)lo, (int)hi)); } // block-scoped copies: no closure on the serial path
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BinaryScalar<T, TOp>(T[] x, T c, bool scalarLeft, T[] o, int lo, int hi) where TOp : struct, IBinaryOp<T>
    {
        var xs = new ReadOnlySpan<T>(x, lo, hi - lo);
        var os = new Span<T>(o, lo, hi - lo);
        if (TOp.VectorizedWithScalar)
        {
            if (scalarLeft) TOp.ApplyScalarSpan(c, xs, os);
            else TOp.ApplySpanScalar(xs, c, os);
            return;
        }
        if (scalarLeft)
        {
            for (int i = 0; i < xs.Length; i++) os[i] = TOp.Apply(c, xs[i]);
        }
        else
        {
            for (int i = 0; i < xs.Length; i++) os[i] = TOp.Apply(xs[i], c);
        }
    }

    // ---- compare ----

    sealed class CompareSink(int a, int b, int dst, int n, int inPlaceA, int inPlaceB, bool aScalar, bool bScalar) : ICompareSink<Kernel>
    {
        public Kernel Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
            where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection => f =>
        {
            var x = (T[])f.Data[a]!;
            var y = (T[])f.Data[b]!;
            var o = f.AllocReusing<bool>(dst, n, inPlaceA, inPlaceB);
            if (!Par.Worth(n, Par.CheapGrain)) Compare<T, TKey, TKeyFn, TDir>(x, y, o, 0, n, aScalar, bScalar);
            else { var px = x; var py = y; var po = o; Par.For(n, Par.CheapGrain, (lo, hi) => Compare<T, TKey, TKeyFn, TDir>(px, py, po, (int)lo, (int)hi, aScalar, bScalar)); } // block-scoped copies: no closure on the serial path
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Compare<T, TKey, TKeyFn, TDir>(T[] x, T[] y, bool[] o, int lo, int hi, bool xScalar, bool yScalar)
        where TKey : IComparisonOperators<TKey, TKey, bool> where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection
    {
        var xs = xScalar ? new ReadOnlySpan<T>(x, 0, 1) : new ReadOnlySpan<T>(x, lo, hi - lo);
        var ys = yScalar ? new ReadOnlySpan<T>(y, 0, 1) : new ReadOnlySpan<T>(y, lo, hi - lo);
        var os = new Span<bool>(o, lo, hi - lo);
        int done = typeof(TKeyFn) == typeof(IdentityKey<T>) ? Simd.Compare<T, TDir>(xs, ys, os, xScalar, yScalar) : 0;
        int xi = xScalar ? 0 : 1, yi = yScalar ? 0 : 1;
        for (int i = done; i < os.Length; i++) os[i] = TDir.Test(TKeyFn.Key(xs[i * xi]), TKeyFn.Key(ys[i * yi]));
    }

    // ---- convert ----

    sealed class ConvertSink(int src, int dst, int n) : IConvertSink<Kernel>
    {
        public Kernel Use<TFrom, TTo, TConv>() where TFrom : unmanaged where TTo : unmanaged where TConv : struct, IConvert<TFrom, TTo> => f =>
        {
            var x = (TFrom[])f.Data[src]!;
            var o = f.Alloc<TTo>(dst, n);
            if (!Par.Worth(n, Par.CheapGrain)) Convert<TFrom, TTo, TConv>(x, o, 0, n);
            else { var px = x; var po = o; Par.For(n, Par.CheapGrain, (lo, hi) => Convert<TFrom, TTo, TConv>(px, po, (int)lo, (int)hi)); } // block-scoped copies: no closure on the serial path
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Convert<TFrom, TTo, TConv>(TFrom[] x, TTo[] o, int lo, int hi) where TConv : struct, IConvert<TFrom, TTo>
    {
        var xs = new ReadOnlySpan<TFrom>(x, lo, hi - lo);
        var os = new Span<TTo>(o, lo, hi - lo);
        if (TConv.Vectorized)
        {
            TConv.ConvertSpan(xs, os);
            return;
        }
        for (int i = 0; i < xs.Length; i++) os[i] = TConv.Convert(xs[i]);
    }

    // ---- select / clamp ----

    readonly struct SelectFactory(int p, int t, int e, int dst, int n, int inPlaceT, int inPlaceE, bool tScalar, bool eScalar) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            int ps = p, ts = t, es = e, ds = dst, count = n, it = inPlaceT, ie = inPlaceE;
            bool xs = tScalar, ys = eScalar;
            return f =>
            {
                var pred = (bool[])f.Data[ps]!;
                var x = (T[])f.Data[ts]!;
                var y = (T[])f.Data[es]!;
                var o = f.AllocReusing<T>(ds, count, it, ie);
                if (!Par.Worth(count, Par.CheapGrain)) Select(pred, x, y, o, 0, count, xs, ys);
                else { var ppred = pred; var px = x; var py = y; var po = o; Par.For(count, Par.CheapGrain, (lo, hi) => Select(ppred, px, py, po, (int)lo, (int)hi, xs, ys)); } // block-scoped copies: no closure on the serial path
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Select<T>(bool[] p, T[] x, T[] y, T[] o, int lo, int hi, bool xScalar, bool yScalar)
    {
        var ps = new ReadOnlySpan<bool>(p, lo, hi - lo);
        var xs = xScalar ? new ReadOnlySpan<T>(x, 0, 1) : new ReadOnlySpan<T>(x, lo, hi - lo);
        var ys = yScalar ? new ReadOnlySpan<T>(y, 0, 1) : new ReadOnlySpan<T>(y, lo, hi - lo);
        var os = new Span<T>(o, lo, hi - lo);
        int xi = xScalar ? 0 : 1, yi = yScalar ? 0 : 1;
        for (int i = Simd.Select(ps, xs, ys, os, xScalar, yScalar); i < ps.Length; i++) os[i] = ps[i] ? xs[i * xi] : ys[i * yi];
    }

    readonly struct ClampFactory(int min, int x, int max, int dst, int n, bool minScalar, bool maxScalar, int inPlace)
        : IFloatTypeFactory<Kernel>, IIntegerTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> => Build<T, FloatMinOp<T>, FloatMaxOp<T>>();

        Kernel IIntegerTypeFactory<Kernel>.Create<T>() => Build<T, IntMinOp<T>, IntMaxOp<T>>();

        /// <summary>pred ordered false &lt; true (XLA's evaluator uses std::min/max): min is and, max is or.</summary>
        public Kernel CreatePred() => Build<bool, PredAndOp, PredOrOp>();

        Kernel Build<T, TMin, TMax>() where T : unmanaged where TMin : struct, IBinaryOp<T> where TMax : struct, IBinaryOp<T>
        {
            int lo = min, xs = x, hi = max, ds = dst, count = n, ip = inPlace;
            int loStride = minScalar ? 0 : 1, hiStride = maxScalar ? 0 : 1;
            return f =>
            {
                var l = (T[])f.Data[lo]!;
                var v = (T[])f.Data[xs]!;
                var h = (T[])f.Data[hi]!;
                var o = f.AllocReusing<T>(ds, count, ip);
                // clamp(lo, v, hi) = min(hi, max(v, lo)), with NaN in lo, then v, then hi winning (XLA's evaluator order)
                for (int i = 0; i < count; i++)
                {
                    T low = l[i * loStride], high = h[i * hiStride], val = v[i];
                    o[i] = IsNaN(low) ? low : IsNaN(val) ? val : IsNaN(high) ? high : TMin.Apply(high, TMax.Apply(val, low));
                }
            };
        }

        static bool IsNaN<T>(T value) where T : unmanaged =>
            typeof(T) == typeof(float) ? float.IsNaN(Unsafe.BitCast<T, float>(value))
            : typeof(T) == typeof(double) && double.IsNaN(Unsafe.BitCast<T, double>(value));
    }
}
