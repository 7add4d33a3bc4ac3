using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// The kernel of a loop fusion (<see cref="LoopFusion"/>): the fused computation becomes a list of nodes, each one
/// elementwise instruction applied to a chunk of <see cref="Chunk"/> elements with the same op structs (and SIMD forms)
/// as the unfused kernels, its intermediates in small per-thread scratch registers that stay in cache, and only the
/// fusion's outputs written to memory. Chunks are split across cores for large loops. Any fused computation it does
/// not understand runs as a call instead.
/// </summary>
internal static class LoopFusionKernel
{
    /// <summary>Elements per chunk: a multiple of every SIMD width, so each chunk takes the same vector paths as a
    /// whole-array kernel would (the last chunk absorbs the remainder and is never shorter than this).</summary>
    internal const int Chunk = 2048;

    /// <summary>Trailing broadcasts up to this many elements (per-channel vectors) are read as a view of their repeated
    /// pattern instead of being copied into a register chunk by chunk.</summary>
    const int MaxTilePeriod = 4096;

    internal enum RefKind { Array, Scalar, Register, Output, Tiled }

    /// <summary>Where a node reads or writes: a source array (fusion operand or constant) at the chunk's offset, its
    /// element 0, a scratch register, an output array at the chunk's offset, or a tiled broadcast (a source array
    /// holding a short pattern repeated past one chunk's length, read from the chunk's phase in the pattern).</summary>
    internal readonly record struct Ref(RefKind Kind, int Index, int Period = 0)
    {
        public bool IsScalar => Kind == RefKind.Scalar;
    }

    internal sealed class ChunkState(Array[] registers)
    {
        public readonly Array[] Registers = registers;
        public Array[] Sources = null!;
        public Array[] Tiles = null!;
        public Array[] Outputs = null!;
        /// <summary>Per column sum, its block sums ([blocks, columns]).</summary>
        public float[][] Partials = null!;
        public int Start;
        public int Length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ReadOnlySpan<T> Read<T>(Ref r) => r.Kind switch
        {
            RefKind.Array => new ReadOnlySpan<T>(Unsafe.As<T[]>(Sources[r.Index]), Start, Length),
            RefKind.Register => new ReadOnlySpan<T>(Unsafe.As<T[]>(Registers[r.Index]), 0, Length),
            RefKind.Output => new ReadOnlySpan<T>(Unsafe.As<T[]>(Outputs[r.Index]), Start, Length),
            RefKind.Tiled => new ReadOnlySpan<T>(Unsafe.As<T[]>(Tiles[r.Index]), Start % r.Period, Length),
            _ => new ReadOnlySpan<T>(Unsafe.As<T[]>(Sources[r.Index]), 0, 1),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Span<T> Write<T>(Ref r) => r.Kind == RefKind.Output
            ? new Span<T>(Unsafe.As<T[]>(Outputs[r.Index]), Start, Length)
            : new Span<T>(Unsafe.As<T[]>(Registers[r.Index]), 0, Length);

        public T Scalar<T>(Ref r) => Unsafe.As<T[]>(Sources[r.Index])[0];
    }

    internal abstract class Node
    {
        public abstract void Eval(ChunkState s);
    }

    /// <summary>The kernel for a fusion instruction, or null when its computation is not a loop this kernel runs.</summary>
    public static Kernel? TryCreate(KernelContext ctx)
    {
        var ins = ctx.Instruction;
        if (ins.Attributes.FusionKind is not ("kLoop" or "kInput") || ins.CalledComputations.Count != 1) return null;
        var program = Builder.TryBuild(ins.CalledComputations[0]);
        if (program == null) return null;
        if (LoopCodegen.TryCompile(ins.CalledComputations[0], program.Elements) is { } compiled) program = program.WithLoop(compiled);
        var sourceSlots = Enumerable.Range(0, ctx.OperandCount).Select(ctx.In).ToArray();
        var outSlots = ctx.OutLeaves;
        var leaves = ins.Shape.IsTuple ? ins.Shape.TupleShapes.ToArray() : new[] { ins.Shape };
        var inPlace = program.OutputInPlace.Select((ps, k) => ps.Select(p => ctx.InPlace(p, leaves[k])).Where(slot => slot >= 0).ToArray()).ToArray();
        return program.Kernel(sourceSlots, outSlots, inPlace);
    }

    /// <summary>Scratch registers of the calling thread, by element type: fused kernels never run inside one another, so
    /// every fused loop on a thread shares one small register file (no per-program allocation, and it stays in cache).</summary>
    static class RegisterFile
    {
        [ThreadStatic]
        static Dictionary<ElementType, List<Array>>? files;

        public static Array Get(ElementType type, int ordinal)
        {
            files ??= new Dictionary<ElementType, List<Array>>();
            if (!files.TryGetValue(type, out var list)) files[type] = list = new List<Array>();
            while (list.Count <= ordinal) list.Add(TypeDispatch.NewArray(type, 2 * Chunk));
            return list[ordinal];
        }
    }

    /// <summary>What one run uses besides the registers: its sources (the fusion operands, then the constants), tiled
    /// broadcasts, and outputs; reused from run to run.</summary>
    sealed class RunSet(Array[] sources, Array[] tiles, Array[] outputs, float[][] partials)
    {
        public readonly Array[] Sources = sources;
        public readonly Array[] Tiles = tiles;
        public readonly Array[] Outputs = outputs;
        public readonly float[][] Partials = partials;

        /// <summary>This set's split body, made on its first split and reused (a closure per run was an allocation).</summary>
        public Action<long, long>? Split;
    }

    /// <summary>A column sum the loop computes (kInput): output <c>Output</c> is init + the block sums of its operand
    /// viewed as [rows, Columns], one block per chunk (<see cref="Reduce.ColumnBlockRows"/>).</summary>
    internal sealed record ColumnSum(int Output, int Columns, Ref Init);

    /// <summary>A compiled loop: nodes in order, register types, output types (and the operand each may overwrite),
    /// constants appended to the sources, tiled broadcasts.</summary>
    sealed class Program(Node[] nodes, ElementType[] registerTypes, ElementType[] outputTypes, int[][] outputInPlace, Array[] constants, Tile[] tiles,
        int parameters, int n, int computeNodes, ColumnSum[] sums)
    {
        /// <summary>Elements of the loop.</summary>
        public int Elements => n;

        /// <summary>This loop run by <paramref name="loop"/> (<see cref="LoopCodegen"/>) instead of its nodes: the same
        /// chunks, outputs and column-sum partials, no registers or tiles.</summary>
        public Program WithLoop(LoopCodegen.ChunkFn loop) =>
            new(new Node[] { new CompiledLoopNode(loop) }, Array.Empty<ElementType>(), outputTypes, outputInPlace, constants, Array.Empty<Tile>(), parameters, n, computeNodes, sums);

        /// <summary>Block sums of a column sum: one per started block of rows.</summary>
        int Blocks(ColumnSum c)
        {
            long rows = n / c.Columns, per = Reduce.ColumnBlockRows(c.Columns);
            return (int)((rows + per - 1) / per);
        }
        readonly ConcurrentBag<ChunkState> states = new();
        readonly ConcurrentBag<RunSet> runSets = new();
        readonly int tileLength = (int)Math.Min(n, 2L * Chunk);
        readonly int[] registerOrdinals = registerTypes.Select((t, i) => registerTypes.Take(i).Count(u => u == t)).ToArray();

        /// <summary>Which fusion operands output k may be written into (their last reader in the loop comes no later than
        /// the node that writes it); at run time the first one the frame owns alone is taken.</summary>
        public int[][] OutputInPlace => outputInPlace;

        RunSet RentSet(Frame f, int[] sourceSlots)
        {
            if (!runSets.TryTake(out var set))
            {
                var sources = new Array[parameters + constants.Length];
                constants.CopyTo(sources, parameters);
                set = new RunSet(sources, tiles.Select(t => TypeDispatch.NewArray(t.Type, t.Period + tileLength)).ToArray(), new Array[outputTypes.Length],
                    sums.Select(c => new float[(long)Blocks(c) * c.Columns]).ToArray());
            }
            for (int i = 0; i < parameters; i++) set.Sources[i] = f.Data[sourceSlots[i]]!;
            for (int k = 0; k < tiles.Length; k++) tiles[k].Fill(set.Sources[tiles[k].Source], set.Tiles[k]);
            return set;
        }

        void ReturnSet(RunSet set)
        {
            for (int i = 0; i < parameters; i++) set.Sources[i] = null!;
            Array.Clear(set.Outputs);
            runSets.Add(set);
        }

        ChunkState RentState()
        {
            var s = states.TryTake(out var taken) ? taken : new ChunkState(new Array[registerTypes.Length]);
            for (int r = 0; r < registerTypes.Length; r++) s.Registers[r] = RegisterFile.Get(registerTypes[r], registerOrdinals[r]);
            return s;
        }

        /// <param name="sourceSlots">The fusion operands' slots.</param>
        /// <param name="outSlots">The result leaves' slots.</param>
        /// <param name="inPlaceSlots">Per output, the slots of the operands it may overwrite when the frame owns one and
        /// nothing else reads it (an output that took one makes it shared, so no other output takes it too).</param>
        public Kernel Kernel(int[] sourceSlots, int[] outSlots, int[][] inPlaceSlots)
        {
            var allocators = outputTypes.Select(Allocator).ToArray();
            var sizes = Enumerable.Repeat(n, outputTypes.Length).ToArray();
            foreach (var c in sums) sizes[c.Output] = c.Columns;
            int chunks = Math.Max(1, n / Chunk);
            // a fused loop does `computeNodes` ops per element where a plain kernel does one: split it that much sooner
            long grain = Math.Max(1, Par.CheapGrain / Math.Max(1, computeNodes) / Chunk);
            return f =>
            {
                var set = RentSet(f, sourceSlots);
                try
                {
                    for (int k = 0; k < outSlots.Length; k++) set.Outputs[k] = allocators[k](f, outSlots[k], sizes[k], inPlaceSlots[k]);
                    if (!Par.Worth(chunks, grain)) Run(set, 0, chunks, chunks);
                    else RunSplit(set, chunks, grain);
                    if (sums.Length > 0) FinishSums(set);
                }
                finally
                {
                    ReturnSet(set);
                }
            };
        }

        /// <summary>Each column sum: init, plus its block sums in block order (ColumnSums' order).</summary>
        void FinishSums(RunSet set)
        {
            for (int i = 0; i < sums.Length; i++)
            {
                var c = sums[i];
                Reduce.AddBlocks(Unsafe.As<float[]>(set.Outputs[c.Output]).AsSpan(0, c.Columns), Unsafe.As<float[]>(set.Sources[c.Init.Index])[0],
                    set.Partials[i], Blocks(c));
            }
        }

        /// <summary>The chunks split across cores; a method of its own so that the serial path allocates no closure.</summary>
        void RunSplit(RunSet set, int chunks, long grain) => Par.For(chunks, grain, set.Split ?? NewSplit(set, chunks));

        Action<long, long> NewSplit(RunSet set, int chunks) => set.Split = (lo, hi) => Run(set, (int)lo, (int)hi, chunks);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Run(RunSet set, int lo, int hi, int chunks)
        {
            var s = RentState();
            s.Sources = set.Sources;
            s.Tiles = set.Tiles;
            s.Outputs = set.Outputs;
            s.Partials = set.Partials;
            try
            {
                for (int c = lo; c < hi; c++)
                {
                    KernelCancellation.ThrowIfRequested();
                    s.Start = c * Chunk;
                    s.Length = c == chunks - 1 ? n - c * Chunk : Chunk;
                    foreach (var node in nodes) node.Eval(s);
                }
            }
            finally
            {
                s.Sources = null!;
                s.Tiles = null!;
                s.Outputs = null!;
                s.Partials = null!;
                Array.Clear(s.Registers);
                states.Add(s);
            }
        }

        static Func<Frame, int, int, int[], Array> Allocator(ElementType t) => TypeDispatch.Any(t, new AllocatorFactory());
    }

    /// <summary>A broadcast onto the trailing dims with a short period, read as a view of its pattern repeated.</summary>
    internal sealed class Tile(int source, int period, ElementType type)
    {
        public int Source => source;

        public int Period => period;

        public ElementType Type => type;

        readonly Action<Array, Array> fill = TypeDispatch.Any(type, new TileFillFactory(period));

        public void Fill(Array pattern, Array tiled) => fill(pattern, tiled);
    }

    readonly struct TileFillFactory(int period) : IAnyTypeFactory<Action<Array, Array>>
    {
        public Action<Array, Array> Create<T>() where T : unmanaged
        {
            int p = period;
            return (pattern, tiled) =>
            {
                var src = Unsafe.As<T[]>(pattern).AsSpan(0, p);
                var dst = Unsafe.As<T[]>(tiled).AsSpan();
                for (int i = 0; i < dst.Length; i += p) src[..Math.Min(p, dst.Length - i)].CopyTo(dst[i..]);
            };
        }
    }

    readonly struct AllocatorFactory : IAnyTypeFactory<Func<Frame, int, int, int[], Array>>
    {
        public Func<Frame, int, int, int[], Array> Create<T>() where T : unmanaged => (f, slot, n, candidates) => f.AllocReusingAny<T>(slot, n, candidates);
    }

    /// <summary>Turns a fused computation into nodes with registers allocated by liveness (a register is free again
    /// after its value's last reader, so a chain of any length needs only a few).</summary>
    sealed class Builder
    {
        readonly HloComputation body;
        readonly int n;
        readonly Dictionary<HloInstruction, Ref> refs = new();
        readonly List<Node> nodes = new();
        readonly List<ElementType> registerTypes = new();
        readonly Dictionary<ElementType, Stack<int>> free = new();
        readonly List<Array> constants = new();
        readonly List<Tile> tiles = new();
        readonly List<ColumnSum> sums = new();
        readonly Dictionary<HloInstruction, int> lastUse = new();
        readonly Dictionary<HloInstruction, int> outputIndex = new();
        readonly int parameterCount;
        int computeNodes;
        /// <summary>Per fusion operand, the last node that reads it as a loop-shaped array.</summary>
        readonly Dictionary<int, int> lastRead = new();
        /// <summary>Per output, the node that writes it.</summary>
        readonly Dictionary<int, int> writtenBy = new();

        Builder(HloComputation body, int n)
        {
            this.body = body;
            this.n = n;
            parameterCount = body.Parameters.Count;
            var ins = body.Instructions;
            for (int i = 0; i < ins.Count; i++) foreach (var o in ins[i].Operands) lastUse[o] = i;
            var root = body.Root;
            if (root.Opcode == "tuple") for (int k = 0; k < root.Operands.Count; k++) outputIndex[root.Operands[k]] = k;
            else outputIndex[root] = 0;
        }

        public static Program? TryBuild(HloComputation body)
        {
            var root = body.Root;
            IReadOnlyList<HloInstruction> results = root.Opcode == "tuple" ? root.Operands : new[] { root };
            // the loop's shape: an elementwise result's, or, when the loop only computes column sums, their operand's
            var loop = results.FirstOrDefault(r => r.Opcode != "reduce")?.Shape ?? results.FirstOrDefault()?.Operands.FirstOrDefault()?.Shape;
            if (loop == null || !loop.IsArray || loop.ElementCount < 2 || loop.ElementCount > int.MaxValue) return null;
            // a column sum is known only after the whole loop: nothing inside may read it
            if (body.Instructions.Any(i => i != root && i.Operands.Any(o => o.Opcode == "reduce"))) return null;
            if (root.Opcode == "tuple" && (root.Operands.Distinct().Count() != root.Operands.Count || root.Operands.Any(o => o.Opcode is "parameter" or "constant" or "broadcast"))) return null;
            if (root.Opcode is "parameter" or "constant" or "broadcast") return null;
            var b = new Builder(body, (int)loop.ElementCount);
            try
            {
                return b.Build();
            }
            catch (NotSupportedException)
            {
                return null;   // an element type the op has no kernel for: the call path reports it like the unfused kernel
            }
        }

        Program? Build()
        {
            var ins = body.Instructions;
            for (int i = 0; i < ins.Count; i++)
            {
                var x = ins[i];
                if (x == body.Root && x.Opcode == "tuple") continue;
                int before = nodes.Count;
                if (!Add(x, i)) return null;
                if (nodes.Count > before)
                {
                    foreach (var o in x.Operands)
                        if (refs.TryGetValue(o, out var r) && r.Kind == RefKind.Array && r.Index < parameterCount && IsLoop(o.Shape)) lastRead[r.Index] = nodes.Count - 1;
                    if (refs[x].Kind == RefKind.Output) writtenBy[refs[x].Index] = nodes.Count - 1;
                }
                foreach (var o in x.Operands.Distinct()) if (lastUse[o] == i) Release(o);
            }
            var outputTypes = new ElementType[outputIndex.Count];
            foreach (var (h, k) in outputIndex) outputTypes[k] = h.Shape.ElementType;
            // an output may overwrite a loop-shaped operand of its type once nothing later in the loop reads that operand
            var inPlace = new int[outputTypes.Length][];
            foreach (var (h, k) in outputIndex)
            {
                if (h.Opcode == "reduce")
                {
                    inPlace[k] = Array.Empty<int>();
                    continue;
                }
                inPlace[k] = body.Parameters
                    .Where(p => IsLoop(p.Shape) && p.Shape.ElementType == h.Shape.ElementType
                        && lastRead.TryGetValue((int)p.Attributes.ParameterNumber, out int last) && last <= writtenBy[k])
                    .Select(p => (int)p.Attributes.ParameterNumber).ToArray();
            }
            return new Program(nodes.ToArray(), registerTypes.ToArray(), outputTypes, inPlace, constants.ToArray(), tiles.ToArray(), parameterCount, n, computeNodes,
                sums.ToArray());
        }

        bool IsLoop(Shape s) => s.IsArray && s.ElementCount == n;

        Ref Result(HloInstruction x)
        {
            if (outputIndex.TryGetValue(x, out var k)) return new Ref(RefKind.Output, k);
            var t = x.Shape.ElementType;
            if (free.TryGetValue(t, out var stack) && stack.Count > 0) return new Ref(RefKind.Register, stack.Pop());
            registerTypes.Add(t);
            return new Ref(RefKind.Register, registerTypes.Count - 1);
        }

        void Release(HloInstruction o)
        {
            if (refs.TryGetValue(o, out var r) && r.Kind == RefKind.Register)
            {
                var t = registerTypes[r.Index];
                (free.TryGetValue(t, out var s) ? s : free[t] = new Stack<int>()).Push(r.Index);
            }
        }

        /// <summary>A span operand: a scalar is filled into a register first (rare: an op whose operands are all
        /// broadcast scalars).</summary>
        Ref AsSpan(HloInstruction o)
        {
            var r = refs[o];
            if (!r.IsScalar) return r;
            var t = o.Shape.ElementType;
            var reg = new Ref(RefKind.Register, registerTypes.Count);
            registerTypes.Add(t);
            nodes.Add(TypeDispatch.Any(t, new FillFactory(r, reg)));
            return reg;
        }

        bool Add(HloInstruction x, int index)
        {
            switch (x.Opcode)
            {
                case "parameter":
                {
                    int p = (int)x.Attributes.ParameterNumber;
                    refs[x] = IsLoop(x.Shape) ? new Ref(RefKind.Array, p) : x.Shape.IsScalar ? new Ref(RefKind.Scalar, p) : new Ref(RefKind.Array, p);
                    return x.Shape.IsArray;
                }
                case "constant":
                {
                    var literal = x.Attributes.Literal;
                    if (!x.Shape.IsArray || literal?.Data is not Array data || data.GetType().GetElementType() != TypeDispatch.ClrType(x.Shape.ElementType)) return false;
                    int at = parameterCount + constants.Count;
                    constants.Add((Array)data.Clone());
                    refs[x] = IsLoop(x.Shape) ? new Ref(RefKind.Array, at) : x.Shape.IsScalar ? new Ref(RefKind.Scalar, at) : new Ref(RefKind.Array, at);
                    return true;
                }
                case "broadcast":
                {
                    var src = x.Operands[0];
                    if (!IsLoop(x.Shape)) return false;
                    if (src.Shape.IsScalar)
                    {
                        refs[x] = refs[src];
                        return refs[x].IsScalar;
                    }
                    var kind = LoopFusion.BroadcastPattern(x);
                    if (kind == LoopFusion.BroadcastKind.None || refs[src].Kind != RefKind.Array) return false;
                    long srcCount = src.Shape.ElementCount;
                    if (kind == LoopFusion.BroadcastKind.Trailing && srcCount <= MaxTilePeriod)
                    {
                        tiles.Add(new Tile(refs[src].Index, (int)srcCount, x.Shape.ElementType));
                        refs[x] = new Ref(RefKind.Tiled, tiles.Count - 1, (int)srcCount);
                        return true;
                    }
                    var r = Result(x);
                    refs[x] = r;
                    nodes.Add(TypeDispatch.Any(x.Shape.ElementType, new BroadcastFactory(refs[src], r, kind == LoopFusion.BroadcastKind.Trailing, (int)(kind == LoopFusion.BroadcastKind.Trailing ? srcCount : n / srcCount))));
                    return true;
                }
                case "compare":
                {
                    if (!IsLoop(x.Shape)) return false;
                    var a = x.Attributes;
                    var l = refs[x.Operands[0]];
                    var rr = refs[x.Operands[1]];
                    if (l.IsScalar && rr.IsScalar) l = AsSpan(x.Operands[0]);
                    var d = Result(x);
                    refs[x] = d;
                    nodes.Add(OpSelect.Compare(a.ComparisonDirection ?? "", a.ComparisonType, x.Operands[0].Shape.ElementType, new CompareFactory(l, rr, d)));
                    computeNodes++;
                    return true;
                }
                case "select":
                {
                    if (!IsLoop(x.Shape)) return false;
                    var p = AsSpan(x.Operands[0]);
                    var t = refs[x.Operands[1]];
                    var e = refs[x.Operands[2]];
                    if (t.IsScalar && e.IsScalar) t = AsSpan(x.Operands[1]);
                    var d = Result(x);
                    refs[x] = d;
                    nodes.Add(TypeDispatch.Any(x.Shape.ElementType, new SelectFactory(p, t, e, d)));
                    computeNodes++;
                    return true;
                }
                case "reduce":
                {
                    if (!LoopFusion.IsFusibleColumnSum(x, x.Operands[0].Shape) || !IsLoop(x.Operands[0].Shape) || !outputIndex.TryGetValue(x, out int k)) return false;
                    var src = refs[x.Operands[0]];
                    var init = refs[x.Operands[1]];
                    if (src.IsScalar || src.Kind == RefKind.Tiled || !init.IsScalar) return false;
                    int columns = (int)x.Shape.ElementCount;
                    refs[x] = new Ref(RefKind.Output, k);
                    nodes.Add(new ColumnSumNode(src, sums.Count, columns, (int)Reduce.ColumnBlockRows(columns)));
                    sums.Add(new ColumnSum(k, columns, init));
                    computeNodes++;
                    return true;
                }
                case "convert":
                {
                    if (!IsLoop(x.Shape)) return false;
                    var src = AsSpan(x.Operands[0]);
                    var from = x.Operands[0].Shape.ElementType;
                    var d = Result(x);
                    refs[x] = d;
                    nodes.Add(from == x.Shape.ElementType
                        ? TypeDispatch.Any(from, new CopyFactory(src, d))
                        : OpSelect.Convert(from, x.Shape.ElementType, new ConvertFactory(src, d)));
                    computeNodes++;
                    return true;
                }
                default:
                {
                    if (!IsLoop(x.Shape)) return false;
                    var t = x.Shape.ElementType;
                    if (x.Operands.Count == 1 && OpSelect.UnaryOpcodes.Contains(x.Opcode))
                    {
                        var src = AsSpan(x.Operands[0]);
                        var d = Result(x);
                        refs[x] = d;
                        nodes.Add(OpSelect.Unary(x.Opcode, t, new UnaryFactory(src, d)));
                    }
                    else if (x.Operands.Count == 2 && OpSelect.BinaryOpcodes.Contains(x.Opcode))
                    {
                        var l = refs[x.Operands[0]];
                        var rr = refs[x.Operands[1]];
                        if (l.IsScalar && rr.IsScalar) l = AsSpan(x.Operands[0]);
                        var d = Result(x);
                        refs[x] = d;
                        nodes.Add(OpSelect.Binary(x.Opcode, t, new BinaryFactory(l, rr, d)));
                    }
                    else return false;
                    computeNodes++;
                    return true;
                }
            }
        }
    }

    // ---- nodes ----

    /// <summary>The chunk's rows of a column sum, as block sums: each block of <c>blockRows</c> rows (a whole chunk, except
    /// that the last chunk may hold one more, shorter block) summed by <see cref="Reduce.BlockSums"/>, as the reduce
    /// kernel's ColumnSums sums a block.</summary>
    sealed class ColumnSumNode(Ref x, int sum, int columns, int blockRows) : Node
    {
        public override unsafe void Eval(ChunkState s)
        {
            var xs = s.Read<float>(x);
            int rows = s.Length / columns, firstBlock = s.Start / columns / blockRows;
            var partials = s.Partials[sum];
            fixed (float* px = xs, pp = partials)
            {
                for (int r0 = 0, block = firstBlock; r0 < rows; r0 += blockRows, block++)
                    Reduce.BlockSums(px + (long)r0 * columns, columns, Math.Min(blockRows, rows - r0), pp + (long)block * columns, columns);
            }
        }
    }

    /// <summary>The whole loop body compiled to one SIMD loop over the chunk (<see cref="LoopCodegen"/>).</summary>
    sealed class CompiledLoopNode(LoopCodegen.ChunkFn loop) : Node
    {
        public override void Eval(ChunkState s) => loop(s.Sources, s.Outputs, s.Partials, s.Start, s.Length);
    }

    sealed class UnaryFactory(Ref x, Ref d) : IUnaryOpSink<Node>
    {
        public Node Use<T, TOp>() where T : unmanaged where TOp : struct, IUnaryOp<T> => new UnaryNode<T, TOp>(x, d);
    }

    sealed class UnaryNode<T, TOp>(Ref x, Ref d) : Node where TOp : struct, IUnaryOp<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var xs = s.Read<T>(x);
            var os = s.Write<T>(d);
            if (TOp.Vectorized) TOp.ApplySpan(xs, os);
            else for (int i = 0; i < os.Length; i++) os[i] = TOp.Apply(xs[i]);
        }
    }

    sealed class BinaryFactory(Ref x, Ref y, Ref d) : IBinaryOpSink<Node>
    {
        public Node Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> =>
            x.IsScalar ? new ScalarSpanNode<T, TOp>(x, y, d) : y.IsScalar ? new SpanScalarNode<T, TOp>(x, y, d) : new BinaryNode<T, TOp>(x, y, d);
    }

    sealed class BinaryNode<T, TOp>(Ref x, Ref y, Ref d) : Node where TOp : struct, IBinaryOp<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var xs = s.Read<T>(x);
            var ys = s.Read<T>(y);
            var os = s.Write<T>(d);
            if (TOp.Vectorized) TOp.ApplySpan(xs, ys, os);
            else for (int i = 0; i < os.Length; i++) os[i] = TOp.Apply(xs[i], ys[i]);
        }
    }

    sealed class SpanScalarNode<T, TOp>(Ref x, Ref y, Ref d) : Node where TOp : struct, IBinaryOp<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var xs = s.Read<T>(x);
            T c = s.Scalar<T>(y);
            var os = s.Write<T>(d);
            if (TOp.VectorizedWithScalar) TOp.ApplySpanScalar(xs, c, os);
            else for (int i = 0; i < os.Length; i++) os[i] = TOp.Apply(xs[i], c);
        }
    }

    sealed class ScalarSpanNode<T, TOp>(Ref x, Ref y, Ref d) : Node where TOp : struct, IBinaryOp<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            T c = s.Scalar<T>(x);
            var ys = s.Read<T>(y);
            var os = s.Write<T>(d);
            if (TOp.VectorizedWithScalar) TOp.ApplyScalarSpan(c, ys, os);
            else for (int i = 0; i < os.Length; i++) os[i] = TOp.Apply(c, ys[i]);
        }
    }

    sealed class CompareFactory(Ref x, Ref y, Ref d) : ICompareSink<Node>
    {
        public Node Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
            where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection => new CompareNode<T, TKey, TKeyFn, TDir>(x, y, d);
    }

    sealed class CompareNode<T, TKey, TKeyFn, TDir>(Ref x, Ref y, Ref d) : Node where TKey : IComparisonOperators<TKey, TKey, bool>
        where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var xs = s.Read<T>(x);
            var ys = s.Read<T>(y);
            var os = s.Write<bool>(d);
            bool xScalar = x.IsScalar, yScalar = y.IsScalar;
            int done = typeof(TKeyFn) == typeof(IdentityKey<T>) ? Simd.Compare<T, TDir>(xs, ys, os, xScalar, yScalar) : 0;
            int xi = xScalar ? 0 : 1, yi = yScalar ? 0 : 1;
            for (int i = done; i < os.Length; i++) os[i] = TDir.Test(TKeyFn.Key(xs[i * xi]), TKeyFn.Key(ys[i * yi]));
        }
    }

    readonly struct SelectFactory(Ref p, Ref x, Ref y, Ref d) : IAnyTypeFactory<Node>
    {
        public Node Create<T>() where T : unmanaged => new SelectNode<T>(p, x, y, d);
    }

    sealed class SelectNode<T>(Ref p, Ref x, Ref y, Ref d) : Node
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var ps = s.Read<bool>(p);
            var xs = s.Read<T>(x);
            var ys = s.Read<T>(y);
            var os = s.Write<T>(d);
            bool xScalar = x.IsScalar, yScalar = y.IsScalar;
            int xi = xScalar ? 0 : 1, yi = yScalar ? 0 : 1;
            for (int i = Simd.Select(ps, xs, ys, os, xScalar, yScalar); i < ps.Length; i++) os[i] = ps[i] ? xs[i * xi] : ys[i * yi];
        }
    }

    sealed class ConvertFactory(Ref x, Ref d) : IConvertSink<Node>
    {
        public Node Use<TFrom, TTo, TConv>() where TFrom : unmanaged where TTo : unmanaged where TConv : struct, IConvert<TFrom, TTo> =>
            new ConvertNode<TFrom, TTo, TConv>(x, d);
    }

    sealed class ConvertNode<TFrom, TTo, TConv>(Ref x, Ref d) : Node where TConv : struct, IConvert<TFrom, TTo>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var xs = s.Read<TFrom>(x);
            var os = s.Write<TTo>(d);
            if (TConv.Vectorized) TConv.ConvertSpan(xs, os);
            else for (int i = 0; i < os.Length; i++) os[i] = TConv.Convert(xs[i]);
        }
    }

    readonly struct CopyFactory(Ref x, Ref d) : IAnyTypeFactory<Node>
    {
        public Node Create<T>() where T : unmanaged => new CopyNode<T>(x, d);
    }

    sealed class CopyNode<T>(Ref x, Ref d) : Node
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s) => s.Read<T>(x).CopyTo(s.Write<T>(d));
    }

    readonly struct FillFactory(Ref x, Ref d) : IAnyTypeFactory<Node>
    {
        public Node Create<T>() where T : unmanaged => new FillNode<T>(x, d);
    }

    sealed class FillNode<T>(Ref x, Ref d) : Node
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s) => s.Write<T>(d).Fill(s.Scalar<T>(x));
    }

    readonly struct BroadcastFactory(Ref x, Ref d, bool trailing, int size) : IAnyTypeFactory<Node>
    {
        public Node Create<T>() where T : unmanaged => trailing ? new TrailingBroadcastNode<T>(x, d, size) : new LeadingBroadcastNode<T>(x, d, size);
    }

    /// <summary>Element i of the loop is source[i mod period] (a broadcast onto the trailing dims).</summary>
    sealed class TrailingBroadcastNode<T>(Ref x, Ref d, int period) : Node
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var src = Unsafe.As<T[]>(s.Sources[x.Index]).AsSpan(0, period);
            var os = s.Write<T>(d);
            int phase = s.Start % period;
            int i = 0;
            while (i < os.Length)
            {
                int run = Math.Min(period - phase, os.Length - i);
                src.Slice(phase, run).CopyTo(os.Slice(i, run));
                i += run;
                phase = 0;
            }
        }
    }

    /// <summary>Element i of the loop is source[i / repeat] (a broadcast onto the leading dims).</summary>
    sealed class LeadingBroadcastNode<T>(Ref x, Ref d, int repeat) : Node
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Eval(ChunkState s)
        {
            var src = Unsafe.As<T[]>(s.Sources[x.Index]);
            var os = s.Write<T>(d);
            int j = s.Start / repeat, phase = s.Start % repeat;
            int i = 0;
            while (i < os.Length)
            {
                int run = Math.Min(repeat - phase, os.Length - i);
                os.Slice(i, run).Fill(src[j++]);
                i += run;
                phase = 0;
            }
        }
    }
}
