using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    // Elementwise members (Sign, Floor, Ceil, Clamp, %, logical operators), activations, Var/Std and LayerNorm.
    internal static partial class Lowering
    {
        // ---- element-type checks, phrased for the C# call ----

        /// <summary>Throws an element-type error naming <paramref name="what"/> unless <paramref name="x"/> is floating point.</summary>
        public static void RequireFloat(string what, HloInstruction x)
        {
            if (!x.Shape.ElementType.IsFloatingPoint())
                throw new ShapeException($"{what}: needs a floating-point tensor, got {x.Shape}", isElementTypeError: true);
        }

        static void RequireIntegerOrBool(string what, HloInstruction x)
        {
            var t = x.Shape.ElementType;
            if (!t.IsInteger() && t != ElementType.Pred)
                throw new ShapeException($"{what}: needs bool or integer tensors, got {x.Shape}", isElementTypeError: true);
        }

        static void RequireInteger(string what, string role, HloInstruction x)
        {
            if (!x.Shape.ElementType.IsInteger())
                throw new ShapeException($"{what}: {role} must be integers, got {x.Shape}", isElementTypeError: true);
        }

        // ---- elementwise ----

        /// <summary>-1, 0 or 1 by the sign of each element (NaN stays NaN).</summary>
        public static HloInstruction Sign(HloBuilder b, HloInstruction x) => b.Unary("sign", x);

        public static HloInstruction Floor(HloBuilder b, HloInstruction x)
        {
            RequireFloat("Floor", x);
            return b.Unary("floor", x);
        }

        public static HloInstruction Ceil(HloBuilder b, HloInstruction x)
        {
            RequireFloat("Ceil", x);
            return b.Unary("ceil", x);
        }

        /// <summary>x % y with broadcasting: the remainder of truncated division, with the sign of x (C#'s %, C's fmod; not Python's).</summary>
        public static HloInstruction Remainder(HloBuilder b, HloInstruction x, HloInstruction y) => Binary(b, "remainder", x, y, "%");

        /// <summary>&amp;, | or ^ (opcode and, or, xor) on bool tensors (logical) or integer tensors (bitwise), with broadcasting.</summary>
        public static HloInstruction Logical(HloBuilder b, string opcode, HloInstruction x, HloInstruction y, string what)
        {
            RequireIntegerOrBool(what, x);
            RequireIntegerOrBool(what, y);
            return Binary(b, opcode, x, y, what);
        }

        /// <summary>! (bool) or ~ (integers, bitwise).</summary>
        public static HloInstruction Not(HloBuilder b, HloInstruction x, string what)
        {
            RequireIntegerOrBool(what, x);
            return b.Unary("not", x);
        }

        /// <summary>min(max(x, lo), hi) elementwise; <paramref name="lo"/> and <paramref name="hi"/> are scalars or broadcast to x.</summary>
        public static HloInstruction Clamp(HloBuilder b, HloInstruction x, HloInstruction lo, HloInstruction hi)
        {
            foreach (var bound in new[] { lo, hi })
            {
                if (bound.Shape.ElementType != x.Shape.ElementType)
                    throw new ShapeException($"Clamp: the bounds must have the element type of {x.Shape}, got {bound.Shape}", isElementTypeError: true);
            }
            var dims = x.Shape.Dims.ToArray();
            HloInstruction Fit(HloInstruction bound) => bound.Shape.IsScalar ? bound : BroadcastTo(b, bound, dims);
            try
            {
                return b.AddInstruction("clamp", new[] { Fit(lo), x, Fit(hi) });
            }
            catch (ShapeException e)
            {
                throw new ShapeException($"Clamp: the bounds must be scalars or broadcast to {x.Shape}: {e.Message}");
            }
        }

        // ---- activations ----

        /// <summary>x for x &gt; 0, alpha·x otherwise.</summary>
        public static HloInstruction LeakyRelu(HloBuilder b, HloInstruction x, double alpha)
        {
            RequireFloat("LeakyRelu", x);
            return b.Select(Positive(b, x), x, BinaryScalar(b, "multiply", x, alpha));
        }

        /// <summary>x for x &gt; 0, alpha·(eˣ − 1) otherwise, with exponential-minus-one (exp(x) − 1 loses every digit
        /// for x near 0). It reads min(x, 0), so the branch not taken never overflows (its cotangent would be 0·∞ = NaN).</summary>
        public static HloInstruction Elu(HloBuilder b, HloInstruction x, double alpha)
        {
            RequireFloat("Elu", x);
            var negative = b.Unary("exponential-minus-one", BinaryScalar(b, "minimum", x, 0));
            return b.Select(Positive(b, x), x, BinaryScalar(b, "multiply", negative, alpha));
        }

        /// <summary>GELU, tanh approximation (Hendrycks &amp; Gimpel; PyTorch's approximate='tanh', Keras' approximate=True):
        /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
        public static HloInstruction Gelu(HloBuilder b, HloInstruction x)
        {
            RequireFloat("Gelu", x);
            var cube = b.Multiply(b.Multiply(x, x), x);
            var inner = BinaryScalar(b, "multiply", b.Add(x, BinaryScalar(b, "multiply", cube, 0.044715)), Math.Sqrt(2 / Math.PI));
            var gate = BinaryScalar(b, "add", b.Tanh(inner), 1);
            return b.Multiply(BinaryScalar(b, "multiply", x, 0.5), gate);
        }

        /// <summary>log(1 + eˣ), computed as max(x, 0) + log-plus-one(e^−|x|): no overflow for large x, and no loss of
        /// precision for very negative x, where eˣ is below half of 1's rounding step and log(1 + eˣ) would round to 0.</summary>
        public static HloInstruction Softplus(HloBuilder b, HloInstruction x)
        {
            RequireFloat("Softplus", x);
            var tail = b.Unary("log-plus-one", b.Exp(b.Negate(b.Abs(x))));
            return b.Add(BinaryScalar(b, "maximum", x, 0), tail);
        }

        /// <summary>SiLU (swish): x·sigmoid(x).</summary>
        public static HloInstruction Silu(HloBuilder b, HloInstruction x)
        {
            RequireFloat("Silu", x);
            return b.Multiply(x, b.Logistic(x));
        }

        static HloInstruction Positive(HloBuilder b, HloInstruction x) => b.Compare(x, Full(b, x, 0), "GT");

        /// <summary>Inverted dropout (Keras' Dropout, PyTorch's nn.Dropout): in training each element is kept with
        /// probability 1 − rate and scaled by 1 / (1 − rate), else 0; in inference it is x. An element is kept when its
        /// 32 random bits are at least round(rate · 2³²), so the keep probability is exact to 2⁻³². Without a
        /// <paramref name="random"/> source (forward programs, eager calls) or at rate 0 it is x.</summary>
        public static HloInstruction Dropout(HloBuilder b, HloInstruction x, double rate, TrainingMode? random)
        {
            RequireFloat("Dropout", x);
            if (!(rate >= 0 && rate < 1))
                throw new ShapeException($"Dropout: rate must be in [0, 1) (the fraction of elements set to 0), got {rate.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
            if (random == null || rate == 0) return x;
            var bits = random.Draw(x.Shape);
            ulong cut = (ulong)System.Math.Round(rate * 4294967296.0);
            var threshold = b.Constant(Literal.ScalarOf(ElementType.U32, System.Math.Min(cut, uint.MaxValue)));
            var keep = b.Compare(bits, x.Shape.IsScalar ? threshold : b.BroadcastScalar(threshold, x.Shape.Dims.ToArray()), "GE");
            var dropped = b.Select(keep, BinaryScalar(b, "multiply", x, 1.0 / (1.0 - rate)), Full(b, x, 0));
            var training = random.Training!;
            return b.Select(x.Shape.IsScalar ? training : b.BroadcastScalar(training, x.Shape.Dims.ToArray()), dropped, x);
        }

        static HloInstruction Full(HloBuilder b, HloInstruction like, double value) =>
            like.Shape.IsScalar ? Scalar(b, like, value) : b.BroadcastScalar(Scalar(b, like, value), like.Shape.Dims.ToArray());

        // ---- statistics and normalisation ----

        /// <summary>Population variance over <paramref name="axes"/> (all when none): the mean of (x − mean)², dividing by N
        /// as NumPy, TensorFlow and PyTorch's correction=0 do. Symbolic axes are counted at run time, as in Mean.</summary>
        public static HloInstruction Var(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes, string what = "Var")
        {
            RequireFloat(what, x);
            var r = ReductionAxes(what, x.Shape, axes);
            var centered = Centered(b, x, r);
            return Mean(b, b.Multiply(centered, centered), r.Select(a => (int)a).ToArray());
        }

        /// <summary>√Var: the population standard deviation.</summary>
        public static HloInstruction Std(HloBuilder b, HloInstruction x, IReadOnlyList<int> axes)
        {
            var v = Var(b, x, axes, "Std");
            return b.Sqrt(v);
        }

        /// <summary>x − mean(x) over the (sorted) axes <paramref name="r"/>.</summary>
        static HloInstruction Centered(HloBuilder b, HloInstruction x, long[] r)
        {
            var mean = Mean(b, x, r.Select(a => (int)a).ToArray());
            var kept = Enumerable.Range(0, x.Shape.Rank).Where(i => !r.Contains(i)).Select(i => (long)i).ToArray();
            return b.Subtract(x, b.Broadcast(mean, x.Shape.Dims.ToArray(), kept));
        }

        /// <summary>Layer normalisation over the last axis: (x − mean) / √(var + ε) · gamma + beta, with gamma and beta of
        /// the last dimension's size (Keras' LayerNormalization, PyTorch's LayerNorm(D)).</summary>
        /// <summary>A decoder's causal mask on attention scores [.., T, T] (queries on the second-to-last axis, keys on
        /// the last): every score whose key comes after its query becomes −10⁹, so a softmax over the last axis gives it
        /// weight 0 (exactly, in f32 and f64) and its cotangent is dropped.</summary>
        public static HloInstruction CausalMask(HloBuilder b, HloInstruction scores)
        {
            RequireFloat("CausalMask", scores);
            var s = scores.Shape;
            if (s.Rank < 2) throw new ShapeException($"CausalMask: needs scores [.., queries, keys] of rank 2 or more, got {s}");
            var t = s.Dims[s.Rank - 1];
            if (s.Dims[s.Rank - 2] != t) throw new ShapeException($"CausalMask: queries and keys must be the same positions (a square [.., T, T]), got {s}");
            var square = Shape.Array(ElementType.S32, t, t);
            var future = b.Compare(b.Iota(square, 1), b.Iota(square, 0), "GT");
            var mask = s.Rank == 2 ? future : b.Broadcast(future, s.Dims.ToArray(), new long[] { s.Rank - 2, s.Rank - 1 });
            return b.Select(mask, Full(b, scores, -1e9), scores);
        }

        /// <summary>Batch normalisation over every axis but the last (Keras' BatchNormalization with axis=-1: NHWC
        /// channels, or the features of [B, D]). In training it normalises with the batch's mean and population
        /// variance and returns the moving statistics' new values, moving · momentum + batch · (1 − momentum) (Keras'
        /// rule); in inference it uses the moving statistics. With <paramref name="training"/> (pred[], a program
        /// parameter) the output selects between the two, so one program serves the train step (true) and evaluation
        /// (false); without it (forward programs, eager calls) it is the inference form and no update is returned.</summary>
        public static (HloInstruction Output, HloInstruction? NewMean, HloInstruction? NewVariance) BatchNorm(HloBuilder b, HloInstruction x,
            HloInstruction gamma, HloInstruction beta, HloInstruction movingMean, HloInstruction movingVariance, double momentum, double epsilon,
            HloInstruction? training)
        {
            RequireFloat("BatchNorm", x);
            var s = x.Shape;
            if (s.Rank < 2) throw new ShapeException($"BatchNorm: needs a batch and a feature axis (rank 2 or more), got {s}");
            var c = s.Dims[s.Rank - 1];
            foreach (var (name, p) in new[] { ("gamma", gamma), ("beta", beta), ("movingMean", movingMean), ("movingVariance", movingVariance) })
            {
                if (p.Shape.Rank != 1 || p.Shape.Dims[0] != c)
                    throw new ShapeException($"BatchNorm: {name} must be [{c}] (the last dimension of x {s}), got {p.Shape}");
                if (p.Shape.ElementType != s.ElementType)
                    throw new ShapeException($"BatchNorm: {name} {p.Shape} must have the element type of x {s}", isElementTypeError: true);
            }
            if (!(momentum >= 0 && momentum <= 1)) throw new ShapeException($"BatchNorm: momentum {momentum} must be in [0, 1]");
            if (!(epsilon > 0)) throw new ShapeException($"BatchNorm: epsilon {epsilon} must be positive");
            var dims = s.Dims.ToArray();
            var channel = new long[] { s.Rank - 1 };
            HloInstruction PerChannel(HloInstruction v) => b.Broadcast(v, dims, channel);
            HloInstruction Normalize(HloInstruction centered, HloInstruction variance)
            {
                var scale = b.Multiply(gamma, b.Rsqrt(BinaryScalar(b, "add", variance, epsilon)));
                return b.Add(b.Multiply(centered, PerChannel(scale)), PerChannel(beta));
            }
            var inference = Normalize(b.Subtract(x, PerChannel(movingMean)), movingVariance);
            if (training == null) return (inference, null, null);
            var axes = Enumerable.Range(0, s.Rank - 1).ToArray();
            // One mean and one centred x serve the variance and the output (what Var computes, bitwise), so the train
            // step reduces x once for the mean and keeps one x − mean, not two.
            var batchMean = Mean(b, x, axes);
            var batchCentered = b.Subtract(x, PerChannel(batchMean));
            var batchVariance = Mean(b, b.Multiply(batchCentered, batchCentered), axes);
            var trained = Normalize(batchCentered, batchVariance);
            HloInstruction Moving(HloInstruction moving, HloInstruction batch) =>
                b.Add(BinaryScalar(b, "multiply", moving, momentum), BinaryScalar(b, "multiply", batch, 1 - momentum));
            var output = b.Select(b.BroadcastScalar(training, dims), trained, inference);
            var flag = b.BroadcastScalar(training, new[] { c });
            return (output, b.Select(flag, Moving(movingMean, batchMean), movingMean), b.Select(flag, Moving(movingVariance, batchVariance), movingVariance));
        }

        public static HloInstruction LayerNorm(HloBuilder b, HloInstruction x, HloInstruction gamma, HloInstruction beta, double epsilon)
        {
            RequireFloat("LayerNorm", x);
            var s = x.Shape;
            if (s.Rank == 0) throw new ShapeException($"LayerNorm: needs a tensor with a feature axis, got the scalar {s}");
            var d = s.Dims[s.Rank - 1];
            foreach (var (name, p) in new[] { ("gamma", gamma), ("beta", beta) })
            {
                if (p.Shape.Rank != 1 || p.Shape.Dims[0] != d)
                    throw new ShapeException($"LayerNorm: {name} must be [{d}] (the last dimension of x {s}), got {p.Shape}");
                if (p.Shape.ElementType != s.ElementType)
                    throw new ShapeException($"LayerNorm: {name} {p.Shape} must have the element type of x {s}", isElementTypeError: true);
            }
            if (epsilon < 0) throw new ShapeException($"LayerNorm: epsilon {epsilon} must not be negative");
            int last = s.Rank - 1;
            var dims = s.Dims.ToArray();
            var axis = new long[] { last };
            var centered = Centered(b, x, axis);
            var variance = Mean(b, b.Multiply(centered, centered), new[] { last });
            var inverse = b.Rsqrt(BinaryScalar(b, "add", variance, epsilon));
            var kept = Enumerable.Range(0, last).Select(i => (long)i).ToArray();
            var normalized = b.Multiply(centered, b.Broadcast(inverse, dims, kept));
            return b.Add(b.Multiply(normalized, b.Broadcast(gamma, dims, axis)), b.Broadcast(beta, dims, axis));
        }
    }
}
