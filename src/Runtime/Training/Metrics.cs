using XlaGen.Hlo;
using XlaGen.Surface;

namespace XlaGen.Training;

/// <summary>
/// A metric like Keras': state tensors (f32) that the train and eval programs accumulate on the device, one batch's
/// increments added per step (<see cref="Update"/>), and the value computed on the host from the state
/// (<see cref="Result"/>). It reads the (prediction, target) pair the [Loss] method observes: the built-in losses
/// observe their own arguments, a hand-written loss calls <c>Losses.Observe(prediction, target, kind)</c>.
/// Chosen with <c>model.Compile(optimizer, metrics: [new Accuracy(), new Auc()])</c>. Subclass it for a custom metric.
/// </summary>
public abstract class Metric
{
    /// <summary>A metric reported under <paramref name="name"/>.</summary>
    protected Metric(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("a metric needs a name", nameof(name));
        Name = name;
    }

    /// <summary>The key in History, progress lines and callbacks (Keras' names by default: "accuracy", "auc", …).</summary>
    public string Name { get; }

    /// <summary>The dims of each state tensor (f32; empty for a scalar); every step adds <see cref="Update"/>'s increments.</summary>
    public abstract IReadOnlyList<long[]> StateDims { get; }

    /// <summary>Why this metric cannot read a prediction of <paramref name="kind"/> (Compile throws with it), or null.</summary>
    public virtual string? Unsupported(PredictionKind kind) => null;

    /// <summary>One batch's increments of the state, as f32 arrays of <see cref="StateDims"/>, built into the step program
    /// from the observed <paramref name="prediction"/> and <paramref name="target"/> (concrete shapes, checked by
    /// <see cref="Observation.Check"/>).</summary>
    public abstract IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind);

    /// <summary>The metric's value from its accumulated state (one array per <see cref="StateDims"/> entry).</summary>
    public abstract double Result(IReadOnlyList<float[]> state);

    /// <summary>The metric's name.</summary>
    public override string ToString() => Name;

    /// <summary>The state of a ratio metric: two f32 scalars (numerator, denominator).</summary>
    protected static readonly IReadOnlyList<long[]> TwoScalars = new[] { Array.Empty<long>(), Array.Empty<long>() };

    /// <summary>True for class predictions (logits or probabilities).</summary>
    protected static bool IsClasses(PredictionKind kind) => kind is PredictionKind.ClassLogits or PredictionKind.ClassProbabilities;

    /// <summary>True for binary predictions (logits or probabilities).</summary>
    protected static bool IsBinary(PredictionKind kind) => kind is PredictionKind.BinaryLogits or PredictionKind.BinaryProbabilities;

    /// <summary>Σ of a predicate as f32[].</summary>
    protected static HloInstruction Count(HloBuilder b, HloInstruction predicate) =>
        b.ReduceSum(b.Convert(predicate, ElementType.F32), Axes(predicate.Shape.Rank));

    /// <summary>An f32 scalar constant.</summary>
    protected static HloInstruction Scalar(HloBuilder b, double value) => b.Constant(ElementType.F32, value);

    /// <summary>0 … rank − 1, to reduce over every axis.</summary>
    protected static long[] Axes(int rank) => Enumerable.Range(0, rank).Select(i => (long)i).ToArray();

    /// <summary>A class prediction as rows [N, classes] (leading dims flattened) with each row's true class (s32[N]): the
    /// index itself for a sparse target, the target's argmax for a one-hot/soft one.</summary>
    protected static (HloInstruction Rows, HloInstruction Labels) ClassRows(HloBuilder b, HloInstruction prediction, HloInstruction target)
    {
        var dims = prediction.Shape.ConcreteDims();
        long classes = dims[^1];
        if (classes == 0) throw new ArgumentException($"a class prediction needs at least one class, got {prediction.Shape}", nameof(prediction));
        long rows = prediction.Shape.ElementCount / classes;
        var p = b.Reshape(prediction, (Dim)(rows), (Dim)(classes));
        HloInstruction labels = Observation.IsSparseTarget(prediction.Shape, target.Shape)
            ? b.Convert(b.Reshape(target, (Dim)(rows)), ElementType.S32)
            : LossLowering.ArgMax(b, b.Reshape(target, (Dim)(rows), (Dim)(classes)));
        return (p, labels);
    }

    /// <summary>A prediction read as independent binary decisions: the probability of each element (f32, flattened) and
    /// whether its target is positive (Keras casts the target to bool: non-zero). A class prediction gives the column
    /// <paramref name="classId"/> of its softmax (or its probabilities) against "the true class is classId"; without a
    /// class id, every (row, class) element against the one-hot target, as Keras does with one-hot targets.</summary>
    protected static (HloInstruction Probabilities, HloInstruction Positive) BinaryView(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind, int? classId, string metric)
    {
        var p = b.Convert(prediction, ElementType.F32);
        HloInstruction probabilities, positive;
        if (IsClasses(kind))
        {
            var (rows, labels) = ClassRows(b, p, target);
            var rd = rows.Shape.ConcreteDims();
            long n = rd[0], classes = rd[1];
            if (classId is int c && (c < 0 || c >= classes))
                throw new ArgumentOutOfRangeException(nameof(classId), classId, $"{metric}: classId must be in [0, {classes}) for the prediction {prediction.Shape}");
            var probs = kind == PredictionKind.ClassLogits ? Lowering.Softmax(b, rows, 1) : rows;
            bool sparse = Observation.IsSparseTarget(prediction.Shape, target.Shape);
            var dense = sparse ? null : b.Reshape(b.Convert(target, ElementType.F32), (Dim)(n), (Dim)(classes));
            if (classId is int k)
            {
                probabilities = b.Reshape(b.Slice(probs, new[] { new SliceDimension(0, n, 1), new SliceDimension(k, k + 1, 1) }), (Dim)(n));
                positive = sparse
                    ? b.Compare(labels, b.BroadcastScalar(b.Constant(ElementType.S32, k), new[] { (Dim)(n) }), "EQ")
                    : b.Compare(b.Reshape(b.Slice(dense!, new[] { new SliceDimension(0, n, 1), new SliceDimension(k, k + 1, 1) }), (Dim)(n)),
                        b.Full(ElementType.F32, 0, new[] { (Dim)(n) }), "NE");
            }
            else
            {
                var rowsClasses = new[] { (Dim)(n), (Dim)(classes) };
                var hot = sparse
                    ? b.Compare(b.Iota(Shape.Array(ElementType.S32, rowsClasses), 1), b.Broadcast(labels, rowsClasses, new long[] { 0 }), "EQ")
                    : b.Compare(dense!, b.Full(ElementType.F32, 0, rowsClasses), "NE");
                probabilities = b.Reshape(probs, (Dim)(n * classes));
                positive = b.Reshape(hot, (Dim)(n * classes));
            }
        }
        else
        {
            long count = prediction.Shape.ElementCount;
            var flat = b.Reshape(p, (Dim)(count));
            probabilities = kind == PredictionKind.BinaryLogits ? b.Logistic(flat) : flat;
            positive = b.Compare(b.Reshape(b.Convert(target, ElementType.F32), (Dim)(count)), b.Full(ElementType.F32, 0, new[] { (Dim)(count) }), "NE");
        }
        return (probabilities, positive);
    }

    /// <summary>numerator / denominator, 0 when the denominator is 0 (Keras' divide_no_nan).</summary>
    protected static double Ratio(float numerator, float denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}

/// <summary>The fraction of correct predictions. Class predictions: the argmax equals the true class (Keras'
/// <c>sparse_categorical_accuracy</c>/<c>categorical_accuracy</c>); binary: the probability &gt; <c>threshold</c> equals
/// the 0/1 target (<c>binary_accuracy</c>); values: exact equality (<c>Accuracy</c>).</summary>
public sealed class Accuracy(string name = "accuracy", double threshold = 0.5) : Metric(name)
{
    /// <summary>For binary predictions: a probability above it counts as 1 (Keras' default 0.5).</summary>
    public double Threshold { get; } = threshold is > 0 and < 1 ? threshold : throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold must be in (0, 1)");

    /// <inheritdoc/>
    public override IReadOnlyList<long[]> StateDims => TwoScalars;   // correct, count

    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        HloInstruction correct;
        if (IsClasses(kind))
        {
            var (rows, labels) = ClassRows(b, prediction, target);
            correct = b.Compare(LossLowering.ArgMax(b, rows), labels, "EQ");
        }
        else if (IsBinary(kind))
        {
            var p = b.Convert(prediction, ElementType.F32);
            var dims = p.Shape.Dims.ToArray();
            // logits: sigmoid(x) > t ⇔ x > logit(t)
            double cut = kind == PredictionKind.BinaryLogits ? Math.Log(Threshold / (1 - Threshold)) : Threshold;
            var decided = b.Convert(b.Compare(p, b.Full(ElementType.F32, cut, dims), "GT"), ElementType.F32);
            correct = b.Compare(decided, b.Convert(target, ElementType.F32), "EQ");
        }
        else correct = b.Compare(prediction, b.Convert(target, prediction.Shape.ElementType), "EQ");
        return new[] { Count(b, correct), Scalar(b, correct.Shape.ElementCount) };
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state) => Ratio(state[0][0], state[1][0]);
}

/// <summary>The fraction of rows whose true class is among the <see cref="K"/> highest-scored classes (Keras'
/// <c>SparseTopKCategoricalAccuracy</c>; with a one-hot target its argmax is the true class). Ties count for the label,
/// like <c>tf.math.in_top_k</c>: a row is a hit when fewer than k classes score strictly higher than the true one.</summary>
public sealed class SparseTopKAccuracy(int k = 5, string name = "sparse_top_k_categorical_accuracy") : Metric(name)
{
    /// <summary>How many of the highest-scored classes count as a hit.</summary>
    public int K { get; } = k >= 1 ? k : throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");

    /// <inheritdoc/>
    public override IReadOnlyList<long[]> StateDims => TwoScalars;   // hits, rows

    /// <inheritdoc/>
    public override string? Unsupported(PredictionKind kind) => IsClasses(kind) ? null : $"it ranks classes, so it needs a class prediction (ClassLogits or ClassProbabilities), not {kind}";

    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var (rows, labels) = ClassRows(b, prediction, target);
        var dims = rows.Shape.Dims.ToArray();
        var t = rows.Shape.ElementType;
        var isLabel = b.Compare(b.Iota(Shape.Array(ElementType.S32, dims), 1), b.Broadcast(labels, dims, new long[] { 0 }), "EQ");
        var labelScore = b.ReduceSum(b.Select(isLabel, rows, b.Full(t, 0, dims)), 1);
        var higher = b.ReduceSum(b.Convert(b.Compare(rows, b.Broadcast(labelScore, dims, new long[] { 0 }), "GT"), ElementType.S32), 1);
        var hit = b.Compare(higher, b.Full(ElementType.S32, K, new[] { dims[0] }), "LT");
        return new[] { Count(b, hit), Scalar(b, dims[0].Value) };
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state) => Ratio(state[0][0], state[1][0]);
}

/// <summary>Shared by <see cref="Precision"/> and <see cref="Recall"/>: true positives and the second count at one threshold.</summary>
public abstract class ThresholdMetric : Metric
{
    /// <summary>Checks the threshold (in [0, 1]) and class id (not negative).</summary>
    protected ThresholdMetric(string name, double threshold, int? classId) : base(name)
    {
        if (!(threshold >= 0 && threshold <= 1)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold must be in [0, 1]");
        if (classId < 0) throw new ArgumentOutOfRangeException(nameof(classId), classId, "classId must not be negative");
        Threshold = threshold;
        ClassId = classId;
    }

    /// <summary>A probability above it is a positive prediction (Keras' default 0.5).</summary>
    public double Threshold { get; }

    /// <summary>For class predictions: the class treated as positive (Keras' <c>class_id</c>); null treats every (row, class)
    /// against the one-hot target.</summary>
    public int? ClassId { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<long[]> StateDims => TwoScalars;

    /// <inheritdoc/>
    public override string? Unsupported(PredictionKind kind) => kind == PredictionKind.Values ? "it counts positive decisions, so it needs a class or binary prediction, not Values" : null;

    /// <summary>(predicted positive, actually positive), elementwise.</summary>
    protected (HloInstruction Predicted, HloInstruction Actual) Decisions(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var (p, actual) = BinaryView(b, prediction, target, kind, ClassId, Name);
        return (b.Compare(p, b.Full(ElementType.F32, Threshold, p.Shape.Dims.ToArray()), "GT"), actual);
    }

    /// <summary>Elementwise logical and of two predicates.</summary>
    protected static HloInstruction And(HloBuilder b, HloInstruction x, HloInstruction y) => b.Binary("and", x, y);

    /// <summary>Elementwise logical not of a predicate.</summary>
    protected static HloInstruction Not(HloBuilder b, HloInstruction x) => b.Unary("not", x);
}

/// <summary>tp / (tp + fp) at <see cref="ThresholdMetric.Threshold"/> (0 when nothing was predicted positive), like Keras'
/// <c>Precision</c>.</summary>
public sealed class Precision(double threshold = 0.5, int? classId = null, string name = "precision") : ThresholdMetric(name, threshold, classId)
{
    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var (predicted, actual) = Decisions(b, prediction, target, kind);
        return new[] { Count(b, And(b, predicted, actual)), Count(b, And(b, predicted, Not(b, actual))) };   // tp, fp
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state) => Ratio(state[0][0], state[0][0] + state[1][0]);
}

/// <summary>tp / (tp + fn) at <see cref="ThresholdMetric.Threshold"/> (0 when there was no positive target), like Keras'
/// <c>Recall</c>.</summary>
public sealed class Recall(double threshold = 0.5, int? classId = null, string name = "recall") : ThresholdMetric(name, threshold, classId)
{
    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var (predicted, actual) = Decisions(b, prediction, target, kind);
        return new[] { Count(b, And(b, predicted, actual)), Count(b, And(b, Not(b, predicted), actual)) };   // tp, fn
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state) => Ratio(state[0][0], state[0][0] + state[1][0]);
}

/// <summary>
/// The area under the ROC curve, approximated like Keras' <c>AUC</c> (its defaults: 200 thresholds, ROC, interpolation):
/// the state is the confusion matrix (tp, fp, tn, fn) at <see cref="NumThresholds"/> thresholds spread evenly over
/// [0, 1] (the end ones just outside it, at −1e-7 and 1 + 1e-7), a prediction above a threshold counting as positive;
/// the result is the trapezoid sum of the true-positive rate over the false-positive rate. Binary predictions are read
/// elementwise, class predictions as <see cref="ThresholdMetric.ClassId"/>'s column (or every column against the one-hot
/// target); logits go through the sigmoid (softmax for classes) first.
/// </summary>
public sealed class Auc : Metric
{
    /// <summary>Keras' <c>AUC(num_thresholds=200)</c> on the ROC curve.</summary>
    public Auc(int numThresholds = 200, int? classId = null, string name = "auc") : base(name)
    {
        if (numThresholds < 2) throw new ArgumentOutOfRangeException(nameof(numThresholds), numThresholds, "AUC needs at least 2 thresholds");
        if (classId < 0) throw new ArgumentOutOfRangeException(nameof(classId), classId, "classId must not be negative");
        NumThresholds = numThresholds;
        ClassId = classId;
        Thresholds = ThresholdsOf(numThresholds);
        stateDims = Enumerable.Range(0, 4).Select(_ => new long[] { numThresholds }).ToArray();
    }

    readonly long[][] stateDims;

    /// <summary>The thresholds of the confusion matrix (Keras' default 200).</summary>
    public int NumThresholds { get; }

    /// <summary>For class predictions: the class read as positive; null reads every (row, class) against the one-hot target.</summary>
    public int? ClassId { get; }

    /// <summary>Keras' thresholds: (i + 1) / (n − 1) for i &lt; n − 2, between −1e-7 and 1 + 1e-7 (as f32 on the device).</summary>
    public IReadOnlyList<float> Thresholds { get; }

    static float[] ThresholdsOf(int n)
    {
        const double epsilon = 1e-7;
        var t = new float[n];
        t[0] = (float)(0.0 - epsilon);
        for (int i = 0; i < n - 2; i++) t[i + 1] = (float)((i + 1) * 1.0 / (n - 1));
        t[n - 1] = (float)(1.0 + epsilon);
        return t;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<long[]> StateDims => stateDims;   // tp, fp, tn, fn per threshold

    /// <inheritdoc/>
    public override string? Unsupported(PredictionKind kind) => kind == PredictionKind.Values ? "it ranks probabilities, so it needs a class or binary prediction, not Values" : null;

    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var (p, actual) = BinaryView(b, prediction, target, kind, ClassId, Name);
        var n = p.Shape.Dims[0];
        var grid = new[] { n, (Dim)(NumThresholds) };
        var thresholds = b.Broadcast(b.Constant(Literal.Create(Shape.Array(ElementType.F32, NumThresholds), Thresholds.ToArray())), grid, new long[] { 1 });
        var above = b.Compare(b.Broadcast(p, grid, new long[] { 0 }), thresholds, "GT");
        var positive = b.Broadcast(actual, grid, new long[] { 0 });
        HloInstruction Sum(HloInstruction predicate) => b.ReduceSum(b.Convert(predicate, ElementType.F32), 0);
        var notAbove = b.Unary("not", above);
        var negative = b.Unary("not", positive);
        return new[] { Sum(b.Binary("and", above, positive)), Sum(b.Binary("and", above, negative)), Sum(b.Binary("and", notAbove, negative)), Sum(b.Binary("and", notAbove, positive)) };
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state)
    {
        float[] tp = state[0], fp = state[1], tn = state[2], fn = state[3];
        double area = 0;
        for (int i = 0; i + 1 < NumThresholds; i++)
        {
            double x0 = Ratio(fp[i], fp[i] + tn[i]), x1 = Ratio(fp[i + 1], fp[i + 1] + tn[i + 1]);
            double y0 = Ratio(tp[i], tp[i] + fn[i]), y1 = Ratio(tp[i + 1], tp[i + 1] + fn[i + 1]);
            area += (x0 - x1) * (y0 + y1) / 2;
        }
        return area;
    }
}

/// <summary>The mean of |prediction − target| over all elements (Keras' <c>MeanAbsoluteError</c>).</summary>
public sealed class MeanAbsoluteError(string name = "mean_absolute_error") : Metric(name)
{
    /// <inheritdoc/>
    public override IReadOnlyList<long[]> StateDims => TwoScalars;   // Σ|d|, elements

    /// <inheritdoc/>
    public override string? Unsupported(PredictionKind kind) => kind == PredictionKind.Values ? null : $"it compares values, so it needs a Values prediction, not {kind}";

    /// <inheritdoc/>
    public override IReadOnlyList<HloInstruction> Update(HloBuilder b, HloInstruction prediction, HloInstruction target, PredictionKind kind)
    {
        var d = b.Abs(b.Subtract(b.Convert(prediction, ElementType.F32), b.Convert(target, ElementType.F32)));
        return new[] { b.ReduceSum(d, Axes(d.Shape.Rank)), Scalar(b, d.Shape.ElementCount) };
    }

    /// <inheritdoc/>
    public override double Result(IReadOnlyList<float[]> state) => state[1][0] == 0 ? double.NaN : (double)state[0][0] / state[1][0];
}
