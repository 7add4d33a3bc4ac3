namespace XlaGen.Layers;

/// <summary>Keras' Dense: <c>activation(x · kernel + bias)</c> over the last axis, kernel [inputs, units] glorot_uniform,
/// bias [units] zeros. A field <c>Dense d = new(784, 256, Activation.Relu);</c> gets parameters <c>d.kernel</c>, <c>d.bias</c>.</summary>
[XlaModel]
public partial class Dense(int inputs, int units, Activation activation = Activation.Linear, bool useBias = true)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>dense</c>, <c>dense_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "dense";

    [Param("inputs", "units", Init = Init.GlorotUniform)] Tensor<float> kernel;
    [Param("units")] Tensor<float> bias;
    ActivationLayer act = new(activation);

    /// <summary><c>activation(x · kernel + bias)</c>: <paramref name="x"/> is [..., inputs] (usually [B, inputs]) and the result [..., units].</summary>
    public Tensor<float> Call(Tensor<float> x)
    {
        var y = x.MatMul(kernel);
        if (useBias) y = y + bias;
        return act.Call(y);
    }
}
