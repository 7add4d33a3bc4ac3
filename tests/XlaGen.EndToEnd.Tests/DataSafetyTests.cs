using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Issue 9: bad labels and non-finite inputs are refused before any step, TerminateOnNaN stops training,
/// scalar inputs run, and Predict runs the forward method chosen for it.</summary>
public class DataSafetyTests
{
    static Tensor<float> Inputs(int rows, int width, Action<float[]>? edit = null)
    {
        var data = new float[rows * width];
        var rng = new Random(3);
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextDouble();
        edit?.Invoke(data);
        return new Tensor<float>(new long[] { rows, width }, data);
    }

    static Tensor<int> Labels(params int[] values) => new(new long[] { values.Length }, values);

    static void AssertUnchanged(IReadOnlyDictionary<string, Tensor> before, ModelRunner model, long step)
    {
        var after = model.GetParameters();
        foreach (var kv in before) Assert.Equal(((Tensor<float>)kv.Value).Data, ((Tensor<float>)after[kv.Key]).Data);
        Assert.Equal(step, model.Step);
    }

    [Theory]
    [InlineData(12, "12")]
    [InlineData(-1, "-1")]
    public void LabelOutsideTheClassesIsRefusedBeforeAnyStep(int bad, string text)
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        var before = model.GetParameters();
        var x = Inputs(5, 784);
        var labels = Labels(0, 9, 3, bad, 1);

        var fit = Assert.Throws<ArgumentException>(() => model.Fit(x, labels, new FitOptions { Epochs = 1, BatchSize = 2, Verbose = false }));
        Assert.Equal($"Mlp.Fit: training label 'labels' at row 3 is {text}, outside the valid range [0, 10) of SparseSoftmaxCrossEntropy (10 classes); " +
            "no step ran. Fix the labels, or set FitOptions.CheckLabels = false to skip this check", fit.Message);
        AssertUnchanged(before, model, 0);

        var evaluate = Assert.Throws<ArgumentException>(() => model.Evaluate(x, labels));
        Assert.Equal($"Mlp.Evaluate: evaluation label 'labels' at row 3 is {text}, outside the valid range [0, 10) of SparseSoftmaxCrossEntropy (10 classes); " +
            "no step ran. Fix the labels, or pass checkLabels: false to skip this check", evaluate.Message);

        var step = Assert.Throws<ArgumentException>(() => model.TrainStep(x, labels));
        Assert.StartsWith("Mlp.TrainStep: batch label 'labels' at row 3 is " + text + ",", step.Message);
        AssertUnchanged(before, model, 0);
    }

    [Fact]
    public void BadValidationLabelsAreRefusedBeforeTheFirstTrainingStep()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        var before = model.GetParameters();
        var validation = new Data.Dataset(Inputs(2, 784), Labels(10, 0));
        var e = Assert.Throws<ArgumentException>(() => model.Fit(Inputs(4, 784), Labels(0, 1, 2, 3),
            new FitOptions { Epochs = 1, BatchSize = 2, Verbose = false, Validation = validation }));
        Assert.StartsWith("Mlp.Fit: validation label 'labels' at row 0 is 10, outside the valid range [0, 10)", e.Message);
        AssertUnchanged(before, model, 0);
    }

    [Fact]
    public void RowsOfASliceAreCountedFromTheSlice()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        var x = Inputs(6, 784, d => d[4 * 784 + 2] = float.NaN);
        var (train, validation) = new Data.Dataset(x, Labels(0, 1, 2, 3, 11, 5)).Split(3);
        var labels = Assert.Throws<ArgumentException>(() => model.Fit(train, new FitOptions { Epochs = 1, Verbose = false, Validation = validation }));
        Assert.StartsWith("Mlp.Fit: validation label 'labels' at row 1 is 11,", labels.Message);
        var inputs = Assert.Throws<ArgumentException>(() => model.Evaluate(validation, checkLabels: false, checkInputs: true));
        Assert.StartsWith("Mlp.Evaluate: evaluation input 'x' (f32[3,784]) at row 1, column 2 ", inputs.Message);
        Assert.Equal(0, model.Step);
    }

    [Fact]
    public void TheLabelCheckCanBeSwitchedOff()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        // Out-of-range labels then train as XLA computes them (a one-hot row of zeros): no check, no exception.
        var history = model.Fit(Inputs(4, 784), Labels(0, 12, 2, -1), new FitOptions { Epochs = 1, BatchSize = 2, Verbose = false, CheckLabels = false });
        Assert.Single(history.Epochs);
        Assert.Equal(2, model.Step);
        Assert.Equal(4, model.Evaluate(new Data.Dataset(Inputs(4, 784), Labels(0, 12, 2, -1)), checkLabels: false).Examples);
    }

    [Fact]
    public void NonFiniteInputIsNamedWithItsRowAndColumnWhenChecked()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        var before = model.GetParameters();
        var x = Inputs(4, 784, d => d[2 * 784 + 17] = float.PositiveInfinity);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(x, Labels(0, 1, 2, 3), new FitOptions { Epochs = 1, BatchSize = 2, Verbose = false, CheckInputs = true }));
        Assert.Equal("Mlp.Fit: training input 'x' (f32[4,784]) at row 2, column 17 (flat index within the row) is +Inf; no step ran (this check is on because FitOptions.CheckInputs is true)", e.Message);
        AssertUnchanged(before, model, 0);
        var nan = Assert.Throws<ArgumentException>(() => model.Evaluate(new Data.Dataset(Inputs(3, 784, d => d[783] = float.NaN), Labels(0, 1, 2)), checkInputs: true));
        Assert.Equal("Mlp.Evaluate: evaluation input 'x' (f32[3,784]) at row 0, column 783 (flat index within the row) is NaN; no step ran (this check is on because checkInputs is true)", nan.Message);
    }

    [Fact]
    public void TerminateOnNaNStopsAtTheStepTheLossBecameNaN()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        // Row 5 (batch 3 of size 2) is NaN: steps 1 and 2 of epoch 1 are finite, step 3's loss is NaN.
        var x = Inputs(8, 784, d => d[5 * 784] = float.NaN);
        var output = new StringWriter();
        var stop = new TerminateOnNaN(output);
        var history = model.Fit(x, Labels(0, 1, 2, 3, 4, 5, 6, 7), new FitOptions
        {
            Epochs = 5, BatchSize = 2, Shuffle = false, Verbose = false, MetricsEvery = 1, Callbacks = new ITrainingCallback[] { stop },
        });
        Assert.Equal("TerminateOnNaN: the loss of Mlp is NaN in epoch 1 at step 3 (optimizer step 3); training stopped", stop.Message);
        Assert.Equal(stop.Message + Environment.NewLine, output.ToString());
        Assert.Equal((1, 3L), (stop.StoppedEpoch, stop.StoppedStep));
        Assert.Equal(3, model.Step);
        Assert.Single(history.Epochs);
        Assert.True(double.IsNaN(history.Epochs[0].Loss));
    }

    [Fact]
    public void TerminateOnNaNLeavesFiniteTrainingAlone()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-3));
        var stop = new TerminateOnNaN(new StringWriter());
        var history = model.Fit(Inputs(4, 784), Labels(0, 1, 2, 3), new FitOptions { Epochs = 2, BatchSize = 2, Verbose = false, Callbacks = new[] { stop } });
        Assert.Null(stop.Message);
        Assert.Equal(2, history.Epochs.Count);
    }

    [Fact]
    public void ScalarInputIsFedAndBroadcast()
    {
        using var model = ScalarScale.Create(seed: 0);
        var w = ((Tensor<float>)model.GetParameters()["w"]).Data;
        var x = new Tensor<float>(new long[] { 2, 3 }, new float[] { 1, 2, 3, 4, 5, 6 });
        var y = model.Apply(x, Tensor<float>.Scalar(0.5f));
        Assert.Equal(new long[] { 2, 3 }, y.Shape);
        Assert.Equal(new[] { 0.5f * w[0], 1f * w[1], 1.5f * w[2], 2f * w[0], 2.5f * w[1], 3f * w[2] }, y.Data);
        var wrong = Assert.Throws<ArgumentException>(() => model.Apply(x, new Tensor<float>(new long[] { 1 }, new float[] { 0.5f })));
        Assert.StartsWith("ScalarScale.Apply: argument 's' must be f32[], got f32[1] (rank 1 instead of 0)", wrong.Message);
    }

    [Fact]
    public void PredictRunsTheForwardMarkedDefault()
    {
        using var model = TwoHeads.Create(seed: 4);
        var x = new Tensor<float>(new long[] { 3, 4 }, new float[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1 });
        var predicted = model.Predict(x);
        Assert.Equal(model.Probabilities(x).Data, predicted.Data);
        Assert.NotEqual(model.Hidden(x).Data, predicted.Data);
        // Hidden divides by MathF.Sqrt(4f), folded at build time to 2.
        var w = ((Tensor<float>)model.GetParameters()["w"]).Data;
        Assert.Equal((w[0] + 0f) / 2f, model.Hidden(x).Data[0], 6);
    }
}
