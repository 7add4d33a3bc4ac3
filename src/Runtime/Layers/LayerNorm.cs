namespace XlaGen.Layers;

/// <summary>Keras' LayerNormalization over the last axis: gamma [features] ones, beta [features] zeros, epsilon 1e-3.</summary>
[XlaModel]
public partial class LayerNorm(int features, double epsilon = 1e-3)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>layer_normalization</c>, <c>layer_normalization_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "layer_normalization";

    [Param("features", Init = Init.Ones)] Tensor<float> gamma;
    [Param("features")] Tensor<float> beta;

    /// <summary>Normalises each position of <paramref name="x"/> over its last axis (of size <c>features</c>) to mean 0 and
    /// variance 1 (epsilon added to the variance), then scales by gamma and shifts by beta; the shape is unchanged.</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.LayerNorm(x, gamma, beta, epsilon);
}
