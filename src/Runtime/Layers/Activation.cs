namespace XlaGen.Layers;

/// <summary>Keras' activation names for the layers' <c>activation</c> argument.</summary>
public enum Activation
{
    /// <summary>No activation (Keras "linear", the default).</summary>
    Linear,
    /// <summary>max(x, 0) (<see cref="Nn.Relu"/>).</summary>
    Relu,
    /// <summary>1 / (1 + e^−x) (<see cref="Nn.Sigmoid"/>).</summary>
    Sigmoid,
    /// <summary>The hyperbolic tangent (<see cref="Nn.Tanh"/>).</summary>
    Tanh,
    /// <summary>Softmax over the last axis.</summary>
    Softmax,
    /// <summary>GELU, tanh approximation.</summary>
    Gelu,
    /// <summary>ELU with alpha 1: x for x &gt; 0, e^x − 1 otherwise (<see cref="Nn.Elu"/>).</summary>
    Elu,
    /// <summary>SiLU (swish): x · sigmoid(x) (<see cref="Nn.Silu"/>).</summary>
    Silu,
    /// <summary>log(1 + e^x) (<see cref="Nn.Softplus"/>).</summary>
    Softplus,
}

/// <summary>Keras' Activation layer: applies <paramref name="kind"/>, chosen at build time (a switch on a constant).</summary>
[XlaModel]
public partial class ActivationLayer(Activation kind)
{
    /// <summary>Applies the activation elementwise (Softmax over the last axis); the shape is unchanged.</summary>
    public Tensor<float> Call(Tensor<float> x) => kind switch
    {
        Activation.Relu => Nn.Relu(x),
        Activation.Sigmoid => Nn.Sigmoid(x),
        Activation.Tanh => Nn.Tanh(x),
        Activation.Softmax => Nn.Softmax(x),
        Activation.Gelu => Nn.Gelu(x),
        Activation.Elu => Nn.Elu(x),
        Activation.Silu => Nn.Silu(x),
        Activation.Softplus => Nn.Softplus(x),
        _ => x,
    };
}
