using System.Numerics.Tensors;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// One elementwise unary op: <see cref="Apply"/> is the exact XLA semantics (HloEvaluator) for one element and is
/// shared by the array kernels and the scalar interpreter (reducers, comparators, map); when
/// <see cref="Vectorized"/> is true, <see cref="ApplySpan"/> computes the same thing with SIMD.
/// </summary>
internal interface IUnaryOp<T>
{
    static abstract T Apply(T x);

    static virtual bool Vectorized => false;

    static virtual void ApplySpan(ReadOnlySpan<T> x, Span<T> destination) => throw new NotSupportedException();
}

/// <summary>One elementwise binary op; see <see cref="IUnaryOp{T}"/>.</summary>
internal interface IBinaryOp<T>
{
    static abstract T Apply(T x, T y);

    static virtual bool Vectorized => false;

    static virtual void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination) => throw new NotSupportedException();

    /// <summary>True when <see cref="ApplySpanScalar"/> and <see cref="ApplyScalarSpan"/> have SIMD forms.</summary>
    static virtual bool VectorizedWithScalar => false;

    /// <summary>d[i] = x[i] op y.</summary>
    static virtual void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> destination) => throw new NotSupportedException();

    /// <summary>d[i] = x op y[i].</summary>
    static virtual void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> destination) => throw new NotSupportedException();
}

// ---- any numeric type: integers wrap (two's complement), floats are IEEE ----

internal readonly struct AddOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T x, T y) => x + y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Add(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Add(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Add(y, x, d);
}

internal readonly struct SubtractOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T x, T y) => x - y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Subtract(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Subtract(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Subtract(x, y, d);
}

internal readonly struct MultiplyOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T x, T y) => x * y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Multiply(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Multiply(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Multiply(y, x, d);
}

/// <summary>negate: wraps for the most negative integer (as XLA's two's-complement arithmetic does).</summary>
internal readonly struct NegateOp<T> : IUnaryOp<T> where T : INumber<T>
{
    public static T Apply(T x) => -x;

    public static bool Vectorized => Traits.IsFloat<T>();

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Negate(x, d);
}

// ---- integers ----

/// <summary>abs of an integer: |MIN| wraps to MIN; unsigned is the identity.</summary>
internal readonly struct IntAbsOp<T> : IUnaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x) => Traits.IsSigned<T>() && x < T.Zero ? -x : x;
}

internal readonly struct IntSignOp<T> : IUnaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x) => x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
}

/// <summary>Integer division as XLA defines it: x/0 is -1 (signed) or all ones (unsigned); MIN/-1 is MIN.</summary>
internal readonly struct IntDivideOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>, IMinMaxValue<T>
{
    public static T Apply(T x, T y)
    {
        if (y == T.Zero) return Traits.IsSigned<T>() ? -T.One : T.MaxValue;
        if (Traits.IsSigned<T>() && y == -T.One) return -x;   // wraps MIN/-1 to MIN without trapping
        return x / y;
    }
}

/// <summary>Integer remainder as XLA defines it: x%0 is x; MIN%-1 is 0; the sign follows the dividend.</summary>
internal readonly struct IntRemainderOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>, IMinMaxValue<T>
{
    public static T Apply(T x, T y)
    {
        if (y == T.Zero) return x;
        if (Traits.IsSigned<T>() && y == -T.One) return T.Zero;
        return x % y;
    }
}

internal readonly struct IntMaxOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y) => x < y ? y : x;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Max(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Max(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Max(y, x, d);
}

internal readonly struct IntMinOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y) => y < x ? y : x;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Min(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Min(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Min(y, x, d);
}

/// <summary>Integer power: x^0 = 1 and 1^y = 1; a negative exponent gives 0; otherwise repeated squaring, wrapping.</summary>
internal readonly struct IntPowerOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y)
    {
        if (x == T.One || y == T.Zero) return T.One;
        if (Traits.IsSigned<T>() && y < T.Zero) return T.Zero;
        T result = T.One;
        while (y != T.Zero)
        {
            if ((y & T.One) != T.Zero) result *= x;
            y >>>= 1;
            x *= x;
        }
        return result;
    }
}

internal readonly struct NotOp<T> : IUnaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x) => ~x;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.OnesComplement(x, d);
}

internal readonly struct AndOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y) => x & y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.BitwiseAnd(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.BitwiseAnd(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.BitwiseAnd(y, x, d);
}

internal readonly struct OrOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y) => x | y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.BitwiseOr(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.BitwiseOr(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.BitwiseOr(y, x, d);
}

internal readonly struct XorOp<T> : IBinaryOp<T> where T : IBinaryInteger<T>
{
    public static T Apply(T x, T y) => x ^ y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Xor(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Xor(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Xor(y, x, d);
}

// ---- pred (bool): stored as one byte 0/1 ----

internal readonly struct PredNotOp : IUnaryOp<bool>
{
    public static bool Apply(bool x) => !x;
}

internal readonly struct PredAndOp : IBinaryOp<bool>
{
    public static bool Apply(bool x, bool y) => x & y;
}

internal readonly struct PredOrOp : IBinaryOp<bool>
{
    public static bool Apply(bool x, bool y) => x | y;
}

internal readonly struct PredXorOp : IBinaryOp<bool>
{
    public static bool Apply(bool x, bool y) => x ^ y;
}

// ---- floating point ----

internal readonly struct FloatAbsOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Abs(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Abs(x, d);
}

/// <summary>sign: NaN stays NaN, ±0 stays ±0, otherwise ±1.</summary>
internal readonly struct FloatSignOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.IsNaN(x) || x == T.Zero ? x : x > T.Zero ? T.One : -T.One;
}

internal readonly struct ExpOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Exp(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Exp(x, d);
}

/// <summary>exponential-minus-one: eˣ − 1 without the cancellation near 0 (.NET's ExpM1 and TensorPrimitives.ExpM1
/// compute exp(x) − 1 as written, which loses every digit for |x| below the type's epsilon). Kahan's form: with
/// u = exp(x) rounded, (u − 1)·x / log(u) cancels the rounding error of u. Exact for ±0 (sign kept), −∞ → −1, ∞ → ∞.</summary>
internal readonly struct ExpM1Op<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x)
    {
        T u = T.Exp(x);
        if (u == T.One) return x;
        T um1 = u - T.One;
        if (um1 == -T.One) return -T.One;
        if (T.IsPositiveInfinity(u)) return u;
        return um1 * (x / T.Log(u));   // x / log(u) first: near 1, so large x cannot overflow the product
    }
}

/// <summary>log-plus-one: log(1 + x) accurate near 0 (.NET's LogP1 computes log(x + 1) as written). Goldberg's form:
/// with u = 1 + x rounded, log(u)·x / (u − 1) cancels the rounding error of u. Exact for ±0, −1 → −∞, ∞ → ∞,
/// x &lt; −1 → NaN.</summary>
internal readonly struct LogP1Op<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x)
    {
        T u = T.One + x;
        if (u == T.One) return x;
        if (T.IsPositiveInfinity(u)) return u;
        T lu = T.Log(u);
        return T.IsInfinity(lu) || T.IsNaN(lu) ? lu : lu * (x / (u - T.One));
    }
}

internal readonly struct LogOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Log(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Log(x, d);
}

internal readonly struct SqrtOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Sqrt(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Sqrt(x, d);
}

internal readonly struct RsqrtOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / T.Sqrt(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.ReciprocalSqrt(x, d);
}

internal readonly struct TanhOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Tanh(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Tanh(x, d);
}

/// <summary>logistic(x) = 1 / (1 + exp(-x)).</summary>
internal readonly struct LogisticOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / (T.One + T.Exp(-x));

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Sigmoid(x, d);
}

internal readonly struct FloorOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Floor(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Floor(x, d);
}

internal readonly struct CeilOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Ceiling(x);

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, Span<T> d) => TensorPrimitives.Ceiling(x, d);
}

internal readonly struct FloatDivideOp<T> : IBinaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x, T y) => x / y;

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Divide(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Divide(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Divide(x, y, d);
}

/// <summary>Float remainder is C's fmod (the sign follows the dividend), which is C#'s %.</summary>
internal readonly struct FloatRemainderOp<T> : IBinaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x, T y) => x % y;
}

/// <summary>maximum: a NaN operand (lhs first) is the result; otherwise std::max.</summary>
internal readonly struct FloatMaxOp<T> : IBinaryOp<T> where T : IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Apply(T x, T y)
    {
        if (T.IsNaN(x)) return x;
        if (T.IsNaN(y)) return y;
        return x < y ? y : x;
    }

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Max(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Max(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Max(y, x, d);
}

internal readonly struct FloatMinOp<T> : IBinaryOp<T> where T : IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Apply(T x, T y)
    {
        if (T.IsNaN(x)) return x;
        if (T.IsNaN(y)) return y;
        return y < x ? y : x;
    }

    public static bool Vectorized => true;

    public static void ApplySpan(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Min(x, y, d);

    public static bool VectorizedWithScalar => true;

    public static void ApplySpanScalar(ReadOnlySpan<T> x, T y, Span<T> d) => TensorPrimitives.Min(x, y, d);

    public static void ApplyScalarSpan(T x, ReadOnlySpan<T> y, Span<T> d) => TensorPrimitives.Min(y, x, d);
}

/// <summary>power: 1^y = 1 and x^0 = 1 (even for NaN), otherwise C's pow.</summary>
internal readonly struct FloatPowerOp<T> : IBinaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x, T y) => x == T.One || y == T.Zero ? T.One : T.Pow(x, y);
}

// ---- comparisons ----

/// <summary>A comparison direction; operands are already in an order where the operators mean what the direction says.</summary>
internal interface ICompareDirection
{
    static abstract bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool>;
}

internal readonly struct CmpEq : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x == y;
}

internal readonly struct CmpNe : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x != y;
}

internal readonly struct CmpLt : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x < y;
}

internal readonly struct CmpLe : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x <= y;
}

internal readonly struct CmpGt : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x > y;
}

internal readonly struct CmpGe : ICompareDirection
{
    public static bool Test<T>(T x, T y) where T : IComparisonOperators<T, T, bool> => x >= y;
}

/// <summary>
/// TOTALORDER keys: the IEEE bits as a signed integer with the magnitude bits flipped for negative values, so
/// integer order is -NaN &lt; -inf &lt; … &lt; -0 &lt; +0 &lt; … &lt; inf &lt; NaN.
/// </summary>
internal static class TotalOrder
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Key(float f)
    {
        int b = BitConverter.SingleToInt32Bits(f);
        return b < 0 ? b ^ int.MaxValue : b;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Key(double d)
    {
        long b = BitConverter.DoubleToInt64Bits(d);
        return b < 0 ? b ^ long.MaxValue : b;
    }
}

// ---- conversions ----

/// <summary>convert as XLA's Literal::Convert: float → integer saturates with NaN → 0; integer → integer wraps;
/// anything → pred is x != 0; pred → number is 0 or 1; other pairs are the C cast (round to nearest).</summary>
internal static class Conversions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TTo Convert<TFrom, TTo>(TFrom x) where TFrom : INumberBase<TFrom> where TTo : INumberBase<TTo>
    {
        if (Traits.IsFloat<TFrom>() && !Traits.IsFloat<TTo>()) return TTo.CreateSaturating(x);
        return TTo.CreateTruncating(x);
    }
}
