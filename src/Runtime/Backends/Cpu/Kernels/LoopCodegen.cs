using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Compiles an f32 loop fusion to one SIMD loop (an expression tree the JIT turns into machine code), the alternative
/// to <see cref="LoopFusionKernel"/>'s node-by-node evaluation for the fusions it covers. The nodes run every op over
/// a whole chunk (one library call per op and chunk, intermediates in scratch arrays); here every element goes through
/// the whole computation in 512-bit registers, so a fusion of twenty ops costs about as much as reading its operands
/// (the batch-norm backward loops of the sample CNN ran at 12–23 GB/s as nodes, compute-bound).
/// <para>Bitwise the nodes: each op is the same IEEE operation per element (<c>Vector512</c>'s add, subtract,
/// multiply, divide, sqrt, compare and select; maximum and minimum are <c>Vector512.Max</c>/<c>Min</c>, which is what
/// <c>TensorPrimitives.Max</c>/<c>Min</c> compute for the nodes: IEEE 754-2019 maximum/minimum), and a column sum adds the rows of each block in row order from
/// the block's first row, as <see cref="Reduce.BlockSums"/> does, into the same partial sums (the chunk's rows are the
/// blocks the nodes use). <c>LoopCodegenTests</c> compares the two on NaNs, infinities and signed zeros. Only NaN
/// payloads may differ: where two NaNs meet in an add, x86 keeps the first operand's payload, and the JIT orders a
/// commutative add as it likes (a column sum's running partial, loaded from memory, goes second here).</para>
/// <para>Covered: f32 values, and pred as lane masks (from compares and pred operands, for selects and pred outputs); parameters, scalar
/// constants, broadcasts of scalars and of one per-row pattern (a trailing broadcast of W elements, W a multiple of 16
/// dividing <see cref="LoopFusionKernel.Chunk"/>); add, subtract, multiply, divide, maximum, minimum, negate, abs,
/// sqrt, compare (FLOAT order), select, and column sums over W columns. Anything else keeps the nodes, as does a
/// process that cannot compile code at run time (NativeAOT).</para>
/// </summary>
internal static class LoopCodegen
{
    /// <summary>Whether fusions compiled on the calling thread get a compiled loop (tests and the bench turn it off to
    /// compare with the nodes; per thread so that tests running beside keep their coverage). XLAGEN_LOOP_CODEGEN=0 turns
    /// it off for the process.</summary>
    internal static bool Allow
    {
        get => !off && !OffInProcess;
        set => off = !value;
    }

    [ThreadStatic]
    static bool off;

    static readonly bool OffInProcess = Environment.GetEnvironmentVariable("XLAGEN_LOOP_CODEGEN") is "0" or "false";

    /// <summary>Why the last loop this thread tried did not compile (the instruction or output it does not cover), or
    /// null when it compiled (diagnostics; tests check it).</summary>
    [ThreadStatic]
    internal static string? Declined;

    /// <summary>Loops compiled on the calling thread (tests check that they covered the path).</summary>
    [ThreadStatic]
    internal static int CompiledOnThisThread;

    /// <summary>One chunk: (sources, outputs, column-sum partials, start, length); elements [start, start + length).</summary>
    internal delegate void ChunkFn(Array[] sources, Array[] outputs, float[][] partials, int start, int length);

    const int Lanes = 16;

    /// <summary>The compiled loop of <paramref name="body"/> over <paramref name="n"/> elements, or null when the body
    /// uses anything this does not cover (the caller keeps the nodes). Column sums are numbered in instruction order,
    /// outputs by the root tuple's order, sources by parameter number.</summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Only runs where RuntimeFeature.IsDynamicCodeCompiled; elsewhere the nodes run.")]
    [UnconditionalSuppressMessage("Trimming", "IL2060", Justification = "Vector512's generic methods are looked up by name; a trimmed one makes the lookup fail and the nodes run.")]
    public static ChunkFn? TryCompile(HloComputation body, int n)
    {
        Declined = null;
        if (!Allow || !RuntimeFeature.IsDynamicCodeCompiled || !Vector512.IsHardwareAccelerated || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            Declined = "switched off, or no dynamic code or AVX-512 in this process";
            return null;
        }
        try
        {
            var loop = new Emitter(body, n).Emit()?.Compile();
            if (loop != null) CompiledOnThisThread++;
            return loop;
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException or AmbiguousMatchException or TypeInitializationException)
        {
            Declined = $"{e.GetType().Name}: {e.Message}";
            return null;
        }
    }

    sealed class Emitter
    {
        readonly HloComputation body;
        readonly int n;
        readonly ParameterExpression sources = Expression.Parameter(typeof(Array[]), "sources");
        readonly ParameterExpression outputs = Expression.Parameter(typeof(Array[]), "outputs");
        readonly ParameterExpression partials = Expression.Parameter(typeof(float[][]), "partials");
        readonly ParameterExpression start = Expression.Parameter(typeof(int), "start");
        readonly ParameterExpression length = Expression.Parameter(typeof(int), "length");
        readonly ParameterExpression i = Expression.Variable(typeof(int), "i");
        readonly ParameterExpression column = Expression.Variable(typeof(int), "c");
        readonly ParameterExpression partialBase = Expression.Variable(typeof(int), "pb");
        readonly ParameterExpression firstRow = Expression.Variable(typeof(bool), "firstRow");
        /// <summary>Locals set once per chunk (typed arrays, broadcast scalars).</summary>
        readonly List<ParameterExpression> setupLocals = new();
        readonly List<Expression> setup = new();
        /// <summary>Locals and statements of one vector step.</summary>
        readonly List<ParameterExpression> stepLocals = new();
        readonly List<Expression> step = new();
        readonly Dictionary<HloInstruction, Expression> values = new();
        /// <summary>Per-row patterns (the float[] of a trailing broadcast's operand).</summary>
        readonly Dictionary<HloInstruction, Expression> patterns = new();
        readonly Dictionary<int, ParameterExpression> sourceArrays = new();
        readonly Dictionary<HloInstruction, int> outputIndex = new();
        int width;
        int sums;

        public Emitter(HloComputation body, int n)
        {
            this.body = body;
            this.n = n;
            var root = body.Root;
            if (root.Opcode == "tuple") for (int k = 0; k < root.Operands.Count; k++) outputIndex[root.Operands[k]] = k;
            else outputIndex[root] = 0;
        }

        bool IsLoop(Shape s) => s.IsArray && s.ElementCount == n;

        /// <summary>The row width W the loop steps by: the period of every per-row pattern and the column count of every
        /// column sum, which must agree (16 when there are none).</summary>
        bool SetWidth(long w)
        {
            if (w % Lanes != 0 || LoopFusionKernel.Chunk % w != 0) return false;
            if (width != 0 && width != w) return false;
            width = (int)w;
            return true;
        }

        ParameterExpression SourceArray(int index)
        {
            if (sourceArrays.TryGetValue(index, out var a)) return a;
            a = Expression.Variable(typeof(float[]), "s" + index);
            setupLocals.Add(a);
            setup.Add(Expression.Assign(a, Expression.Convert(Expression.ArrayIndex(sources, Expression.Constant(index)), typeof(float[]))));
            sourceArrays[index] = a;
            return a;
        }

        Expression Hoisted(Expression scalar, string name)
        {
            var v = Expression.Variable(typeof(Vector512<float>), name);
            setupLocals.Add(v);
            setup.Add(Expression.Assign(v, Expression.Call(V.CreateScalar, scalar)));
            return v;
        }

        /// <summary>A step value: assigned to a fresh local once per step, so every reader shares one computation.</summary>
        Expression Let(Expression value, HloInstruction x)
        {
            var v = Expression.Variable(value.Type, "v" + stepLocals.Count);
            stepLocals.Add(v);
            step.Add(Expression.Assign(v, value));
            values[x] = v;
            return v;
        }

        public Expression<ChunkFn>? Emit()
        {
            if (n % Lanes != 0)
            {
                Declined = $"{n} elements, not a multiple of {Lanes}";
                return null;
            }
            foreach (var x in body.Instructions)
            {
                if (x == body.Root && x.Opcode == "tuple") continue;
                if (!Add(x))
                {
                    Declined = x.Describe();
                    return null;
                }
            }
            if (width == 0) width = Lanes;
            // outputs
            foreach (var (x, k) in outputIndex)
            {
                if (x.Opcode == "reduce") continue;
                if (masks.Contains(x) && x.Shape.ElementType == ElementType.Pred && IsLoop(x.Shape))
                {
                    var ob = Expression.Variable(typeof(bool[]), "o" + k);
                    setupLocals.Add(ob);
                    setup.Add(Expression.Assign(ob, Expression.Convert(Expression.ArrayIndex(outputs, Expression.Constant(k)), typeof(bool[]))));
                    step.Add(Expression.Call(Masks.Store, values[x], ob, i));
                    continue;
                }
                if (!values.TryGetValue(x, out var v) || v.Type != typeof(Vector512<float>) || x.Shape.ElementType != ElementType.F32 || !IsLoop(x.Shape))
                {
                    Declined = $"output {k}, {x.Describe()}";
                    return null;
                }
                var o = Expression.Variable(typeof(float[]), "o" + k);
                setupLocals.Add(o);
                setup.Add(Expression.Assign(o, Expression.Convert(Expression.ArrayIndex(outputs, Expression.Constant(k)), typeof(float[]))));
                step.Add(Expression.Call(V.Store, v, o, i));
            }
            return Loop();
        }

        /// <summary>for r in rows: pb = block(r)·W, firstRow = r starts a block; for c in 0, 16, … W: i = start + r·W + c; step.</summary>
        Expression<ChunkFn> Loop()
        {
            var r = Expression.Variable(typeof(int), "r");
            var rows = Expression.Variable(typeof(int), "rows");
            var firstBlock = Expression.Variable(typeof(int), "firstBlock");
            int blockRows = (int)Reduce.ColumnBlockRows(width);
            var endRows = Expression.Label("endRows");
            var endColumns = Expression.Label("endColumns");
            var inner = Expression.Block(
                Expression.Assign(column, Expression.Constant(0)),
                Expression.Loop(
                    Expression.IfThenElse(
                        Expression.LessThan(column, Expression.Constant(width)),
                        Expression.Block(stepLocals,
                            new Expression[] { Expression.Assign(i, Expression.Add(Expression.Add(start, Expression.Multiply(r, Expression.Constant(width))), column)) }
                                .Concat(step)
                                .Append(Expression.AddAssign(column, Expression.Constant(Lanes)))),
                        Expression.Break(endColumns)),
                    endColumns));
            var outer = Expression.Block(
                Expression.Assign(r, Expression.Constant(0)),
                Expression.Loop(
                    Expression.IfThenElse(
                        Expression.LessThan(r, rows),
                        Expression.Block(
                            Expression.Assign(partialBase, Expression.Multiply(Expression.Add(firstBlock, Expression.Divide(r, Expression.Constant(blockRows))), Expression.Constant(width))),
                            Expression.Assign(firstRow, Expression.Equal(Expression.Modulo(r, Expression.Constant(blockRows)), Expression.Constant(0))),
                            inner,
                            Expression.PreIncrementAssign(r)),
                        Expression.Break(endRows)),
                    endRows));
            var all = Expression.Block(
                setupLocals.Concat(new[] { r, rows, firstBlock, i, column, partialBase, firstRow }),
                setup.Concat(new Expression[]
                {
                    Expression.Assign(rows, Expression.Divide(length, Expression.Constant(width))),
                    Expression.Assign(firstBlock, Expression.Divide(start, Expression.Constant(width * blockRows))),
                    outer,
                }));
            return Expression.Lambda<ChunkFn>(all, "fused_loop", new[] { sources, outputs, partials, start, length });
        }

        bool Add(HloInstruction x)
        {
            var t = x.Shape.ElementType;
            switch (x.Opcode)
            {
                case "parameter":
                {
                    int p = (int)x.Attributes.ParameterNumber;
                    if (t == ElementType.Pred && IsLoop(x.Shape))
                    {
                        // a mask computed by an earlier loop (ReLU's, dropout's): 16 bools per step
                        var bools = Expression.Variable(typeof(bool[]), "b" + p);
                        setupLocals.Add(bools);
                        setup.Add(Expression.Assign(bools, Expression.Convert(Expression.ArrayIndex(sources, Expression.Constant(p)), typeof(bool[]))));
                        Let(Expression.Call(Masks.Load, bools, i), x);
                        masks.Add(x);
                        return true;
                    }
                    if (t != ElementType.F32 || !x.Shape.IsArray) return false;
                    if (IsLoop(x.Shape)) values[x] = Let(Expression.Call(V.Load, SourceArray(p), i), x);
                    else if (x.Shape.IsScalar) values[x] = Hoisted(Expression.ArrayIndex(SourceArray(p), Expression.Constant(0)), "p" + p);
                    else patterns[x] = SourceArray(p);   // usable only through a trailing broadcast
                    return true;
                }
                case "constant":
                {
                    if (t != ElementType.F32 || !x.Shape.IsScalar || x.Attributes.Literal?.Data is not float[] { Length: 1 } data) return false;
                    values[x] = Hoisted(Expression.Constant(data[0]), "k" + values.Count);
                    return true;
                }
                case "broadcast":
                {
                    if (t != ElementType.F32 || !IsLoop(x.Shape)) return false;
                    var src = x.Operands[0];
                    if (src.Shape.IsScalar)
                    {
                        if (!values.TryGetValue(src, out var s)) return false;
                        values[x] = s;
                        return true;
                    }
                    if (!patterns.TryGetValue(src, out var pattern) || LoopFusion.BroadcastPattern(x) != LoopFusion.BroadcastKind.Trailing || !SetWidth(src.Shape.ElementCount)) return false;
                    values[x] = Let(Expression.Call(V.Load, pattern, column), x);
                    return true;
                }
                case "compare":
                {
                    if (!IsLoop(x.Shape) || x.Operands[0].Shape.ElementType != ElementType.F32) return false;
                    if (x.Attributes.ComparisonType is { } ct && ct != "FLOAT") return false;
                    var a = Value(x.Operands[0]);
                    var b = Value(x.Operands[1]);
                    if (a == null || b == null) return false;
                    Expression? mask = x.Attributes.ComparisonDirection switch
                    {
                        "EQ" => Expression.Call(V.Equal, a, b),
                        "NE" => Expression.Call(V.Not, Expression.Call(V.Equal, a, b)),
                        "LT" => Expression.Call(V.Less, a, b),
                        "LE" => Expression.Call(V.LessOrEqual, a, b),
                        "GT" => Expression.Call(V.Greater, a, b),
                        "GE" => Expression.Call(V.GreaterOrEqual, a, b),
                        _ => null,
                    };
                    if (mask == null) return false;
                    Let(mask, x);
                    masks.Add(x);
                    return true;
                }
                case "select":
                {
                    if (t != ElementType.F32 || !IsLoop(x.Shape) || !masks.Contains(x.Operands[0])) return false;
                    var a = Value(x.Operands[1]);
                    var b = Value(x.Operands[2]);
                    if (a == null || b == null) return false;
                    Let(Expression.Call(V.Select, values[x.Operands[0]], a, b), x);
                    return true;
                }
                case "reduce":
                {
                    if (!LoopFusion.IsFusibleColumnSum(x, x.Operands[0].Shape) || !IsLoop(x.Operands[0].Shape) || !outputIndex.ContainsKey(x)) return false;
                    if (!SetWidth(x.Shape.ElementCount)) return false;
                    var v = Value(x.Operands[0]);
                    if (v == null) return false;
                    // partial[pb + c] = v on a block's first row, else partial[pb + c] + v (Reduce.BlockSums' order)
                    var part = Expression.Variable(typeof(float[]), "part" + sums);
                    setupLocals.Add(part);
                    setup.Add(Expression.Assign(part, Expression.ArrayIndex(partials, Expression.Constant(sums))));
                    var at = Expression.Add(partialBase, column);
                    step.Add(Expression.Call(V.Store,
                        Expression.Condition(firstRow, v, Expression.Call(V.Add, Expression.Call(V.Load, part, at), v)), part, at));
                    sums++;
                    return true;
                }
                default:
                {
                    if (t != ElementType.F32 || !IsLoop(x.Shape)) return false;
                    if (x.Operands.Count == 1)
                    {
                        var a = Value(x.Operands[0]);
                        var op = x.Opcode switch { "negate" => V.Negate, "abs" => V.Abs, "sqrt" => V.Sqrt, _ => null };
                        if (a == null || op == null) return false;
                        Let(Expression.Call(op, a), x);
                        return true;
                    }
                    if (x.Operands.Count == 2)
                    {
                        var a = Value(x.Operands[0]);
                        var b = Value(x.Operands[1]);
                        if (a == null || b == null) return false;
                        Expression? e = x.Opcode switch
                        {
                            "add" => Expression.Call(V.Add, a, b),
                            "subtract" => Expression.Call(V.Subtract, a, b),
                            "multiply" => Expression.Call(V.Multiply, a, b),
                            "divide" => Expression.Call(V.Divide, a, b),
                            "maximum" => Expression.Call(V.Max, a, b),
                            "minimum" => Expression.Call(V.Min, a, b),
                            _ => null,
                        };
                        if (e == null) return false;
                        Let(e, x);
                        return true;
                    }
                    return false;
                }
            }
        }

        readonly HashSet<HloInstruction> masks = new();

        /// <summary>An f32 vector operand (not a mask, not a bare pattern).</summary>
        Expression? Value(HloInstruction o) => !masks.Contains(o) && values.TryGetValue(o, out var v) && v.Type == typeof(Vector512<float>) ? v : null;
    }

    /// <summary>pred arrays (one bool per byte) as lane masks of a loop, and back.</summary>
    internal static class Masks
    {
        public static readonly MethodInfo Load = typeof(Masks).GetMethod(nameof(LoadMask), BindingFlags.Public | BindingFlags.Static)!;
        public static readonly MethodInfo Store = typeof(Masks).GetMethod(nameof(StoreMask), BindingFlags.Public | BindingFlags.Static)!;

        /// <summary>Lanes i … i + 15: all ones where the bool is true (any nonzero byte), else zero.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> LoadMask(bool[] a, int i)
        {
            if ((uint)i > (uint)(a.Length - Lanes)) throw new IndexOutOfRangeException();
            var bytes = Vector128.LoadUnsafe(ref Unsafe.As<bool, byte>(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a)), (nuint)i);
            return Vector512.GreaterThan(System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512Int32(bytes), Vector512<int>.Zero).AsSingle();
        }

        /// <summary>Writes lanes i … i + 15 of a mask as bools (1 where all ones, 0 where zero).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreMask(Vector512<float> mask, bool[] a, int i)
        {
            if ((uint)i > (uint)(a.Length - Lanes)) throw new IndexOutOfRangeException();
            var bytes = System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector128Byte(mask.AsInt32() & Vector512<int>.One);
            bytes.StoreUnsafe(ref Unsafe.As<bool, byte>(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a)), (nuint)i);
        }
    }

    /// <summary>The Vector512 methods the loops call, closed over float.</summary>
    static class V
    {
        public static readonly MethodInfo Load = Generic(nameof(Vector512.Create), typeof(float[]), typeof(int));
        public static readonly MethodInfo Store = Generic(nameof(Vector512.CopyTo), typeof(Vector512<float>), typeof(float[]), typeof(int));
        public static readonly MethodInfo CreateScalar = Generic(nameof(Vector512.Create), typeof(float));
        public static readonly MethodInfo Add = Generic(nameof(Vector512.Add), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Subtract = Generic(nameof(Vector512.Subtract), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Multiply = Generic(nameof(Vector512.Multiply), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Divide = Generic(nameof(Vector512.Divide), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Max = Generic(nameof(Vector512.Max), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Min = Generic(nameof(Vector512.Min), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Negate = Generic(nameof(Vector512.Negate), typeof(Vector512<float>));
        public static readonly MethodInfo Abs = Generic(nameof(Vector512.Abs), typeof(Vector512<float>));
        public static readonly MethodInfo Sqrt = Generic(nameof(Vector512.Sqrt), typeof(Vector512<float>));
        public static readonly MethodInfo Equal = Generic(nameof(Vector512.Equals), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Less = Generic(nameof(Vector512.LessThan), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo LessOrEqual = Generic(nameof(Vector512.LessThanOrEqual), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Greater = Generic(nameof(Vector512.GreaterThan), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo GreaterOrEqual = Generic(nameof(Vector512.GreaterThanOrEqual), typeof(Vector512<float>), typeof(Vector512<float>));
        public static readonly MethodInfo Not = Generic(nameof(Vector512.OnesComplement), typeof(Vector512<float>));
        public static readonly MethodInfo Select = Generic(nameof(Vector512.ConditionalSelect), typeof(Vector512<float>), typeof(Vector512<float>), typeof(Vector512<float>));

        /// <summary>Vector512's generic method <paramref name="name"/>&lt;float&gt; taking exactly <paramref name="parameters"/>.</summary>
        [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Only used where dynamic code is compiled (LoopCodegen.TryCompile).")]
        [UnconditionalSuppressMessage("Trimming", "IL2060", Justification = "float satisfies Vector512's constraints; a trimmed method fails the lookup and the nodes run.")]
        static MethodInfo Generic(string name, params Type[] parameters)
        {
            foreach (var m in typeof(Vector512).GetMethods(BindingFlags.Public | BindingFlags.Static))
            {
                if (m.Name != name || !m.IsGenericMethodDefinition || m.GetGenericArguments().Length != 1) continue;
                var closed = m.MakeGenericMethod(typeof(float));
                if (closed.GetParameters().Select(p => p.ParameterType).SequenceEqual(parameters)) return closed;
            }
            throw new NotSupportedException($"Vector512.{name}<float>({string.Join(", ", parameters.Select(p => p.Name))}) was not found");
        }
    }
}
