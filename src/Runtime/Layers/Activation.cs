namespace XlaGen.Layers;

/// <summary>Keras' activation names for the layers' <c>activation</c> argument.</summary>
public enum Activation
{
    /// <summary>No activation (Keras "linear", the default).</summary>
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    /// <summary>Softmax over the last axis.</summary>
    Softmax,
    /// <summary>GELU, tanh approximation.</summary>
    Gelu,
    Elu,
    Silu,
    Softplus,
}

/// <summary>Keras' Activation layer: applies <paramref name="kind"/>, chosen at build time (a switch on a constant).</summary>
[XlaModel]
public partial class ActivationLayer(Activation kind)
{
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
