using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    /// <summary>A metric a loss function contributes: a per-batch sum whose epoch value is total / examples.</summary>
    internal sealed class MetricValue
    {
        public MetricValue(string name, HloInstruction mean)
        {
            Name = name;
            Mean = mean;
        }

        public string Name { get; }

        /// <summary>The metric's mean over the rows its loss averages (the fraction of correct predictions), a scalar. Like
        /// the loss it is a mean, so a loss over reshaped rows ([B·T, classes] for a sequence) reports the per-row
        /// accuracy; the programs accumulate mean × examples, and Fit divides by the examples.</summary>
        public HloInstruction Mean { get; }
    }

    /// <summary>A (prediction, target) pair a loss exposes to the metric objects chosen at Compile; <see cref="Explicit"/>
    /// when written with <c>Losses.Observe</c> (then the built-in losses' own observations are not used).</summary>
    internal sealed class Observation
    {
        public Observation(HloInstruction prediction, HloInstruction target, PredictionKind kind, bool @explicit)
        {
            Prediction = prediction;
            Target = target;
            Kind = kind;
            Explicit = @explicit;
        }

        public HloInstruction Prediction { get; }

        public HloInstruction Target { get; }

        public PredictionKind Kind { get; }

        public bool Explicit { get; }

        /// <summary>Throws a <see cref="ShapeException"/> unless <paramref name="target"/> fits <paramref name="prediction"/> for
        /// <paramref name="kind"/>: class predictions [..., classes] take integer class indices [...] or a target of their own
        /// shape; binary predictions and values take a target of their own shape.</summary>
        public static void Check(string where, Shape prediction, Shape target, PredictionKind kind)
        {
            bool classes = kind == PredictionKind.ClassLogits || kind == PredictionKind.ClassProbabilities;
            if (!prediction.ElementType.IsFloatingPoint())
                throw new ShapeException($"{where}: the prediction must be floating point, got {prediction}", isElementTypeError: true);
            if (classes)
            {
                if (prediction.Rank < 1) throw new ShapeException($"{where}: a {kind} prediction must be [..., classes], got the scalar {prediction}");
                if (IsSparseTarget(prediction, target)) return;
                if (target.Rank == prediction.Rank - 1)
                {
                    if (!target.ElementType.IsInteger())
                        throw new ShapeException($"{where}: class indices must be integers, got {target}", isElementTypeError: true);
                }
                else if (SameDims(prediction, target)) return;
                throw new ShapeException($"{where}: the target of the {kind} prediction {prediction} must be class indices [{string.Join(", ", prediction.Dims.Take(prediction.Rank - 1))}] or of the prediction's shape, got {target}");
            }
            if (!SameDims(prediction, target))
                throw new ShapeException($"{where}: the target of the {kind} prediction {prediction} must have its shape, got {target}");
        }

        /// <summary>Class indices for a [..., classes] prediction: an integer target with the prediction's dims but the last.</summary>
        public static bool IsSparseTarget(Shape prediction, Shape target) =>
            target.ElementType.IsInteger() && target.Rank == prediction.Rank - 1
            && Enumerable.Range(0, target.Rank).All(i => target.Dims[i].Equals(prediction.Dims[i]));

        static bool SameDims(Shape a, Shape b) => a.Rank == b.Rank && Enumerable.Range(0, a.Rank).All(i => a.Dims[i].Equals(b.Dims[i]));
    }

    /// <summary>
    /// Loss functions of the surface. Each returns the mean loss over the batch (dim 0) as a scalar and may add
    /// metrics (means over the rows, like the loss) that the train and eval programs accumulate on the device.
    /// </summary>
    internal static class LossLowering
    {
        /// <summary>Mean over the batch of −log softmax(logits)[label]; adds "accuracy" (argmax = label). With
        /// <paramref name="weights"/> (f32[rows], Keras' sample weights) each row's term is weighted and the sum still divided
        /// by the rows (Keras' sum-over-batch-size reduction); the accuracy stays unweighted.</summary>
        public static HloInstruction SparseSoftmaxCrossEntropy(HloBuilder b, HloInstruction logits, HloInstruction labels, List<MetricValue>? metrics,
            HloInstruction? weights = null)
        {
            var ls = logits.Shape;
            if (ls.Rank != 2) throw new ShapeException($"SparseSoftmaxCrossEntropy: logits must be [batch, classes], got {ls}");
            if (!ls.ElementType.IsFloatingPoint()) throw new ShapeException($"SparseSoftmaxCrossEntropy: logits must be floating point, got {ls}", isElementTypeError: true);
            if (labels.Shape.Rank != 1 || labels.Shape.Dims[0] != ls.Dims[0])
                throw new ShapeException($"SparseSoftmaxCrossEntropy: labels must be [{ls.Dims[0]}] (one class index per row of logits {ls}), got {labels.Shape}");
            if (!labels.Shape.ElementType.IsInteger())
                throw new ShapeException($"SparseSoftmaxCrossEntropy: labels must be integer class indices, got {labels.Shape}", isElementTypeError: true);
            var dims = ls.Dims.ToArray();
            var labels32 = b.Convert(labels, ElementType.S32);
            var classIndex = b.Iota(Shape.Array(ElementType.S32, dims), 1);
            var oneHot = b.Compare(classIndex, b.Broadcast(labels32, dims, new long[] { 0 }), "EQ");
            var logp = Lowering.LogSoftmax(b, logits, 1);
            var picked = b.ReduceSum(b.Select(oneHot, logp, b.Full(ls.ElementType, 0, dims)), 1);
            if (weights != null) picked = b.Multiply(picked, b.Convert(weights, ls.ElementType));
            var loss = b.Negate(MeanOverBatch(b, picked));
            if (metrics != null) metrics.Add(new MetricValue("accuracy", CorrectFraction(b, logits, labels32)));
            return loss;
        }

        /// <summary>Mean over the batch of −Σ targets·log softmax(logits) (one-hot or soft labels); adds "accuracy" (argmax agreement).</summary>
        public static HloInstruction SoftmaxCrossEntropy(HloBuilder b, HloInstruction logits, HloInstruction targets, List<MetricValue>? metrics)
        {
            var ls = logits.Shape;
            if (ls.Rank != 2) throw new ShapeException($"SoftmaxCrossEntropy: logits must be [batch, classes], got {ls}");
            if (!targets.Shape.Equals(ls)) throw new ShapeException($"SoftmaxCrossEntropy: targets must have the shape of the logits {ls}, got {targets.Shape}");
            var logp = Lowering.LogSoftmax(b, logits, 1);
            var perRow = b.ReduceSum(b.Multiply(targets, logp), 1);
            var loss = b.Negate(MeanOverBatch(b, perRow));
            if (metrics != null) metrics.Add(new MetricValue("accuracy", CorrectFraction(b, logits, ArgMax(b, targets))));
            return loss;
        }

        /// <summary>Mean of (prediction − target)² over all elements; adds "mae" (mean absolute error per example, summed).</summary>
        public static HloInstruction MeanSquaredError(HloBuilder b, HloInstruction prediction, HloInstruction target, List<MetricValue>? metrics)
        {
            if (!prediction.Shape.Equals(target.Shape))
                throw new ShapeException($"MeanSquaredError: prediction {prediction.Shape} and target {target.Shape} must have the same shape");
            var d = b.Subtract(prediction, target);
            var all = AllAxes(prediction.Shape);
            var loss = Lowering.Mean(b, b.Multiply(d, d), all.Select(a => (int)a).ToArray());
            if (metrics != null && prediction.Shape.Rank >= 1)
            {
                var perExample = PerExampleMean(b, b.Abs(d));
                metrics.Add(new MetricValue("mae", Lowering.Mean(b, perExample, new[] { 0 })));
            }
            return loss;
        }

        /// <summary>Mean of max(x,0) − x·z + log(1 + exp(−|x|)) (stable sigmoid cross-entropy); adds "accuracy" (x &gt; 0 agrees with z &gt; 0.5).</summary>
        public static HloInstruction BinaryCrossEntropyWithLogits(HloBuilder b, HloInstruction logits, HloInstruction targets, List<MetricValue>? metrics)
        {
            if (!logits.Shape.Equals(targets.Shape))
                throw new ShapeException($"BinaryCrossEntropyWithLogits: logits {logits.Shape} and targets {targets.Shape} must have the same shape");
            var t = logits.Shape.ElementType;
            var dims = logits.Shape.Dims.ToArray();
            var zero = b.Full(t, 0, dims);
            var one = b.Full(t, 1, dims);
            var terms = b.Add(b.Subtract(b.Maximum(logits, zero), b.Multiply(logits, targets)), b.Log(b.Add(one, b.Exp(b.Negate(b.Abs(logits))))));
            var loss = Lowering.Mean(b, terms, AllAxes(logits.Shape).Select(a => (int)a).ToArray());
            if (metrics != null && logits.Shape.Rank >= 1)
            {
                var predicted = b.Compare(logits, zero, "GT");
                var actual = b.Compare(targets, b.Full(t, 0.5, dims), "GT");
                var agree = b.Convert(b.Compare(b.Convert(predicted, ElementType.S32), b.Convert(actual, ElementType.S32), "EQ"), t);
                metrics.Add(new MetricValue("accuracy", Lowering.Mean(b, PerExampleMean(b, agree), new[] { 0 })));
            }
            return loss;
        }

        /// <summary>Σ w² (add λ·L2(w) to a loss for weight decay).</summary>
        public static HloInstruction L2(HloBuilder b, HloInstruction w) => b.ReduceSum(b.Multiply(w, w), AllAxes(w.Shape));

        /// <summary>The mean of a [B, …] value over its first dim (B may be symbolic).</summary>
        static HloInstruction MeanOverBatch(HloBuilder b, HloInstruction perExample)
        {
            var x = perExample.Shape.Rank > 1 ? b.ReduceSum(perExample, AllAxesBut0(perExample.Shape)) : perExample;
            return Lowering.Mean(b, x, new[] { 0 });
        }

        static HloInstruction PerExampleMean(HloBuilder b, HloInstruction x) =>
            x.Shape.Rank <= 1 ? x : Lowering.Mean(b, x, AllAxesBut0(x.Shape).Select(a => (int)a).ToArray());

        static long[] AllAxes(Shape s) => Enumerable.Range(0, s.Rank).Select(i => (long)i).ToArray();

        static long[] AllAxesBut0(Shape s) => Enumerable.Range(1, System.Math.Max(0, s.Rank - 1)).Select(i => (long)i).ToArray();

        /// <summary>Index of the (first) largest element of each row, as s32[B].</summary>
        public static HloInstruction ArgMax(HloBuilder b, HloInstruction x)
        {
            var dims = x.Shape.Dims.ToArray();
            var max = b.Broadcast(b.ReduceMax(x, 1), dims, new long[] { 0 });
            var isMax = b.Compare(x, max, "EQ");
            var index = b.Iota(Shape.Array(ElementType.S32, dims), 1);
            var classes = b.Full(ElementType.S32, x.Shape.Dims[1].IsConstant ? x.Shape.Dims[1].Value : int.MaxValue, dims);
            return b.ReduceMin(b.Select(isMax, index, classes), 1);
        }

        /// <summary>The fraction (f[]) of rows whose argmax equals the label (s32[B]).</summary>
        static HloInstruction CorrectFraction(HloBuilder b, HloInstruction logits, HloInstruction labels32)
        {
            var hit = b.Compare(ArgMax(b, logits), labels32, "EQ");
            return Lowering.Mean(b, b.Convert(hit, logits.Shape.ElementType), new[] { 0 });
        }
    }
}
