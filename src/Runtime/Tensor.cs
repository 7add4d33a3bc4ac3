using System.Numerics;
using System.Text;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// A host tensor: a static shape and its elements in row-major order. The untyped base is what devices
/// upload and download; <see cref="Tensor{T}"/> is what users hold. In an <c>[XlaModel]</c> class the same type
/// is the build-time surface the generator compiles (operators, MatMul, …); those members are never run there.
/// </summary>
public abstract partial class Tensor
{
    private protected Tensor(ElementType elementType, long[] shape, Array data)
    {
        ElementType = elementType;
        Dims = shape;
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor dimension {d} is negative");
            n *= d;
        }
        if (data.LongLength != n)
            throw new ArgumentException($"a tensor of shape [{string.Join(",", shape)}] has {n} elements but {data.LongLength} values were given");
        Data = data;
    }

    /// <summary>The element type (<see cref="ElementType.F32"/> for a Tensor&lt;float&gt; …).</summary>
    public ElementType ElementType { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<long> Shape => Dims;

    internal long[] Dims { get; }

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => Dims.Length;

    /// <summary>The number of elements: the product of the dims (1 for a scalar).</summary>
    public long ElementCount => Data.LongLength;

    /// <summary>The elements in row-major order (float[] for f32, int[] for s32, bool[] for pred …).</summary>
    public Array Data { get; }

    /// <summary>The HLO shape of this tensor (static, default layout); built once per tensor (an upload per step
    /// asked for it every step).</summary>
    public Shape HloShape => hloShape ??= Hlo.Shape.Array(ElementType, Dims);

    Shape? hloShape;

    /// <summary>The type and shape as HLO text writes them, such as f32[128,784] (for messages).</summary>
    public string ShapeText => $"{ElementType.TextName()}[{string.Join(",", Dims)}]";

    /// <summary>Wraps an IR literal (no copy).</summary>
    public static Tensor FromLiteral(Literal literal)
    {
        if (literal.Shape.IsTuple) throw new ArgumentException("a tuple literal is not a tensor");
        var dims = literal.Shape.ConcreteDims();
        return literal.Shape.ElementType switch
        {
            ElementType.F32 => new Tensor<float>(dims, (float[])literal.Data!),
            ElementType.F64 => new Tensor<double>(dims, (double[])literal.Data!),
            ElementType.S32 => new Tensor<int>(dims, (int[])literal.Data!),
            ElementType.S64 => new Tensor<long>(dims, (long[])literal.Data!),
            ElementType.Pred => new Tensor<bool>(dims, (bool[])literal.Data!),
            ElementType.S8 => new Tensor<sbyte>(dims, (sbyte[])literal.Data!),
            ElementType.S16 => new Tensor<short>(dims, (short[])literal.Data!),
            ElementType.U8 => new Tensor<byte>(dims, (byte[])literal.Data!),
            ElementType.U16 => new Tensor<ushort>(dims, (ushort[])literal.Data!),
            ElementType.U32 => new Tensor<uint>(dims, (uint[])literal.Data!),
            ElementType.U64 => new Tensor<ulong>(dims, (ulong[])literal.Data!),
            ElementType.F16 => new Tensor<Half>(dims, HalfArray((ushort[])literal.Data!)),
            _ => throw new NotSupportedException($"no tensor type for element type {literal.Shape.ElementType}"),
        };
    }

    static Half[] HalfArray(ushort[] bits)
    {
        var r = new Half[bits.Length];
        for (int i = 0; i < bits.Length; i++) r[i] = BitConverter.UInt16BitsToHalf(bits[i]);
        return r;
    }

    /// <summary>This tensor as an IR literal (no copy, except for f16).</summary>
    public Literal ToLiteral()
    {
        if (Data is Half[] h)
        {
            var bits = new ushort[h.Length];
            for (int i = 0; i < h.Length; i++) bits[i] = BitConverter.HalfToUInt16Bits(h[i]);
            return Literal.Create(HloShape, bits);
        }
        return Literal.Create(HloShape, Data);
    }

    /// <summary>The element type of a Tensor&lt;<typeparamref name="T"/>&gt;, as <see cref="ElementTypeOf(Type)"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a tensor element type.</exception>
    public static ElementType ElementTypeOf<T>() => ElementTypeOf(typeof(T));

    /// <summary>The element type of a CLR element type: float → F32, double → F64, int → S32, long → S64, bool → Pred,
    /// sbyte, short, byte, ushort, uint, ulong → S8, S16, U8, U16, U32, U64, Half → F16.</summary>
    /// <exception cref="NotSupportedException"><paramref name="t"/> is none of those.</exception>
    public static ElementType ElementTypeOf(Type t)
    {
        if (t == typeof(float)) return ElementType.F32;
        if (t == typeof(double)) return ElementType.F64;
        if (t == typeof(int)) return ElementType.S32;
        if (t == typeof(long)) return ElementType.S64;
        if (t == typeof(bool)) return ElementType.Pred;
        if (t == typeof(sbyte)) return ElementType.S8;
        if (t == typeof(short)) return ElementType.S16;
        if (t == typeof(byte)) return ElementType.U8;
        if (t == typeof(ushort)) return ElementType.U16;
        if (t == typeof(uint)) return ElementType.U32;
        if (t == typeof(ulong)) return ElementType.U64;
        if (t == typeof(Half)) return ElementType.F16;
        throw new NotSupportedException($"{t.Name} is not a tensor element type (use float, double, int, long, bool, sbyte, short, byte, ushort, uint, ulong or Half)");
    }

    /// <summary>"Tensor f32[2,3]": the type and shape, not the elements.</summary>
    public override string ToString() => $"Tensor {ShapeText}";
}

/// <summary>A host tensor of <typeparamref name="T"/> elements.</summary>
public sealed partial class Tensor<T> : Tensor where T : unmanaged
{
    /// <summary>A tensor of <paramref name="shape"/> over <paramref name="data"/> (row-major; the array is used as is, not copied; the shape is copied).</summary>
    /// <exception cref="ArgumentException">A dim is negative, or <paramref name="data"/> does not hold exactly the product of the dims.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a tensor element type.</exception>
    public Tensor(long[] shape, T[] data) : base(ElementTypeOf<T>(), (long[])shape.Clone(), data)
    {
    }

    /// <summary>A tensor of <paramref name="shape"/> over <paramref name="data"/> (row-major, not copied).</summary>
    /// <exception cref="ArgumentException">A dim is negative, or <paramref name="data"/> does not hold exactly the product of the dims.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a tensor element type.</exception>
    public Tensor(IReadOnlyList<long> shape, T[] data) : this(shape.ToArray(), data)
    {
    }

    /// <summary>The elements, row-major.</summary>
    public new T[] Data => (T[])base.Data;

    /// <summary>The elements, row-major, as a span over <see cref="Data"/> (writes change the tensor).</summary>
    public Span<T> Span => Data;

    /// <summary>A tensor of <paramref name="shape"/> filled with default(T) (zero, false).</summary>
    public static Tensor<T> Zeros(params long[] shape) => new(shape, new T[Count(shape)]);

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor<T> Scalar(T value) => new(Array.Empty<long>(), new[] { value });

    /// <summary>A tensor of <paramref name="shape"/> holding <paramref name="data"/> (row-major, copied).</summary>
    public static Tensor<T> FromArray(T[] data, params long[] shape) => new(shape, (T[])data.Clone());

    static long Count(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    /// <summary>Element at a multi-index (row-major).</summary>
    public T this[params long[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    long Offset(long[] index)
    {
        if (index.Length != Rank) throw new ArgumentException($"tensor {ShapeText} needs {Rank} indices, got {index.Length}");
        long off = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if (index[i] < 0 || index[i] >= Dims[i]) throw new IndexOutOfRangeException($"index {index[i]} is outside dimension {i} (size {Dims[i]}) of {ShapeText}");
            off = off * Dims[i] + index[i];
        }
        return off;
    }

    /// <summary>The same elements viewed with another shape of equal element count (no copy).</summary>
    public Tensor<T> Reshaped(params long[] shape) => new(shape, Data);
}
