using XlaGen;

namespace XlaGen.TestModels.Lib;

/// <summary>A configurable layer compiled in this assembly and created with arguments from another: the generator records
/// its source ([XlaModelSource]) so the other assembly's generator compiles it per instance.</summary>
[XlaModel]
public partial class LibDense(int units, int inputs, bool relu = false)
{
    [Param("inputs", "units", Init = Init.GlorotUniform)] Tensor<float> kernel;
    [Param("units", Init = Init.Uniform, Value = 0.1)] Tensor<float> bias;

    public int Units => units;

    public Tensor<float> Call(Tensor<float> x)
    {
        var y = x.MatMul(kernel) + bias;
        return relu ? Nn.Relu(y) : y;
    }
}
