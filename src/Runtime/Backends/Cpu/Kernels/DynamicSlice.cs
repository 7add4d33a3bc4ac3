using System.Numerics;
using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// get-dimension-size, dynamic-slice and dynamic-update-slice. Start indices are read at run time and clamped into
/// range as XLA does (a slice of size s along a dim of size n starts in [0, n - s]), so these kernels never fail on
/// bad indices. The copy itself is a <see cref="StridedCopy"/> planned at compile time and shifted by the start.
/// </summary>
internal static class DynamicSlice
{
    public static Kernel HandleGetDimensionSize(KernelContext ctx)
    {
        var d = ctx.OperandShape(0).Dims[(int)ctx.Instruction.Attributes.Dimensions![0]];
        if (!d.IsConstant) throw ctx.Error($"dimension {ctx.Instruction.Attributes.Dimensions[0]} is symbolic");
        int value = checked((int)d.Value);
        int dst = ctx.Out;
        return f => f.Alloc<int>(dst, 1)[0] = value;
    }

    public static Kernel HandleDynamicSlice(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var result = ctx.Shape.ConcreteDims();
        var starts = StartReader.Create(ctx, 1, operand, result);
        var strides = StridedCopy.RowMajorStrides(operand);
        var copy = new StridedCopy(result, strides, StridedCopy.RowMajorStrides(result));
        return TypeDispatch.Any(ctx.ElementType, new SliceFactory(ctx.In(0), ctx.Out, ctx.OutCount, starts, strides, copy));
    }

    readonly struct SliceFactory(int src, int dst, int n, StartReader starts, long[] strides, StridedCopy copy) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            int ss = src, ds = dst, count = n;
            var st = starts;
            var str = strides;
            var c = copy;
            return f =>
            {
                long offset = st.Offset(f, str);
                c.Run((T[])f.Data[ss]!, f.Alloc<T>(ds, count), offset, 0);
            };
        }
    }

    public static Kernel HandleDynamicUpdateSlice(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var update = ctx.OperandShape(1).ConcreteDims();
        var starts = StartReader.Create(ctx, 2, operand, update);
        var strides = StridedCopy.RowMajorStrides(operand);
        var copy = new StridedCopy(update, StridedCopy.RowMajorStrides(update), strides);
        // an update that is the operand itself has the operand's size, so it lands at 0 and changes nothing in place
        return TypeDispatch.Any(ctx.ElementType, new UpdateFactory(ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, ctx.InPlace(0), starts, strides, copy));
    }

    readonly struct UpdateFactory(int operand, int update, int dst, int n, int inPlace, StartReader starts, long[] strides, StridedCopy copy) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            int os = operand, us = update, ds = dst, count = n, ip = inPlace;
            var st = starts;
            var str = strides;
            var c = copy;
            return f =>
            {
                var x = (T[])f.Data[os]!;
                var u = (T[])f.Data[us]!;
                long offset = st.Offset(f, str);
                var o = f.AllocReusing<T>(ds, count, ip);
                if (!ReferenceEquals(o, x)) x.AsSpan().CopyTo(o);
                c.Run(u, o, 0, offset);
            };
        }
    }

    /// <summary>Reads the start indices of a dynamic slice (one scalar per dimension, or XLA's older single index
    /// vector) and clamps each into [0, dim - size].</summary>
    internal sealed class StartReader
    {
        readonly int[] slots;
        readonly bool vector;
        readonly IndexReader read;
        readonly long[] max;

        StartReader(int[] slots, bool vector, IndexReader read, long[] max)
        {
            this.slots = slots;
            this.vector = vector;
            this.read = read;
            this.max = max;
        }

        public static StartReader Create(KernelContext ctx, int first, long[] operand, long[] window)
        {
            int count = ctx.OperandCount - first;
            bool vector = count == 1 && ctx.OperandShape(first).Rank == 1 && operand.Length != 1;
            var slots = Enumerable.Range(first, count).Select(ctx.In).ToArray();
            var max = operand.Select((d, i) => d - window[i]).ToArray();
            return new StartReader(slots, vector, IndexReaders.For(ctx.OperandShape(first).ElementType), max);
        }

        /// <summary>The linear offset of the clamped start in an array with <paramref name="strides"/>.</summary>
        public long Offset(Frame f, long[] strides)
        {
            long offset = 0;
            for (int d = 0; d < max.Length; d++)
            {
                long s = vector ? read(f.Data[slots[0]]!, d) : read(f.Data[slots[d]]!, 0);
                offset += Math.Clamp(s, 0, max[d]) * strides[d];
            }
            return offset;
        }
    }
}

/// <summary>Reads element <c>i</c> of an integer array of any width as a long (u64 values past long.MaxValue saturate).</summary>
internal delegate long IndexReader(Array array, int i);

internal static class IndexReaders
{
    public static IndexReader For(XlaGen.Hlo.ElementType t) => TypeDispatch.Integer(t, new Factory());

    readonly struct Factory : IIntegerTypeFactory<IndexReader>
    {
        public IndexReader Create<T>() where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T> => (a, i) => long.CreateSaturating(((T[])a)[i]);
    }
}
