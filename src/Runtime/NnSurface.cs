using System.Globalization;
using XlaGen.Surface;

namespace XlaGen;

// Convolution, pooling, embeddings, more activations and layer normalisation (lowerings in src/Shared/Surface).
public static partial class Nn
{
    /// <summary>
    /// 2-D convolution in TensorFlow's layouts: <paramref name="x"/> is NHWC [batch, height, width, channels], the
    /// <paramref name="kernel"/> HWIO [height, width, channels / groups, filters]; the result is [batch, height', width', filters].
    /// <see cref="Padding.Same"/> keeps ⌈size / stride⌉ positions (the odd padding row/column at the bottom/right, as TF);
    /// <see cref="Padding.Valid"/> pads nothing. <paramref name="groups"/> &gt; 1 convolves channel groups separately
    /// (groups = channels is a depthwise convolution). PyTorch's NCHW/OIHW weights transpose to HWIO with (2, 3, 1, 0).
    /// </summary>
    public static Tensor<T> Conv2D<T>(Tensor<T> x, Tensor<T> kernel, int stride = 1, Padding padding = Padding.Valid, int dilation = 1, int groups = 1)
        where T : unmanaged =>
        Eager.Run<T>($"conv2d({stride},{padding},{dilation},{groups})", x, kernel, (b, p) => Lowering.Conv2D(b, p[0], p[1], stride, padding, dilation, groups));

    /// <summary>The maximum of each <paramref name="window"/>×<paramref name="window"/> patch of NHWC input; the stride
    /// defaults to the window (Keras' MaxPooling2D). SAME padding never wins a window.</summary>
    public static Tensor<T> MaxPool2D<T>(Tensor<T> x, int window = 2, int? stride = null, Padding padding = Padding.Valid) where T : unmanaged =>
        Eager.Run<T>($"maxpool2d({window},{stride},{padding})", x, (b, p) => Lowering.MaxPool2D(b, p[0], window, stride, padding));

    /// <summary>The mean of each <paramref name="window"/>×<paramref name="window"/> patch of NHWC input; the stride defaults
    /// to the window. With <see cref="Padding.Same"/> a border window divides by the number of real elements it covers,
    /// not by window² (TensorFlow's avg_pool; PyTorch's count_include_pad=False).</summary>
    public static Tensor<T> AvgPool2D<T>(Tensor<T> x, int window = 2, int? stride = null, Padding padding = Padding.Valid) where T : unmanaged =>
        Eager.Run<T>($"avgpool2d({window},{stride},{padding})", x, (b, p) => Lowering.AvgPool2D(b, p[0], window, stride, padding));

    /// <summary>The mean over height and width of NHWC input: [N,H,W,C] → [N,C].</summary>
    public static Tensor<T> GlobalAvgPool2D<T>(Tensor<T> x) where T : unmanaged =>
        Eager.Run<T>("global_avgpool2d", x, (b, p) => Lowering.GlobalAvgPool2D(b, p[0]));

    /// <summary>Rows of <paramref name="table"/> [vocabulary, dim] at integer <paramref name="ids"/> [B, …]: [B, …, dim].
    /// Ids outside [0, vocabulary) are clamped; the table's gradient adds the rows' cotangents (scatter-add).</summary>
    public static Tensor<T> Embedding<T, TIndex>(Tensor<T> table, Tensor<TIndex> ids) where T : unmanaged where TIndex : unmanaged =>
        Eager.Run<T>("embedding", table, ids, (b, p) => Lowering.Embedding(b, p[0], p[1]));

    /// <summary>Float one-hot rows of length <paramref name="depth"/> for integer <paramref name="ids"/> [B, …]: [B, …, depth].
    /// An id outside [0, depth) gives a row of zeros (TensorFlow's one_hot). Use Cast&lt;double&gt;() for f64 models.</summary>
    public static Tensor<float> OneHot<TIndex>(Tensor<TIndex> ids, int depth) where TIndex : unmanaged =>
        Eager.Run<float>("one_hot" + Tensor<float>.Key(depth), ids, (b, p) => Lowering.OneHot(b, p[0], depth));

    /// <summary>x for x &gt; 0, <paramref name="alpha"/>·x otherwise.</summary>
    public static Tensor<T> LeakyRelu<T>(Tensor<T> x, double alpha = 0.01) where T : unmanaged =>
        Eager.Run<T>("leaky_relu(" + alpha.ToString("R", CultureInfo.InvariantCulture) + ")", x, (b, p) => Lowering.LeakyRelu(b, p[0], alpha));

    /// <summary>x for x &gt; 0, <paramref name="alpha"/>·(eˣ − 1) otherwise.</summary>
    public static Tensor<T> Elu<T>(Tensor<T> x, double alpha = 1.0) where T : unmanaged =>
        Eager.Run<T>("elu(" + alpha.ToString("R", CultureInfo.InvariantCulture) + ")", x, (b, p) => Lowering.Elu(b, p[0], alpha));

    /// <summary>Inverted dropout, as Keras' <c>Dropout(rate)</c>: in a train step each element is kept with probability
    /// 1 − <paramref name="rate"/> and scaled by 1 / (1 − rate), else set to 0, with fresh bits every step (from the
    /// model's seed and the step number, the same on every backend); in Predict, Evaluate and eager calls it returns
    /// x. <paramref name="rate"/> must be a number known at build time, in [0, 1).</summary>
    public static Tensor<T> Dropout<T>(Tensor<T> x, double rate) where T : unmanaged =>
        Eager.Run<T>("dropout(" + rate.ToString("R", CultureInfo.InvariantCulture) + ")", x, (b, p) => Lowering.Dropout(b, p[0], rate, null));

    /// <summary>GELU with the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — PyTorch's
    /// approximate='tanh', Keras' approximate=True (not the exact erf form: XlaGen's op catalogue has no erf).</summary>
    public static Tensor<T> Gelu<T>(Tensor<T> x) where T : unmanaged => Eager.Run<T>("gelu", x, (b, p) => Lowering.Gelu(b, p[0]));

    /// <summary>log(1 + eˣ), computed stably as max(x, 0) + log(1 + e^−|x|).</summary>
    public static Tensor<T> Softplus<T>(Tensor<T> x) where T : unmanaged => Eager.Run<T>("softplus", x, (b, p) => Lowering.Softplus(b, p[0]));

    /// <summary>SiLU (swish): x·sigmoid(x).</summary>
    public static Tensor<T> Silu<T>(Tensor<T> x) where T : unmanaged => Eager.Run<T>("silu", x, (b, p) => Lowering.Silu(b, p[0]));

    /// <summary>A decoder's causal mask on attention scores [.., T, T] (queries, then keys): every score whose key comes
    /// after its query becomes −10⁹, so <c>Nn.Softmax(Nn.CausalMask(scores))</c> attends to the past and present only.</summary>
    public static Tensor<T> CausalMask<T>(Tensor<T> scores) where T : unmanaged =>
        Eager.Run<T>("causal_mask", scores, (b, p) => Lowering.CausalMask(b, p[0]));

    /// <summary>Batch normalisation over every axis but the last (Keras' <c>BatchNormalization()</c>, defaults momentum
    /// 0.99 and epsilon 1e-3). In a train step it normalises with the batch's mean and population variance and moves
    /// <paramref name="movingMean"/> and <paramref name="movingVariance"/> (which must be <c>[Param(…, Trainable =
    /// false)]</c> fields of the model) by moving · momentum + batch · (1 − momentum); in Predict, Evaluate and eager
    /// calls it uses the moving statistics: (x − movingMean) / √(movingVariance + ε) · gamma + beta.</summary>
    public static Tensor<T> BatchNorm<T>(Tensor<T> x, Tensor<T> gamma, Tensor<T> beta, Tensor<T> movingMean, Tensor<T> movingVariance,
        double momentum = 0.99, double epsilon = 1e-3) where T : unmanaged =>
        Eager.Run<T>("batch_norm(" + momentum.ToString("R", CultureInfo.InvariantCulture) + "," + epsilon.ToString("R", CultureInfo.InvariantCulture) + ")",
            new Tensor[] { x, gamma, beta, movingMean, movingVariance },
            (b, p) => Lowering.BatchNorm(b, p[0], p[1], p[2], p[3], p[4], momentum, epsilon, null).Output);

    /// <summary>Layer normalisation over the last axis: (x − mean) / √(var + <paramref name="epsilon"/>) · gamma + beta,
    /// with gamma and beta of the last dimension's size and the population variance (Keras' LayerNormalization,
    /// PyTorch's LayerNorm(D)).</summary>
    public static Tensor<T> LayerNorm<T>(Tensor<T> x, Tensor<T> gamma, Tensor<T> beta, double epsilon = 1e-5) where T : unmanaged =>
        Eager.Run<T>("layer_norm(" + epsilon.ToString("R", CultureInfo.InvariantCulture) + ")", new Tensor[] { x, gamma, beta },
            (b, p) => Lowering.LayerNorm(b, p[0], p[1], p[2], epsilon));
}
