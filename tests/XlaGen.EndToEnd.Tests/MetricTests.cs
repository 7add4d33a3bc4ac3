using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>Issue 9 item 5: metric objects chosen in Compile, computed on the device from what the loss observes, checked
/// against naive loops over the model's own predictions (Predict), over several batches with a partial last one.</summary>
public class MetricTests
{
    const int Rows = 203;   // batches of 64: three full and one of 11

    static Tensor<float> Random(int rows, int width, int seed, double scale = 1)
    {
        var rng = new SplitMix64((ulong)seed);
        return new Tensor<float>(new long[] { rows, width }, Enumerable.Range(0, rows * width).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray());
    }

    static Tensor<int> Classes(int rows, int classes, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        return new Tensor<int>(new long[] { rows }, Enumerable.Range(0, rows).Select(_ => (int)(rng.NextUInt64() % (ulong)classes)).ToArray());
    }

    static double[] Softmax(float[] row)
    {
        double max = row.Max();
        var e = row.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>Keras' AUC (ROC, interpolation) from probabilities and 0/1 truths, written out independently in doubles.</summary>
    static double KerasAuc(IReadOnlyList<double> p, IReadOnlyList<bool> positive, int n = 200)
    {
        var thresholds = new double[n];
        thresholds[0] = (float)-1e-7;
        for (int i = 1; i < n - 1; i++) thresholds[i] = (float)(i / (double)(n - 1));
        thresholds[n - 1] = (float)(1 + 1e-7);
        var tpr = new double[n];
        var fpr = new double[n];
        for (int t = 0; t < n; t++)
        {
            double tp = 0, fp = 0, tn = 0, fn = 0;
            for (int i = 0; i < p.Count; i++)
            {
                bool above = p[i] > thresholds[t];
                if (above && positive[i]) tp++;
                else if (above) fp++;
                else if (positive[i]) fn++;
                else tn++;
            }
            tpr[t] = tp + fn == 0 ? 0 : tp / (tp + fn);
            fpr[t] = fp + tn == 0 ? 0 : fp / (fp + tn);
        }
        double area = 0;
        for (int t = 0; t + 1 < n; t++) area += (fpr[t] - fpr[t + 1]) * (tpr[t] + tpr[t + 1]) / 2;
        return area;
    }

    /// <summary>The exact ROC AUC: the probability that a random positive scores above a random negative (ties count half).</summary>
    static double ExactAuc(IReadOnlyList<double> p, IReadOnlyList<bool> positive)
    {
        double wins = 0, pairs = 0;
        for (int i = 0; i < p.Count; i++)
            for (int j = 0; j < p.Count; j++)
                if (positive[i] && !positive[j])
                {
                    pairs++;
                    wins += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
                }
        return wins / pairs;
    }

    static (double Accuracy, double Top2, double Precision1, double Recall1, double Auc1, double AucAll) ClassReference(float[] logits, int[] labels, int classes)
    {
        int rows = labels.Length;
        double correct = 0, top2 = 0, tp = 0, fp = 0, fn = 0;
        var p1 = new List<double>();
        var t1 = new List<bool>();
        var pAll = new List<double>();
        var tAll = new List<bool>();
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * classes, classes).ToArray();
            int arg = Array.IndexOf(row, row.Max());
            if (arg == labels[r]) correct++;
            if (row.Count(v => v > row[labels[r]]) < 2) top2++;
            var probs = Softmax(row);
            bool predicted = probs[1] > 0.3, actual = labels[r] == 1;
            if (predicted && actual) tp++;
            if (predicted && !actual) fp++;
            if (!predicted && actual) fn++;
            p1.Add(probs[1]);
            t1.Add(actual);
            for (int c = 0; c < classes; c++)
            {
                pAll.Add(probs[c]);
                tAll.Add(labels[r] == c);
            }
        }
        return (correct / rows, top2 / rows, tp + fp == 0 ? 0 : tp / (tp + fp), tp + fn == 0 ? 0 : tp / (tp + fn), KerasAuc(p1, t1), KerasAuc(pAll, tAll));
    }

    static IReadOnlyList<Metric> ClassMetrics() => new Metric[]
    {
        new Accuracy(), new SparseTopKAccuracy(2), new Precision(threshold: 0.3, classId: 1), new Recall(threshold: 0.3, classId: 1), new Auc(classId: 1), new Auc(name: "auc_all"),
    };

    [Fact]
    public void AHandWrittenLossGetsTheMetricsItObservesMatchingNaiveLoops()
    {
        using var model = HandLossClassifier.Create(seed: 7);
        model.Compile(new Adam(1e-3), metrics: ClassMetrics());
        Assert.Equal(new[] { "accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall", "auc", "auc_all" }, model.MetricNames);
        var x = Random(Rows, 8, 1, scale: 2);
        var labels = Classes(Rows, 5, 2);
        var logits = ((Tensor<float>)model.Predict(x)).Data;
        var expected = ClassReference(logits, labels.Data, 5);
        Assert.InRange(expected.Precision1, 0.05, 0.95);   // the data exercises every count
        Assert.InRange(expected.Recall1, 0.05, 0.95);

        var result = model.Evaluate(x, labels, batchSize: 64);
        Assert.Equal(Rows, result.Examples);
        Assert.Equal(expected.Accuracy, result.Metrics["accuracy"], 1e-6);
        Assert.Equal(expected.Top2, result.Metrics["sparse_top_k_categorical_accuracy"], 1e-6);
        Assert.Equal(expected.Precision1, result.Metrics["precision"], 1e-6);
        Assert.Equal(expected.Recall1, result.Metrics["recall"], 1e-6);
        Assert.Equal(expected.Auc1, result.Metrics["auc"], 2e-3);   // f32 softmax on the device vs f64 here, at 200 thresholds
        Assert.Equal(expected.AucAll, result.Metrics["auc_all"], 2e-3);
    }

    [Fact]
    public void TheThresholdedAucApproachesTheExactRankAuc()
    {
        using var model = HandLossClassifier.Create(seed: 11);
        model.Compile(new Adam(1e-3), metrics: new Metric[] { new Auc(numThresholds: 2000, classId: 2) });
        var x = Random(Rows, 8, 5, scale: 2);
        var labels = Classes(Rows, 5, 6);
        var logits = ((Tensor<float>)model.Predict(x)).Data;
        var p = Enumerable.Range(0, Rows).Select(r => Softmax(logits.AsSpan(r * 5, 5).ToArray())[2]).ToList();
        var t = labels.Data.Select(l => l == 2).ToList();
        Assert.Equal(ExactAuc(p, t), model.Evaluate(x, labels, batchSize: 64).Metrics["auc"], 5e-3);
    }

    [Fact]
    public void TrainStepReportsTheBatchMetricsBeforeItsUpdate()
    {
        using var model = HandLossClassifier.Create(seed: 3);
        model.Compile(new Sgd(0.5), metrics: new Metric[] { new Accuracy(), new SparseTopKAccuracy(3, name: "top3") });
        var x = Random(32, 8, 8, scale: 2);
        var labels = Classes(32, 5, 9);
        var logits = ((Tensor<float>)model.Predict(x)).Data;
        var expected = ClassReference(logits, labels.Data, 5);
        double top3 = Enumerable.Range(0, 32).Count(r => logits.AsSpan(r * 5, 5).ToArray().Count(v => v > logits[r * 5 + labels.Data[r]]) < 3) / 32.0;
        var step = model.TrainStep(x, labels);
        Assert.Equal(new[] { "accuracy", "top3" }, step.Metrics.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(expected.Accuracy, step.Metrics["accuracy"], 1e-6);
        Assert.Equal(top3, step.Metrics["top3"], 1e-6);
        Assert.Equal(1, model.Step);
        Assert.NotEqual(logits, ((Tensor<float>)model.Predict(x)).Data);   // the step did update the weights
    }

    [Fact]
    public void FitRecordsTheChosenMetricsForTrainingAndValidation()
    {
        using var model = HandLossClassifier.Create(seed: 5);
        model.Compile(new Adam(1e-2), metrics: new Metric[] { new Accuracy(), new Auc(classId: 0) });
        var x = Random(Rows, 8, 12, scale: 2);
        var labels = new Tensor<int>(new long[] { Rows }, x.Data.Chunk(8).Select(r => r[0] > 0 ? 0 : 1 + (r[1] > 0 ? 1 : 0)).ToArray());
        var history = model.Fit(new Dataset(x, labels), new FitOptions { Epochs = 8, BatchSize = 32, Verbose = false, Validation = new Dataset(x, labels) });
        Assert.Equal(new[] { "accuracy", "auc" }, history.MetricNames);
        var last = history.Epochs[^1];
        Assert.Equal(new[] { "accuracy", "auc" }, last.ValidationMetrics!.Keys.Order(StringComparer.Ordinal));
        // a learnable rule: validation (= training data, after the last epoch) agrees with a fresh evaluation and improved
        var evaluated = model.Evaluate(x, labels, batchSize: 32);
        Assert.Equal(evaluated.Metrics["accuracy"], last.ValidationMetrics["accuracy"], 1e-9);
        Assert.Equal(evaluated.Metrics["auc"], last.ValidationMetrics["auc"], 1e-9);
        Assert.True(last.ValidationMetrics["accuracy"] > 0.8, $"accuracy {last.ValidationMetrics["accuracy"]}");
        Assert.True(last.ValidationMetrics["auc"] > 0.9, $"auc {last.ValidationMetrics["auc"]}");
    }

    [Fact]
    public void ReplicasReportTheSameMetricsAsOneDevice()
    {
        var x = Random(Rows, 8, 21, scale: 2);
        var labels = Classes(Rows, 5, 22);
        using var one = HandLossClassifier.Create(seed: 9);
        one.Compile(new Adam(1e-3), metrics: ClassMetrics());
        using var device = Devices.Cpu(replicas: 2);
        using var two = HandLossClassifier.Create(device, seed: 9);
        two.Compile(new Adam(1e-3), metrics: ClassMetrics());
        var a = one.Evaluate(x, labels, batchSize: 64);
        var b = two.Evaluate(x, labels, batchSize: 64);   // 32 per replica, the last 11 whole on each
        Assert.Equal(a.Examples, b.Examples);
        foreach (var name in one.MetricNames) Assert.Equal(a.Metrics[name], b.Metrics[name], 1e-12);   // counts are exact
    }

    [Fact]
    public void BinaryLogitsGetAccuracyPrecisionRecallAndAucElementwise()
    {
        using var model = BinaryTagger.Create(seed: 4);
        model.Compile(new Adam(1e-3), metrics: new Metric[] { new Accuracy(), new Precision(threshold: 0.4), new Recall(), new Auc() });
        var x = Random(Rows, 6, 31, scale: 2);
        var rng = new SplitMix64(32);
        var tags = new Tensor<float>(new long[] { Rows, 3 }, Enumerable.Range(0, Rows * 3).Select(_ => (float)(rng.NextUInt64() % 2)).ToArray());
        var logits = ((Tensor<float>)model.Predict(x)).Data;
        double correct = 0, tp4 = 0, fp4 = 0, tp = 0, fn = 0;
        var p = new List<double>();
        var t = new List<bool>();
        for (int i = 0; i < logits.Length; i++)
        {
            double prob = 1 / (1 + Math.Exp(-logits[i]));
            bool actual = tags.Data[i] != 0;
            if ((prob > 0.5) == actual) correct++;
            if (prob > 0.4 && actual) tp4++;
            if (prob > 0.4 && !actual) fp4++;
            if (prob > 0.5 && actual) tp++;
            if (prob <= 0.5 && actual) fn++;
            p.Add(prob);
            t.Add(actual);
        }
        var r = model.Evaluate(x, tags, batchSize: 64);
        Assert.Equal(correct / logits.Length, r.Metrics["accuracy"], 1e-6);
        Assert.Equal(tp4 / (tp4 + fp4), r.Metrics["precision"], 1e-6);
        Assert.Equal(tp / (tp + fn), r.Metrics["recall"], 1e-6);
        Assert.Equal(KerasAuc(p, t), r.Metrics["auc"], 2e-3);
    }

    [Fact]
    public void AnObservedRegressionGetsMeanAbsoluteError()
    {
        using var model = ObservedRegression.Create(seed: 2);
        model.Compile(new Adam(1e-3), metrics: new Metric[] { new MeanAbsoluteError() });
        var x = Random(Rows, 4, 41);
        var y = Random(Rows, 2, 42);
        var prediction = ((Tensor<float>)model.Predict(x)).Data;
        double expected = prediction.Select((v, i) => Math.Abs(v - y.Data[i])).Average();
        Assert.Equal(expected, model.Evaluate(x, y, batchSize: 64).Metrics["mean_absolute_error"], 1e-5);
    }

    [Fact]
    public void WithoutMetricObjectsTheLossFunctionsOwnMetricsStayAndAnEmptyListReportsTheLossOnly()
    {
        using var model = Mlp.Create(seed: 1);
        model.Compile(new Adam(1e-3));
        Assert.Equal(new[] { "accuracy" }, model.MetricNames);
        var x = Random(40, 784, 3);
        var labels = Classes(40, 10, 4);
        var before = model.Evaluate(x, labels, batchSize: 16);
        model.Compile(new Adam(1e-3), metrics: Array.Empty<Metric>());
        Assert.Empty(model.MetricNames);
        var none = model.Evaluate(x, labels, batchSize: 16);
        Assert.Empty(none.Metrics);
        Assert.Equal(before.Loss, none.Loss, 1e-9);
        // and the built-in loss observes its logits, so an explicit Accuracy agrees with its own metric
        model.Compile(new Adam(1e-3), metrics: new Metric[] { new Accuracy(name: "acc") });
        Assert.Equal(before.Metrics["accuracy"], model.Evaluate(x, labels, batchSize: 16).Metrics["acc"], 1e-6);
    }

    [Fact]
    public void MetricsThatCannotBeComputedAreRefusedAtCompileNamingWhy()
    {
        using var unobserved = UnobservedLoss.Create(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => unobserved.Compile(new Adam(1e-3), metrics: new Metric[] { new MeanAbsoluteError() }));
        Assert.StartsWith("UnobservedLoss.Compile: the metrics (mean_absolute_error) read the prediction and target the [Loss] method Loss observes, but it observes none: "
            + "use a built-in loss (Losses.SparseSoftmaxCrossEntropy, …) or write var y = Losses.Observe(prediction, target, PredictionKind.ClassLogits) in it", e.Message);
        Assert.Null(unobserved.Optimizer);   // nothing changed

        using var mlp = Mlp.Create(seed: 1);
        e = Assert.Throws<ArgumentException>(() => mlp.Compile(new Adam(1e-3), metrics: new Metric[] { new MeanAbsoluteError() }));
        Assert.StartsWith("Mlp.Compile: metric 'mean_absolute_error' cannot read the ClassLogits prediction Loss observes: it compares values, so it needs a Values prediction, not ClassLogits", e.Message);
        e = Assert.Throws<ArgumentException>(() => mlp.Compile(new Adam(1e-3), metrics: new Metric[] { new Auc(), new Auc() }));
        Assert.StartsWith("Mlp.Compile: two metrics are named 'auc'; give one another name (e.g. new Auc(name: \"auc_2\"))", e.Message);
        e = Assert.Throws<ArgumentException>(() => mlp.Compile(new Adam(1e-3), metrics: new Metric[] { new Accuracy(name: "loss") }));
        Assert.StartsWith("Mlp.Compile: a metric cannot be named 'loss'", e.Message);

        using var tagger = BinaryTagger.Create(seed: 1);
        e = Assert.Throws<ArgumentException>(() => tagger.Compile(new Adam(1e-3), metrics: new Metric[] { new SparseTopKAccuracy() }));
        Assert.StartsWith("BinaryTagger.Compile: metric 'sparse_top_k_categorical_accuracy' cannot read the BinaryLogits prediction Loss observes: it ranks classes", e.Message);

        Assert.Throws<ArgumentOutOfRangeException>(() => new SparseTopKAccuracy(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Auc(numThresholds: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Precision(threshold: 1.5));
    }

    [Fact]
    public void AClassIdOutsideThePredictionIsRefusedWhenTheStepIsBuilt()
    {
        using var model = HandLossClassifier.Create(seed: 1);
        model.Compile(new Adam(1e-3), metrics: new Metric[] { new Precision(classId: 5) });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Evaluate(Random(4, 8, 1), Classes(4, 5, 2)));
        Assert.Contains("precision: classId must be in [0, 5)", e.Message);
    }
}
