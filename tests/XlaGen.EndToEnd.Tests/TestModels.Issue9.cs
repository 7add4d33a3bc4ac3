namespace XlaGen.Tests.Models;

/// <summary>A scalar input ([Shape()]) next to a batch.</summary>
[XlaModel]
public partial class ScalarScale
{
    [Param(3, Init = Init.Uniform, Value = 1)] Tensor<float> w;

    [Forward]
    public Tensor<float> Apply([Shape("B", 3)] Tensor<float> x, [Shape()] Tensor<float> s) => x * w * s;
}

/// <summary>Two forward methods; Predict runs the one marked Default, not the first.</summary>
[XlaModel]
public partial class TwoHeads
{
    [Param(4, 3, Init = Init.GlorotUniform)] Tensor<float> w;

    [Forward]
    public Tensor<float> Hidden([Shape("B", 4)] Tensor<float> x) => x.MatMul(w) / MathF.Sqrt(4f);

    [Forward(Default = true)]
    public Tensor<float> Probabilities([Shape("B", 4)] Tensor<float> x) => Nn.Softmax(Hidden(x));
}
