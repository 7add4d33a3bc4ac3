namespace XlaGen.Layers;

/// <summary>Keras' MaxPooling2D on NHWC images (strides default to the pool size).</summary>
[XlaModel]
public partial class MaxPool2D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid)
{
    /// <summary>The maximum of each poolSize × poolSize window of the NHWC batch <paramref name="x"/>, per channel: [N, H, W, C] → [N, H', W', C].</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.MaxPool2D(x, poolSize, strides, padding);
}

/// <summary>Keras' AveragePooling2D on NHWC images (with Same padding it divides by the real elements of each window).</summary>
[XlaModel]
public partial class AvgPool2D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid)
{
    /// <summary>The mean of each poolSize × poolSize window of the NHWC batch <paramref name="x"/>, per channel: [N, H, W, C] → [N, H', W', C].</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.AvgPool2D(x, poolSize, strides, padding);
}

/// <summary>Keras' GlobalAveragePooling2D: NHWC → [N, C].</summary>
[XlaModel]
public partial class GlobalAvgPool2D
{
    /// <summary>The mean over height and width of the NHWC batch <paramref name="x"/>: [N, H, W, C] → [N, C].</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.GlobalAvgPool2D(x);
}

/// <summary>Keras' Flatten: [N, …] → [N, product of the rest].</summary>
[XlaModel]
public partial class Flatten
{
    /// <summary>Reshapes <paramref name="x"/> [N, d1, d2, …] to [N, d1·d2·…], in row-major order.</summary>
    public Tensor<float> Call(Tensor<float> x) => x.Flatten();
}
