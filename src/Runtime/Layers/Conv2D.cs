namespace XlaGen.Layers;

/// <summary>Keras' Conv2D on NHWC images: kernel [kernelSize, kernelSize, inChannels / groups, filters] (HWIO)
/// glorot_uniform, bias [filters] zeros; stride, padding (Valid or Same, as TensorFlow), dilation and groups.</summary>
[XlaModel]
public partial class Conv2D(int inChannels, int filters, int kernelSize, int strides = 1, Padding padding = Padding.Valid, int dilation = 1,
    int groups = 1, Activation activation = Activation.Linear, bool useBias = true)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>conv2d</c>, <c>conv2d_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "conv2d";

    [Param("kernelSize", "kernelSize", "GroupChannels", "filters", Init = Init.GlorotUniform)] Tensor<float> kernel;
    [Param("filters")] Tensor<float> bias;
    ActivationLayer act = new(activation);

    /// <summary>Input channels each group sees: the kernel's third dimension.</summary>
    public int GroupChannels { get; } = inChannels / groups;

    /// <summary>Convolves the NHWC batch <paramref name="x"/> [N, H, W, inChannels] with the kernel, adds the bias (when
    /// <c>useBias</c>) and applies the activation, giving [N, H', W', filters]: with Valid padding
    /// H' = ⌊(H − dilation·(kernelSize − 1) − 1) / strides⌋ + 1, with Same padding H' = ⌈H / strides⌉ (W' likewise).</summary>
    public Tensor<float> Call(Tensor<float> x)
    {
        var y = Nn.Conv2D(x, kernel, strides, padding, dilation, groups);
        if (useBias) y = y + bias;
        return act.Call(y);
    }
}
