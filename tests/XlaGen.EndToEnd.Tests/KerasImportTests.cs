using System.Text.Json;
using PureHDF;
using XlaGen.Checkpoints;
using XlaGen.Data;
using XlaGen.Training;
using XlaGen.Tests.Models;

namespace XlaGen.Tests;

/// <summary>LoadKeras with the real Keras-written files of ../shared/keras-corpus: the weights land where they belong
/// (checked against the file read independently with PureHDF and against the values the corpus states), the models
/// the files describe reproduce the stated outputs, and a model the weights do not fit is refused, unchanged.</summary>
public class KerasImportTests
{
    static JsonElement Expected(string folder) =>
        JsonDocument.Parse(File.ReadAllText(KerasCorpus.Require(folder + "/expected.json"))).RootElement;

    static float[] Dataset(string path, string dataset)
    {
        using var h5 = H5File.OpenRead(path);
        return h5.Dataset(dataset).Read<float[]>();
    }

    [Fact]
    public void CnnBatchNormReproducesTheStatedKerasPredictions()
    {
        var path = KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5");
        using var model = KerasCnnBatchNorm.Create(seed: 3);
        var report = model.LoadKeras(path);

        Assert.False(report.MatchedByName);
        Assert.Equal(KerasFormat.Keras2FullModel, report.Format);
        Assert.Equal("2.1.3", report.KerasVersion);
        Assert.Equal(new[] { "activation_1", "flatten_1" }, report.SkippedLayers);
        string[] parameters = ["conv1Kernel", "conv1Bias", "gamma", "beta", "movingMean", "movingVariance", "conv2Kernel", "conv2Bias", "denseKernel", "denseBias"];
        string[] weights = ["conv2d_1/kernel:0", "conv2d_1/bias:0", "batch_normalization_1/gamma:0", "batch_normalization_1/beta:0",
            "batch_normalization_1/moving_mean:0", "batch_normalization_1/moving_variance:0", "conv2d_2/kernel:0", "conv2d_2/bias:0", "dense_1/kernel:0", "dense_1/bias:0"];
        Assert.Equal(parameters, report.Mappings.Select(m => m.Parameter));
        Assert.Equal(weights, report.Mappings.Select(m => m.StoredName));
        Assert.Equal("kernel", report.Mappings[0].Weight);
        // Each weight landed in its parameter: the same values PureHDF reads from the dataset the file's weight_names name.
        for (int i = 0; i < weights.Length; i++)
        {
            var layer = weights[i][..weights[i].IndexOf('/')];
            Assert.Equal(Dataset(path, $"/model_weights/{layer}/{weights[i]}"), ((Tensor<float>)model.GetParameter(parameters[i])).Data);
        }

        // The BN epsilon the model uses is the file's.
        using (var h5 = H5File.OpenRead(path))
        {
            var config = JsonDocument.Parse(h5.Attribute("model_config").Read<string>()).RootElement;
            var bn = config.GetProperty("config").EnumerateArray().Single(l => l.GetProperty("class_name").GetString() == "BatchNormalization");
            Assert.Equal(KerasCnnBatchNorm.Epsilon, (float)bn.GetProperty("config").GetProperty("epsilon").GetDouble());
        }

        var input = Npy.Read<double>(KerasCorpus.Require("dl4j-cnn-batch-norm/input.npy"));
        var expected = Npy.Read<float>(KerasCorpus.Require("dl4j-cnn-batch-norm/predictions.npy"));
        var x = new Tensor<float>(input.Shape, input.Data.Select(v => (float)v).ToArray());
        var predictions = model.Predict(x);
        Assert.Equal(expected.Shape, predictions.Shape);
        for (int i = 0; i < expected.Data.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - predictions.Data[i]) <= 1e-5, $"prediction {i}: {predictions.Data[i]}, Keras stated {expected.Data[i]}");

        Assert.Equal($"""
            Keras weights {path} (Keras2FullModel, Keras 2.1.3) → KerasCnnBatchNorm, matched by order (file order = parameter declaration order):
              Keras layer            weight                                   shape      parameter
              conv2d_1               conv2d_1/kernel:0                        [3,3,3,1]  conv1Kernel
              conv2d_1               conv2d_1/bias:0                          [1]        conv1Bias
              batch_normalization_1  batch_normalization_1/gamma:0            [1]        gamma
              batch_normalization_1  batch_normalization_1/beta:0             [1]        beta
              batch_normalization_1  batch_normalization_1/moving_mean:0      [1]        movingMean
              batch_normalization_1  batch_normalization_1/moving_variance:0  [1]        movingVariance
              conv2d_2               conv2d_2/kernel:0                        [3,3,1,1]  conv2Kernel
              conv2d_2               conv2d_2/bias:0                          [1]        conv2Bias
              dense_1                dense_1/kernel:0                         [36,1]     denseKernel
              dense_1                dense_1/bias:0                           [1]        denseBias
            Layers without weights (skipped): activation_1, flatten_1
            Optimizer state in the file: none

            """, report.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void KerasLayerNamesMatchTheLibraryLayersOfEachClassInDeclarationOrder()
    {
        var path = KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5");
        using var model = KerasLibraryCnn.Create(seed: 3);
        var report = model.LoadKeras(path);

        Assert.False(report.MatchedByName);
        Assert.True(report.MatchedByKerasLayerNames);
        string[] parameters = ["first.kernel", "first.bias", "norm.gamma", "norm.beta", "norm.movingMean", "norm.movingVariance",
            "second.kernel", "second.bias", "dense.kernel", "dense.bias"];
        string[] names = ["conv2d_1/kernel", "conv2d_1/bias", "batch_normalization_1/gamma", "batch_normalization_1/beta",
            "batch_normalization_1/moving_mean", "batch_normalization_1/moving_variance", "conv2d_2/kernel", "conv2d_2/bias", "dense_1/kernel", "dense_1/bias"];
        Assert.Equal(parameters, report.Mappings.Select(m => m.Parameter));
        Assert.Equal(names, report.Mappings.Select(m => m.KerasName));
        for (int i = 0; i < names.Length; i++)
        {
            var layer = names[i][..names[i].IndexOf('/')];
            Assert.Equal(Dataset(path, $"/model_weights/{layer}/{names[i]}:0"), ((Tensor<float>)model.GetParameter(parameters[i])).Data);
        }

        var input = Npy.Read<double>(KerasCorpus.Require("dl4j-cnn-batch-norm/input.npy"));
        var expected = Npy.Read<float>(KerasCorpus.Require("dl4j-cnn-batch-norm/predictions.npy"));
        var predictions = model.Predict(new Tensor<float>(input.Shape, input.Data.Select(v => (float)v).ToArray()));
        for (int i = 0; i < expected.Data.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - predictions.Data[i]) <= 1e-5, $"prediction {i}: {predictions.Data[i]}, Keras stated {expected.Data[i]}");

        Assert.Contains("matched by Keras layer names (dense, dense_1 … = the model's Dense layers in declaration order)", report.ToString());
        Assert.Contains("\n  dense_1                dense_1/kernel                         [36,1]     dense.kernel\n", report.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void KerasLayerNamesThatDoNotLineUpFallBackToOrderAndSayWhy()
    {
        var path = KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5");
        using var model = KerasLibraryCnnTwoDense.Create(seed: 3);
        var before = model.GetParameters();
        var e = Assert.Throws<CheckpointException>(() => model.LoadKeras(path));
        Assert.Contains("by Keras layer names: the file has 1 dense layer with weights, the model 2 Dense layers", e.Message);
        foreach (var (name, value) in model.GetParameters()) Assert.Equal(Naive.Vector(before[name]), Naive.Vector(value));
    }

    [Fact]
    public void LibraryParametersHaveKerasNamesInDeclarationOrder()
    {
        var names = XlaGen.Layers.KerasNames.Of(KerasLibraryCnn.ParameterSpecs);
        Assert.Equal("dense/kernel", names["dense.kernel"]);
        Assert.Equal("batch_normalization/moving_variance", names["norm.movingVariance"]);
        Assert.Equal("conv2d/bias", names["first.bias"]);
        Assert.Equal("conv2d_1/kernel", names["second.kernel"]);
        var zoo = XlaGen.Layers.KerasNames.Of(LayerZoo.ParameterSpecs);
        Assert.Equal("conv2d_1/kernel", zoo["dilated.kernel"]);
        Assert.Equal("layer_normalization/gamma", zoo["norm.gamma"]);
        Assert.Equal("embedding/embeddings", zoo["embedding.embeddings"]);
        var layers = XlaGen.Layers.KerasNames.Of(DepthwiseGrad.ParameterSpecs);
        Assert.Equal("depthwise_conv2d_1/depthwise_kernel", layers["dilated.depthwiseKernel"]);
        Assert.False(layers.ContainsKey("shift"));
        var attention = XlaGen.Layers.KerasNames.Of(AttentionGrad.ParameterSpecs);
        Assert.Equal("multi_head_attention/query/kernel", attention["self.queryKernel"]);
        Assert.Equal("multi_head_attention_3/attention_output/bias", attention["crossKeyIsValue.outputBias"]);
    }

    /// <summary>The table of Keras names covers exactly the parameters each library layer declares: every library layer
    /// with weights, in the test models, is recognised, and no other parameter is.</summary>
    [Fact]
    public void EveryLibraryLayerIsRecognisedByItsParameters()
    {
        void Check(IReadOnlyList<ParameterSpec> specs, params (string Prefix, string Keras)[] want)
        {
            var found = XlaGen.Layers.KerasNames.Recognise(specs).Select(i => (i.Prefix, i.Layer.Keras)).ToArray();
            Assert.Equal(want, found);
        }
        Check(LayerZoo.ParameterSpecs, ("conv", "conv2d"), ("dilated", "conv2d"), ("norm", "layer_normalization"), ("dense", "dense"), ("embedding", "embedding"));
        Check(DepthwiseGrad.ParameterSpecs, ("strided", "depthwise_conv2d"), ("dilated", "depthwise_conv2d"), ("relu", "depthwise_conv2d"));
        Check(BatchNormGrad.ParameterSpecs, ("norm", "batch_normalization"));
        Check(AttentionGrad.ParameterSpecs, ("self", "multi_head_attention"), ("causal", "multi_head_attention"), ("cross", "multi_head_attention"),
            ("crossKeyIsValue", "multi_head_attention"));
        Assert.Equal(7, XlaGen.Layers.KerasNames.Layers.Count);
    }

    [Fact]
    public void AModelTheWeightsDoNotFitIsRefusedNamingEachWeightAndIsLeftUnchanged()
    {
        var path = KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5");
        using var model = KerasCnnTwoUnits.Create(seed: 11);
        var before = model.GetParameters().ToDictionary(p => p.Key, p => Bytes(p.Value));
        var e = Assert.Throws<CheckpointException>(() => model.LoadKeras(path));
        Assert.Equal($"{path} does not fit KerasCnnTwoUnits (nothing was changed): "
            + "Keras layer 'dense_1' weight 'dense_1/kernel:0': expected f32[36,2] (parameter 'denseKernel'), found f32[36,1] in the file; "
            + "Keras layer 'dense_1' weight 'dense_1/bias:0': expected f32[2] (parameter 'denseBias'), found f32[1] in the file", e.Message);
        foreach (var (name, value) in model.GetParameters()) Assert.Equal(before[name], Bytes(value));

        // A model with fewer parameters than the file has weights: refused by count, also unchanged.
        using var conv = KerasOneConv.Create(seed: 2);
        var convBefore = conv.GetParameters().ToDictionary(p => p.Key, p => Bytes(p.Value));
        var count = Assert.Throws<CheckpointException>(() => conv.LoadKeras(path));
        Assert.StartsWith($"{path} does not fit KerasOneConv: the file has 10 weights in 4 layers with weights (conv2d_1: 2, batch_normalization_1: 4, conv2d_2: 2, dense_1: 2), "
            + "but KerasOneConv has 2 parameters (conv2d.kernel, conv2d.bias)", count.Message);
        foreach (var (name, value) in conv.GetParameters()) Assert.Equal(convBefore[name], Bytes(value));
    }

    static byte[] Bytes(Tensor t)
    {
        using var s = new MemoryStream();
        Npy.Write(s, t);
        return s.ToArray();
    }

    [Theory]
    [InlineData("hls4ml-conv2d-1layer/conv2d_1layer.h5", KerasFormat.Keras2FullModel)]
    [InlineData("hls4ml-conv2d-1layer/conv2d_1layer_weights.h5", KerasFormat.Keras2Weights)]
    public void Conv2DWeightsAreMatchedByNameAndGiveTheCrossCorrelation(string file, KerasFormat format)
    {
        var path = KerasCorpus.Require(file);
        var expected = Expected("hls4ml-conv2d-1layer");
        using var model = KerasOneConv.Create(seed: 1);
        var report = model.LoadKeras(path);
        Assert.True(report.MatchedByName);
        Assert.Equal(format, report.Format);
        Assert.Equal("2.13.1", report.KerasVersion);
        Assert.Equal(new[] { "conv2d.kernel", "conv2d.bias" }, report.Mappings.Select(m => m.Parameter));
        Assert.Empty(report.SkippedLayers); // top_level_model_weights is not a layer (not in layer_names)

        var kernel = expected.GetProperty("source_stated").GetProperty("kernel_hwio_3x3x1x1_rowmajor").EnumerateArray().Select(v => (float)v.GetDouble());
        Assert.Equal(kernel, ((Tensor<float>)model.GetParameter("conv2d.kernel")).Data);

        var images = expected.GetProperty("source_stated").GetProperty("inputs").GetProperty("values").EnumerateArray()
            .SelectMany(image => image.EnumerateArray().Select(v => (float)v.GetDouble())).ToArray();
        var outputs = model.Predict(Tensor<float>.FromArray(images, 2, 5, 5, 1));
        var want = expected.GetProperty("computed_here_not_stated_by_source").GetProperty("outputs").GetProperty("values").EnumerateArray()
            .SelectMany(o => o.EnumerateArray().Select(v => v.GetDouble())).ToArray();
        Assert.Equal(new long[] { 2, 3, 3, 1 }, outputs.Shape);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - outputs.Data[i]) <= 1e-5, $"output {i}: {outputs.Data[i]}, expected {want[i]}");
    }

    [Theory]
    [InlineData("keras3-nested-dense/pre_pr22362_nested_container.keras", KerasFormat.Keras3Archive)]
    [InlineData("keras3-nested-dense/model.weights.h5", KerasFormat.Keras3Weights)]
    public void Keras3FilesLoadInLayerOrder(string file, KerasFormat format)
    {
        var path = KerasCorpus.Require(file);
        using var model = KerasNestedDense.Create(seed: 4);
        var report = model.LoadKeras(path);
        Assert.Equal(format, report.Format);
        Assert.Equal(format == KerasFormat.Keras3Archive ? "3.15.0" : null, report.KerasVersion);
        Assert.False(report.MatchedByName);
        Assert.Equal(new[] { "d_0", "d_1", "d_2", "dense", "dense" }, report.Mappings.Select(m => m.Layer));
        Assert.Equal(new[] { "/layers/dense/vars/0", "/layers/dense_1/vars/0", "/layers/dense_2/vars/0", "/layers/dense_3/vars/0", "/layers/dense_3/vars/1" },
            report.Mappings.Select(m => m.Source));
        // The values Keras' test wrote: kernels full(0.1·(i+1)), out.kernel full(0.5), out.bias zeros.
        Assert.All(((Tensor<float>)model.GetParameter("d0")).Data, v => Assert.Equal(0.1f, v));
        Assert.All(((Tensor<float>)model.GetParameter("d1")).Data, v => Assert.Equal(0.2f, v));
        Assert.All(((Tensor<float>)model.GetParameter("d2")).Data, v => Assert.Equal(0.3f, v));
        Assert.All(((Tensor<float>)model.GetParameter("outKernel")).Data, v => Assert.Equal(0.5f, v));
        Assert.All(((Tensor<float>)model.GetParameter("outBias")).Data, v => Assert.Equal(0f, v));

        var y = model.Predict(Tensor<float>.FromArray(new[] { 1f, 2, 3, 4, 0.5f, -1, 0, 2 }, 2, 4));
        Assert.Equal(new[] { 1.92, 1.92, 0.288, 0.288 }, y.Data.Select(v => Math.Round(v, 5)));
        Assert.Equal($"""
            Keras weights {path} ({format}{(format == KerasFormat.Keras3Archive ? ", Keras 3.15.0" : "")}) → KerasNestedDense, matched by order (file order = parameter declaration order):
              Keras layer  weight           shape  parameter
              d_0          vars/0 (kernel)  [4,4]  d0
              d_1          vars/0 (kernel)  [4,4]  d1
              d_2          vars/0 (kernel)  [4,4]  d2
              dense        vars/0 (kernel)  [4,2]  outKernel
              dense        vars/1 (bias)    [2]    outBias
            Layers without weights: none
            Optimizer state in the file: none

            """, report.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ACompiledOptimizerStartsFreshAfterAnImport()
    {
        var path = KerasCorpus.Require("keras3-nested-dense/model.weights.h5");
        using var model = KerasNestedDense.Create(seed: 4);
        model.Compile(new Adam(0.01));
        var x = Tensor<float>.FromArray(new[] { 1f, 2, 3, 4 }, 1, 4);
        var y = Tensor<float>.FromArray(new[] { 1f, -1 }, 1, 2);
        model.TrainStep(x, y);
        Assert.Equal(1, model.Step);
        model.LoadKeras(path);
        Assert.Equal(0, model.Step); // the moments belonged to the weights the import replaced
        Assert.All(((Tensor<float>)model.GetParameter("d0")).Data, v => Assert.Equal(0.1f, v));
        // Training goes on from the imported weights: the first step's loss is the Keras model's.
        double expected = (Math.Pow(0.192 * 10 - 1, 2) + Math.Pow(0.192 * 10 + 1, 2)) / 2;
        Assert.Equal(expected, model.TrainStep(x, y).Loss, 4);
        Assert.Equal(1, model.Step);
    }

    [Fact]
    public void TheFormatIsToldByTheBytesNotTheExtension()
    {
        var dir = Directory.CreateTempSubdirectory("keras-").FullName;
        try
        {
            var zipNamedH5 = Path.Combine(dir, "model.h5");
            File.Copy(KerasCorpus.Require("keras3-nested-dense/pre_pr22362_nested_container.keras"), zipNamedH5);
            using var nested = KerasNestedDense.Create(seed: 4);
            Assert.Equal(KerasFormat.Keras3Archive, nested.LoadKeras(zipNamedH5).Format);

            var h5NamedKeras = Path.Combine(dir, "keras_model.keras");
            File.Copy(KerasCorpus.Require("hls4ml-conv2d-1layer/conv2d_1layer.h5"), h5NamedKeras);
            using var conv = KerasOneConv.Create(seed: 1);
            Assert.Equal(KerasFormat.Keras2FullModel, conv.LoadKeras(h5NamedKeras).Format);

            var text = Path.Combine(dir, "weights.h5");
            File.WriteAllText(text, "not a model");
            Assert.Equal($"{text}: is neither HDF5 (Keras .h5, .weights.h5: it would start with 89 48 44 46 0d 0a 1a 0a) nor a zip (.keras: 50 4b 03 04); it starts with 6e 6f 74 20 61 20 6d 6f",
                Assert.Throws<CheckpointException>(() => conv.LoadKeras(text)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
