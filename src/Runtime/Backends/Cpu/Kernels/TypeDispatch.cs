using System.Numerics;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>A factory generic over any storable element type (pred included).</summary>
internal interface IAnyTypeFactory<out TResult>
{
    TResult Create<T>() where T : unmanaged;
}

/// <summary>A factory generic over numeric element types (integers and floats, not pred).</summary>
internal interface INumericTypeFactory<out TResult>
{
    TResult Create<T>() where T : unmanaged, INumber<T>, IMinMaxValue<T>;
}

/// <summary>A factory generic over floating-point element types (f32, f64).</summary>
internal interface IFloatTypeFactory<out TResult>
{
    TResult Create<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>;
}

/// <summary>A factory generic over integer element types (signed and unsigned, not pred).</summary>
internal interface IIntegerTypeFactory<out TResult>
{
    TResult Create<T>() where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T>;
}

/// <summary>
/// Maps an <see cref="ElementType"/> to its CLR storage type once, at compile time, and instantiates a generic
/// kernel for it; the JIT then specialises the kernel per type, so hot loops have no per-element dispatch.
/// </summary>
internal static class TypeDispatch
{
    /// <summary>Element types the CPU executor stores and computes with.</summary>
    public static bool IsSupported(ElementType t) =>
        t is ElementType.Pred or ElementType.S8 or ElementType.S16 or ElementType.S32 or ElementType.S64
            or ElementType.U8 or ElementType.U16 or ElementType.U32 or ElementType.U64 or ElementType.F32 or ElementType.F64;

    public static Type ClrType(ElementType t) => t switch
    {
        ElementType.Pred => typeof(bool),
        ElementType.S8 => typeof(sbyte),
        ElementType.S16 => typeof(short),
        ElementType.S32 => typeof(int),
        ElementType.S64 => typeof(long),
        ElementType.U8 => typeof(byte),
        ElementType.U16 => typeof(ushort),
        ElementType.U32 => typeof(uint),
        ElementType.U64 => typeof(ulong),
        ElementType.F32 => typeof(float),
        ElementType.F64 => typeof(double),
        _ => throw Unsupported(t),
    };

    public static NotSupportedException Unsupported(ElementType t) =>
        new($"element type {Name(t)} is not supported by the CPU executor (supported: pred, s8, s16, s32, s64, u8, u16, u32, u64, f32, f64)");

    static string Name(ElementType t)
    {
        try
        {
            return t.TextName();
        }
        catch (ArgumentException)
        {
            return t.ToString();
        }
    }

    public static TResult Any<TResult>(ElementType t, IAnyTypeFactory<TResult> f) => t switch
    {
        ElementType.Pred => f.Create<bool>(),
        ElementType.S8 => f.Create<sbyte>(),
        ElementType.S16 => f.Create<short>(),
        ElementType.S32 => f.Create<int>(),
        ElementType.S64 => f.Create<long>(),
        ElementType.U8 => f.Create<byte>(),
        ElementType.U16 => f.Create<ushort>(),
        ElementType.U32 => f.Create<uint>(),
        ElementType.U64 => f.Create<ulong>(),
        ElementType.F32 => f.Create<float>(),
        ElementType.F64 => f.Create<double>(),
        _ => throw Unsupported(t),
    };

    public static TResult Numeric<TResult>(ElementType t, INumericTypeFactory<TResult> f) => t switch
    {
        ElementType.S8 => f.Create<sbyte>(),
        ElementType.S16 => f.Create<short>(),
        ElementType.S32 => f.Create<int>(),
        ElementType.S64 => f.Create<long>(),
        ElementType.U8 => f.Create<byte>(),
        ElementType.U16 => f.Create<ushort>(),
        ElementType.U32 => f.Create<uint>(),
        ElementType.U64 => f.Create<ulong>(),
        ElementType.F32 => f.Create<float>(),
        ElementType.F64 => f.Create<double>(),
        _ => throw Unsupported(t),
    };

    public static TResult Float<TResult>(ElementType t, IFloatTypeFactory<TResult> f) => t switch
    {
        ElementType.F32 => f.Create<float>(),
        ElementType.F64 => f.Create<double>(),
        _ => throw Unsupported(t),
    };

    public static TResult Integer<TResult>(ElementType t, IIntegerTypeFactory<TResult> f) => t switch
    {
        ElementType.S8 => f.Create<sbyte>(),
        ElementType.S16 => f.Create<short>(),
        ElementType.S32 => f.Create<int>(),
        ElementType.S64 => f.Create<long>(),
        ElementType.U8 => f.Create<byte>(),
        ElementType.U16 => f.Create<ushort>(),
        ElementType.U32 => f.Create<uint>(),
        ElementType.U64 => f.Create<ulong>(),
        _ => throw Unsupported(t),
    };

    /// <summary>A fresh zeroed array of <paramref name="n"/> elements of <paramref name="t"/>.</summary>
    public static Array NewArray(ElementType t, int n) => Any(t, new NewArrayFactory(n));

    readonly struct NewArrayFactory(int n) : IAnyTypeFactory<Array>
    {
        public Array Create<T>() where T : unmanaged => new T[n];
    }
}

/// <summary>Compile-time facts about a CLR element type, written so the JIT folds them to constants.</summary>
internal static class Traits
{
    public static bool IsFloat<T>() => typeof(T) == typeof(float) || typeof(T) == typeof(double);

    public static bool IsSigned<T>() =>
        typeof(T) == typeof(sbyte) || typeof(T) == typeof(short) || typeof(T) == typeof(int) || typeof(T) == typeof(long);

    public static bool IsUnsigned<T>() =>
        typeof(T) == typeof(byte) || typeof(T) == typeof(ushort) || typeof(T) == typeof(uint) || typeof(T) == typeof(ulong);
}
