namespace XlaGen.Layers;

/// <summary>Keras' MultiHeadAttention over [batch, positions, features] sequences: <paramref name="numHeads"/> heads,
/// each attending with softmax(q·kᵀ / √keyDim) (optionally causal: a query sees its own and earlier positions only,
/// through <see cref="Nn.CausalMask"/>), projected back to the query's <paramref name="features"/>. Weights have the
/// shapes of Keras' EinsumDense sublayers and are glorot_uniform with Keras' fans for them (the receptive field is every
/// dim but the last two), biases zeros: query kernel [features, heads, keyDim] and bias [heads, keyDim]; key kernel
/// [keyFeatures, heads, keyDim]; value kernel [valueFeatures, heads, valueDim]; output kernel [heads, valueDim,
/// features] and bias [features]. Keras' defaults: <paramref name="valueDim"/> (0) is keyDim, the value's features (0)
/// are the query's, the key's (0) are the value's; no attention dropout. Keras' argument order for the calls:
/// <c>Call(x)</c> self-attention, <c>Call(query, value)</c> (key = value), <c>Call(query, value, key)</c>.</summary>
/// <remarks>Each head is a slice of one projection (a single [.., features] × [features, heads · dim] product per
/// input), attended on its own and projected by its slice of the output kernel; the heads' projections are summed.
/// Splitting the projection into [batch, positions, heads, dim] instead would need the positions as a build-time
/// number, which a layer does not know.</remarks>
[XlaModel]
public partial class MultiHeadAttention(int features, int numHeads, int keyDim, int valueDim = 0, bool useBias = true, bool causal = false,
    double dropout = 0, int keyFeatures = 0, int valueFeatures = 0)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>multi_head_attention</c>, <c>multi_head_attention_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "multi_head_attention";

    [Param("features", "numHeads", "keyDim", Init = Init.GlorotUniform)] Tensor<float> queryKernel;
    [Param("numHeads", "keyDim")] Tensor<float> queryBias;
    [Param("KeyFeatures", "numHeads", "keyDim", Init = Init.GlorotUniform)] Tensor<float> keyKernel;
    [Param("numHeads", "keyDim")] Tensor<float> keyBias;
    [Param("ValueFeatures", "numHeads", "ValueDim", Init = Init.GlorotUniform)] Tensor<float> valueKernel;
    [Param("numHeads", "ValueDim")] Tensor<float> valueBias;
    [Param("numHeads", "ValueDim", "features", Init = Init.GlorotUniform)] Tensor<float> outputKernel;
    [Param("features")] Tensor<float> outputBias;

    /// <summary>Each head's value size: valueDim, or keyDim when valueDim is 0 (Keras' None).</summary>
    public int ValueDim { get; } = valueDim > 0 ? valueDim : keyDim;

    /// <summary>The value's features: valueFeatures, or the query's when 0.</summary>
    public int ValueFeatures { get; } = valueFeatures > 0 ? valueFeatures : features;

    /// <summary>The key's features: keyFeatures, else the value's (Keras: the key defaults to the value).</summary>
    public int KeyFeatures { get; } = keyFeatures > 0 ? keyFeatures : valueFeatures > 0 ? valueFeatures : features;

    /// <summary>Self-attention: query, key and value are <paramref name="x"/> [batch, positions, features].</summary>
    public Tensor<float> Call(Tensor<float> x) => Call(x, x, x);

    /// <summary>Cross-attention with the key equal to the value (Keras' default).</summary>
    public Tensor<float> Call(Tensor<float> query, Tensor<float> value) => Call(query, value, value);

    /// <summary>query [batch, T, features], value [batch, S, valueFeatures], key [batch, S, keyFeatures] →
    /// [batch, T, features]. A causal mask needs T = S.</summary>
    public Tensor<float> Call(Tensor<float> query, Tensor<float> value, Tensor<float> key)
    {
        var q = Project(query, queryKernel, queryBias, features, keyDim);
        var k = Project(key, keyKernel, keyBias, KeyFeatures, keyDim);
        var v = Project(value, valueKernel, valueBias, ValueFeatures, ValueDim);
        var y = Head(q, k, v, 0);
        for (int h = 1; h < numHeads; h++) y = y + Head(q, k, v, h);
        if (useBias) y = y + outputBias;
        return y;
    }

    /// <summary>[batch, positions, inputs] → [batch, positions, heads · size], head h in columns [h · size, (h + 1) · size).</summary>
    Tensor<float> Project(Tensor<float> x, Tensor<float> kernel, Tensor<float> bias, int inputs, int size)
    {
        var y = x.MatMul(kernel.Reshape(inputs, numHeads * size));
        if (useBias) y = y + bias.Reshape(numHeads * size);
        return y;
    }

    /// <summary>Head <paramref name="h"/>'s attention, projected by its slice of the output kernel: [batch, T, features].</summary>
    Tensor<float> Head(Tensor<float> q, Tensor<float> k, Tensor<float> v, int h)
    {
        var scores = q.Slice(2, h * keyDim, (h + 1) * keyDim).MatMul(k.Slice(2, h * keyDim, (h + 1) * keyDim).Transpose(0, 2, 1)) / MathF.Sqrt(keyDim);
        if (causal) scores = Nn.CausalMask(scores);
        var weights = Nn.Softmax(scores);
        if (dropout > 0) weights = Nn.Dropout(weights, dropout);
        var attended = weights.MatMul(v.Slice(2, h * ValueDim, (h + 1) * ValueDim));
        return attended.MatMul(outputKernel.Slice(0, h, h + 1).Reshape(ValueDim, features));
    }
}
