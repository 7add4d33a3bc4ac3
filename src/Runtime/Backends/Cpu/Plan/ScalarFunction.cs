using System.Numerics;
using System.Runtime.CompilerServices;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// A computation on scalars (a reducer, a sort comparator, a map function) called once per element. Values live in
/// a register file of 64-bit cells, each holding one scalar's bits; every caller thread uses its own register file
/// (<see cref="NewRegisters"/>), so one function serves many threads.
/// </summary>
internal abstract class ScalarFunction
{
    protected ScalarFunction(ElementType[] parameterTypes, ElementType[] resultTypes)
    {
        ParameterTypes = parameterTypes;
        ResultTypes = resultTypes;
    }

    public ElementType[] ParameterTypes { get; }

    public ElementType[] ResultTypes { get; }

    public abstract ulong[] NewRegisters();

    public abstract int ParameterRegister(int i);

    public abstract int ResultRegister(int i);

    public abstract void Invoke(ulong[] registers);
}

/// <summary>Moves scalars between typed arrays and registers.</summary>
internal static class ScalarIO
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bits<T>(T value) where T : unmanaged
    {
        ulong r = 0;
        Unsafe.As<ulong, T>(ref r) = value;
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Value<T>(ulong bits) where T : unmanaged => Unsafe.As<ulong, T>(ref bits);

    public delegate ulong Loader(Array array, int index);

    public delegate void Storer(Array array, int index, ulong bits);

    public static Loader LoaderFor(ElementType t) => TypeDispatch.Any(t, new LoaderFactory());

    public static Storer StorerFor(ElementType t) => TypeDispatch.Any(t, new StorerFactory());

    /// <summary>Allocates a pooled array of the element type for a result slot.</summary>
    public static Func<Frame, int, int, Array> AllocatorFor(ElementType t) => TypeDispatch.Any(t, new AllocatorFactory());

    readonly struct LoaderFactory : IAnyTypeFactory<Loader>
    {
        public Loader Create<T>() where T : unmanaged => (a, i) => Bits(((T[])a)[i]);
    }

    readonly struct StorerFactory : IAnyTypeFactory<Storer>
    {
        public Storer Create<T>() where T : unmanaged => (a, i, bits) => ((T[])a)[i] = Value<T>(bits);
    }

    readonly struct AllocatorFactory : IAnyTypeFactory<Func<Frame, int, int, Array>>
    {
        public Func<Frame, int, int, Array> Create<T>() where T : unmanaged => (f, slot, n) => f.Alloc<T>(slot, n);
    }
}

/// <summary>
/// A straight-line register program compiled from a computation whose instructions are all scalar elementwise ops
/// (and tuple / get-tuple-element / call plumbing). Each instruction gets its own register (SSA), constants are
/// preloaded, and each op is one delegate that applies the same op struct as the array kernels.
/// </summary>
internal sealed class ScalarProgram : ScalarFunction
{
    internal delegate void Op(ulong[] r);

    readonly Op[] ops;
    readonly ulong[] template;
    readonly int[] parameterRegisters;
    readonly int[] resultRegisters;

    ScalarProgram(ElementType[] parameterTypes, ElementType[] resultTypes, Op[] ops, ulong[] template, int[] parameterRegisters, int[] resultRegisters)
        : base(parameterTypes, resultTypes)
    {
        this.ops = ops;
        this.template = template;
        this.parameterRegisters = parameterRegisters;
        this.resultRegisters = resultRegisters;
    }

    public int OpCount => ops.Length;

    public override ulong[] NewRegisters() => (ulong[])template.Clone();

    public override int ParameterRegister(int i) => parameterRegisters[i];

    public override int ResultRegister(int i) => resultRegisters[i];

    public override void Invoke(ulong[] registers)
    {
        foreach (var op in ops) op(registers);
    }

    /// <summary>The program, or null when the computation holds something that is not a scalar op.</summary>
    public static ScalarProgram? TryCompile(HloComputation computation)
    {
        var parameters = computation.Parameters;
        if (parameters.Any(p => !p.Shape.IsScalar)) return null;
        var b = new Builder();
        var paramRegs = parameters.Select(_ => b.NewRegister()).ToArray();
        var results = b.Inline(computation, paramRegs.Select(r => new[] { r }).ToArray());
        if (results == null) return null;
        var resultTypes = ComputationCompiler.Leaves(computation.Root.Shape).Select(s => s.ElementType).ToArray();
        return new ScalarProgram(parameters.Select(p => p.Shape.ElementType).ToArray(), resultTypes, b.Ops.ToArray(),
            b.Template.ToArray(), paramRegs, results);
    }

    sealed class Builder
    {
        public readonly List<Op> Ops = new();
        public readonly List<ulong> Template = new();

        public int NewRegister()
        {
            Template.Add(0);
            return Template.Count - 1;
        }

        /// <summary>Compiles <paramref name="c"/> with its parameters' leaves in <paramref name="args"/>; returns the root's leaf registers.</summary>
        public int[]? Inline(HloComputation c, int[][] args)
        {
            var regs = new Dictionary<HloInstruction, int[]>();
            foreach (var ins in c.Instructions)
            {
                var r = Compile(ins, regs, args);
                if (r == null) return null;
                regs[ins] = r;
            }
            return regs[c.Root];
        }

        int[]? Compile(HloInstruction ins, Dictionary<HloInstruction, int[]> regs, int[][] args)
        {
            int[] In(int i) => regs[ins.Operands[i]];
            var shape = ins.Shape;
            if (ins.Opcode == "parameter") return args[ins.Attributes.ParameterNumber];
            if (ins.Opcode == "tuple") return ins.Operands.SelectMany(o => regs[o]).ToArray();
            if (ins.Opcode == "get-tuple-element")
            {
                var t = ins.Operands[0].Shape;
                int start = t.TupleShapes.Take((int)ins.Attributes.TupleIndex).Sum(ComputationCompiler.CountLeaves);
                return In(0).Skip(start).Take(ComputationCompiler.CountLeaves(shape)).ToArray();
            }
            if (ins.Opcode is "call" or "fusion")
            {
                return Inline(ins.CalledComputations[0], ins.Operands.Select(o => regs[o]).ToArray());
            }
            if (!shape.IsScalar || ins.Operands.Any(o => !o.Shape.IsScalar)) return null;
            var t0 = ins.Operands.Count > 0 ? ins.Operands[0].Shape.ElementType : shape.ElementType;
            try
            {
                switch (ins.Opcode)
                {
                    case "constant":
                    {
                        int reg = NewRegister();
                        Template[reg] = ScalarIO.LoaderFor(shape.ElementType)(ins.Attributes.Literal!.Data!, 0);
                        return new[] { reg };
                    }
                    case "copy":
                    case "reshape":
                    case "bitcast":
                    case "broadcast":
                        return In(0);
                    case "compare":
                    {
                        int o = NewRegister();
                        Ops.Add(OpSelect.Compare(ins.Attributes.ComparisonDirection!, ins.Attributes.ComparisonType, t0,
                            new CompareSink(In(0)[0], In(1)[0], o)));
                        return new[] { o };
                    }
                    case "select":
                    {
                        int o = NewRegister(), p = In(0)[0], x = In(1)[0], y = In(2)[0];
                        Ops.Add(r => r[o] = (r[p] & 1) != 0 ? r[x] : r[y]);
                        return new[] { o };
                    }
                    case "convert":
                    {
                        int o = NewRegister();
                        Ops.Add(OpSelect.Convert(t0, shape.ElementType, new ConvertSink(In(0)[0], o)));
                        return new[] { o };
                    }
                    case "clamp":
                    {
                        int o = NewRegister();
                        var clamp = new ClampFactory(In(0)[0], In(1)[0], In(2)[0], o);
                        Ops.Add(t0.IsFloatingPoint() ? TypeDispatch.Float(t0, clamp) : TypeDispatch.Integer(t0, clamp));
                        return new[] { o };
                    }
                }
                if (OpSelect.UnaryOpcodes.Contains(ins.Opcode))
                {
                    int o = NewRegister();
                    Ops.Add(OpSelect.Unary(ins.Opcode, t0, new UnarySink(In(0)[0], o)));
                    return new[] { o };
                }
                if (OpSelect.BinaryOpcodes.Contains(ins.Opcode))
                {
                    int o = NewRegister();
                    Ops.Add(OpSelect.Binary(ins.Opcode, t0, new BinarySink(In(0)[0], In(1)[0], o)));
                    return new[] { o };
                }
            }
            catch (NotSupportedException)
            {
                return null;
            }
            return null;
        }
    }

    sealed class UnarySink(int x, int o) : IUnaryOpSink<Op>
    {
        public Op Use<T, TOp>() where T : unmanaged where TOp : struct, IUnaryOp<T> =>
            r => r[o] = ScalarIO.Bits(TOp.Apply(ScalarIO.Value<T>(r[x])));
    }

    sealed class BinarySink(int x, int y, int o) : IBinaryOpSink<Op>
    {
        public Op Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T> =>
            r => r[o] = ScalarIO.Bits(TOp.Apply(ScalarIO.Value<T>(r[x]), ScalarIO.Value<T>(r[y])));
    }

    sealed class CompareSink(int x, int y, int o) : ICompareSink<Op>
    {
        public Op Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
            where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection =>
            r => r[o] = TDir.Test(TKeyFn.Key(ScalarIO.Value<T>(r[x])), TKeyFn.Key(ScalarIO.Value<T>(r[y]))) ? 1UL : 0UL;
    }

    sealed class ConvertSink(int x, int o) : IConvertSink<Op>
    {
        public Op Use<TFrom, TTo, TConv>() where TFrom : unmanaged where TTo : unmanaged where TConv : struct, IConvert<TFrom, TTo> =>
            r => r[o] = ScalarIO.Bits(TConv.Convert(ScalarIO.Value<TFrom>(r[x])));
    }

    readonly struct ClampFactory(int lo, int x, int hi, int o) : IFloatTypeFactory<Op>, IIntegerTypeFactory<Op>
    {
        public Op Create<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
        {
            int l = lo, v = x, h = hi, d = o;
            return r =>
            {
                T low = ScalarIO.Value<T>(r[l]), val = ScalarIO.Value<T>(r[v]), high = ScalarIO.Value<T>(r[h]);
                r[d] = ScalarIO.Bits(T.IsNaN(low) ? low : T.IsNaN(val) ? val : T.IsNaN(high) ? high
                    : FloatMinOp<T>.Apply(high, FloatMaxOp<T>.Apply(val, low)));
            };
        }

        Op IIntegerTypeFactory<Op>.Create<T>()
        {
            int l = lo, v = x, h = hi, d = o;
            return r => r[d] = ScalarIO.Bits(IntMinOp<T>.Apply(ScalarIO.Value<T>(r[h]), IntMaxOp<T>.Apply(ScalarIO.Value<T>(r[v]), ScalarIO.Value<T>(r[l]))));
        }
    }
}

/// <summary>The general fallback: a scalar computation that is not a straight-line scalar program (it builds arrays
/// inside, or uses control flow) runs as a full plan on one-element arrays. Slow, but exact.</summary>
internal sealed class PlanScalarFunction : ScalarFunction
{
    readonly CompiledComputation plan;
    readonly ScalarIO.Loader[] loaders;
    readonly ScalarIO.Storer[] storers;
    readonly Func<Array>[] newParameter;

    public PlanScalarFunction(CompiledComputation plan)
        : base(plan.ParameterLeafShapes.Select(s => s.ElementType).ToArray(), plan.ResultLeafShapes.Select(s => s.ElementType).ToArray())
    {
        this.plan = plan;
        if (plan.ParameterLeafShapes.Any(s => !s.IsScalar) || plan.ResultLeafShapes.Any(s => !s.IsScalar))
            throw new NotSupportedException($"%{plan.Computation.Name} must take and return scalars");
        loaders = ResultTypes.Select(ScalarIO.LoaderFor).ToArray();
        storers = ParameterTypes.Select(ScalarIO.StorerFor).ToArray();
        newParameter = ParameterTypes.Select(t => (Func<Array>)(() => TypeDispatch.NewArray(t, 1))).ToArray();
    }

    public override ulong[] NewRegisters() => new ulong[ParameterTypes.Length + ResultTypes.Length];

    public override int ParameterRegister(int i) => i;

    public override int ResultRegister(int i) => ParameterTypes.Length + i;

    public override void Invoke(ulong[] registers)
    {
        var inputs = new Array[ParameterTypes.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = newParameter[i]();
            storers[i](inputs[i], 0, registers[i]);
        }
        var outputs = new Array[ResultTypes.Length];
        plan.Run(new RunContext(), inputs, null, outputs);
        for (int i = 0; i < outputs.Length; i++) registers[ParameterTypes.Length + i] = loaders[i](outputs[i], 0);
    }
}
