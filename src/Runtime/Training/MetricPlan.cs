using XlaGen.Hlo;
using XlaGen.Surface;

namespace XlaGen.Training;

/// <summary>
/// What the train and eval steps accumulate on the device, and how the host reads it back: the loss sum, then each
/// metric's state, then the example count (all f32). Without metric objects the metrics are the means the loss
/// functions contribute (accuracy of a cross-entropy, mae of a squared error), one scalar each holding mean × examples;
/// with <c>Compile(optimizer, metrics)</c> they are those <see cref="Metric"/>s, reading the loss's first observed
/// (prediction, target) pair.
/// </summary>
internal sealed class MetricPlan
{
    readonly LossDefinition loss;
    readonly IReadOnlyList<Metric>? objects;
    readonly List<Shape> shapes = new();
    readonly List<string> names = new();
    readonly int[] stateStart;

    MetricPlan(LossDefinition loss, IReadOnlyList<Metric>? objects)
    {
        this.loss = loss;
        this.objects = objects;
        var scalar = Shape.Scalar(ElementType.F32);
        shapes.Add(scalar);
        names.Add("loss_sum");
        if (objects == null)
        {
            stateStart = Enumerable.Range(1, loss.Metrics.Count).ToArray();
            foreach (var m in loss.Metrics)
            {
                shapes.Add(scalar);
                names.Add(m + "_sum");
            }
            MetricNames = loss.Metrics;
        }
        else
        {
            stateStart = new int[objects.Count];
            for (int i = 0; i < objects.Count; i++)
            {
                stateStart[i] = shapes.Count;
                var dims = objects[i].StateDims;
                for (int s = 0; s < dims.Count; s++)
                {
                    shapes.Add(Shape.Array(ElementType.F32, dims[s].Select(d => (Dim)d).ToArray()));
                    names.Add($"{objects[i].Name}_state{s}");
                }
            }
            MetricNames = objects.Select(m => m.Name).ToList();
        }
        shapes.Add(scalar);
        names.Add("examples");
    }

    /// <summary>The metrics the loss functions contribute (what a model compiled without metric objects reports).</summary>
    public static MetricPlan Default(LossDefinition loss) => new(loss, null);

    /// <summary>The given metric objects over <paramref name="loss"/>'s first observation; throws an ArgumentException naming
    /// what does not fit (no observation, a prediction kind a metric cannot read, two metrics of one name).</summary>
    public static MetricPlan For(LossDefinition loss, IReadOnlyList<Metric> metrics, string where)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (metrics.Any(m => m == null)) throw new ArgumentException($"{where}: the metrics list holds a null", nameof(metrics));
        var duplicate = metrics.GroupBy(m => m.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null)
            throw new ArgumentException($"{where}: two metrics are named '{duplicate.Key}'; give one another name (e.g. new {duplicate.First().GetType().Name}(name: \"{duplicate.Key}_2\"))", nameof(metrics));
        var reserved = metrics.FirstOrDefault(m => m.Name == "loss" || m.Name.StartsWith("val_", StringComparison.Ordinal));
        if (reserved != null) throw new ArgumentException($"{where}: a metric cannot be named '{reserved.Name}' (History uses 'loss' and the 'val_' prefix)", nameof(metrics));
        if (metrics.Count > 0 && loss.Observations.Count == 0)
            throw new ArgumentException($"{where}: the metrics ({string.Join(", ", metrics.Select(m => m.Name))}) read the prediction and target the [Loss] method {loss.Method} observes, "
                + "but it observes none: use a built-in loss (Losses.SparseSoftmaxCrossEntropy, …) or write var y = Losses.Observe(prediction, target, PredictionKind.ClassLogits) in it", nameof(metrics));
        foreach (var m in metrics)
        {
            if (m.Unsupported(loss.Observations[0]) is string why)
                throw new ArgumentException($"{where}: metric '{m.Name}' cannot read the {loss.Observations[0]} prediction {loss.Method} observes: {why}", nameof(metrics));
        }
        return new MetricPlan(loss, metrics.ToList());
    }

    /// <summary>The metric names, in the order History and progress report them.</summary>
    public IReadOnlyList<string> MetricNames { get; }

    /// <summary>The accumulators' shapes: loss sum, each metric's state, example count.</summary>
    public IReadOnlyList<Shape> AccumulatorShapes => shapes;

    /// <summary>Parameter names of the accumulators in the step programs.</summary>
    public IReadOnlyList<string> AccumulatorNames => names;

    /// <summary>One step's increments of the accumulators (in <see cref="AccumulatorShapes"/> order), built lazily in that
    /// order from the loss program's outputs (<paramref name="output"/>(i) is its tuple element i) for a batch of
    /// <paramref name="batchSize"/> examples: loss × examples, each metric's increment, the example count.</summary>
    public IEnumerable<HloInstruction> Increments(HloBuilder b, Func<int, HloInstruction> output, long batchSize)
    {
        var n = b.Constant(ElementType.F32, batchSize);
        yield return b.Multiply(b.Convert(output(0), ElementType.F32), n);
        if (objects == null)
        {
            // the loss and its metrics are means over the batch: accumulate mean × examples, the host divides by the examples
            for (int i = 0; i < loss.Metrics.Count; i++) yield return b.Multiply(b.Convert(output(1 + i), ElementType.F32), n);
        }
        else
        {
            int at = loss.Observations.Count == 0 ? -1 : loss.ObservationOutput(0);
            foreach (var m in objects)
            {
                var prediction = output(at);
                var target = output(at + 1);
                Observation.Check($"metric '{m.Name}'", prediction.Shape, target.Shape, loss.Observations[0]);
                var increments = m.Update(b, prediction, target, loss.Observations[0]);
                var dims = m.StateDims;
                if (increments.Count != dims.Count)
                    throw new InvalidOperationException($"metric '{m.Name}' returned {increments.Count} increments for its {dims.Count} state tensors");
                for (int s = 0; s < dims.Count; s++)
                {
                    var expected = Shape.Array(ElementType.F32, dims[s].Select(d => (Dim)d).ToArray());
                    if (!increments[s].Shape.Equals(expected))
                        throw new InvalidOperationException($"metric '{m.Name}' returned {increments[s].Shape} for its state {s}, declared {expected}");
                    yield return increments[s];
                }
            }
        }
        yield return n;
    }

    /// <summary>The mean loss, each metric's value and the example count from the accumulators' values.</summary>
    public (double Loss, Dictionary<string, double> Metrics, double Examples) Read(IReadOnlyList<float[]> values)
    {
        if (values.Count != shapes.Count) throw new ArgumentException($"expected {shapes.Count} accumulators, got {values.Count}", nameof(values));
        double n = values[^1][0];
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (objects == null)
        {
            for (int i = 0; i < loss.Metrics.Count; i++) metrics[loss.Metrics[i]] = n == 0 ? double.NaN : values[1 + i][0] / n;
        }
        else
        {
            for (int i = 0; i < objects.Count; i++)
            {
                var state = values.Skip(stateStart[i]).Take(objects[i].StateDims.Count).ToList();
                metrics[objects[i].Name] = n == 0 ? double.NaN : objects[i].Result(state);
            }
        }
        return (n == 0 ? double.NaN : values[0][0] / n, metrics, n);
    }
}
