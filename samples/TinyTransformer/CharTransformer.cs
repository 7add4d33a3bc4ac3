using XlaGen;
using XlaGen.Layers;

namespace TinyTransformerSample;

/// <summary>
/// A pre-norm transformer decoder block over 64 positions of width 64: causal multi-head self-attention (the library's
/// MultiHeadAttention, 4 heads of 16) and a GELU MLP (64 → 256 → 64), each with a residual connection. Shapes are
/// checked at build time.
/// </summary>
[XlaModel]
public partial class DecoderBlock
{
    [Param(64, Init = Init.Ones)] Tensor<float> attentionNormGamma;
    [Param(64)] Tensor<float> attentionNormBeta;
    MultiHeadAttention attention = new(features: 64, numHeads: 4, keyDim: 16, causal: true);   // a query sees the past only
    [Param(64, Init = Init.Ones)] Tensor<float> mlpNormGamma;
    [Param(64)] Tensor<float> mlpNormBeta;
    [Param(64, 256, Init = Init.HeUniform)] Tensor<float> up;
    [Param(256)] Tensor<float> upBias;
    [Param(256, 64, Init = Init.GlorotUniform)] Tensor<float> down;
    [Param(64)] Tensor<float> downBias;

    const float Dropout = 0.1f;

    /// <summary>[B, 64 positions, 64 features] → the same shape.</summary>
    [Forward]
    public Tensor<float> Apply([Shape("B", 64, 64)] Tensor<float> x)
    {
        var r = x + Nn.Dropout(attention.Call(Nn.LayerNorm(x, attentionNormGamma, attentionNormBeta)), Dropout);
        var m = Nn.LayerNorm(r, mlpNormGamma, mlpNormBeta);
        return r + Nn.Dropout(Nn.Gelu(m.MatMul(up) + upBias).MatMul(down) + downBias, Dropout);
    }
}

/// <summary>A character-level language model: token and position embeddings, two decoder blocks, a final LayerNorm
/// and a projection to the 96 characters' scores at every position.</summary>
[XlaModel]
public partial class CharTransformer
{
    public const int Vocabulary = 96;
    public const int Context = 64;

    [Param(96, 64, Init = Init.Normal, Value = 0.02)] Tensor<float> tokenEmbedding;
    [Param(64, 64, Init = Init.Normal, Value = 0.02)] Tensor<float> positionEmbedding;
    DecoderBlock block1;
    DecoderBlock block2;
    [Param(64, Init = Init.Ones)] Tensor<float> normGamma;
    [Param(64)] Tensor<float> normBeta;
    [Param(64, 96, Init = Init.GlorotUniform)] Tensor<float> head;

    /// <summary>Scores of the next character at each of the 64 positions: [B, 64, 96].</summary>
    [Forward(Default = true)]
    public Tensor<float> Logits([Shape("B", 64)] Tensor<int> ids)
    {
        var x = Nn.Dropout(Nn.Embedding(tokenEmbedding, ids) + positionEmbedding, 0.1);   // [B,64,64]
        x = block2.Apply(block1.Apply(x));
        return Nn.LayerNorm(x, normGamma, normBeta).MatMul(head);
    }

    /// <summary>Cross-entropy of the next character at every position (also reports per-character accuracy).</summary>
    [Loss]
    public Tensor<float> Loss([Shape("B", 64)] Tensor<int> ids, [Shape("B", 64)] Tensor<int> next)
        => Losses.SparseSoftmaxCrossEntropy(Logits(ids).Reshape(-1, 96), next.Reshape(-1));
}
