using XlaGen;

namespace XlaGen.TestModels.Lib;

/// <summary>A dense encoder, compiled in this assembly and used as a sub-model from another.</summary>
[XlaModel]
public partial class Encoder
{
    [Param(12, 5, Init = Init.HeUniform)] Tensor<float> w;
    [Param(5, Init = Init.Uniform, Value = 0.5)] Tensor<float> b;

    [Forward]
    public Tensor<float> Encode([Shape("N", 12)] Tensor<float> x) => Nn.Tanh(x.MatMul(w) + b);
}
