using System.Globalization;
using System.Text;
using XlaGen.Hlo;
using XlaGen.Layers;

namespace XlaGen.Checkpoints;

/// <summary>Where one Keras weight went.</summary>
/// <param name="Layer">The Keras layer.</param>
/// <param name="Weight">The weight's short name (<see cref="KerasWeight.Name"/>: <c>kernel</c>).</param>
/// <param name="StoredName">The weight's name as the file stores it (<c>conv2d_1/kernel:0</c>; Keras 3: its index).</param>
/// <param name="Source">The HDF5 dataset it was read from.</param>
/// <param name="Shape">Its dims (the parameter's too: they must be equal).</param>
/// <param name="Parameter">The model parameter it was written to.</param>
/// <param name="ConvertedFrom">The file's element type when it differed from the parameter's (a float cast, as Keras' assign does), else null.</param>
/// <param name="KerasName">Keras' name of the weight, <c>layer/weight</c> without the <c>:0</c> (<c>dense_1/kernel</c>,
/// <c>multi_head_attention/query/kernel</c>); for a Keras 3 file matched by Keras layer names, the variable's name
/// from the library layer (<c>dense/kernel</c> for <c>vars/0</c>).</param>
public sealed record KerasWeightMapping(string Layer, string Weight, string StoredName, string Source, long[] Shape, string Parameter, ElementType? ConvertedFrom,
    string KerasName);

/// <summary>What <see cref="ModelRunner.LoadKeras"/> did: per Keras weight, the parameter it went to; the layers
/// skipped for having no weights; and that optimizer state in the file was ignored. <see cref="ToString"/> prints it.</summary>
public sealed class KerasImportReport
{
    internal KerasImportReport(KerasWeightsFile file, string model, bool byName, bool byKerasLayerNames, IReadOnlyList<KerasWeightMapping> mappings)
    {
        MatchedByKerasLayerNames = byKerasLayerNames;
        Path = file.Path;
        Format = file.Format;
        KerasVersion = file.KerasVersion;
        Model = model;
        MatchedByName = byName;
        Mappings = mappings;
        SkippedLayers = file.Layers.Where(l => l.Weights.Count == 0).Select(l => l.Name).ToList();
        OptimizerStateIgnored = file.HasOptimizerState;
    }

    /// <summary>The Keras file, as given to <see cref="ModelRunner.LoadKeras"/>.</summary>
    public string Path { get; }

    /// <summary>The layout the file was written in (told by its bytes).</summary>
    public KerasFormat Format { get; }

    /// <summary>The Keras version the file records, or null when it records none (Keras 3 <c>.weights.h5</c>).</summary>
    public string? KerasVersion { get; }

    /// <summary>The model the weights were loaded into.</summary>
    public string Model { get; }

    /// <summary>True when every weight matched a parameter named <c>layer.weight</c>; false when they were matched by Keras
    /// layer names (<see cref="MatchedByKerasLayerNames"/>) or taken in order.</summary>
    public bool MatchedByName { get; }

    /// <summary>True when the file's auto-named layers (<c>dense</c>, <c>dense_1</c> …, <c>conv2d_1</c> …) were matched to the
    /// model's library layers (<see cref="XlaGen.Layers.KerasNames"/>): per Keras class, the file's layers in counter order
    /// to the model's layers of that class in declaration order, each weight by its Keras name.</summary>
    public bool MatchedByKerasLayerNames { get; }

    /// <summary>One entry per Keras weight, in the file's order.</summary>
    public IReadOnlyList<KerasWeightMapping> Mappings { get; }

    /// <summary>Layers without weights (Activation, Flatten, MaxPooling2D, Dropout …), skipped.</summary>
    public IReadOnlyList<string> SkippedLayers { get; }

    /// <summary>True when the file holds optimizer state; it is never imported (compile and train afresh, or resume from a safetensors checkpoint).</summary>
    public bool OptimizerStateIgnored { get; }

    /// <summary>A table: Keras layer, weight, shape, parameter; then the skipped layers and the optimizer note.</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Keras weights {Path} ({Format}{(KerasVersion != null ? ", Keras " + KerasVersion : "")}) → {Model}, matched {(MatchedByName ? "by name (layer.weight = parameter path)" : MatchedByKerasLayerNames ? "by Keras layer names (dense, dense_1 … = the model's Dense layers in declaration order)" : "by order (file order = parameter declaration order)")}:");
        bool keras3 = Format is KerasFormat.Keras3Weights or KerasFormat.Keras3Archive;
        var rows = Mappings.Select(m => (Layer: m.Layer,
            Weight: MatchedByKerasLayerNames ? m.KerasName + (keras3 ? $" (vars/{m.StoredName})" : "")
                : keras3 ? $"vars/{m.StoredName}" + (m.Weight != m.StoredName ? $" ({m.Weight})" : "") : m.StoredName,
            Shape: "[" + string.Join(",", m.Shape.Select(d => d.ToString(c))) + "]",
            To: m.Parameter + (m.ConvertedFrom is { } t ? $" (converted from {t.TextName()})" : ""))).ToList();
        int w0 = Math.Max(11, rows.Count == 0 ? 0 : rows.Max(r => r.Layer.Length));
        int w1 = Math.Max(6, rows.Count == 0 ? 0 : rows.Max(r => r.Weight.Length));
        int w2 = Math.Max(5, rows.Count == 0 ? 0 : rows.Max(r => r.Shape.Length));
        text.AppendLine(c, $"  {"Keras layer".PadRight(w0)}  {"weight".PadRight(w1)}  {"shape".PadRight(w2)}  parameter");
        foreach (var r in rows) text.AppendLine(c, $"  {r.Layer.PadRight(w0)}  {r.Weight.PadRight(w1)}  {r.Shape.PadRight(w2)}  {r.To}");
        text.AppendLine(SkippedLayers.Count == 0 ? "Layers without weights: none" : $"Layers without weights (skipped): {string.Join(", ", SkippedLayers)}");
        text.AppendLine(OptimizerStateIgnored ? "Optimizer state in the file: ignored (not imported)" : "Optimizer state in the file: none");
        return text.ToString();
    }
}

/// <summary>Maps a Keras file's weights to a model's parameters, checking everything before anything is written.</summary>
internal static class KerasImport
{
    /// <summary>The values to write, by parameter index, and the report; or a <see cref="CheckpointException"/> listing
    /// every weight that does not fit (the Keras layer and weight, the parameter, and both shapes).</summary>
    public static (Tensor[] Values, KerasImportReport Report) Plan(KerasWeightsFile file, IReadOnlyList<ParameterSpec> parameters, string model)
    {
        var weights = file.Weights.ToList();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < parameters.Count; i++) index[parameters[i].Path] = i;
        string Where() => $"{file.Path} does not fit {model}";

        // By name when every weight names a distinct parameter and every parameter is named; else by order.
        var byName = weights.Select(w => index.TryGetValue(w.Key, out int i) ? i : -1).ToArray();
        bool matchedByName = weights.Count == parameters.Count && byName.All(i => i >= 0) && byName.Distinct().Count() == byName.Length;
        int[] target;
        string[]? kerasNames = null;
        var problems = new List<string>();
        var libraryLayers = KerasNames.Recognise(parameters);
        string? notByKerasNames = null;
        if (matchedByName)
        {
            target = byName;
        }
        else if (libraryLayers.Count > 0 && ByKerasLayerNames(file, weights, parameters, libraryLayers, index, out notByKerasNames) is { } matched)
        {
            (target, kerasNames) = matched;
        }
        else
        {
            if (file.LayerOrderUnknownBecause is { } why)
                throw new CheckpointException($"{Where()}: its weights cannot be matched by name ({NameHint(weights, parameters)}) and not by order: {why}"
                    + (notByKerasNames != null ? $"; by Keras layer names: {notByKerasNames}" : ""));
            if (weights.Count != parameters.Count)
                throw new CheckpointException($"{Where()}: the file has {Count(weights.Count, "weight")} in {Count(file.Layers.Count(l => l.Weights.Count > 0), "layer")} with weights "
                    + $"({string.Join(", ", file.Layers.Where(l => l.Weights.Count > 0).Select(l => $"{l.Name}: {l.Weights.Count}"))}), "
                    + $"but {model} has {Count(parameters.Count, "parameter")} ({string.Join(", ", parameters.Select(p => p.Path))}); "
                    + $"by order they must be as many, and by name none matched all ({NameHint(weights, parameters)})"
                    + (notByKerasNames != null ? $"; by Keras layer names: {notByKerasNames}" : ""));
            target = Enumerable.Range(0, weights.Count).ToArray();
            for (int k = 0; k < weights.Count; k++)
                if (index.TryGetValue(weights[k].Key, out int named) && named != k)
                    problems.Add($"Keras layer '{weights[k].Layer}' weight '{weights[k].StoredName}' has the name of parameter '{weights[k].Key}', but by order it would go to parameter '{parameters[k].Path}'");
        }

        var values = new Tensor[parameters.Count];
        var mappings = new List<KerasWeightMapping>(weights.Count);
        for (int k = 0; k < weights.Count; k++)
        {
            var w = weights[k];
            var p = parameters[target[k]];
            var found = w.Value;
            string Fail(string what) => $"Keras layer '{w.Layer}' weight '{w.StoredName}': {what}";
            if (!found.Shape.SequenceEqual(p.Dims))
            {
                problems.Add(Fail($"expected {p.ElementType.TextName()}[{string.Join(",", p.Dims)}] (parameter '{p.Path}'), found {found.ShapeText} in the file"));
                continue;
            }
            ElementType? converted = null;
            if (found.ElementType != p.ElementType)
            {
                if (!IsHostFloat(found.ElementType) || !IsHostFloat(p.ElementType))
                {
                    problems.Add(Fail($"expected {p.ElementType.TextName()} (parameter '{p.Path}'), found {found.ShapeText} in the file; only floating-point weights are converted"));
                    continue;
                }
                converted = found.ElementType;
                found = ConvertFloat(found, p.ElementType);
            }
            values[target[k]] = found;
            mappings.Add(new KerasWeightMapping(w.Layer, w.Name, w.StoredName, w.Path, found.Shape.ToArray(), p.Path, converted,
                kerasNames?[k] ?? w.Layer + "/" + w.Name.Replace('.', '/')));
        }
        if (problems.Count > 0)
            throw new CheckpointException($"{Where()} (nothing was changed): {string.Join("; ", problems)}"
                + (notByKerasNames != null ? $" (not matched by Keras layer names: {notByKerasNames})" : ""));
        return (values, new KerasImportReport(file, model, matchedByName, kerasNames != null, mappings));
    }

    /// <summary>Keras' auto-named layers (<c>dense</c>, <c>dense_1</c> … in creation order) to the model's library layers:
    /// per Keras class, the file's layers sorted by counter against the model's instances of that layer in declaration
    /// order; within a layer, each weight by its Keras name (Keras 3 files without names: by position, Keras' variable
    /// order). Every weight and every parameter must be matched and every shape equal; else null and the reason.</summary>
    static (int[] Target, string[] Names)? ByKerasLayerNames(KerasWeightsFile file, List<KerasWeight> weights, IReadOnlyList<ParameterSpec> parameters,
        IReadOnlyList<KerasLayerInstance> instances, Dictionary<string, int> index, out string? whyNot)
    {
        whyNot = null;
        var inLayers = new HashSet<string>(instances.SelectMany(i => i.Parameters), StringComparer.Ordinal);
        if (parameters.FirstOrDefault(p => !inLayers.Contains(p.Path)) is { } outside)
        {
            whyNot = $"parameter '{outside.Path}' is not a weight of a library layer";
            return null;
        }
        var position = new Dictionary<KerasWeight, int>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < weights.Count; k++) position[weights[k]] = k;
        var parsed = new List<(KerasLayer Layer, KerasLayerName Kind, int Counter)>();
        foreach (var layer in file.Layers.Where(l => l.Weights.Count > 0))
        {
            if (KerasNames.ParseLayerName(layer.Name) is not { } name)
            {
                whyNot = $"Keras layer '{layer.Name}' is not named like a library layer ({string.Join(", ", KerasNames.Layers.Select(l => l.Keras))}, with an optional _N)";
                return null;
            }
            parsed.Add((layer, name.Layer, name.Counter));
        }
        var target = new int[weights.Count];
        var names = new string[weights.Count];
        foreach (var kind in KerasNames.Layers)
        {
            var fileLayers = parsed.Where(p => p.Kind == kind).OrderBy(p => p.Counter).ToList();
            var modelLayers = instances.Where(i => i.Layer == kind).ToList();
            if (fileLayers.Count != modelLayers.Count)
            {
                whyNot = $"the file has {Count(fileLayers.Count, kind.Keras + " layer")} with weights, the model {Count(modelLayers.Count, kind.LayerClass + " layer")}";
                return null;
            }
            for (int j = 0; j < fileLayers.Count; j++)
            {
                var layer = fileLayers[j].Layer;
                var instance = modelLayers[j];
                if (layer.Weights.Count != kind.Weights.Count)
                {
                    whyNot = $"Keras layer '{layer.Name}' has {Count(layer.Weights.Count, "weight")}, a {kind.LayerClass} has {kind.Weights.Count}";
                    return null;
                }
                int Slot(KerasWeight w) => kind.Weights.ToList().FindIndex(kw => kw.Keras == w.Name.Replace('.', '/'));
                // Keras 3 stores no names for classes the reader does not know: indices, in Keras' variable order
                bool unnamed = layer.Weights.All(w => w.Name.Length > 0 && w.Name.All(char.IsAsciiDigit));
                if (!unnamed && layer.Weights.FirstOrDefault(w => Slot(w) < 0) is { } stranger)
                {
                    whyNot = $"Keras layer '{layer.Name}' weight '{stranger.StoredName}' is not a weight of a Keras {kind.Keras} layer ({string.Join(", ", kind.Weights.Select(kw => kw.Keras))})";
                    return null;
                }
                if (!unnamed && layer.Weights.Select(Slot).Distinct().Count() != kind.Weights.Count)
                {
                    whyNot = $"Keras layer '{layer.Name}' names a weight twice";
                    return null;
                }
                for (int wi = 0; wi < layer.Weights.Count; wi++)
                {
                    var w = layer.Weights[wi];
                    int slot = unnamed ? wi : Slot(w);
                    int k = position[w];
                    var p = parameters[index[instance.Parameters[slot]]];
                    if (!w.Value.Shape.SequenceEqual(p.Dims))
                    {
                        whyNot = $"Keras layer '{layer.Name}' weight '{w.StoredName}' is {w.Value.ShapeText}, but its parameter '{p.Path}' is [{string.Join(",", p.Dims)}]";
                        return null;
                    }
                    target[k] = index[p.Path];
                    names[k] = instance.WeightName(layer.Name, kind.Weights[slot]);
                }
            }
        }
        return (target, names);
    }

    static bool IsHostFloat(ElementType t) => t is ElementType.F16 or ElementType.F32 or ElementType.F64;

    static Tensor ConvertFloat(Tensor t, ElementType to)
    {
        double[] v = t switch
        {
            Tensor<Half> h => h.Data.Select(x => (double)x).ToArray(),
            Tensor<float> f => f.Data.Select(x => (double)x).ToArray(),
            _ => ((Tensor<double>)t).Data,
        };
        var dims = t.Shape.ToArray();
        return to switch
        {
            ElementType.F16 => new Tensor<Half>(dims, v.Select(x => (Half)x).ToArray()),
            ElementType.F32 => new Tensor<float>(dims, v.Select(x => (float)x).ToArray()),
            _ => new Tensor<double>(dims, (double[])v.Clone()),
        };
    }

    static string NameHint(List<KerasWeight> weights, IReadOnlyList<ParameterSpec> parameters)
    {
        var names = new HashSet<string>(parameters.Select(p => p.Path), StringComparer.Ordinal);
        var unmatched = weights.Where(w => !names.Contains(w.Key)).Select(w => w.Key).ToList();
        return unmatched.Count == 0
            ? "every weight has a parameter of its name, but the model has more parameters"
            : $"no parameter is named {string.Join(", ", unmatched.Take(6))}{(unmatched.Count > 6 ? ", …" : "")}";
    }

    static string Count(int n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? "" : "s");
}
