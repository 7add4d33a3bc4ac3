using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// sort: every 1-D slice along the sort dimension is ordered by a stable merge sort of positions, using only the
/// comparator's less(a, b) (so comparators that are not strict weak orders, such as FLOAT comparisons with NaN, still
/// terminate with a deterministic result), and every operand is permuted the same way. A comparator that is a single
/// LT/GT compare of operand 0 runs on extracted typed keys; any other comparator is interpreted.
/// </summary>
internal static class Sort
{
    internal interface ILess
    {
        bool Less(int a, int b);
    }

    public static Kernel HandleSort(KernelContext ctx)
    {
        var dims = ctx.OperandShape(0).ConcreteDims();
        int axis = (int)ctx.Instruction.Attributes.Dimensions![0];
        long n = dims[axis], inner = 1;
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        long total = ctx.OperandShape(0).ElementCount;
        var geometry = new Geometry((int)n, (int)inner, n == 0 ? 0 : (int)(total / n));
        int k = ctx.OperandCount;
        var inputs = Enumerable.Range(0, k).Select(ctx.In).ToArray();
        var outs = ctx.OutLeaves;
        var permuters = Enumerable.Range(0, k).Select(i => TypeDispatch.Any(ctx.OperandShape(i).ElementType, new PermuterFactory())).ToArray();
        var allocators = Enumerable.Range(0, k).Select(i => ScalarIO.AllocatorFor(ctx.OperandShape(i).ElementType)).ToArray();
        var comparator = ctx.Instruction.CalledComputations[0];
        var fast = FastComparator(comparator);
        SliceSorter sorter;
        bool parallelSafe;
        if (fast != null)
        {
            sorter = OpSelect.Compare(fast.Value.Direction, fast.Value.Type, ctx.OperandShape(0).ElementType, new KeySorterSink(fast.Value.Swapped));
            parallelSafe = true;
        }
        else
        {
            var fn = ctx.Compiler.Scalar(comparator);
            var loaders = Enumerable.Range(0, k).Select(i => ScalarIO.LoaderFor(ctx.OperandShape(i).ElementType)).ToArray();
            sorter = InterpretedSorter(fn, loaders);
            parallelSafe = fn is ScalarProgram;
        }
        int count = (int)total;
        return f =>
        {
            var x = inputs.Select(s => (Array)f.Data[s]!).ToArray();
            var o = new Array[k];
            for (int j = 0; j < k; j++) o[j] = allocators[j](f, outs[j], count);
            void Slices(long lo, long hi)
            {
                var perm = new int[geometry.N];
                var tmp = new int[geometry.N];
                var state = sorter.NewState();
                var poll = new WorkPoll();
                for (long q = lo; q < hi; q++)
                {
                    poll.Add((long)geometry.N * ReduceWindow.Interpreted + 1);
                    int start = (int)(q / geometry.Inner * geometry.N * geometry.Inner + q % geometry.Inner);
                    for (int i = 0; i < perm.Length; i++) perm[i] = i;
                    sorter.Sort(x, start, geometry.Inner, perm, tmp, state);
                    for (int j = 0; j < k; j++) permuters[j](x[j], o[j], start, geometry.Inner, perm);
                }
            }
            // a slice of n costs about n·log2(n) comparisons; split when there are many slices' worth of them
            long perSlice = Math.Max(1, (long)geometry.N * Math.Max(1, (int)Math.Log2(Math.Max(2, geometry.N))));
            if (parallelSafe && geometry.Slices >= 2) Par.ForBalanced(geometry.Slices, Math.Max(1, Par.InterpretedGrain * 8 / perSlice), Slices);
            else Slices(0, geometry.Slices);
        };
    }

    readonly record struct Geometry(int N, int Inner, int Slices);

    /// <summary>Sorts one slice's positions; <c>state</c> is per-thread scratch from <see cref="NewState"/>.</summary>
    abstract class SliceSorter
    {
        public abstract object? NewState();

        public abstract void Sort(Array[] operands, int start, int stride, int[] perm, int[] tmp, object? state);
    }

    // ---- comparator recognition ----

    readonly record struct Fast(string Direction, string? Type, bool Swapped);

    /// <summary>compare(p0, p1) or compare(p1, p0) with direction LT or GT: a key sort on operand 0.</summary>
    static Fast? FastComparator(HloComputation comparator)
    {
        var root = comparator.Root;
        var ps = comparator.Parameters;
        if (root.Opcode != "compare" || ps.Count < 2) return null;
        var dir = root.Attributes.ComparisonDirection;
        if (dir != "LT" && dir != "GT") return null;
        if (root.Operands[0] == ps[0] && root.Operands[1] == ps[1]) return new Fast(dir, root.Attributes.ComparisonType, false);
        if (root.Operands[0] == ps[1] && root.Operands[1] == ps[0]) return new Fast(dir, root.Attributes.ComparisonType, true);
        return null;
    }

    sealed class KeySorterSink(bool swapped) : ICompareSink<SliceSorter>
    {
        public SliceSorter Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
            where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection => new KeySorter<T, TKey, TKeyFn, TDir>(swapped);
    }

    sealed class KeySorter<T, TKey, TKeyFn, TDir>(bool swapped) : SliceSorter
        where TKey : IComparisonOperators<TKey, TKey, bool> where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection
    {
        public override object? NewState() => new List<TKey[]>();

        public override void Sort(Array[] operands, int start, int stride, int[] perm, int[] tmp, object? state)
        {
            var cache = (List<TKey[]>)state!;
            if (cache.Count == 0) cache.Add(new TKey[perm.Length]);
            var keys = cache[0];
            var x = (T[])operands[0];
            for (int i = 0; i < perm.Length; i++) keys[i] = TKeyFn.Key(x[start + i * stride]);
            var less = new KeyLess(keys, swapped);
            MergeSort(perm, tmp, ref less);
        }

        struct KeyLess(TKey[] keys, bool swapped) : ILess
        {
            public readonly bool Less(int a, int b) => swapped ? TDir.Test(keys[b], keys[a]) : TDir.Test(keys[a], keys[b]);
        }
    }

    static SliceSorter InterpretedSorter(ScalarFunction fn, ScalarIO.Loader[] loaders) => new Interpreted(fn, loaders);

    sealed class Interpreted(ScalarFunction fn, ScalarIO.Loader[] loaders) : SliceSorter
    {
        public override object? NewState() => fn.NewRegisters();

        public override void Sort(Array[] operands, int start, int stride, int[] perm, int[] tmp, object? state)
        {
            var less = new ComparatorLess(fn, loaders, operands, start, stride, (ulong[])state!);
            MergeSort(perm, tmp, ref less);
        }
    }

    struct ComparatorLess(ScalarFunction fn, ScalarIO.Loader[] loaders, Array[] operands, int start, int stride, ulong[] regs) : ILess
    {
        public readonly bool Less(int a, int b)
        {
            for (int j = 0; j < loaders.Length; j++)
            {
                regs[fn.ParameterRegister(2 * j)] = loaders[j](operands[j], start + a * stride);
                regs[fn.ParameterRegister(2 * j + 1)] = loaders[j](operands[j], start + b * stride);
            }
            fn.Invoke(regs);
            return (regs[fn.ResultRegister(0)] & 1) != 0;
        }
    }

    // ---- stable merge sort of positions ----

    const int InsertionRun = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MergeSort<TLess>(int[] perm, int[] tmp, ref TLess less) where TLess : struct, ILess
    {
        int n = perm.Length;
        for (int lo = 0; lo < n; lo += InsertionRun)
        {
            int hi = Math.Min(n, lo + InsertionRun);
            for (int i = lo + 1; i < hi; i++)
            {
                int v = perm[i], j = i - 1;
                while (j >= lo && less.Less(v, perm[j]))
                {
                    perm[j + 1] = perm[j];
                    j--;
                }
                perm[j + 1] = v;
            }
        }
        var src = perm;
        var dst = tmp;
        var poll = new WorkPoll();
        for (int width = InsertionRun; width < n; width *= 2)
        {
            for (int lo = 0; lo < n; lo += 2 * width)
            {
                poll.Add(2L * width * ReduceWindow.Interpreted);
                int mid = Math.Min(n, lo + width), hi = Math.Min(n, lo + 2 * width);
                int i = lo, j = mid, o = lo;
                // take from the right run only when strictly less: equal elements keep their order (stable)
                while (i < mid && j < hi) dst[o++] = less.Less(src[j], src[i]) ? src[j++] : src[i++];
                while (i < mid) dst[o++] = src[i++];
                while (j < hi) dst[o++] = src[j++];
            }
            (src, dst) = (dst, src);
        }
        if (!ReferenceEquals(src, perm)) Array.Copy(src, perm, n);
    }

    delegate void Permuter(Array source, Array destination, int start, int stride, int[] perm);

    readonly struct PermuterFactory : IAnyTypeFactory<Permuter>
    {
        public Permuter Create<T>() where T : unmanaged => (source, destination, start, stride, perm) =>
        {
            var s = (T[])source;
            var d = (T[])destination;
            for (int i = 0; i < perm.Length; i++) d[start + i * stride] = s[start + perm[i] * stride];
        };
    }
}
