using XlaGen.Checkpoints;
using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Load checks everything before it changes anything, and optimizer state must be the compiled optimizer's,
/// whichever of Load and Compile comes first.</summary>
public sealed class CheckpointLoadTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("xlagen-load-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => Path.Combine(dir, name);

    static Dataset Data(int n, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new Tensor<double>(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        var y = new Tensor<int>(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray());
        return new Dataset(x, y);
    }

    static readonly Dataset Train = Data(120, 31);

    static FitOptions OneEpoch => new() { Epochs = 1, BatchSize = 25, Verbose = false };

    static Sgd Momentum() => new(0.05, momentum: 0.9);

    /// <summary>A TinyNet trained one epoch with Adam, saved (optimizer state m, v and step included).</summary>
    string AdamCheckpoint()
    {
        var path = PathOf("adam.safetensors");
        using var model = TinyNet.Create(seed: 21);
        model.Compile(new Adam(0.01));
        model.Fit(Train, OneEpoch);
        model.Save(path);
        return path;
    }

    /// <summary>Everything a checkpoint holds, as bytes per tensor and the metadata: Save is the witness that
    /// parameters, optimizer slots, step, epoch and shuffle seed are unchanged.</summary>
    Dictionary<string, string> Snapshot(ModelRunner model)
    {
        var path = PathOf($"snapshot-{Guid.NewGuid():N}.safetensors");
        model.Save(path);
        var file = Safetensors.Load(path);
        var result = file.Names.ToDictionary(n => n, n => Convert.ToHexString(TensorBytes(file.Tensors[n])));
        foreach (var (k, v) in file.Metadata) result["meta:" + k] = v;
        result["Step"] = model.Step.ToString();
        result["CompletedEpochs"] = model.CompletedEpochs.ToString();
        result["ShuffleSeed"] = model.ShuffleSeed.ToString();
        result["Optimizer"] = model.Optimizer?.Describe() ?? "none";
        File.Delete(path);
        return result;
    }

    static byte[] TensorBytes(Tensor t) => t switch
    {
        Tensor<double> d => d.Data.SelectMany(BitConverter.GetBytes).ToArray(),
        Tensor<float> f => f.Data.SelectMany(BitConverter.GetBytes).ToArray(),
        Tensor<int> i => i.Data.SelectMany(BitConverter.GetBytes).ToArray(),
        _ => throw new NotSupportedException(t.ShapeText),
    };

    static void AssertSameWeights(ModelRunner expected, ModelRunner actual)
    {
        foreach (var spec in expected.ParameterSpecs)
            Assert.True(((Tensor<double>)expected.GetParameter(spec.Path)).Data.SequenceEqual(((Tensor<double>)actual.GetParameter(spec.Path)).Data), $"{spec.Path} differs");
    }

    /// <summary>A copy of <paramref name="source"/> with tensors replaced, removed or metadata changed.</summary>
    string Tampered(string source, string name, Action<Dictionary<string, Tensor>, Dictionary<string, string>> change)
    {
        var file = Safetensors.Load(source);
        var tensors = file.Names.ToDictionary(n => n, n => file.Tensors[n], StringComparer.Ordinal);
        var metadata = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        change(tensors, metadata);
        var path = PathOf(name);
        Safetensors.Save(path, tensors.ToList(), metadata);
        return path;
    }

    static void AssertContainsAll(string message, params string[] fragments)
    {
        foreach (var f in fragments) Assert.True(message.Contains(f, StringComparison.Ordinal), $"'{f}' is not in: {message}");
    }

    [Fact]
    public void AdamCheckpointIntoAMomentumCompiledModelFailsAndChangesNothing()
    {
        var adam = AdamCheckpoint();
        using var model = TinyNet.Create(seed: 5);
        using var twin = TinyNet.Create(seed: 5);
        foreach (var m in new[] { model, twin })
        {
            m.Compile(Momentum());
            m.Fit(Train, OneEpoch);
        }
        var before = Snapshot(model);

        var e = Assert.Throws<CheckpointException>(() => model.Load(adam));
        AssertContainsAll(e.Message,
            Path.GetFileName(adam),
            "holds optimizer state of adam(beta1=0.9, beta2=0.999, epsilon=1E-08) (slots: m, v)",
            "but TinyNet is compiled with sgd(momentum=0.9, nesterov=false) (slots: velocity)",
            "compile with the optimizer the checkpoint was saved with");

        // Bitwise the same weights, slots, step, epoch and shuffle seed; and training goes on exactly as in the twin
        // that never saw the failed Load.
        Assert.Equal(before, Snapshot(model));
        model.Fit(Train, OneEpoch);
        twin.Fit(Train, OneEpoch);
        AssertSameWeights(twin, model);
        Assert.Equal(twin.Step, model.Step);
        Assert.Equal(2, model.CompletedEpochs);
    }

    [Fact]
    public void AdamCheckpointLoadedBeforeCompilingWithMomentumFailsInCompileAndAdamStillResumesIt()
    {
        var adam = AdamCheckpoint();
        using var model = TinyNet.Create(seed: 77);
        model.Load(adam);   // nothing compiled: the weights come now, the optimizer state waits for Compile
        Assert.Equal(1, model.CompletedEpochs);

        var e = Assert.Throws<CheckpointException>(() => model.Compile(Momentum()));
        AssertContainsAll(e.Message,
            Path.GetFileName(adam),
            "holds optimizer state of adam(beta1=0.9, beta2=0.999, epsilon=1E-08) (slots: m, v)",
            "but TinyNet is being compiled with sgd(momentum=0.9, nesterov=false) (slots: velocity)",
            "compile with the optimizer the checkpoint was saved with");
        Assert.Null(model.Optimizer);   // the failed Compile chose nothing
        Assert.Throws<InvalidOperationException>(() => model.Fit(Train, OneEpoch));

        // The saved state is still there for the right optimizer: Load → Compile(Adam) resumes bitwise like a straight run.
        model.Compile(new Adam(0.01));
        model.Fit(Train, OneEpoch);
        using var straight = TinyNet.Create(seed: 21);
        straight.Compile(new Adam(0.01));
        straight.Fit(Train, OneEpoch with { Epochs = 2 });
        AssertSameWeights(straight, model);
        Assert.Equal(straight.Step, model.Step);
        Assert.Equal(2, model.CompletedEpochs);
    }

    [Fact]
    public void CompileThenLoadAndLoadThenCompileResumeTheSameAdamState()
    {
        var adam = AdamCheckpoint();
        using var compiledFirst = TinyNet.Create(seed: 1);
        compiledFirst.Compile(new Adam(0.01));
        compiledFirst.Fit(Train, OneEpoch);   // state of its own, which Load must replace
        compiledFirst.Load(adam);
        using var loadedFirst = TinyNet.Create(seed: 1);   // the same seed, so the checkpoints' "seed" metadata agree
        loadedFirst.Load(adam);
        loadedFirst.Compile(new Adam(0.01));
        Assert.Equal(Snapshot(compiledFirst), Snapshot(loadedFirst));
        Assert.Equal(Train.Count / 25 + 1, compiledFirst.Step);   // one epoch of 5 batches, from the checkpoint
    }

    [Fact]
    public void AnOptimizerSlotOfTheWrongShapeOrTypeIsNamedInBothOrders()
    {
        var adam = AdamCheckpoint();
        var bad = Tampered(adam, "bad-slots.safetensors", (t, _) =>
        {
            t["optimizer.adam.m.w1"] = new Tensor<double>(new long[] { 5, 6 }, new double[30]);      // transposed
            t["optimizer.adam.v.w2"] = new Tensor<float>(new long[] { 5, 3 }, new float[15]);        // f32, not f64
            t.Remove("optimizer.adam.v.b1");                                                          // missing
            t["optimizer.adam.step"] = Tensor<float>.Scalar(5);                                       // was an InvalidCastException
        });
        string[] expected =
        {
            "does not fit the state of adam(beta1=0.9, beta2=0.999, epsilon=1E-08) for TinyNet",
            "'optimizer.adam.m.w1' is f64[5,6] in the file, f64[6,5] expected",
            "'optimizer.adam.v.w2' is f32[5,3] in the file, f64[5,3] expected",
            "'optimizer.adam.v.b1' (f64[5]) is missing",
            "'optimizer.adam.step' is f32[] in the file, s32[] expected",
        };

        using var compiled = TinyNet.Create(seed: 9);
        compiled.Compile(new Adam(0.01));
        compiled.Fit(Train, OneEpoch);
        var before = Snapshot(compiled);
        AssertContainsAll(Assert.Throws<CheckpointException>(() => compiled.Load(bad)).Message, expected);
        Assert.Equal(before, Snapshot(compiled));

        using var uncompiled = TinyNet.Create(seed: 9);
        uncompiled.Load(bad);
        AssertContainsAll(Assert.Throws<CheckpointException>(() => uncompiled.Compile(new Adam(0.01))).Message, expected);
        Assert.Null(uncompiled.Optimizer);
    }

    [Fact]
    public void BadMetadataOrABadParameterChangesNothing()
    {
        var adam = AdamCheckpoint();
        using var model = TinyNet.Create(seed: 3);
        model.Compile(new Adam(0.01));
        model.Fit(Train, OneEpoch with { Epochs = 2 });
        var before = Snapshot(model);

        var epoch = Tampered(adam, "bad-epoch.safetensors", (_, m) => m["epoch"] = "two");
        AssertContainsAll(Assert.Throws<CheckpointException>(() => model.Load(epoch)).Message, "metadata 'epoch' is 'two', not a non-negative integer");
        Assert.Equal(before, Snapshot(model));

        var parameter = Tampered(adam, "bad-parameter.safetensors", (t, _) => t["b1"] = new Tensor<double>(new long[] { 4 }, new double[4]));
        AssertContainsAll(Assert.Throws<CheckpointException>(() => model.Load(parameter)).Message, "'b1' is f64[4] in the file, f64[5] expected");
        Assert.Equal(before, Snapshot(model));
    }

    public static TheoryData<string, string[]> OutOfRangeStates => new()
    {
        { "step-tensor:-1", new[] { "tensor 'optimizer.adam.step' (the optimizer step) is -1", "allowed range 0 to 1073741824" } },
        { "step-tensor:2147483647", new[] { "tensor 'optimizer.adam.step' (the optimizer step) is 2147483647", "allowed range 0 to 1073741824" } },
        { "step:9223372036854775807", new[] { "metadata 'step' is 9223372036854775807", "allowed range 0 to 1073741824" } },
        { "step:-1", new[] { "metadata 'step' is '-1', not a non-negative integer", "allowed: 0 to 1073741824" } },
        { "epoch:2147483647", new[] { "metadata 'epoch' is 2147483647", "allowed range 0 to 10000000" } },
        { "epoch:99999999999", new[] { "metadata 'epoch' is 99999999999", "allowed range 0 to 10000000" } },
        { "shuffle_seed:18446744073709551616", new[] { "metadata 'shuffle_seed' is '18446744073709551616', not a non-negative integer" } },
        { "learning_rate:constant(NaN)", new[] { "metadata 'learning_rate' is 'constant(NaN)'", "number NaN", "finite and at least 0" } },
        { "learning_rate:constant(Infinity)", new[] { "metadata 'learning_rate' is 'constant(Infinity)'", "number Infinity", "finite and at least 0" } },
        { "learning_rate:constant(-0.5)", new[] { "number -0.5", "finite and at least 0" } },
        { "optimizer:adam(beta1=NaN, beta2=0.999, epsilon=1E-07)", new[] { "metadata 'optimizer' is 'adam(beta1=NaN", "number NaN" } },
    };

    /// <summary>Every training-state value a checkpoint carries is range-checked on load, named with its value and its
    /// range, and the runner (compiled or not) is unchanged.</summary>
    [Theory]
    [MemberData(nameof(OutOfRangeStates))]
    public void AnOutOfRangeTrainingStateIsRefusedWithItsKeyValueAndRangeAndChangesNothing(string change, string[] expected)
    {
        var adam = AdamCheckpoint();
        int colon = change.IndexOf(':');
        string key = change[..colon], value = change[(colon + 1)..];
        var bad = Tampered(adam, "bad.safetensors", (t, m) =>
        {
            if (key == "step-tensor") t["optimizer.adam.step"] = Tensor<int>.Scalar(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture));
            else m[key] = value;
        });

        using var compiled = TinyNet.Create(seed: 3);
        compiled.Compile(new Adam(0.01));
        compiled.Fit(Train, OneEpoch);
        var before = Snapshot(compiled);
        var e = Assert.Throws<CheckpointException>(() => compiled.Load(bad));
        AssertContainsAll(e.Message, expected.Prepend(bad).ToArray());
        Assert.Equal(before, Snapshot(compiled));

        using var uncompiled = TinyNet.Create(seed: 4);
        var uncompiledBefore = Snapshot(uncompiled);
        AssertContainsAll(Assert.Throws<CheckpointException>(() => uncompiled.Load(bad)).Message, expected);
        Assert.Equal(uncompiledBefore, Snapshot(uncompiled));
        uncompiled.Compile(new Adam(0.01)); // nothing pending from the refused file: the optimizer starts fresh
        Assert.Equal(0, uncompiled.Step);
    }

    [Fact]
    public void TheLargestAllowedStepAndEpochStillLoad()
    {
        var adam = AdamCheckpoint();
        var edge = Tampered(adam, "edge.safetensors", (t, m) =>
        {
            t["optimizer.adam.step"] = Tensor<int>.Scalar(1 << 30);
            m["step"] = (1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture);
            m["epoch"] = "10000000";
        });
        using var model = TinyNet.Create(seed: 3);
        model.Compile(new Adam(0.01));
        model.Load(edge);
        Assert.Equal(1L << 30, model.Step);
        Assert.Equal(10_000_000, model.CompletedEpochs);
    }

    [Fact]
    public void AWeightsOnlyCheckpointRestartsTheOptimizerInEitherOrder()
    {
        // Saved before Compile: parameters, epoch 0, step 0, no optimizer state.
        var weights = PathOf("weights.safetensors");
        using (var source = TinyNet.Create(seed: 5)) source.Save(weights);
        Assert.DoesNotContain(Safetensors.Load(weights).Names, n => n.StartsWith("optimizer.", StringComparison.Ordinal));

        using var fresh = TinyNet.Create(seed: 5);
        fresh.Compile(new Adam(0.01));
        fresh.Fit(Train, OneEpoch);

        using var compiledFirst = TinyNet.Create(seed: 60);
        compiledFirst.Compile(new Adam(0.01));
        compiledFirst.Fit(Train, OneEpoch with { Epochs = 2 });   // moments and step that belong to other weights
        compiledFirst.Load(weights);
        Assert.Equal(0, compiledFirst.Step);
        Assert.Equal(0, compiledFirst.CompletedEpochs);
        compiledFirst.Fit(Train, OneEpoch);

        using var loadedFirst = TinyNet.Create(seed: 61);
        loadedFirst.Load(weights);
        loadedFirst.Compile(new Adam(0.01));
        loadedFirst.Fit(Train, OneEpoch);

        AssertSameWeights(fresh, compiledFirst);
        AssertSameWeights(fresh, loadedFirst);
        Assert.Equal(fresh.Step, compiledFirst.Step);
        Assert.Equal(fresh.Step, loadedFirst.Step);
    }

    [Fact]
    public void SavingBeforeCompileKeepsTheLoadedOptimizerState()
    {
        var adam = AdamCheckpoint();
        using var model = TinyNet.Create(seed: 8);
        model.Load(adam);
        var copy = PathOf("copy.safetensors");
        model.Save(copy);
        var a = Safetensors.Load(adam);
        var b = Safetensors.Load(copy);
        Assert.Equal(a.Names.Order(StringComparer.Ordinal), b.Names.Order(StringComparer.Ordinal));
        foreach (var n in a.Names) Assert.Equal(TensorBytes(a.Tensors[n]), TensorBytes(b.Tensors[n]));
        Assert.Equal(a.Metadata["optimizer"], b.Metadata["optimizer"]);
    }
}
