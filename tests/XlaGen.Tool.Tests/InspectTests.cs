using XlaGen.Checkpoints;
using XlaGen.Data;
using XlaGen.Training;

using XlaGen.Tests;

namespace XlaGen.Tool.Tests;

[XlaModel]
public partial class ToolTestNet
{
    [Param(5, 3, Init = Init.GlorotUniform)] Tensor<float> w;
    [Param(3)] Tensor<float> b;

    [Forward]
    public Tensor<float> Logits([Shape("B", 5)] Tensor<float> x) => x.MatMul(w) + b;

    [Loss]
    public Tensor<float> Loss([Shape("B", 5)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
        => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);
}

/// <summary><c>xlagen inspect</c> on a checkpoint this runtime writes, the real Keras files of ../shared/keras-corpus
/// and a .npy array; formats told by signature (the files are renamed to mislead); bad files exit 3.</summary>
public class InspectTests
{
    [Fact]
    public void OurCheckpointListsEveryTensorWithShapeDtypeAndBytes()
    {
        var dir = Xlagen.TempDir();
        using var model = ToolTestNet.Create(Devices.Cpu(), seed: 3);
        model.Compile(new Adam(1e-2));
        var x = new Tensor<float>(new long[] { 8, 5 }, Enumerable.Range(0, 40).Select(i => (float)Math.Sin(i)).ToArray());
        var labels = new Tensor<int>(new long[] { 8 }, Enumerable.Range(0, 8).Select(i => i % 3).ToArray());
        model.Fit(x, labels, new FitOptions { Epochs = 1, BatchSize = 4, Verbose = false });
        var path = Path.Combine(dir, "model.bin");   // not .safetensors: the tool reads the signature
        model.Save(path);
        var saved = Safetensors.Load(path);

        var r = Xlagen.Run("inspect", path);
        Assert.True(r.Code == 0, r.ToString());
        Assert.StartsWith($"{path}: safetensors, {saved.Names.Count} tensor(s)", r.Stdout);
        var lines = r.Stdout.Split('\n');
        foreach (var name in saved.Names)
        {
            var t = saved.Tensors[name];
            var line = lines.Single(l => l.TrimStart().StartsWith(name + " ", StringComparison.Ordinal));
            Assert.Matches($@"^\s+{System.Text.RegularExpressions.Regex.Escape(name)}\s+{t.ElementType.ToString().ToLowerInvariant()}\s+\[{string.Join(",", t.Shape)}\]\s+{t.ElementCount * 4}\s*$", line.TrimEnd('\r'));
        }
        Assert.Contains("w ", r.Stdout);
        Assert.Contains("[5,3]", r.Stdout);
        long total = saved.Tensors.Values.Sum(t => t.ElementCount * (t.ElementType == XlaGen.Hlo.ElementType.F64 || t.ElementType == XlaGen.Hlo.ElementType.S64 ? 8 : 4));
        Assert.Contains($"total: {saved.Names.Count} tensor(s), ", r.Stdout);
        Assert.Contains($", {total:N0} bytes", r.Stdout);
        Assert.Contains("metadata ", r.Stdout);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void KerasFilesListTheirWeightsWhateverTheirName()
    {
        var full = KerasCorpus.Require("dl4j-cnn-batch-norm/cnn_batch_norm.h5");
        var dir = Xlagen.TempDir();
        var renamed = Path.Combine(dir, "weights.safetensors");   // a misleading extension
        File.Copy(full, renamed);
        var r = Xlagen.Run("inspect", renamed);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("Keras 2 HDF5 full model (model.save), keras_version 2.1.3, 6 layer(s), 10 weight(s)", r.Stdout);
        // The layout the corpus README gives: HWIO kernels, BN vectors, Dense [36, 1].
        Assert.Matches(@"conv2d_1/kernel\s+f32\s+\[3,3,3,1\]\s+108\s+/model_weights/conv2d_1/conv2d_1/kernel:0", r.Stdout);
        Assert.Matches(@"batch_normalization_1/moving_variance\s+f32\s+\[1\]\s+4\s+", r.Stdout);
        Assert.Matches(@"conv2d_2/kernel\s+f32\s+\[3,3,1,1\]\s+36\s+", r.Stdout);
        Assert.Matches(@"dense_1/kernel\s+f32\s+\[36,1\]\s+144\s+", r.Stdout);
        Assert.Contains("total: 10 tensor(s), 79 element(s), 316 bytes", r.Stdout);

        var keras3 = KerasCorpus.Require("keras3-nested-dense/pre_pr22362_nested_container.keras");
        r = Xlagen.Run("inspect", keras3);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("Keras 3 .keras archive, keras_version 3.15.0", r.Stdout);
        Assert.Matches(@"\[4,2\]\s+32\s+/layers/dense_3/vars/0", r.Stdout);

        var weightsOnly = KerasCorpus.Require("hls4ml-conv2d-1layer/conv2d_1layer_weights.h5");
        r = Xlagen.Run("inspect", weightsOnly);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("Keras 2 HDF5 weights (save_weights)", r.Stdout);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void NpyArraysAreListed()
    {
        var dir = Xlagen.TempDir();
        var path = Path.Combine(dir, "a.dat");
        Npy.Write(path, new Tensor<long>(new long[] { 2, 3 }, new long[] { 1, 2, 3, 4, 5, 6 }));
        var r = Xlagen.Run("inspect", path);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("NumPy .npy, one array", r.Stdout);
        Assert.Matches(@"\(array\)\s+s64\s+\[2,3\]\s+48", r.Stdout);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void BadFilesExitWithTheBadInputCodeNamingTheFile()
    {
        var dir = Xlagen.TempDir();
        var text = Path.Combine(dir, "notes.h5");
        File.WriteAllText(text, "# not weights\n");
        var r = Xlagen.Run("inspect", text);
        Assert.Equal(3, r.Code);
        Assert.Contains($"xlagen inspect: {text}: is not a format xlagen inspect reads", r.Stderr);
        Assert.Contains("it starts with 23 20 6e 6f 74", r.Stderr);

        // A real checkpoint cut short: the signature says safetensors, the reader says what is wrong.
        using var model = ToolTestNet.Create(Devices.Cpu(), seed: 1);
        var whole = Path.Combine(dir, "whole.safetensors");
        model.Save(whole);
        var bytes = File.ReadAllBytes(whole);
        var cut = Path.Combine(dir, "cut.safetensors");
        File.WriteAllBytes(cut, bytes[..(bytes.Length - 10)]);
        r = Xlagen.Run("inspect", cut);
        Assert.Equal(3, r.Code);
        Assert.Contains(cut, r.Stderr);

        r = Xlagen.Run("inspect", Path.Combine(dir, "nothing.safetensors"));
        Assert.Equal(3, r.Code);
        Assert.Contains("nothing.safetensors: no such file", r.Stderr);

        var empty = Path.Combine(dir, "empty.h5");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        r = Xlagen.Run("inspect", empty);
        Assert.Equal(3, r.Code);
        Assert.Contains("it starts with nothing (it is empty)", r.Stderr);
        Directory.Delete(dir, recursive: true);
    }
}
