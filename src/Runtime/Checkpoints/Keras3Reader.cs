using System.Globalization;
using System.Text.Json;
using PureHDF;

namespace XlaGen.Checkpoints;

/// <summary>
/// Keras 3's weights layout (<c>saving_lib.py</c>): each saveable object's variables are datasets "0", "1", … of a
/// <c>vars</c> group at its path (<c>layers/dense/vars/0</c>, nested: <c>layers/lstm/cell/vars/0</c>); the model's own
/// are in <c>/vars</c>, the optimizer's in <c>/optimizer/vars</c> (not read). Keras 2.13's early .keras files use
/// <c>_layer_checkpoint_dependencies</c> where Keras 3 writes <c>layers</c>.
/// </summary>
internal static class Keras3Reader
{
    /// <summary>Variable names per Keras class, in <c>save_own_variables</c> order (trainable, then non-trainable).</summary>
    static readonly Dictionary<string, string[]> VariableNames = new(StringComparer.Ordinal)
    {
        ["Dense"] = ["kernel", "bias"],
        ["Conv1D"] = ["kernel", "bias"],
        ["Conv2D"] = ["kernel", "bias"],
        ["Conv3D"] = ["kernel", "bias"],
        ["Conv2DTranspose"] = ["kernel", "bias"],
        ["DepthwiseConv2D"] = ["depthwise_kernel", "bias"],
        ["BatchNormalization"] = ["gamma", "beta", "moving_mean", "moving_variance"],
        ["LayerNormalization"] = ["gamma", "beta"],
        ["Embedding"] = ["embeddings"],
    };

    /// <summary>Group-name prefixes (the snake-case class name Keras 3 names groups by) of the classes above.</summary>
    static readonly Dictionary<string, string> ClassOfGroupPrefix = new(StringComparer.Ordinal)
    {
        ["dense"] = "Dense", ["conv1d"] = "Conv1D", ["conv2d"] = "Conv2D", ["conv3d"] = "Conv3D",
        ["conv2d_transpose"] = "Conv2DTranspose", ["depthwise_conv2d"] = "DepthwiseConv2D",
        ["batch_normalization"] = "BatchNormalization", ["layer_normalization"] = "LayerNormalization", ["embedding"] = "Embedding",
    };

    sealed record ConfigLayer(string Name, string ClassName, JsonElement Config);

    public static KerasWeightsFile Read(string path, IH5Group root, string? config, string? version)
    {
        var configLayers = ConfigLayers(config);
        var layers = new List<KerasLayer>();
        if (Child(root, "vars") is { } own)
        {
            var layer = ReadLayer(path, own, "", "(model)", null, null);
            if (layer.Weights.Count > 0) layers.Add(layer);
        }
        var container = Child(root, "layers") ?? Child(root, "_layer_checkpoint_dependencies");
        string? orderUnknown = null;
        if (container != null)
        {
            var groups = NaturalOrder(container.Children().OfType<IH5Group>()).ToList();
            string prefix = "/" + container.Name;
            if (configLayers != null)
            {
                // config.json's order: each config layer finds its group by the vars group's name attribute, or by the
                // group name Keras gives it (snake-case class name plus a per-class counter, in model order).
                var claimed = new HashSet<string>(StringComparer.Ordinal);
                var counters = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var cl in configLayers)
                {
                    var snake = Snake(cl.ClassName);
                    int n = counters.GetValueOrDefault(snake);
                    counters[snake] = n + 1;
                    var byName = groups.FirstOrDefault(g => !claimed.Contains(g.Name) && RealName(g) == cl.Name);
                    var byCounter = groups.FirstOrDefault(g => !claimed.Contains(g.Name) && RealName(g) == null && g.Name == (n == 0 ? snake : $"{snake}_{n}"));
                    if ((byName ?? byCounter) is not { } group) continue; // weightless layers may have no group at all
                    claimed.Add(group.Name);
                    layers.AddRange(Walk(path, group, $"{prefix}/{group.Name}", cl.ClassName, cl.Config));
                }
                foreach (var group in groups.Where(g => !claimed.Contains(g.Name)))
                    layers.AddRange(Walk(path, group, $"{prefix}/{group.Name}", null, null));
            }
            else
            {
                foreach (var group in groups) layers.AddRange(Walk(path, group, $"{prefix}/{group.Name}", null, null));
                var classes = layers.Where(l => l.Weights.Count > 0).Select(l => GroupPrefix(l.GroupPath)).Distinct().ToList();
                if (classes.Count > 1)
                    orderUnknown = $"the file records no layer order (Keras 3 names groups by class: {string.Join(", ", classes)}), "
                        + "and without the .keras archive's config.json the order between classes cannot be recovered";
            }
        }
        return KerasWeightsFile.Keras3(path, version, config, layers, Child(root, "optimizer") != null, orderUnknown);
    }

    static IH5Group? Child(IH5Group group, string name) => group.LinkExists(name) ? group.Get(name) as IH5Group : null;

    static string? RealName(IH5Group layerGroup) =>
        Child(layerGroup, "vars") is { } vars && vars.AttributeExists("name") ? Hdf5Text.Strings("", vars, "", "name").FirstOrDefault() : null;

    /// <summary>A layer group and the sublayers nested in it (own variables first, then children in natural order).</summary>
    static IEnumerable<KerasLayer> Walk(string path, IH5Group group, string groupPath, string? className, JsonElement? config)
    {
        var vars = Child(group, "vars");
        var name = (vars != null && vars.AttributeExists("name") ? Hdf5Text.Strings(path, vars, groupPath + "/vars", "name").FirstOrDefault() : null) ?? group.Name;
        className ??= ClassOfGroupPrefix.GetValueOrDefault(GroupPrefix(groupPath));
        yield return vars == null ? new KerasLayer(name, groupPath, className, Array.Empty<KerasWeight>()) : ReadLayer(path, vars, groupPath, name, className, config);
        foreach (var child in NaturalOrder(group.Children().OfType<IH5Group>().Where(g => g.Name != "vars")))
            foreach (var sub in Walk(path, child, $"{groupPath}/{child.Name}", null, null))
                yield return sub with { Name = name + "." + sub.Name, Weights = sub.Weights.Select(w => w with { Layer = name + "." + w.Layer }).ToList() };
    }

    static KerasLayer ReadLayer(string path, IH5Group vars, string groupPath, string name, string? className, JsonElement? config)
    {
        var datasets = vars.Children().OfType<IH5Dataset>().ToList();
        foreach (var d in datasets)
            if (!int.TryParse(d.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                throw new CheckpointException($"{path}: dataset {groupPath}/vars/{d.Name} is not named by an index (Keras 3 stores variables as 0, 1, …)");
        datasets = datasets.OrderBy(d => int.Parse(d.Name, NumberStyles.None, CultureInfo.InvariantCulture)).ToList();
        var names = WeightNames(className, config, datasets.Count);
        var weights = datasets.Select((d, i) => new KerasWeight(name, names?[i] ?? d.Name, d.Name, $"{groupPath}/vars/{d.Name}",
            Hdf5Data.Read(path, d, $"{groupPath}/vars/{d.Name}"))).ToList();
        return new KerasLayer(name, groupPath.Length == 0 ? "/vars" : groupPath, className, weights);
    }

    /// <summary>The class's variable names when they are certain for this many variables, else null (indices are used).</summary>
    static string[]? WeightNames(string? className, JsonElement? config, int count)
    {
        if (className == null || !VariableNames.TryGetValue(className, out var all)) return null;
        if (className == "BatchNormalization" && count != 4)
        {
            if (config is not { } c) return null; // which of gamma/beta is absent is only in the config
            bool scale = !c.TryGetProperty("scale", out var s) || s.ValueKind != JsonValueKind.False;
            bool center = !c.TryGetProperty("center", out var ce) || ce.ValueKind != JsonValueKind.False;
            var present = new List<string>();
            if (scale) present.Add("gamma");
            if (center) present.Add("beta");
            present.AddRange(["moving_mean", "moving_variance"]);
            return present.Count == count ? present.ToArray() : null;
        }
        return count <= all.Length ? all[..count] : null;
    }

    static List<ConfigLayer>? ConfigLayers(string? config)
    {
        if (config == null) return null;
        try
        {
            using var doc = JsonDocument.Parse(config);
            if (!doc.RootElement.TryGetProperty("config", out var c) || c.ValueKind != JsonValueKind.Object
                || !c.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array) return null;
            var result = new List<ConfigLayer>();
            foreach (var layer in layers.EnumerateArray())
            {
                var cls = layer.TryGetProperty("class_name", out var cn) ? cn.GetString() : null;
                var lc = layer.TryGetProperty("config", out var x) ? x.Clone() : default;
                var name = lc.ValueKind == JsonValueKind.Object && lc.TryGetProperty("name", out var n) ? n.GetString() : null;
                if (cls == null || name == null || cls == "InputLayer") continue;
                result.Add(new ConfigLayer(name, cls, lc));
            }
            return result;
        }
        catch (JsonException)
        {
            return null; // the weights can still be read; only the order hint is lost
        }
    }

    /// <summary><c>BatchNormalization</c> → <c>batch_normalization</c>, <c>Conv2D</c> → <c>conv2d</c> (Keras' to_snake_case).</summary>
    internal static string Snake(string className)
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < className.Length; i++)
        {
            char c = className[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(className[i - 1]) || (i + 1 < className.Length && char.IsLower(className[i + 1]))))
                text.Append('_');
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }

    /// <summary><c>/layers/dense_12</c> → <c>dense</c>: the class part of a Keras 3 group name.</summary>
    static string GroupPrefix(string groupPath)
    {
        var name = groupPath[(groupPath.LastIndexOf('/') + 1)..];
        int underscore = name.LastIndexOf('_');
        return underscore > 0 && name.AsSpan(underscore + 1).Length > 0 && name.AsSpan(underscore + 1).IndexOfAnyExceptInRange('0', '9') < 0
            ? name[..underscore] : name;
    }

    /// <summary>dense, dense_1, dense_2, …, dense_10: a trailing counter compares as a number.</summary>
    static IEnumerable<IH5Group> NaturalOrder(IEnumerable<IH5Group> groups) =>
        groups.OrderBy(g => GroupPrefix("/" + g.Name), StringComparer.Ordinal).ThenBy(g => Counter(g.Name)).ThenBy(g => g.Name, StringComparer.Ordinal);

    static long Counter(string name)
    {
        int underscore = name.LastIndexOf('_');
        return underscore > 0 && long.TryParse(name.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : 0;
    }
}
