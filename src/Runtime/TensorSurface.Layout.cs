using System.Globalization;
using XlaGen.Surface;

namespace XlaGen;

// Indexing and layout members of the tensor surface (lowerings in src/Shared/Surface/Lowering.Layout.cs).

public sealed partial class Tensor<T>
{
    /// <summary>Python's <c>x[start:end:step]</c> along <paramref name="axis"/>: negative indices count from the end, bounds
    /// past either end are clamped, and <paramref name="end"/> = null means "to the end". An empty result is an error.
    /// A symbolic dimension (the batch) can only be taken whole.</summary>
    public Tensor<T> Slice(int axis, int start, int? end = null, int step = 1) =>
        Eager.Run<T>($"slice({axis},{start},{(end == null ? "" : end.Value.ToString(CultureInfo.InvariantCulture))},{step})", this,
            (b, p) => Lowering.Slice(b, p[0], axis, start, end, step));

    /// <summary>Pads dimension i with <paramref name="before"/>[i] zeros in front and <paramref name="after"/>[i] behind
    /// (one entry per dimension; NumPy's pad with mode='constant').</summary>
    public Tensor<T> Pad(int[] before, int[] after) => Pad(before, after, default);

    /// <summary>Pads dimension i with <paramref name="before"/>[i] copies of <paramref name="value"/> in front and
    /// <paramref name="after"/>[i] behind.</summary>
    public Tensor<T> Pad(int[] before, int[] after, T value) =>
        Eager.Run<T>("pad" + Key(before) + Key(after), new Tensor[] { this, Scalar(value) }, (b, p) => Lowering.Pad(b, p[0], before, after, p[1]));

    /// <summary>Reverses the order along <paramref name="axes"/> (all when none; NumPy's flip).</summary>
    public Tensor<T> Reverse(params int[] axes) => Eager.Run<T>("reverse" + Key(axes), this, (b, p) => Lowering.Reverse(b, p[0], axes));

    /// <summary>Keeps dimension 0 and flattens the others: [B,28,28,1] → [B,784] (Keras' Flatten; torch.flatten(x, 1)).</summary>
    public Tensor<T> Flatten() => Eager.Run<T>("flatten", this, (b, p) => Lowering.Flatten(b, p[0]));

    /// <summary>NumPy's take: the slices at <paramref name="indices"/> along <paramref name="axis"/>; the result has shape
    /// dims[..axis] + indices.dims + dims[axis+1..]. Indices are clamped into [0, size − 1] (XLA's gather); the gradient
    /// adds up the cotangents of repeated indices.</summary>
    public Tensor<T> Take<TIndex>(Tensor<TIndex> indices, int axis = 0) where TIndex : unmanaged =>
        Eager.Run<T>("take" + Key(axis), this, indices, (b, p) => Lowering.Take(b, p[0], p[1], axis));

    /// <summary>jax.lax.dynamic_slice: the block of <paramref name="sizes"/> at the run-time position <paramref name="starts"/>
    /// (one index per dimension), each start clamped so the block fits.</summary>
    public Tensor<T> DynamicSlice(Tensor<int> starts, params int[] sizes) =>
        Eager.Run<T>("dynamic_slice" + Key(sizes), this, starts, (b, p) => Lowering.DynamicSlice(b, p[0], p[1], sizes));

    /// <summary>jax.lax.dynamic_update_slice: this tensor with <paramref name="update"/> written at the run-time position
    /// <paramref name="starts"/>, each start clamped so the update fits.</summary>
    public Tensor<T> DynamicUpdateSlice(Tensor<T> update, Tensor<int> starts) =>
        Eager.Run<T>("dynamic_update_slice", new Tensor[] { this, update, starts }, (b, p) => Lowering.DynamicUpdateSlice(b, p[0], p[1], p[2]));
}

public abstract partial class Tensor
{
    /// <summary>Joins <paramref name="parts"/> along <paramref name="axis"/> (torch.cat, np.concatenate); the other
    /// dimensions must agree, and the axis must be constant.</summary>
    public static Tensor<T> Concat<T>(int axis, params Tensor<T>[] parts) where T : unmanaged =>
        Eager.Run<T>("concat" + Tensor<T>.Key(axis), parts, (b, p) => Lowering.Concat(b, axis, p));

    /// <summary>Stacks tensors of one shape along a new axis (torch.stack, np.stack).</summary>
    public static Tensor<T> Stack<T>(int axis, params Tensor<T>[] parts) where T : unmanaged =>
        Eager.Run<T>("stack" + Tensor<T>.Key(axis), parts, (b, p) => Lowering.Stack(b, axis, p));
}
