namespace XlaGen.Layers;

/// <summary>Keras' Embedding: rows of <c>embeddings</c> [inputDim, outputDim], initialised uniform in [-0.05, 0.05]
/// (Keras "uniform"); ids outside [0, inputDim) are clamped (XLA gather).</summary>
[XlaModel]
public partial class Embedding(int inputDim, int outputDim)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>embedding</c>, <c>embedding_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "embedding";

    [Param("inputDim", "outputDim", Init = Init.Uniform, Value = 0.05)] Tensor<float> embeddings;

    /// <summary>Looks up the embedding row of every id: <paramref name="ids"/> [...] gives [..., outputDim]. Ids outside [0, inputDim) are clamped into range.</summary>
    public Tensor<float> Call(Tensor<int> ids) => Nn.Embedding(embeddings, ids);
}
