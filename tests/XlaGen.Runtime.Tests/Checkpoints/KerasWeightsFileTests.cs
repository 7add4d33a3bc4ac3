using System.IO.Compression;
using PureHDF;
using XlaGen.Checkpoints;
using XlaGen.Hlo;

namespace XlaGen.Tests.Checkpoints;

/// <summary>The Keras reader on the real corpus files and on hand-built HDF5 files (written with PureHDF) for the
/// layouts the corpus lacks: split <c>layer_names0..N</c>, a weight scope unlike the layer name, nested scopes,
/// optimizer state, Keras 3 files with and without a config; and the refusals, with their messages.</summary>
public sealed class KerasWeightsFileTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("keras-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Conv2DKernelIsReadInRowMajorHwioOrder()
    {
        // The generator script set kernel = arange(270).reshape(3, 3, 5, 6) and bias = arange(6) (corpus README §3).
        var file = KerasWeightsFile.Read(KerasCorpus.Require("dl4j-conv2d-arange/conv2d_tensorflow_2.h5"));
        Assert.Equal(KerasFormat.Keras2FullModel, file.Format);
        var layer = Assert.Single(file.Layers);
        Assert.Equal("conv2d_1", layer.Name);
        Assert.Equal(new[] { "kernel", "bias" }, layer.Weights.Select(w => w.Name));
        var kernel = (Tensor<float>)layer.Weights[0].Value;
        Assert.Equal(new long[] { 3, 3, 5, 6 }, kernel.Shape);
        for (int kh = 0; kh < 3; kh++) for (int kw = 0; kw < 3; kw++) for (int ci = 0; ci < 5; ci++) for (int co = 0; co < 6; co++)
            Assert.Equal(((kh * 3 + kw) * 5 + ci) * 6 + co, kernel[kh, kw, ci, co]);
        Assert.Equal(new[] { 0f, 1, 2, 3, 4, 5 }, ((Tensor<float>)layer.Weights[1].Value).Data);
        Assert.Equal("/model_weights/conv2d_1/conv2d_1/kernel:0", layer.Weights[0].Path);
        Assert.Contains("\"class_name\": \"Sequential\"", file.ModelConfig);
    }

    [Fact]
    public void FixedLengthNullPaddedNamesAndEmptyWeightListsAreRead()
    {
        // Keras 2.1.3 wrote layer_names/weight_names as fixed-length NULL-padded strings and empty lists as float64[0].
        var file = KerasWeightsFile.Read(KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5"));
        Assert.Equal(new[] { "conv2d_1", "batch_normalization_1", "activation_1", "conv2d_2", "flatten_1", "dense_1" }, file.Layers.Select(l => l.Name));
        Assert.Equal(new[] { 2, 4, 0, 2, 0, 2 }, file.Layers.Select(l => l.Weights.Count));
        Assert.Equal(new[] { "gamma", "beta", "moving_mean", "moving_variance" }, file.Layers[1].Weights.Select(w => w.Name));
        Assert.Equal("batch_normalization_1.moving_variance", file.Layers[1].Weights[3].Key);
        Assert.Equal("2.1.3", file.KerasVersion);
    }

    [Theory]
    [InlineData("conv2d_1/kernel:0", "kernel")]
    [InlineData("batch_normalization_5_1/beta:0", "beta")]
    [InlineData("q_conv2d_batchnorm/batch_normalization/gamma:0", "batch_normalization.gamma")]
    [InlineData("dense/kernel", "kernel")]
    [InlineData("kernel:0", "kernel")]
    [InlineData("odd:name", "odd:name")]
    public void ShortNamesDropTheScopeAndTheVariableIndex(string stored, string expected) =>
        Assert.Equal(expected, KerasWeightsFile.ShortName(stored));

    string Temp(string name) => Path.Combine(directory, name);

    static H5Dataset Floats(float[] values, params ulong[] dims) => new(values, fileDims: dims);

    /// <summary>A save_weights file whose layer_names is split in two attributes, whose BN weights live under a scope
    /// unlike the layer's name, with a nested scope, a weightless layer and optimizer state.</summary>
    string HandBuiltKeras2()
    {
        var file = new H5File
        {
            ["dense_1"] = new H5Group
            {
                ["dense_1"] = new H5Group { ["kernel:0"] = Floats([1, 2, 3, 4, 5, 6], 2, 3), ["bias:0"] = Floats([7, 8, 9], 3) },
            },
            ["batch_normalization_5"] = new H5Group
            {
                ["batch_normalization_5_1"] = new H5Group { ["gamma:0"] = Floats([0.5f, 0.25f, 2], 3) },
            },
            ["q_conv"] = new H5Group
            {
                ["q_conv"] = new H5Group { ["batch_normalization"] = new H5Group { ["beta:0"] = Floats([-1, -2, -3], 3) } },
            },
            ["dropout"] = new H5Group(),
            ["optimizer_weights"] = new H5Group { ["iter:0"] = Floats([3], 1) },
        };
        file.Attributes["layer_names0"] = new[] { "dense_1", "batch_normalization_5" };
        file.Attributes["layer_names1"] = new[] { "dropout", "q_conv" };
        file.Attributes["keras_version"] = "2.2.4-tf";
        ((H5Group)file["dense_1"]).Attributes["weight_names"] = new[] { "dense_1/kernel:0", "dense_1/bias:0" };
        ((H5Group)file["batch_normalization_5"]).Attributes["weight_names"] = new[] { "batch_normalization_5_1/gamma:0" };
        ((H5Group)file["q_conv"]).Attributes["weight_names"] = new[] { "q_conv/batch_normalization/beta:0" };
        ((H5Group)file["dropout"]).Attributes["weight_names"] = Array.Empty<double>();
        var path = Temp("weights.h5");
        file.Write(path);
        return path;
    }

    [Fact]
    public void SplitLayerNamesScopesUnlikeTheLayerAndNestedScopesAreFollowed()
    {
        var path = HandBuiltKeras2();
        var file = KerasWeightsFile.Read(path);
        Assert.Equal(KerasFormat.Keras2Weights, file.Format);
        Assert.Equal("2.2.4-tf", file.KerasVersion);
        Assert.True(file.HasOptimizerState);
        Assert.Equal(new[] { "dense_1", "batch_normalization_5", "dropout", "q_conv" }, file.Layers.Select(l => l.Name));
        Assert.Equal(new[] { "dense_1.kernel", "dense_1.bias", "batch_normalization_5.gamma", "q_conv.batch_normalization.beta" }, file.Weights.Select(w => w.Key));
        Assert.Equal("/batch_normalization_5/batch_normalization_5_1/gamma:0", file.Layers[1].Weights[0].Path);
        Assert.Equal(new[] { -1f, -2, -3 }, ((Tensor<float>)file.Layers[3].Weights[0].Value).Data);

        // Into parameters named like the weights: matched by name, whatever the declaration order.
        ParameterSpec P(string name, params long[] dims) => new(name, ElementType.F32, dims, Init.Zeros, 0);
        var specs = new[] { P("q_conv.batch_normalization.beta", 3), P("batch_normalization_5.gamma", 3), P("dense_1.bias", 3), P("dense_1.kernel", 2, 3) };
        var (values, report) = KerasImport.Plan(file, specs, "Named");
        Assert.True(report.MatchedByName);
        Assert.Equal(new[] { 7f, 8, 9 }, ((Tensor<float>)values[2]).Data);
        Assert.Equal(new[] { "dropout" }, report.SkippedLayers);
        Assert.True(report.OptimizerStateIgnored);
        Assert.EndsWith("Layers without weights (skipped): dropout\nOptimizer state in the file: ignored (not imported)\n", report.ToString().ReplaceLineEndings("\n"));

        // f64 parameters take the f32 weights converted; an integer parameter is refused by name.
        var doubles = new[] { P("a", 2, 3), P("b", 3), P("c", 3), new ParameterSpec("d", ElementType.F64, [3], Init.Zeros, 0) };
        var (converted, convertedReport) = KerasImport.Plan(file, doubles, "Mixed");
        Assert.Equal(new[] { -1.0, -2, -3 }, ((Tensor<double>)converted[3]).Data);
        Assert.Equal(ElementType.F32, convertedReport.Mappings[3].ConvertedFrom);
        var ints = new[] { P("a", 2, 3), P("b", 3), P("c", 3), new ParameterSpec("d", ElementType.S32, [3], Init.Zeros, 0) };
        Assert.Equal($"{path} does not fit Ints (nothing was changed): Keras layer 'q_conv' weight 'q_conv/batch_normalization/beta:0': "
            + "expected s32 (parameter 'd'), found f32[3] in the file; only floating-point weights are converted",
            Assert.Throws<CheckpointException>(() => KerasImport.Plan(file, ints, "Ints")).Message);

        // By order, a parameter named like another weight is a contradiction, not a silent swap.
        var swapped = new[] { P("dense_1.kernel", 2, 3), P("x", 3), P("dense_1.bias", 3), P("y", 3) };
        Assert.Contains("Keras layer 'dense_1' weight 'dense_1/bias:0' has the name of parameter 'dense_1.bias', but by order it would go to parameter 'x'",
            Assert.Throws<CheckpointException>(() => KerasImport.Plan(file, swapped, "Swapped")).Message);
    }

    [Fact]
    public void MissingGroupsAndDatasetsAreNamed()
    {
        var file = new H5File { ["dense"] = new H5Group() };
        file.Attributes["layer_names"] = new[] { "dense", "gone" };
        ((H5Group)file["dense"]).Attributes["weight_names"] = new[] { "dense/kernel:0" };
        var path = Temp("broken.h5");
        file.Write(path);
        Assert.Equal($"{path}: layer 'dense' lists weight 'dense/kernel:0' in weight_names, but there is no dataset /dense/dense/kernel:0",
            Assert.Throws<CheckpointException>(() => KerasWeightsFile.Read(path)).Message);

        var noLayers = Temp("plain.h5");
        new H5File { ["data"] = Floats([1], 1) }.Write(noLayers);
        Assert.Equal($"{noLayers}: an HDF5 file without Keras weights: no layer_names attribute or /model_weights group (Keras 2) and no /layers group (Keras 3); its root holds: data",
            Assert.Throws<CheckpointException>(() => KerasWeightsFile.Read(noLayers)).Message);
    }

    static H5Group Vars(string? name, params H5Dataset[] values)
    {
        var group = new H5Group();
        for (int i = 0; i < values.Length; i++) group[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = values[i];
        if (name != null) group.Attributes["name"] = name;
        return group;
    }

    string Keras3File(string name)
    {
        var path = Temp(name);
        new H5File
        {
            ["layers"] = new H5Group
            {
                ["conv2d"] = new H5Group { ["vars"] = Vars("c", Floats(new float[8], 2, 2, 1, 2), Floats([1, 2], 2)) },
                ["batch_normalization"] = new H5Group { ["vars"] = Vars("bn", Floats([1, 1], 2), Floats([0, 0], 2), Floats([0, 0], 2), Floats([1, 1], 2)) },
                ["flatten"] = new H5Group { ["vars"] = Vars("f") },
                ["dense"] = new H5Group { ["vars"] = Vars("out", Floats(new float[4], 2, 2)) },
            },
            ["optimizer"] = new H5Group { ["vars"] = Vars(null, Floats([5], 1)) },
            ["vars"] = Vars("seq"),
        }.Write(path);
        return path;
    }

    /// <summary>A Keras 3 .weights.h5 of auto-named layers and no config: no order across classes, but the layer names
    /// (class + counter) match a model's library layers (recognised by their parameters) of each class in declaration order.</summary>
    [Fact]
    public void Keras3AutoNamedLayersMatchLibraryLayersWithoutAnOrder()
    {
        var path = Temp("auto.weights.h5");
        new H5File
        {
            ["layers"] = new H5Group
            {
                ["batch_normalization"] = new H5Group { ["vars"] = Vars(null, Floats([1, 2], 2), Floats([3, 4], 2), Floats([5, 6], 2), Floats([7, 8], 2)) },
                ["conv2d"] = new H5Group { ["vars"] = Vars(null, Floats(new float[8], 2, 2, 1, 2), Floats([9, 10], 2)) },
                ["dense"] = new H5Group { ["vars"] = Vars(null, Floats(new float[24], 8, 3), Floats([11, 12, 13], 3)) },
                ["dense_1"] = new H5Group { ["vars"] = Vars(null, Floats(new float[6], 3, 2), Floats([14, 15], 2)) },
                ["flatten"] = new H5Group { ["vars"] = Vars(null) },
            },
        }.Write(path);
        var file = KerasWeightsFile.Read(path);
        Assert.NotNull(file.LayerOrderUnknownBecause);
        ParameterSpec P(string name, params long[] dims) => new(name, ElementType.F32, dims, Init.Zeros, 0);
        var specs = new[]
        {
            P("conv.kernel", 2, 2, 1, 2), P("conv.bias", 2), P("norm.gamma", 2), P("norm.beta", 2), P("norm.movingMean", 2), P("norm.movingVariance", 2),
            P("hidden.kernel", 8, 3), P("hidden.bias", 3), P("head.kernel", 3, 2), P("head.bias", 2),
        };
        var (values, report) = KerasImport.Plan(file, specs, "Cnn");
        Assert.True(report.MatchedByKerasLayerNames);
        Assert.False(report.MatchedByName);
        Assert.Equal(new[] { "norm.gamma", "norm.beta", "norm.movingMean", "norm.movingVariance", "conv.kernel", "conv.bias", "hidden.kernel", "hidden.bias",
            "head.kernel", "head.bias" }, report.Mappings.Select(m => m.Parameter));
        Assert.Equal("batch_normalization/moving_mean", report.Mappings[2].KerasName);
        Assert.Equal("dense_1/bias", report.Mappings[9].KerasName);
        Assert.Equal(new[] { 5f, 6 }, ((Tensor<float>)values[4]).Data);
        Assert.Equal(new[] { 9f, 10 }, ((Tensor<float>)values[1]).Data);
        Assert.Equal(new[] { 11f, 12, 13 }, ((Tensor<float>)values[7]).Data);
        Assert.Equal(new[] { 14f, 15 }, ((Tensor<float>)values[9]).Data);
        Assert.Contains("  dense_1              dense_1/kernel (vars/0)", report.ToString());

        // A model whose parameters are not all in library layers keeps the old refusal, and says why names did not help.
        var mixed = specs.Append(P("scale", 1)).ToArray();
        Assert.Contains("by Keras layer names: parameter 'scale' is not a weight of a library layer",
            Assert.Throws<CheckpointException>(() => KerasImport.Plan(file, mixed, "Mixed")).Message);
    }

    [Fact]
    public void Keras3WithoutConfigRefusesOrderAcrossClassesButAZipConfigGivesIt()
    {
        var h5 = Keras3File("model.weights.h5");
        var file = KerasWeightsFile.Read(h5);
        Assert.Equal(KerasFormat.Keras3Weights, file.Format);
        Assert.True(file.HasOptimizerState);
        Assert.NotNull(file.LayerOrderUnknownBecause);
        Assert.Equal(new[] { "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance", "c.kernel", "c.bias", "out.kernel" }, file.Weights.Select(w => w.Key));
        ParameterSpec P(string name, params long[] dims) => new(name, ElementType.F32, dims, Init.Zeros, 0);
        var specs = new[] { P("k", 2, 2, 1, 2), P("b", 2), P("g", 2), P("be", 2), P("m", 2), P("v", 2), P("w", 2, 2) };
        Assert.Equal($"{h5} does not fit Cnn: its weights cannot be matched by name (no parameter is named bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, c.kernel, c.bias, …) "
            + "and not by order: the file records no layer order (Keras 3 names groups by class: batch_normalization, conv2d, dense), "
            + "and without the .keras archive's config.json the order between classes cannot be recovered",
            Assert.Throws<CheckpointException>(() => KerasImport.Plan(file, specs, "Cnn")).Message);

        // The same weights in a .keras zip whose config.json lists the layers: their order, and the plan succeeds.
        var zipPath = Temp("model.keras");
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            zip.CreateEntryFromFile(h5, "model.weights.h5", CompressionLevel.NoCompression);
            using (var w = new StreamWriter(zip.CreateEntry("config.json").Open()))
                w.Write("""{"class_name": "Sequential", "config": {"name": "seq", "layers": [{"class_name": "InputLayer", "config": {"name": "in"}}, {"class_name": "Conv2D", "config": {"name": "c"}}, {"class_name": "BatchNormalization", "config": {"name": "bn"}}, {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "Dense", "config": {"name": "out"}}]}}""");
            using (var w = new StreamWriter(zip.CreateEntry("metadata.json").Open()))
                w.Write("""{"keras_version": "3.99.0"}""");
        }
        var archive = KerasWeightsFile.Read(zipPath);
        Assert.Equal(KerasFormat.Keras3Archive, archive.Format);
        Assert.Equal("3.99.0", archive.KerasVersion);
        Assert.Null(archive.LayerOrderUnknownBecause);
        Assert.Equal(new[] { "c", "bn", "f", "out" }, archive.Layers.Select(l => l.Name));
        var (_, report) = KerasImport.Plan(archive, specs, "Cnn");
        Assert.Equal(new[] { "k", "b", "g", "be", "m", "v", "w" }, report.Mappings.Select(m => m.Parameter));
        Assert.Equal(new[] { "f" }, report.SkippedLayers);
    }

    [Fact]
    public void ArchivesWithoutAnH5WeightsMemberAreRefused()
    {
        var npz = Temp("npz.keras");
        using (var zip = ZipFile.Open(npz, ZipArchiveMode.Create))
            zip.CreateEntry("model.weights.npz");
        Assert.Equal($"{npz}: the .keras archive stores its weights as model.weights.npz (weights_format=\"npz\"); only model.weights.h5 is read",
            Assert.Throws<CheckpointException>(() => KerasWeightsFile.Read(npz)).Message);
        var other = Temp("other.keras");
        using (var zip = ZipFile.Open(other, ZipArchiveMode.Create))
            zip.CreateEntry("readme.txt");
        Assert.Equal($"{other}: the zip has no model.weights.h5, so it is not a Keras 3 .keras file (members: readme.txt)",
            Assert.Throws<CheckpointException>(() => KerasWeightsFile.Read(other)).Message);
        var empty = Temp("empty.h5");
        File.WriteAllBytes(empty, []);
        Assert.Equal($"{empty}: is neither HDF5 (Keras .h5, .weights.h5: it would start with 89 48 44 46 0d 0a 1a 0a) nor a zip (.keras: 50 4b 03 04); it starts with ",
            Assert.Throws<CheckpointException>(() => KerasWeightsFile.Read(empty)).Message);
    }
}
