using System.IO.Compression;
using System.Text.Json;
using PureHDF;
using XlaGen.Hlo;

namespace XlaGen.Checkpoints;

/// <summary>The layout a Keras weight file was written in (told apart by the bytes, never the file name).</summary>
public enum KerasFormat
{
    /// <summary>Keras 2 (tf.keras) <c>model.save('m.h5')</c>: HDF5 with the weights under <c>/model_weights</c>.</summary>
    Keras2FullModel,

    /// <summary>Keras 2 (tf.keras) <c>model.save_weights('w.h5')</c>: the same weights group at the HDF5 root.</summary>
    Keras2Weights,

    /// <summary>Keras 3 <c>model.save_weights('x.weights.h5')</c>: <c>layers/&lt;name&gt;/vars/&lt;i&gt;</c>.</summary>
    Keras3Weights,

    /// <summary>Keras 3 <c>model.save('m.keras')</c>: a zip holding config.json, metadata.json and model.weights.h5.</summary>
    Keras3Archive,
}

/// <summary>One weight of a Keras file: its layer, its name, where it is stored, and its value.</summary>
/// <param name="Layer">The Keras layer's name (<c>conv2d_1</c>; Keras 3: the real name from the <c>vars</c> group's
/// <c>name</c> attribute when present, else its group name).</param>
/// <param name="Name">The weight's short name: <c>kernel</c>, <c>bias</c>, <c>gamma</c> … (Keras 2: the
/// <c>weight_names</c> entry without the layer's scope and the <c>:0</c> suffix, nested scopes joined with '.';
/// Keras 3, which stores no names: the layer class's variable names when the class is known, else the index).</param>
/// <param name="StoredName">The name as the file records it (<c>conv2d_1/kernel:0</c>; Keras 3: the index).</param>
/// <param name="Path">The HDF5 path of the dataset.</param>
/// <param name="Value">The weight, read from the file.</param>
public sealed record KerasWeight(string Layer, string Name, string StoredName, string Path, Tensor Value)
{
    /// <summary><c>layer.name</c>: the parameter path a model must use for this weight to be matched by name
    /// (a sub-model field named like the layer, holding a parameter named like the weight).</summary>
    public string Key => Layer + "." + Name;
}

/// <summary>A layer of a Keras file in the file's order, weightless layers included (their weight list is empty).</summary>
/// <param name="Name">As <see cref="KerasWeight.Layer"/>.</param>
/// <param name="GroupPath">The HDF5 group holding its weights.</param>
/// <param name="ClassName">The Keras class (<c>Conv2D</c>) when the file says it (Keras 3 config.json or group name), else null.</param>
/// <param name="Weights">Its weights in the file's order (empty for a weightless layer).</param>
public sealed record KerasLayer(string Name, string GroupPath, string? ClassName, IReadOnlyList<KerasWeight> Weights);

/// <summary>
/// The weights of a Keras file, read with PureHDF: Keras 2 HDF5 (full model or <c>save_weights</c>), Keras 3
/// <c>.weights.h5</c>, or a Keras 3 <c>.keras</c> zip. The format is detected by the file's first bytes
/// (<c>\x89HDF\r\n\x1a\n</c> or <c>PK\x03\x04</c>), not its extension. Optimizer state in the file is not read.
/// </summary>
public sealed class KerasWeightsFile
{
    KerasWeightsFile(string path, KerasFormat format)
    {
        Path = path;
        Format = format;
    }

    /// <summary>The path the file was read from, as given; messages name it.</summary>
    public string Path { get; }

    /// <summary>The layout the file was written in, told by its first bytes and its groups.</summary>
    public KerasFormat Format { get; }

    /// <summary>The <c>keras_version</c> the file records (Keras 2 attribute, Keras 3 metadata.json), or null.</summary>
    public string? KerasVersion { get; private set; }

    /// <summary>The model's configuration JSON (Keras 2 <c>model_config</c> attribute, Keras 3 config.json), or null.</summary>
    public string? ModelConfig { get; private set; }

    /// <summary>The layers in the file's order: Keras 2 <c>layer_names</c>; Keras 3 the order of config.json's layers
    /// where it lists them, else the natural order of the group names (dense, dense_1, dense_2, …, dense_10).</summary>
    public IReadOnlyList<KerasLayer> Layers { get; private set; } = Array.Empty<KerasLayer>();

    /// <summary>Every weight, layer by layer, in file order.</summary>
    public IEnumerable<KerasWeight> Weights => Layers.SelectMany(l => l.Weights);

    /// <summary>Whether the file holds optimizer state (<c>/optimizer_weights</c>, Keras 3 <c>/optimizer</c>); it is never imported.</summary>
    public bool HasOptimizerState { get; private set; }

    /// <summary>Null when <see cref="Layers"/> is the order the model was built in; otherwise why it is not known
    /// (a Keras 3 weights file without config whose layers are of several classes), and then mapping by order is refused.</summary>
    public string? LayerOrderUnknownBecause { get; private set; }

    static ReadOnlySpan<byte> HdfSignature => [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    static ReadOnlySpan<byte> ZipSignature => [(byte)'P', (byte)'K', 3, 4];

    /// <summary>Reads the weights of the Keras file at <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointException">the file is not a Keras weight file XlaGen reads; the message names the file and the problem.</exception>
    public static KerasWeightsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] head = new byte[8];
        int got;
        try
        {
            using var probe = File.OpenRead(path);
            got = probe.ReadAtLeast(head, 8, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot be read: {e.Message}", e);
        }
        try
        {
            if (got >= 8 && head.AsSpan().SequenceEqual(HdfSignature))
            {
                using var h5 = H5File.OpenRead(path);
                return FromHdf5(path, h5, config: null, version: null);
            }
            if (got >= 4 && head.AsSpan(0, 4).SequenceEqual(ZipSignature)) return FromArchive(path);
        }
        catch (Exception e) when (e is not CheckpointException and not OutOfMemoryException)
        {
            throw new CheckpointException($"{path}: is not a readable Keras file: {e.Message}", e);
        }
        throw new CheckpointException($"{path}: is neither HDF5 (Keras .h5, .weights.h5: it would start with 89 48 44 46 0d 0a 1a 0a) "
            + $"nor a zip (.keras: 50 4b 03 04); it starts with {string.Join(" ", head.Take(got).Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)))}");
    }

    static KerasWeightsFile FromArchive(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        string? Text(string name)
        {
            var entry = zip.GetEntry(name);
            if (entry == null) return null;
            using var reader = new StreamReader(entry.Open());
            return reader.ReadToEnd();
        }
        var weights = zip.GetEntry("model.weights.h5");
        if (weights == null)
        {
            var members = string.Join(", ", zip.Entries.Select(e => e.FullName));
            throw new CheckpointException(zip.GetEntry("model.weights.npz") != null
                ? $"{path}: the .keras archive stores its weights as model.weights.npz (weights_format=\"npz\"); only model.weights.h5 is read"
                : $"{path}: the zip has no model.weights.h5, so it is not a Keras 3 .keras file (members: {members})");
        }
        var bytes = new MemoryStream();
        using (var member = weights.Open()) member.CopyTo(bytes);
        bytes.Position = 0;
        string? version = null;
        if (Text("metadata.json") is { } metadata)
        {
            using var doc = JsonDocument.Parse(metadata);
            if (doc.RootElement.TryGetProperty("keras_version", out var v) && v.ValueKind == JsonValueKind.String) version = v.GetString();
        }
        using var h5 = H5File.Open(bytes, leaveOpen: false);
        var file = FromHdf5(path, h5, Text("config.json"), version);
        if (file.Format != KerasFormat.Keras3Weights)
            throw new CheckpointException($"{path}: the .keras archive's model.weights.h5 has the Keras 2 layout (layer_names), not Keras 3's layers/…/vars");
        return new KerasWeightsFile(path, KerasFormat.Keras3Archive)
        {
            KerasVersion = file.KerasVersion, ModelConfig = file.ModelConfig, Layers = file.Layers,
            HasOptimizerState = file.HasOptimizerState, LayerOrderUnknownBecause = file.LayerOrderUnknownBecause,
        };
    }

    static KerasWeightsFile FromHdf5(string path, IH5Group root, string? config, string? version)
    {
        if (root.AttributeExists("layer_names") || root.AttributeExists("layer_names0"))
            return Keras2(path, root, root, KerasFormat.Keras2Weights);
        if (root.LinkExists("model_weights") && root.Get("model_weights") is IH5Group weights)
            return Keras2(path, root, weights, KerasFormat.Keras2FullModel);
        if (root.LinkExists("layers") || root.LinkExists("_layer_checkpoint_dependencies") || root.LinkExists("vars"))
            return Keras3Reader.Read(path, root, config, version);
        var children = string.Join(", ", root.Children().Select(c => c.Name));
        throw new CheckpointException($"{path}: an HDF5 file without Keras weights: no layer_names attribute or /model_weights group (Keras 2) "
            + $"and no /layers group (Keras 3); its root holds: {(children.Length == 0 ? "nothing" : children)}");
    }

    static KerasWeightsFile Keras2(string path, IH5Group root, IH5Group group, KerasFormat format)
    {
        string at = format == KerasFormat.Keras2FullModel ? "/model_weights" : "";
        var layerNames = Hdf5Text.Strings(path, group, at, "layer_names");
        var layers = new List<KerasLayer>();
        foreach (var name in layerNames)
        {
            if (!group.LinkExists(name) || group.Get(name) is not IH5Group layerGroup)
                throw new CheckpointException($"{path}: layer_names lists '{name}', but there is no group {at}/{name}");
            layers.Add(Keras2Layer(path, layerGroup, $"{at}/{name}", name));
        }
        // Since tf.keras 2.7 the model's own weights (rarely any) sit in a group that layer_names does not list.
        if (!layerNames.Contains("top_level_model_weights") && group.LinkExists("top_level_model_weights")
            && group.Get("top_level_model_weights") is IH5Group top)
        {
            var layer = Keras2Layer(path, top, at + "/top_level_model_weights", "top_level_model_weights");
            if (layer.Weights.Count > 0) layers.Add(layer);
        }
        string? Attribute(IH5Object o, string name) =>
            o.AttributeExists(name) ? Hdf5Text.Strings(path, o, o == root ? "/" : at, name).FirstOrDefault() : null;
        return new KerasWeightsFile(path, format)
        {
            KerasVersion = Attribute(group, "keras_version") ?? Attribute(root, "keras_version"),
            ModelConfig = Attribute(root, "model_config"),
            Layers = layers,
            HasOptimizerState = root.LinkExists("optimizer_weights"),
        };
    }

    static KerasLayer Keras2Layer(string path, IH5Group layerGroup, string groupPath, string layer)
    {
        var weights = new List<KerasWeight>();
        foreach (var stored in Hdf5Text.Strings(path, layerGroup, groupPath, "weight_names"))
        {
            if (!layerGroup.LinkExists(stored) || layerGroup.Get(stored) is not IH5Dataset dataset)
                throw new CheckpointException($"{path}: layer '{layer}' lists weight '{stored}' in weight_names, but there is no dataset {groupPath}/{stored}");
            weights.Add(new KerasWeight(layer, ShortName(stored), stored, $"{groupPath}/{stored}", Hdf5Data.Read(path, dataset, $"{groupPath}/{stored}")));
        }
        return new KerasLayer(layer, groupPath, null, weights);
    }

    /// <summary><c>conv2d_1/kernel:0</c> → <c>kernel</c>; <c>q_conv/batch_normalization/gamma:0</c> → <c>batch_normalization.gamma</c>:
    /// the first segment is the layer's variable scope (not always the layer's name: <c>batch_normalization_5_1/beta:0</c>).</summary>
    internal static string ShortName(string stored)
    {
        var name = stored;
        int colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/') && colon + 1 < name.Length && name.AsSpan(colon + 1).IndexOfAnyExceptInRange('0', '9') < 0)
            name = name[..colon];
        var parts = name.Split('/');
        return string.Join(".", parts.Length > 1 ? parts.Skip(1) : parts);
    }

    internal static KerasWeightsFile Keras3(string path, string? version, string? config, IReadOnlyList<KerasLayer> layers, bool optimizer, string? orderUnknown) =>
        new(path, KerasFormat.Keras3Weights)
        {
            KerasVersion = version, ModelConfig = config, Layers = layers, HasOptimizerState = optimizer, LayerOrderUnknownBecause = orderUnknown,
        };
}

/// <summary>String-list attributes as Keras writes them: fixed-length NULL-padded arrays (Keras 2.0/2.1), variable-length
/// strings (TF 2.x), a zero-length float64 array for an empty list, and lists over 64 KiB split into <c>name0</c>, <c>name1</c>, ….</summary>
internal static class Hdf5Text
{
    public static List<string> Strings(string path, IH5Object owner, string ownerPath, string name)
    {
        if (owner.AttributeExists(name)) return Read(path, owner.Attribute(name), ownerPath);
        var all = new List<string>();
        for (int i = 0; owner.AttributeExists(name + i.ToString(System.Globalization.CultureInfo.InvariantCulture)); i++)
            all.AddRange(Read(path, owner.Attribute(name + i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ownerPath));
        if (all.Count == 0 && !owner.AttributeExists(name + "0"))
            throw new CheckpointException($"{path}: {(ownerPath.Length == 0 ? "/" : ownerPath)} has no '{name}' attribute (nor {name}0, {name}1, … as Keras splits long lists)");
        return all;
    }

    static List<string> Read(string path, IH5Attribute attribute, string ownerPath)
    {
        var type = attribute.Type;
        if (type.Class is H5DataTypeClass.String or H5DataTypeClass.VariableLength)
            return attribute.Read<string[]>().Select(s => s.TrimEnd('\0')).ToList();
        if (attribute.Space.Dimensions.Aggregate(1UL, (a, b) => a * b) == 0) return new List<string>(); // Keras' empty list: float64[0]
        throw new CheckpointException($"{path}: attribute '{attribute.Name}' of {(ownerPath.Length == 0 ? "/" : ownerPath)} is {type.Class} data, not a list of strings");
    }
}

/// <summary>A dataset's values as a host tensor, for the numeric types Keras writes.</summary>
internal static class Hdf5Data
{
    public static Tensor Read(string path, IH5Dataset dataset, string where)
    {
        var dims = dataset.Space.Dimensions.Select(d => (long)d).ToArray();
        var type = dataset.Type;
        ElementType? element = type.Class switch
        {
            H5DataTypeClass.FloatingPoint => type.Size switch { 2 => ElementType.F16, 4 => ElementType.F32, 8 => ElementType.F64, _ => null },
            H5DataTypeClass.FixedPoint => (type.Size, type.FixedPoint.IsSigned) switch
            {
                (1, true) => ElementType.S8, (2, true) => ElementType.S16, (4, true) => ElementType.S32, (8, true) => ElementType.S64,
                (1, false) => ElementType.U8, (2, false) => ElementType.U16, (4, false) => ElementType.U32, (8, false) => ElementType.U64,
                _ => null,
            },
            _ => null,
        };
        if (element is null)
            throw new CheckpointException($"{path}: dataset {where} holds {type.Size}-byte {type.Class} values; only integer and floating-point weights are read");
        Array data = element switch
        {
            ElementType.F16 => dataset.Read<Half[]>(),
            ElementType.F32 => dataset.Read<float[]>(),
            ElementType.F64 => dataset.Read<double[]>(),
            ElementType.S8 => dataset.Read<sbyte[]>(),
            ElementType.S16 => dataset.Read<short[]>(),
            ElementType.S32 => dataset.Read<int[]>(),
            ElementType.S64 => dataset.Read<long[]>(),
            ElementType.U8 => dataset.Read<byte[]>(),
            ElementType.U16 => dataset.Read<ushort[]>(),
            ElementType.U32 => dataset.Read<uint[]>(),
            _ => dataset.Read<ulong[]>(),
        };
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (data.LongLength != count)
            throw new CheckpointException($"{path}: dataset {where} has shape [{string.Join(",", dims)}] but {data.LongLength} values were read");
        return HostArrays.Wrap(element.Value, dims, data);
    }
}
