namespace XlaGen.Tests.Models;

// Issue 9, deliverable 1: configurable layers written with the attributes a user writes. The same C# runs eagerly
// (ToModel(): field initializers create the configured instances) and compiled (the generator evaluates the constructor
// arguments, unrolls the loops and takes the constant branches at build time).

public enum LayerActivation { None, Relu, Tanh }

/// <summary>A dense layer configured by its primary constructor: [Param] dims name its parameters.</summary>
[XlaModel]
public partial class DenseLayer(int In, int Out, bool useBias = true, LayerActivation activation = LayerActivation.None)
{
    [Param("In", "Out", Init = Init.GlorotUniform)] Tensor<float> kernel;
    [Param("Out", Init = Init.Uniform, Value = 0.1)] Tensor<float> bias;

    public Tensor<float> Call(Tensor<float> x)
    {
        var y = x.MatMul(kernel);
        if (useBias) y = y + bias;
        return activation switch
        {
            LayerActivation.Relu => Nn.Relu(y),
            LayerActivation.Tanh => Nn.Tanh(y),
            _ => y,
        };
    }
}

/// <summary>x + outer(inner(x)): two dense layers whose widths come from the block's own constructor argument.</summary>
[XlaModel]
public partial class ResidualBlock(int width)
{
    DenseLayer inner = new(width, 2 * width, activation: LayerActivation.Tanh);
    DenseLayer outer = new(2 * width, width, useBias: false);

    public Tensor<float> Call(Tensor<float> x) => x + outer.Call(inner.Call(x));
}

/// <summary>Two instances of one layer class with different widths.</summary>
[XlaModel]
public partial class TwoWidths
{
    DenseLayer d1 = new(6, 16, activation: LayerActivation.Relu);
    DenseLayer d2 = new(16, 3);

    [Forward]
    public Tensor<float> Call([Shape("B", 6)] Tensor<float> x) => d2.Call(d1.Call(x));

    [Loss]
    public Tensor<float> Loss([Shape("B", 6)] Tensor<float> x, [Shape("B")] Tensor<int> labels) => Losses.SparseSoftmaxCrossEntropy(Call(x), labels);
}

/// <summary>An array of three residual blocks, unrolled by foreach and by for; the head has no bias (a constant branch).</summary>
[XlaModel]
public partial class ResidualStack
{
    const int Width = 8;
    DenseLayer stem = new(6, Width);
    ResidualBlock[] blocks = { new(Width), new(Width), new(Width) };
    DenseLayer head = new(Width, 3, useBias: false);

    [Forward(Default = true)]
    public Tensor<float> Call([Shape("B", 6)] Tensor<float> x)
    {
        var h = stem.Call(x);
        foreach (var b in blocks) h = b.Call(h);
        return head.Call(h);
    }

    [Forward]
    public Tensor<float> CallByIndex([Shape("B", 6)] Tensor<float> x)
    {
        var h = stem.Call(x);
        for (int i = 0; i < blocks.Length; i++) h = blocks[i].Call(h);
        return head.Call(h);
    }

    [Loss]
    public Tensor<float> Loss([Shape("B", 6)] Tensor<float> x, [Shape("B")] Tensor<int> labels) => Losses.SparseSoftmaxCrossEntropy(Call(x), labels);
}

/// <summary>Layers from another assembly (XlaGen.TestModels.Lib), configured here.</summary>
[XlaModel]
public partial class LibraryLayers
{
    XlaGen.TestModels.Lib.LibDense[] layers = { new(12, 6, relu: true), new(12, 12, relu: true), new(3, 12) };

    [Forward]
    public Tensor<float> Call([Shape("B", 6)] Tensor<float> x)
    {
        foreach (var l in layers) x = l.Call(x);
        return x;
    }
}
