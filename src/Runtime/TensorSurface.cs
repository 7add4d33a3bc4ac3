using XlaGen.Hlo;
using XlaGen.Surface;

namespace XlaGen;

// The tensor surface a model is written in. The generator compiles these calls at build time (the table in
// src/Generator/Parsing/SurfaceTable.cs maps each to its lowering in src/Shared/Surface/Lowering.cs). Called
// directly on host tensors they run eagerly on the CPU executor through the very same lowering.

public sealed partial class Tensor<T>
{
    /// <summary>Elementwise sum of <paramref name="x"/> and <paramref name="y"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public static Tensor<T> operator +(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("add", x, y, (b, p) => Lowering.Binary(b, "add", p[0], p[1], "+"));

    /// <summary>Elementwise difference of <paramref name="x"/> and <paramref name="y"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public static Tensor<T> operator -(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("subtract", x, y, (b, p) => Lowering.Binary(b, "subtract", p[0], p[1], "-"));

    /// <summary>Elementwise product (not a matrix product: see <see cref="MatMul"/>) of <paramref name="x"/> and <paramref name="y"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public static Tensor<T> operator *(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("multiply", x, y, (b, p) => Lowering.Binary(b, "multiply", p[0], p[1], "*"));

    /// <summary>Elementwise quotient of <paramref name="x"/> and <paramref name="y"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public static Tensor<T> operator /(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("divide", x, y, (b, p) => Lowering.Binary(b, "divide", p[0], p[1], "/"));

    /// <summary>Elementwise sum of every element of <paramref name="x"/> and the scalar <paramref name="y"/>.</summary>
    public static Tensor<T> operator +(Tensor<T> x, T y) => x + Scalar(y);

    /// <summary>Elementwise difference of every element of <paramref name="x"/> and the scalar <paramref name="y"/>.</summary>
    public static Tensor<T> operator -(Tensor<T> x, T y) => x - Scalar(y);

    /// <summary>Elementwise product of every element of <paramref name="x"/> and the scalar <paramref name="y"/>.</summary>
    public static Tensor<T> operator *(Tensor<T> x, T y) => x * Scalar(y);

    /// <summary>Elementwise quotient of every element of <paramref name="x"/> and the scalar <paramref name="y"/>.</summary>
    public static Tensor<T> operator /(Tensor<T> x, T y) => x / Scalar(y);

    /// <summary>Elementwise sum of the scalar <paramref name="x"/> and every element of <paramref name="y"/>.</summary>
    public static Tensor<T> operator +(T x, Tensor<T> y) => Scalar(x) + y;

    /// <summary>Elementwise difference of the scalar <paramref name="x"/> and every element of <paramref name="y"/>.</summary>
    public static Tensor<T> operator -(T x, Tensor<T> y) => Scalar(x) - y;

    /// <summary>Elementwise product of the scalar <paramref name="x"/> and every element of <paramref name="y"/>.</summary>
    public static Tensor<T> operator *(T x, Tensor<T> y) => Scalar(x) * y;

    /// <summary>Elementwise quotient of the scalar <paramref name="x"/> and every element of <paramref name="y"/>.</summary>
    public static Tensor<T> operator /(T x, Tensor<T> y) => Scalar(x) / y;

    /// <summary>The remainder of truncated division, with the sign of x (C#'s %, C's fmod; Python's % differs for negative operands).</summary>
    public static Tensor<T> operator %(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("remainder", x, y, (b, p) => Lowering.Remainder(b, p[0], p[1]));

    /// <summary>The remainder of every element of <paramref name="x"/> divided by the scalar <paramref name="y"/>, with the sign of x (C#'s %).</summary>
    public static Tensor<T> operator %(Tensor<T> x, T y) => x % Scalar(y);

    /// <summary>The remainder of the scalar <paramref name="x"/> divided by every element of <paramref name="y"/>, with the sign of x (C#'s %).</summary>
    public static Tensor<T> operator %(T x, Tensor<T> y) => Scalar(x) % y;

    /// <summary>Elementwise negation.</summary>
    public static Tensor<T> operator -(Tensor<T> x) => Eager.Run<T>("negate", x, (b, p) => b.Negate(p[0]));

    /// <summary>Elementwise and: logical on Tensor&lt;bool&gt;, bitwise on integer tensors (broadcast).</summary>
    public static Tensor<T> operator &(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("and", x, y, (b, p) => Lowering.Logical(b, "and", p[0], p[1], "&"));

    /// <summary>Elementwise or: logical on Tensor&lt;bool&gt;, bitwise on integer tensors (broadcast).</summary>
    public static Tensor<T> operator |(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("or", x, y, (b, p) => Lowering.Logical(b, "or", p[0], p[1], "|"));

    /// <summary>Elementwise exclusive or: logical on Tensor&lt;bool&gt;, bitwise on integer tensors (broadcast).</summary>
    public static Tensor<T> operator ^(Tensor<T> x, Tensor<T> y) => Eager.Run<T>("xor", x, y, (b, p) => Lowering.Logical(b, "xor", p[0], p[1], "^"));

    /// <summary>Elementwise logical not of a Tensor&lt;bool&gt;.</summary>
    public static Tensor<T> operator !(Tensor<T> x) => Eager.Run<T>("not", x, (b, p) => Lowering.Not(b, p[0], "!"));

    /// <summary>Elementwise bitwise complement of an integer tensor.</summary>
    public static Tensor<T> operator ~(Tensor<T> x) => Eager.Run<T>("not", x, (b, p) => Lowering.Not(b, p[0], "~"));

    /// <summary>Matrix product (NumPy matmul rules: [..,m,k]·[k,n], or batched over equal leading dims).</summary>
    public Tensor<T> MatMul(Tensor<T> other) => Eager.Run<T>("matmul", this, other, (b, p) => Lowering.MatMul(b, p[0], p[1]));

    /// <summary>Sum over <paramref name="axes"/> (all when none; negative counts from the end).</summary>
    public Tensor<T> Sum(params int[] axes) => Eager.Run<T>("sum" + Key(axes), this, (b, p) => Lowering.Sum(b, p[0], axes));

    /// <summary>The mean over <paramref name="axes"/> (all when none; negative counts from the end), which are dropped. Floating-point tensors only.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The tensor is not floating-point, or an axis is out of range or listed twice.</exception>
    public Tensor<T> Mean(params int[] axes) => Eager.Run<T>("mean" + Key(axes), this, (b, p) => Lowering.Mean(b, p[0], axes));

    /// <summary>The maximum over <paramref name="axes"/> (all when none; negative counts from the end), which are dropped.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">An axis is out of range or listed twice.</exception>
    public Tensor<T> Max(params int[] axes) => Eager.Run<T>("max" + Key(axes), this, (b, p) => Lowering.Max(b, p[0], axes));

    /// <summary>The minimum over <paramref name="axes"/> (all when none; negative counts from the end), which are dropped.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">An axis is out of range or listed twice.</exception>
    public Tensor<T> Min(params int[] axes) => Eager.Run<T>("min" + Key(axes), this, (b, p) => Lowering.Min(b, p[0], axes));

    /// <summary>The same elements in a new shape; one dim may be -1 (inferred).</summary>
    public Tensor<T> Reshape(params int[] dims) =>
        Eager.Run<T>("reshape" + Key(dims), this, (b, p) => Lowering.Reshape(b, p[0], dims.Select(d => (Dim)d).ToArray()));

    /// <summary>Permutes the dims; with none, reverses them (a matrix transpose for rank 2).</summary>
    public Tensor<T> Transpose(params int[] permutation) =>
        Eager.Run<T>("transpose" + Key(permutation), this, (b, p) => Lowering.Transpose(b, p[0], permutation));

    /// <summary>Elementwise eˣ.</summary>
    public Tensor<T> Exp() => Unary("exponential");

    /// <summary>Elementwise natural logarithm (−∞ at 0, NaN below).</summary>
    public Tensor<T> Log() => Unary("log");

    /// <summary>Elementwise square root.</summary>
    public Tensor<T> Sqrt() => Unary("sqrt");

    /// <summary>Elementwise reciprocal square root, 1/√x.</summary>
    public Tensor<T> Rsqrt() => Unary("rsqrt");

    /// <summary>Elementwise absolute value.</summary>
    public Tensor<T> Abs() => Unary("abs");

    /// <summary>Elementwise hyperbolic tangent.</summary>
    public Tensor<T> Tanh() => Unary("tanh");

    /// <summary>-1, 0 or 1 by the sign of each element.</summary>
    public Tensor<T> Sign() => Eager.Run<T>("sign", this, (b, p) => Lowering.Sign(b, p[0]));

    /// <summary>Rounds each element down to an integer value (floating-point tensors).</summary>
    public Tensor<T> Floor() => Eager.Run<T>("floor", this, (b, p) => Lowering.Floor(b, p[0]));

    /// <summary>Rounds each element up to an integer value (floating-point tensors).</summary>
    public Tensor<T> Ceil() => Eager.Run<T>("ceil", this, (b, p) => Lowering.Ceil(b, p[0]));

    /// <summary>Limits every element to [<paramref name="min"/>, <paramref name="max"/>]; the gradient passes only where x is inside.</summary>
    public Tensor<T> Clamp(T min, T max) =>
        Eager.Run<T>("clamp", new Tensor[] { this, Scalar(min), Scalar(max) }, (b, p) => Lowering.Clamp(b, p[0], p[1], p[2]));

    /// <summary>Population variance over <paramref name="axes"/> (all when none): divides by N, like NumPy and TensorFlow
    /// (PyTorch's var needs correction=0 for the same value).</summary>
    public Tensor<T> Var(params int[] axes) => Eager.Run<T>("var" + Key(axes), this, (b, p) => Lowering.Var(b, p[0], axes));

    /// <summary>Population standard deviation over <paramref name="axes"/>: √Var.</summary>
    public Tensor<T> Std(params int[] axes) => Eager.Run<T>("std" + Key(axes), this, (b, p) => Lowering.Std(b, p[0], axes));

    /// <summary>Elementwise x², as <c>this * this</c>.</summary>
    public Tensor<T> Square() => this * this;

    /// <summary>Elementwise power, this raised to <paramref name="exponent"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public Tensor<T> Pow(Tensor<T> exponent) => Eager.Run<T>("power", this, exponent, (b, p) => Lowering.Binary(b, "power", p[0], p[1], "Pow"));

    /// <summary>Every element raised to the scalar <paramref name="exponent"/>.</summary>
    public Tensor<T> Pow(T exponent) => Pow(Scalar(exponent));

    /// <summary>Elementwise maximum of this and <paramref name="other"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public Tensor<T> Maximum(Tensor<T> other) => Eager.Run<T>("maximum", this, other, (b, p) => Lowering.Binary(b, "maximum", p[0], p[1], "Maximum"));

    /// <summary>Elementwise minimum of this and <paramref name="other"/>, with NumPy broadcasting.</summary>
    /// <exception cref="XlaGen.Ops.ShapeException">The shapes do not broadcast together.</exception>
    public Tensor<T> Minimum(Tensor<T> other) => Eager.Run<T>("minimum", this, other, (b, p) => Lowering.Binary(b, "minimum", p[0], p[1], "Minimum"));

    /// <summary>Every element limited from below by the scalar <paramref name="other"/>.</summary>
    public Tensor<T> Maximum(T other) => Maximum(Scalar(other));

    /// <summary>Every element limited from above by the scalar <paramref name="other"/>.</summary>
    public Tensor<T> Minimum(T other) => Minimum(Scalar(other));

    /// <summary>Elementwise this &gt; <paramref name="other"/>, with NumPy broadcasting.</summary>
    public Tensor<bool> Greater(Tensor<T> other) => Compare("GT", other);

    /// <summary>Elementwise this ≥ <paramref name="other"/>, with NumPy broadcasting.</summary>
    public Tensor<bool> GreaterOrEqual(Tensor<T> other) => Compare("GE", other);

    /// <summary>Elementwise this &lt; <paramref name="other"/>, with NumPy broadcasting.</summary>
    public Tensor<bool> Less(Tensor<T> other) => Compare("LT", other);

    /// <summary>Elementwise this ≤ <paramref name="other"/>, with NumPy broadcasting.</summary>
    public Tensor<bool> LessOrEqual(Tensor<T> other) => Compare("LE", other);

    /// <summary>Elementwise this == <paramref name="other"/>, with NumPy broadcasting (the == operator compares references, not elements).</summary>
    public Tensor<bool> ElementwiseEquals(Tensor<T> other) => Compare("EQ", other);

    /// <summary>Elementwise this != <paramref name="other"/>, with NumPy broadcasting.</summary>
    public Tensor<bool> ElementwiseNotEquals(Tensor<T> other) => Compare("NE", other);

    /// <summary>Converts every element to <typeparamref name="TOut"/> (XLA convert semantics).</summary>
    public Tensor<TOut> Cast<TOut>() where TOut : unmanaged =>
        Eager.Run<TOut>("convert_" + typeof(TOut).Name, this, (b, p) => b.Convert(p[0], ElementTypeOf<TOut>()));

    Tensor<T> Unary(string opcode) => Eager.Run<T>(opcode, this, (b, p) => b.Unary(opcode, p[0]));

    Tensor<bool> Compare(string direction, Tensor<T> other) =>
        Eager.Run<bool>("compare" + direction, this, other, (b, p) => Lowering.Compare(b, direction, p[0], p[1]));

    internal static string Key(params int[] xs) => "(" + string.Join(",", xs) + ")";
}


/// <summary>Neural-network functions of the model surface.</summary>
public static partial class Nn
{
    /// <summary>Rectified linear unit, max(x, 0), elementwise.</summary>
    public static Tensor<T> Relu<T>(Tensor<T> x) where T : unmanaged => Eager.Run<T>("relu", x, (b, p) => Lowering.Relu(b, p[0]));

    /// <summary>The logistic sigmoid 1/(1+e^−x), elementwise.</summary>
    public static Tensor<T> Sigmoid<T>(Tensor<T> x) where T : unmanaged => Eager.Run<T>("sigmoid", x, (b, p) => Lowering.Sigmoid(b, p[0]));

    /// <summary>The hyperbolic tangent, elementwise (as <see cref="Tensor{T}.Tanh"/>).</summary>
    public static Tensor<T> Tanh<T>(Tensor<T> x) where T : unmanaged => x.Tanh();

    /// <summary>Softmax along <paramref name="axis"/> (last by default), stabilised by subtracting the max.</summary>
    public static Tensor<T> Softmax<T>(Tensor<T> x, int axis = -1) where T : unmanaged =>
        Eager.Run<T>("softmax" + axis, x, (b, p) => Lowering.Softmax(b, p[0], axis));

    /// <summary>log(softmax(x)) along <paramref name="axis"/> (last by default; negative counts from the end), computed stably as
    /// x − max − log(Σ exp(x − max)); use it with a negative log-likelihood instead of Log of <see cref="Softmax"/>.</summary>
    public static Tensor<T> LogSoftmax<T>(Tensor<T> x, int axis = -1) where T : unmanaged =>
        Eager.Run<T>("logsoftmax" + axis, x, (b, p) => Lowering.LogSoftmax(b, p[0], axis));

    /// <summary>Elementwise choice: <paramref name="condition"/> ? <paramref name="x"/> : <paramref name="y"/>, broadcast.</summary>
    public static Tensor<T> Where<T>(Tensor<bool> condition, Tensor<T> x, Tensor<T> y) where T : unmanaged =>
        Eager.Run<T>("where", new Tensor[] { condition, x, y }, (b, p) => Lowering.Where(b, p[0], p[1], p[2]));
}

/// <summary>Loss functions of the model surface: each returns the mean loss over the batch (dim 0) as a scalar.
/// In a [Loss] method they also give the metrics Fit and Evaluate report (accuracy for the classification losses).</summary>
public static class Losses
{
    /// <summary>Mean of −log softmax(logits)[label] over the batch; numerically stable. Metric: accuracy.</summary>
    public static Tensor<T> SparseSoftmaxCrossEntropy<T, TLabel>(Tensor<T> logits, Tensor<TLabel> labels) where T : unmanaged where TLabel : unmanaged =>
        Eager.Run<T>("sparse_softmax_cross_entropy", logits, labels, (b, p) => Surface.LossLowering.SparseSoftmaxCrossEntropy(b, p[0], p[1], null));

    /// <summary>Mean of −Σ targets·log softmax(logits) over the batch (one-hot or soft targets). Metric: accuracy.</summary>
    public static Tensor<T> SoftmaxCrossEntropy<T>(Tensor<T> logits, Tensor<T> targets) where T : unmanaged =>
        Eager.Run<T>("softmax_cross_entropy", logits, targets, (b, p) => Surface.LossLowering.SoftmaxCrossEntropy(b, p[0], p[1], null));

    /// <summary>Mean of (prediction − target)² over all elements. Metric: mae.</summary>
    public static Tensor<T> MeanSquaredError<T>(Tensor<T> prediction, Tensor<T> target) where T : unmanaged =>
        Eager.Run<T>("mean_squared_error", prediction, target, (b, p) => Surface.LossLowering.MeanSquaredError(b, p[0], p[1], null));

    /// <summary>Mean sigmoid cross-entropy from logits, computed stably. Metric: accuracy (threshold 0.5).</summary>
    public static Tensor<T> BinaryCrossEntropyWithLogits<T>(Tensor<T> logits, Tensor<T> targets) where T : unmanaged =>
        Eager.Run<T>("binary_cross_entropy_with_logits", logits, targets, (b, p) => Surface.LossLowering.BinaryCrossEntropyWithLogits(b, p[0], p[1], null));

    /// <summary>Shows <paramref name="prediction"/> and its <paramref name="target"/> to the metrics chosen in
    /// <c>Compile(optimizer, metrics: …)</c> (Accuracy, AUC, …) and returns <paramref name="prediction"/> unchanged: a
    /// hand-written loss writes <c>var logits = Losses.Observe(Logits(x), labels, PredictionKind.ClassLogits);</c>. The
    /// built-in losses observe their own arguments; explicit observations replace those.</summary>
    public static Tensor<T> Observe<T, TTarget>(Tensor<T> prediction, Tensor<TTarget> target, PredictionKind kind) where T : unmanaged where TTarget : unmanaged
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        Surface.Observation.Check("Observe", prediction.HloShape, target.HloShape, kind);
        return prediction;
    }

    /// <summary>Σ w²: add <c>λ * Losses.L2(w)</c> to a loss for L2 weight decay.</summary>
    public static Tensor<T> L2<T>(Tensor<T> w) where T : unmanaged => Eager.Run<T>("l2", w, (b, p) => Surface.LossLowering.L2(b, p[0]));
}
