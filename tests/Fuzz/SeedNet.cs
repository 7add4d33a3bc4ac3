namespace XlaGen.Fuzz;

/// <summary>A small classifier whose checkpoint, trained a few steps with Adam, seeds the safetensors harness: the
/// file exactly as <c>Save</c> writes a model's (parameters, optimizer state and step, the training metadata).</summary>
[XlaModel]
public partial class SeedNet
{
    [Param(3, 4, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(4)] Tensor<float> b;

    [Forward]
    public Tensor<float> Logits([Shape("B", 3)] Tensor<float> x) => x.MatMul(w) + b;

    [Loss]
    public Tensor<float> Loss([Shape("B", 3)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}
