using System.Numerics;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>Receives the op struct chosen for an (opcode, element type) pair and builds something with it: an
/// array kernel or a scalar-interpreter step.</summary>
internal interface IUnaryOpSink<out TResult>
{
    TResult Use<T, TOp>() where T : unmanaged where TOp : struct, IUnaryOp<T>;
}

internal interface IBinaryOpSink<out TResult>
{
    TResult Use<T, TOp>() where T : unmanaged where TOp : struct, IBinaryOp<T>;
}

/// <summary>Maps a compared value to a key whose ordinary operators implement the comparison type.</summary>
internal interface ICompareKey<T, TKey>
{
    static abstract TKey Key(T x);
}

internal readonly struct IdentityKey<T> : ICompareKey<T, T>
{
    public static T Key(T x) => x;
}

internal readonly struct PredKey : ICompareKey<bool, byte>
{
    public static byte Key(bool x) => x ? (byte)1 : (byte)0;
}

internal readonly struct TotalOrderF32Key : ICompareKey<float, int>
{
    public static int Key(float x) => TotalOrder.Key(x);
}

internal readonly struct TotalOrderF64Key : ICompareKey<double, long>
{
    public static long Key(double x) => TotalOrder.Key(x);
}

internal interface ICompareSink<out TResult>
{
    TResult Use<T, TKey, TKeyFn, TDir>() where T : unmanaged where TKey : IComparisonOperators<TKey, TKey, bool>
        where TKeyFn : struct, ICompareKey<T, TKey> where TDir : struct, ICompareDirection;
}

internal interface IConvert<TFrom, TTo>
{
    static abstract TTo Convert(TFrom x);

    static virtual bool Vectorized => false;

    static virtual void ConvertSpan(ReadOnlySpan<TFrom> x, Span<TTo> destination) => throw new NotSupportedException();
}

internal readonly struct NumberConvert<TFrom, TTo> : IConvert<TFrom, TTo> where TFrom : INumberBase<TFrom> where TTo : INumberBase<TTo>
{
    public static TTo Convert(TFrom x) => Conversions.Convert<TFrom, TTo>(x);

    public static bool Vectorized => true;

    public static void ConvertSpan(ReadOnlySpan<TFrom> x, Span<TTo> d)
    {
        if (Traits.IsFloat<TFrom>() && !Traits.IsFloat<TTo>()) System.Numerics.Tensors.TensorPrimitives.ConvertSaturating(x, d);
        else System.Numerics.Tensors.TensorPrimitives.ConvertTruncating(x, d);
    }
}

internal readonly struct ToPredConvert<TFrom> : IConvert<TFrom, bool> where TFrom : INumberBase<TFrom>
{
    public static bool Convert(TFrom x) => !TFrom.IsZero(x);
}

internal readonly struct FromPredConvert<TTo> : IConvert<bool, TTo> where TTo : INumberBase<TTo>
{
    public static TTo Convert(bool x) => x ? TTo.One : TTo.Zero;
}

internal readonly struct PredIdentityConvert : IConvert<bool, bool>
{
    public static bool Convert(bool x) => x;
}

internal interface IConvertSink<out TResult>
{
    TResult Use<TFrom, TTo, TConv>() where TFrom : unmanaged where TTo : unmanaged where TConv : struct, IConvert<TFrom, TTo>;
}

/// <summary>
/// The one place that decides which op struct implements an elementwise opcode for an element type: one switch per
/// arity and type family (float, integer, pred), one line per op. Both the array kernels and the scalar interpreter go
/// through here, so a reducer computes exactly what the array op computes. Which opcodes exist, their type classes and
/// costs come from the op catalogue; a test checks each switch has a line for exactly the types an entry admits.
/// </summary>
internal static class OpSelect
{
    /// <summary>The opcodes <see cref="Unary"/> selects for: the catalogue's <see cref="UnaryOp"/> entries (convert and
    /// copy are elementwise too, with kernels of their own).</summary>
    public static readonly string[] UnaryOpcodes = OpCatalogue.Elementwise.OfType<UnaryOp>().Select(o => o.Opcode).ToArray();

    /// <summary>The opcodes <see cref="Binary"/> selects for: the catalogue's <see cref="BinaryOp"/> entries.</summary>
    public static readonly string[] BinaryOpcodes = OpCatalogue.Elementwise.OfType<BinaryOp>().Select(o => o.Opcode).ToArray();

    public static TResult Unary<TResult>(string opcode, ElementType t, IUnaryOpSink<TResult> sink)
    {
        if (t == ElementType.Pred)
        {
            if (opcode == "not") return sink.Use<bool, PredNotOp>();
            throw NotFor(opcode, t);
        }
        if (t.IsFloatingPoint()) return TypeDispatch.Float(t, new FloatUnary<TResult>(opcode, sink));
        return TypeDispatch.Integer(t, new IntUnary<TResult>(opcode, sink));
    }

    public static TResult Binary<TResult>(string opcode, ElementType t, IBinaryOpSink<TResult> sink)
    {
        if (t == ElementType.Pred)
        {
            return opcode switch
            {
                "and" => sink.Use<bool, PredAndOp>(),
                "or" => sink.Use<bool, PredOrOp>(),
                "xor" => sink.Use<bool, PredXorOp>(),
                _ => throw NotFor(opcode, t),
            };
        }
        if (t.IsFloatingPoint()) return TypeDispatch.Float(t, new FloatBinary<TResult>(opcode, sink));
        return TypeDispatch.Integer(t, new IntBinary<TResult>(opcode, sink));
    }

    /// <summary><paramref name="comparisonType"/> is FLOAT, TOTALORDER, SIGNED, UNSIGNED or null (the type's default).
    /// TOTALORDER changes float ordering; integers and pred always compare by value.</summary>
    public static TResult Compare<TResult>(string direction, string? comparisonType, ElementType t, ICompareSink<TResult> sink)
    {
        var d = new CompareDirection<TResult>(sink, t, comparisonType == "TOTALORDER");
        return direction switch
        {
            "EQ" => d.With<CmpEq>(),
            "NE" => d.With<CmpNe>(),
            "LT" => d.With<CmpLt>(),
            "LE" => d.With<CmpLe>(),
            "GT" => d.With<CmpGt>(),
            "GE" => d.With<CmpGe>(),
            _ => throw new NotSupportedException($"comparison direction {direction} is not one of EQ, NE, LT, LE, GT, GE"),
        };
    }

    public static TResult Convert<TResult>(ElementType from, ElementType to, IConvertSink<TResult> sink)
    {
        if (from == ElementType.Pred)
        {
            if (to == ElementType.Pred) return sink.Use<bool, bool, PredIdentityConvert>();
            return TypeDispatch.Numeric(to, new FromPredFactory<TResult>(sink));
        }
        if (to == ElementType.Pred) return TypeDispatch.Numeric(from, new ToPredFactory<TResult>(sink));
        return TypeDispatch.Numeric(from, new ConvertOuter<TResult>(to, sink));
    }

    static NotSupportedException NotFor(string opcode, ElementType t) =>
        new($"{opcode} is not defined for element type {t.TextName()}");

    readonly struct FloatUnary<TResult>(string opcode, IUnaryOpSink<TResult> sink) : IFloatTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> => opcode switch
        {
            "negate" => sink.Use<T, NegateOp<T>>(),
            "abs" => sink.Use<T, FloatAbsOp<T>>(),
            "sign" => sink.Use<T, FloatSignOp<T>>(),
            "exponential" => sink.Use<T, ExpOp<T>>(),
            "exponential-minus-one" => sink.Use<T, ExpM1Op<T>>(),
            "log" => sink.Use<T, LogOp<T>>(),
            "log-plus-one" => sink.Use<T, LogP1Op<T>>(),
            "sqrt" => sink.Use<T, SqrtOp<T>>(),
            "rsqrt" => sink.Use<T, RsqrtOp<T>>(),
            "tanh" => sink.Use<T, TanhOp<T>>(),
            "logistic" => sink.Use<T, LogisticOp<T>>(),
            "floor" => sink.Use<T, FloorOp<T>>(),
            "ceil" => sink.Use<T, CeilOp<T>>(),
            _ => throw NotFor(opcode, typeof(T) == typeof(float) ? ElementType.F32 : ElementType.F64),
        };
    }

    readonly struct IntUnary<TResult>(string opcode, IUnaryOpSink<TResult> sink) : IIntegerTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T> => opcode switch
        {
            "negate" => sink.Use<T, NegateOp<T>>(),
            "abs" => sink.Use<T, IntAbsOp<T>>(),
            "sign" => sink.Use<T, IntSignOp<T>>(),
            "not" => sink.Use<T, NotOp<T>>(),
            _ => throw new NotSupportedException($"{opcode} is not defined for integer element type {typeof(T).Name}"),
        };
    }

    readonly struct FloatBinary<TResult>(string opcode, IBinaryOpSink<TResult> sink) : IFloatTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> => opcode switch
        {
            "add" => sink.Use<T, AddOp<T>>(),
            "subtract" => sink.Use<T, SubtractOp<T>>(),
            "multiply" => sink.Use<T, MultiplyOp<T>>(),
            "divide" => sink.Use<T, FloatDivideOp<T>>(),
            "maximum" => sink.Use<T, FloatMaxOp<T>>(),
            "minimum" => sink.Use<T, FloatMinOp<T>>(),
            "power" => sink.Use<T, FloatPowerOp<T>>(),
            "remainder" => sink.Use<T, FloatRemainderOp<T>>(),
            _ => throw new NotSupportedException($"{opcode} is not defined for floating-point element type {typeof(T).Name}"),
        };
    }

    readonly struct IntBinary<TResult>(string opcode, IBinaryOpSink<TResult> sink) : IIntegerTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T> => opcode switch
        {
            "add" => sink.Use<T, AddOp<T>>(),
            "subtract" => sink.Use<T, SubtractOp<T>>(),
            "multiply" => sink.Use<T, MultiplyOp<T>>(),
            "divide" => sink.Use<T, IntDivideOp<T>>(),
            "maximum" => sink.Use<T, IntMaxOp<T>>(),
            "minimum" => sink.Use<T, IntMinOp<T>>(),
            "power" => sink.Use<T, IntPowerOp<T>>(),
            "remainder" => sink.Use<T, IntRemainderOp<T>>(),
            "and" => sink.Use<T, AndOp<T>>(),
            "or" => sink.Use<T, OrOp<T>>(),
            "xor" => sink.Use<T, XorOp<T>>(),
            _ => throw new NotSupportedException($"{opcode} is not defined for integer element type {typeof(T).Name}"),
        };
    }

    readonly struct CompareDirection<TResult>(ICompareSink<TResult> sink, ElementType t, bool totalOrder)
    {
        public TResult With<TDir>() where TDir : struct, ICompareDirection
        {
            if (t == ElementType.Pred) return sink.Use<bool, byte, PredKey, TDir>();
            if (totalOrder && t == ElementType.F32) return sink.Use<float, int, TotalOrderF32Key, TDir>();
            if (totalOrder && t == ElementType.F64) return sink.Use<double, long, TotalOrderF64Key, TDir>();
            return TypeDispatch.Numeric(t, new CompareByValue<TResult, TDir>(sink));
        }
    }

    readonly struct CompareByValue<TResult, TDir>(ICompareSink<TResult> sink) : INumericTypeFactory<TResult> where TDir : struct, ICompareDirection
    {
        public TResult Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T> => sink.Use<T, T, IdentityKey<T>, TDir>();
    }

    readonly struct FromPredFactory<TResult>(IConvertSink<TResult> sink) : INumericTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T> => sink.Use<bool, T, FromPredConvert<T>>();
    }

    readonly struct ToPredFactory<TResult>(IConvertSink<TResult> sink) : INumericTypeFactory<TResult>
    {
        public TResult Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T> => sink.Use<T, bool, ToPredConvert<T>>();
    }

    readonly struct ConvertOuter<TResult>(ElementType to, IConvertSink<TResult> sink) : INumericTypeFactory<TResult>
    {
        public TResult Create<TFrom>() where TFrom : unmanaged, INumber<TFrom>, IMinMaxValue<TFrom> =>
            TypeDispatch.Numeric(to, new ConvertInner<TResult, TFrom>(sink));
    }

    readonly struct ConvertInner<TResult, TFrom>(IConvertSink<TResult> sink) : INumericTypeFactory<TResult>
        where TFrom : unmanaged, INumber<TFrom>, IMinMaxValue<TFrom>
    {
        public TResult Create<TTo>() where TTo : unmanaged, INumber<TTo>, IMinMaxValue<TTo> =>
            sink.Use<TFrom, TTo, NumberConvert<TFrom, TTo>>();
    }
}
