using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Sources and data movement: parameter, constant, iota, broadcast, reshape, bitcast, copy, transpose, reverse,
/// slice, concatenate, pad. Values are logical row-major arrays, so reshape, bitcast, copy and every movement that
/// turns out to be the identity alias their operand; the rest are a <see cref="StridedCopy"/> planned at compile time.
/// </summary>
internal static class DataMovement
{
    public static Kernel HandleParameter(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        int first = ins.Parent!.Parameters.TakeWhile(p => p != ins).Sum(p => ComputationCompiler.CountLeaves(p.Shape));
        var slots = ctx.OutLeaves;
        return f =>
        {
            for (int j = 0; j < slots.Length; j++)
            {
                var a = f.Inputs[first + j];
                if (f.InputOwned != null && f.InputOwned[first + j]) f.SetOwned(slots[j], a);
                else f.SetExternal(slots[j], a);
            }
        };
    }

    public static Kernel HandleConstant(KernelContext ctx)
    {
        var literal = ctx.Instruction.Attributes.Literal ?? throw ctx.Error("the constant has no literal");
        var leaves = new List<Array>();
        Collect(literal);
        var slots = ctx.OutLeaves;
        var arrays = leaves.ToArray();
        return f =>
        {
            for (int j = 0; j < slots.Length; j++) f.SetExternal(slots[j], arrays[j]);
        };

        void Collect(Literal l)
        {
            if (l.Shape.IsTuple)
            {
                foreach (var e in l.TupleElements) Collect(e);
                return;
            }
            var want = TypeDispatch.ClrType(l.Shape.ElementType);
            if (l.Data == null || l.Data.GetType().GetElementType() != want)
                throw ctx.Error($"the {l.Shape} literal holds {l.Data?.GetType().Name ?? "nothing"}, expected {want.Name}[]");
            leaves.Add((Array)l.Data.Clone());
        }
    }

    public static Kernel HandleIota(KernelContext ctx)
    {
        var dims = ctx.Shape.ConcreteDims();
        int axis = (int)ctx.Instruction.Attributes.Dimensions![0];
        long inner = 1;
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        return TypeDispatch.Numeric(ctx.ElementType, new IotaFactory(ctx.Out, ctx.OutCount, dims[axis], inner));
    }

    readonly struct IotaFactory(int dst, int n, long size, long inner) : INumericTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>
        {
            int ds = dst, count = n;
            long sz = size, inn = inner;
            return f => Fill(f.Alloc<T>(ds, count), sz, inn);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Fill<T>(T[] o, long size, long inner) where T : unmanaged, INumber<T>
        {
            if (o.Length == 0) return;
            long outer = o.Length / (size * inner);
            var span = o.AsSpan();
            if (inner == 1)
            {
                for (long b = 0, at = 0; b < outer; b++)
                {
                    for (long i = 0; i < size; i++) span[(int)at++] = T.CreateTruncating(i);
                }
                return;
            }
            for (long b = 0; b < outer; b++)
            {
                for (long i = 0; i < size; i++) span.Slice((int)((b * size + i) * inner), (int)inner).Fill(T.CreateTruncating(i));
            }
        }
    }

    /// <summary>reshape, bitcast and copy: the same row-major elements, so the same array.</summary>
    public static Kernel HandleAlias(KernelContext ctx)
    {
        if (!ctx.OperandShape(0).IsArray)
        {
            var src = ctx.InLeaves(0);
            var dstLeaves = ctx.OutLeaves;
            return f =>
            {
                for (int j = 0; j < dstLeaves.Length; j++) f.Alias(dstLeaves[j], src[j]);
            };
        }
        int s = ctx.In(0), d = ctx.Out;
        return f => f.Alias(d, s);
    }

    public static Kernel HandleBroadcast(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var result = ctx.Shape.ConcreteDims();
        var map = ctx.Instruction.Attributes.Dimensions ?? Array.Empty<long>();
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var src = new long[result.Length];
        for (int i = 0; i < map.Length; i++)
        {
            if (operand[i] != 1) src[map[i]] = opStrides[i];
        }
        if (ctx.OperandShape(0).ElementCount == ctx.Shape.ElementCount) return HandleAlias(ctx);
        return Copy(ctx, new StridedCopy(result, src, StridedCopy.RowMajorStrides(result)));
    }

    public static Kernel HandleTranspose(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var perm = ctx.Instruction.Attributes.Dimensions!;
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var result = perm.Select(p => operand[p]).ToArray();
        // moving only size-1 dims leaves the row-major order unchanged
        var moved = perm.Where(p => operand[p] != 1).ToArray();
        if (moved.SequenceEqual(moved.OrderBy(p => p))) return HandleAlias(ctx);
        return Copy(ctx, new StridedCopy(result, perm.Select(p => opStrides[p]).ToArray(), StridedCopy.RowMajorStrides(result)));
    }

    public static Kernel HandleReverse(KernelContext ctx)
    {
        var dims = ctx.Shape.ConcreteDims();
        var strides = StridedCopy.RowMajorStrides(dims);
        var src = (long[])strides.Clone();
        long offset = 0;
        bool any = false;
        foreach (var d in ctx.Instruction.Attributes.Dimensions!)
        {
            if (dims[d] <= 1) continue;
            any = true;
            offset += (dims[d] - 1) * strides[d];
            src[d] = -strides[d];
        }
        if (!any) return HandleAlias(ctx);
        return Copy(ctx, new StridedCopy(dims, src, strides, offset));
    }

    public static Kernel HandleSlice(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var result = ctx.Shape.ConcreteDims();
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var slice = ctx.Instruction.Attributes.Slice!;
        if (result.SequenceEqual(operand)) return HandleAlias(ctx);
        long offset = 0;
        var src = new long[operand.Length];
        for (int i = 0; i < operand.Length; i++)
        {
            offset += slice[i].Start.Value * opStrides[i];
            src[i] = slice[i].Stride * opStrides[i];
        }
        return Copy(ctx, new StridedCopy(result, src, StridedCopy.RowMajorStrides(result), offset));
    }

    public static Kernel HandleConcatenate(KernelContext ctx)
    {
        var result = ctx.Shape.ConcreteDims();
        int axis = (int)ctx.Instruction.Attributes.Dimensions![0];
        var outStrides = StridedCopy.RowMajorStrides(result);
        var parts = new (int Slot, StridedCopy Copy)[ctx.OperandCount];
        long at = 0;
        for (int i = 0; i < ctx.OperandCount; i++)
        {
            var dims = ctx.OperandShape(i).ConcreteDims();
            var copy = new StridedCopy(dims, StridedCopy.RowMajorStrides(dims), outStrides, 0, at * outStrides[axis]);
            copy.Validate(ctx.OperandShape(i).ElementCount, ctx.Shape.ElementCount);
            parts[i] = (ctx.In(i), copy);
            at += dims[axis];
        }
        return TypeDispatch.Any(ctx.ElementType, new ConcatFactory(parts, ctx.Out, ctx.OutCount));
    }

    readonly struct ConcatFactory((int Slot, StridedCopy Copy)[] parts, int dst, int n) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            var ps = parts;
            int ds = dst, count = n;
            return f =>
            {
                var o = f.Alloc<T>(ds, count);
                foreach (var (slot, copy) in ps) copy.Run((T[])f.Data[slot]!, o);
            };
        }
    }

    public static Kernel HandlePad(KernelContext ctx)
    {
        var operand = ctx.OperandShape(0).ConcreteDims();
        var result = ctx.Shape.ConcreteDims();
        var padding = ctx.Instruction.Attributes.Padding!;
        if (padding.All(p => p.Low == 0 && p.High == 0 && p.Interior == 0)) return HandleAlias(ctx);
        var opStrides = StridedCopy.RowMajorStrides(operand);
        var outStrides = StridedCopy.RowMajorStrides(result);
        var dims = new long[operand.Length];
        var src = new long[operand.Length];
        var dst = new long[operand.Length];
        long srcOffset = 0, dstOffset = 0;
        bool empty = false;
        for (int i = 0; i < operand.Length; i++)
        {
            long step = padding[i].Interior + 1, low = padding[i].Low;
            // operand indices j whose position low + j*step falls inside [0, result)
            long first = low >= 0 ? 0 : (-low + step - 1) / step;
            long last = result[i] - 1 - low < 0 ? -1 : Math.Min(operand[i] - 1, (result[i] - 1 - low) / step);
            if (last < first)
            {
                empty = true;
                break;
            }
            dims[i] = last - first + 1;
            src[i] = opStrides[i];
            dst[i] = step * outStrides[i];
            srcOffset += first * opStrides[i];
            dstOffset += (low + first * step) * outStrides[i];
        }
        StridedCopy? copy = null;
        if (!empty && operand.All(d => d > 0))
        {
            copy = new StridedCopy(dims, src, dst, srcOffset, dstOffset);
            copy.Validate(ctx.OperandShape(0).ElementCount, ctx.Shape.ElementCount);
        }
        return TypeDispatch.Any(ctx.ElementType, new PadFactory(ctx.In(0), ctx.In(1), ctx.Out, ctx.OutCount, copy));
    }

    readonly struct PadFactory(int operand, int value, int dst, int n, StridedCopy? copy) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            int os = operand, vs = value, ds = dst, count = n;
            var c = copy;
            return f =>
            {
                var o = f.Alloc<T>(ds, count);
                o.AsSpan().Fill(((T[])f.Data[vs]!)[0]);
                c?.Run((T[])f.Data[os]!, o);
            };
        }
    }

    /// <summary>A fresh result filled from operand 0 by <paramref name="copy"/>.</summary>
    static Kernel Copy(KernelContext ctx, StridedCopy copy)
    {
        copy.Validate(ctx.OperandShape(0).ElementCount, ctx.Shape.ElementCount);
        return TypeDispatch.Any(ctx.ElementType, new CopyFactory(ctx.In(0), ctx.Out, ctx.OutCount, copy));
    }

    readonly struct CopyFactory(int src, int dst, int n, StridedCopy copy) : IAnyTypeFactory<Kernel>
    {
        public Kernel Create<T>() where T : unmanaged
        {
            int ss = src, ds = dst, count = n;
            var c = copy;
            return f =>
            {
                var o = f.Alloc<T>(ds, count);
                c.Run((T[])f.Data[ss]!, o);
            };
        }
    }
}
