namespace XlaGen.Layers;

/// <summary>Keras' DepthwiseConv2D on NHWC images: each input channel is convolved with its own
/// <c>depthMultiplier</c> filters; output channel <c>c · depthMultiplier + m</c> is input channel c's filter m, as in
/// TensorFlow. Depthwise kernel [kernelSize, kernelSize, inChannels, depthMultiplier] glorot_uniform with Keras' fans
/// (fan in = kernelSize² · inChannels, fan out = kernelSize² · depthMultiplier: Keras computes them from the kernel's
/// shape like any conv kernel's), bias [inChannels · depthMultiplier] zeros; stride, padding (Valid or Same, as
/// TensorFlow) and dilation. Lowered as a grouped convolution with one group per input channel (the kernel reshaped to
/// HWIO [k, k, 1, inChannels · depthMultiplier], which is the same row-major order).</summary>
[XlaModel]
public partial class DepthwiseConv2D(int inChannels, int kernelSize, int strides = 1, Padding padding = Padding.Valid, int depthMultiplier = 1,
    int dilation = 1, Activation activation = Activation.Linear, bool useBias = true)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>depthwise_conv2d</c>, <c>depthwise_conv2d_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "depthwise_conv2d";

    [Param("kernelSize", "kernelSize", "inChannels", "depthMultiplier", Init = Init.GlorotUniform)] Tensor<float> depthwiseKernel;
    [Param("OutChannels")] Tensor<float> bias;
    ActivationLayer act = new(activation);

    /// <summary>Output channels: inChannels · depthMultiplier.</summary>
    public int OutChannels { get; } = inChannels * depthMultiplier;

    /// <summary>Convolves each channel of the NHWC batch <paramref name="x"/> [N, H, W, inChannels] with its own filters, adds
    /// the bias (when <c>useBias</c>) and applies the activation, giving [N, H', W', <see cref="OutChannels"/>] (H', W' as for <see cref="Conv2D"/>).</summary>
    public Tensor<float> Call(Tensor<float> x)
    {
        var y = Nn.Conv2D(x, depthwiseKernel.Reshape(kernelSize, kernelSize, 1, OutChannels), strides, padding, dilation, inChannels);
        if (useBias) y = y + bias;
        return act.Call(y);
    }
}
