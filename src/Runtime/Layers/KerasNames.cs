using System.Globalization;

namespace XlaGen.Layers;

/// <summary>One weight of a library layer: the parameter's name in the layer (<c>movingMean</c>), Keras' variable name
/// (<c>moving_mean</c>; nested sublayers joined with '/': <c>query/kernel</c>) and the parameter's rank.</summary>
public sealed record KerasWeightName(string Field, string Keras, int Rank);

/// <summary>A library layer as Keras knows it: the C# class, Keras' class name as its layers are auto-named
/// (<c>dense</c>, <c>dense_1</c> …), and its weights in Keras' variable order (trainable first, then non-trainable).</summary>
public sealed record KerasLayerName(string LayerClass, string Keras, IReadOnlyList<KerasWeightName> Weights);

/// <summary>An instance of a library layer inside a model: the parameter path prefix (<c>blocks.0.attention</c>), its
/// kind, and each weight's parameter path, in the layer's weight order.</summary>
public sealed record KerasLayerInstance(string Prefix, KerasLayerName Layer, IReadOnlyList<string> Parameters)
{
    /// <summary>Keras' name for the instance's weight <paramref name="weight"/>: <c>dense_1/kernel</c>.</summary>
    public string WeightName(string layerName, KerasWeightName weight) => layerName + "/" + weight.Keras;
}

/// <summary>
/// Keras' names of the library's layers and weights (<c>dense/kernel</c>, <c>batch_normalization_1/moving_mean</c>),
/// used by the Keras importer to match a file's auto-named layers to a model's library layers. Checkpoints keep
/// naming parameters by field path (<c>conv.kernel</c>); these names are a view, not a key format.
/// </summary>
/// <remarks>A model's parameters carry their paths and shapes, not the class of the sub-model that declared them, so
/// an instance is recognised by its parameters: a path prefix whose parameters are exactly one library layer's
/// weights (names and ranks: a Dense kernel is rank 2, a Conv2D kernel rank 4). A user's own sub-model with the same
/// fields (a <c>kernel</c> [in, out] and a <c>bias</c>) is taken for that layer, which is what Keras would store for
/// it. A test pins this table to the layers' declared parameters.</remarks>
public static class KerasNames
{
    /// <summary>The library layers that have weights, with Keras' names.</summary>
    public static IReadOnlyList<KerasLayerName> Layers { get; } =
    [
        new(nameof(Dense), Dense.KerasName, [new("kernel", "kernel", 2), new("bias", "bias", 1)]),
        new(nameof(Conv2D), Conv2D.KerasName, [new("kernel", "kernel", 4), new("bias", "bias", 1)]),
        new(nameof(DepthwiseConv2D), DepthwiseConv2D.KerasName, [new("depthwiseKernel", "depthwise_kernel", 4), new("bias", "bias", 1)]),
        new(nameof(BatchNorm), BatchNorm.KerasName,
            [new("gamma", "gamma", 1), new("beta", "beta", 1), new("movingMean", "moving_mean", 1), new("movingVariance", "moving_variance", 1)]),
        new(nameof(LayerNorm), LayerNorm.KerasName, [new("gamma", "gamma", 1), new("beta", "beta", 1)]),
        new(nameof(Embedding), Embedding.KerasName, [new("embeddings", "embeddings", 2)]),
        new(nameof(MultiHeadAttention), MultiHeadAttention.KerasName,
        [
            new("queryKernel", "query/kernel", 3), new("queryBias", "query/bias", 2),
            new("keyKernel", "key/kernel", 3), new("keyBias", "key/bias", 2),
            new("valueKernel", "value/kernel", 3), new("valueBias", "value/bias", 2),
            new("outputKernel", "attention_output/kernel", 3), new("outputBias", "attention_output/bias", 1),
        ]),
    ];

    /// <summary>The library layer instances among <paramref name="parameters"/>, in declaration order (of each
    /// instance's first parameter). Parameters outside any recognised instance are left out.</summary>
    public static IReadOnlyList<KerasLayerInstance> Recognise(IReadOnlyList<ParameterSpec> parameters)
    {
        var groups = new List<(string Prefix, List<ParameterSpec> Members)>();
        var byPrefix = new Dictionary<string, List<ParameterSpec>>(StringComparer.Ordinal);
        foreach (var p in parameters)
        {
            int dot = p.Path.LastIndexOf('.');
            if (dot <= 0) continue;
            var prefix = p.Path[..dot];
            if (!byPrefix.TryGetValue(prefix, out var members))
            {
                byPrefix[prefix] = members = new List<ParameterSpec>();
                groups.Add((prefix, members));
            }
            members.Add(p);
        }
        var found = new List<KerasLayerInstance>();
        foreach (var (prefix, members) in groups)
        {
            var fields = members.ToDictionary(m => m.Path[(prefix.Length + 1)..], StringComparer.Ordinal);
            foreach (var layer in Layers)
            {
                if (layer.Weights.Count != fields.Count) continue;
                if (!layer.Weights.All(w => fields.TryGetValue(w.Field, out var p) && p.Dims.Length == w.Rank)) continue;
                found.Add(new KerasLayerInstance(prefix, layer, layer.Weights.Select(w => fields[w.Field].Path).ToList()));
                break;
            }
        }
        return found;
    }

    /// <summary>Each recognised parameter's Keras name as Keras auto-names a model's layers in creation order, taken
    /// here as declaration order: the first Dense is <c>dense</c>, the next <c>dense_1</c> … (<c>dense_1/kernel</c>).</summary>
    public static IReadOnlyDictionary<string, string> Of(IReadOnlyList<ParameterSpec> parameters)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var instance in Recognise(parameters))
        {
            counts.TryGetValue(instance.Layer.Keras, out int n);
            counts[instance.Layer.Keras] = n + 1;
            var layerName = n == 0 ? instance.Layer.Keras : instance.Layer.Keras + "_" + n.ToString(CultureInfo.InvariantCulture);
            for (int i = 0; i < instance.Parameters.Count; i++) names[instance.Parameters[i]] = instance.WeightName(layerName, instance.Layer.Weights[i]);
        }
        return names;
    }

    /// <summary>Splits an auto-generated Keras layer name into its class and counter: <c>dense_3</c> → (dense, 3),
    /// <c>dense</c> → (dense, 0); null when the name is not a library layer's class name with an optional counter.</summary>
    public static (KerasLayerName Layer, int Counter)? ParseLayerName(string name)
    {
        foreach (var layer in Layers)
        {
            if (name == layer.Keras) return (layer, 0);
            if (name.StartsWith(layer.Keras + "_", StringComparison.Ordinal) && name[(layer.Keras.Length + 1)..] is { Length: > 0 and <= 9 } digits
                && digits.All(char.IsAsciiDigit))
                return (layer, int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture));
        }
        return null;
    }
}
