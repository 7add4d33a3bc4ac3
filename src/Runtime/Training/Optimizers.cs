using XlaGen.Hlo;

namespace XlaGen.Training;

/// <summary>
/// An optimizer, chosen at run time: it appends its update to the train-step program as HLO. Each trainable
/// parameter gets the state slots it names (same shape, zero-initialised); a global step counter (s32) is kept
/// by every optimizer. Updates are written once, in HLO; the tests compare them with naive C# loops.
/// </summary>
public abstract class Optimizer
{
    /// <summary>Initialises the optimizer with its learning-rate schedule.</summary>
    /// <param name="learningRate">The schedule; a plain number converts to a constant rate (<c>new Adam(1e-3)</c>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="learningRate"/> is null.</exception>
    protected Optimizer(LearningRate learningRate)
    {
        LearningRate = learningRate ?? throw new ArgumentNullException(nameof(learningRate));
    }

    /// <summary>The learning-rate schedule: the rate of each step is computed on the host by <see cref="XlaGen.Training.LearningRate.At"/>
    /// and passed to the train-step program as an input, so a schedule never recompiles it.</summary>
    public LearningRate LearningRate { get; }

    /// <summary>Keras' <c>clipvalue</c>: every gradient element is clipped to [-ClipValue, ClipValue] before the update.</summary>
    public double? ClipValue { get => clipValue; init => clipValue = Positive(value, nameof(ClipValue)); }

    /// <summary>Keras' <c>clipnorm</c>: each parameter's gradient is scaled down to an L2 norm of at most ClipNorm.</summary>
    public double? ClipNorm { get => clipNorm; init => clipNorm = Positive(value, nameof(ClipNorm)); }

    /// <summary>Keras' <c>global_clipnorm</c> (PyTorch's <c>clip_grad_norm_</c>): all gradients together are scaled by
    /// GlobalClipNorm / max(global norm, GlobalClipNorm), the global norm being the L2 norm of them all concatenated.</summary>
    public double? GlobalClipNorm { get => globalClipNorm; init => globalClipNorm = Positive(value, nameof(GlobalClipNorm)); }

    readonly double? clipValue, clipNorm, globalClipNorm;

    static double? Positive(double? value, string name) =>
        value is { } v && !(v > 0 && double.IsFinite(v)) ? throw new ArgumentOutOfRangeException(name, v, $"{name} must be a positive finite number") : value;

    /// <summary>The clipping, for <see cref="Describe"/> texts: "" or ", global_clipnorm=1".</summary>
    protected string DescribeClipping() =>
        (ClipValue is { } v ? $", clipvalue={v:R}" : "") + (ClipNorm is { } n ? $", clipnorm={n:R}" : "") + (GlobalClipNorm is { } g ? $", global_clipnorm={g:R}" : "");

    /// <summary>Applies ClipValue, ClipNorm or GlobalClipNorm (at most one may be set, as in Keras) to the gradients of
    /// the trainable parameters, in HLO, before the update. Norms are accumulated in f32 (f64 when a gradient is f64).</summary>
    public IReadOnlyList<HloInstruction> ClipGradients(HloBuilder b, IReadOnlyList<HloInstruction> gradients)
    {
        CheckClipping();
        if (ClipValue is { } limit)
            return gradients.Select(g => b.Maximum(b.Minimum(g, Scalar(b, g, limit)), Scalar(b, g, -limit))).ToList();
        var normType = gradients.Any(g => g.Shape.ElementType == ElementType.F64) ? ElementType.F64 : ElementType.F32;
        HloInstruction SumOfSquares(HloInstruction g)
        {
            var squares = b.Multiply(g, g);
            var sum = g.Shape.IsScalar ? squares : b.ReduceSum(squares, Enumerable.Range(0, g.Shape.Rank).Select(d => (long)d).ToArray());
            return b.Convert(sum, normType);
        }
        // scale = clip / max(norm, clip): 1 while the norm is within the limit (tf.clip_by_norm, clip_by_global_norm)
        HloInstruction ScaleFor(HloInstruction sumOfSquares, double clip)
        {
            var c = b.Full(normType, clip, Array.Empty<Dim>());
            return b.Divide(c, b.Maximum(b.Sqrt(sumOfSquares), c));
        }
        HloInstruction Scaled(HloInstruction g, HloInstruction scale) => b.Multiply(g, Spread(b, scale, g));
        if (ClipNorm is { } perTensor)
            return gradients.Select(g => Scaled(g, ScaleFor(SumOfSquares(g), perTensor))).ToList();
        if (GlobalClipNorm is { } global && gradients.Count > 0)
        {
            var total = gradients.Select(SumOfSquares).Aggregate(b.Add);
            var scale = ScaleFor(total, global);
            return gradients.Select(g => Scaled(g, scale)).ToList();
        }
        return gradients;
    }

    /// <summary>Throws when more than one clipping is set (Keras allows one of clipvalue, clipnorm, global_clipnorm).</summary>
    public void CheckClipping()
    {
        int set = (ClipValue.HasValue ? 1 : 0) + (ClipNorm.HasValue ? 1 : 0) + (GlobalClipNorm.HasValue ? 1 : 0);
        if (set > 1)
            throw new ArgumentException($"{Describe()}: set at most one of ClipValue, ClipNorm and GlobalClipNorm (as Keras allows one of clipvalue, clipnorm, global_clipnorm)");
    }

    /// <summary>Lower-case name: sgd, momentum, adam, adamw, rmsprop.</summary>
    public abstract string Name { get; }

    /// <summary>Per-parameter state, e.g. Adam's "m" and "v".</summary>
    public abstract IReadOnlyList<string> Slots { get; }

    /// <summary>The hyperparameters, for checkpoint metadata and logs.</summary>
    public abstract string Describe();

    /// <summary>Emits the update of one parameter. <paramref name="step"/> is the f32 count of updates including this one (1 on the first).</summary>
    public abstract (HloInstruction Parameter, HloInstruction[] Slots) Update(HloBuilder b, HloInstruction parameter, HloInstruction gradient,
        IReadOnlyList<HloInstruction> slots, HloInstruction learningRate, HloInstruction step);

    /// <summary>The constant <paramref name="value"/> in <paramref name="like"/>'s element type, broadcast to its shape.</summary>
    protected static HloInstruction Scalar(HloBuilder b, HloInstruction like, double value) =>
        b.Full(like.Shape.ElementType, value, like.Shape.Dims.ToArray());

    /// <summary>A scalar broadcast to <paramref name="like"/>'s shape, converted to its element type.</summary>
    protected static HloInstruction Spread(HloBuilder b, HloInstruction scalar, HloInstruction like) =>
        like.Shape.IsScalar ? b.Convert(scalar, like.Shape.ElementType) : b.BroadcastScalar(b.Convert(scalar, like.Shape.ElementType), like.Shape.Dims.ToArray());
}

/// <summary>Stochastic gradient descent, optionally with (Nesterov) momentum: v = μv + g; p -= lr·v (Nesterov: p -= lr·(g + μv)).</summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Stochastic gradient descent with the given rate and, optionally, momentum.</summary>
    /// <param name="learningRate">The learning-rate schedule (a number converts to a constant rate).</param>
    /// <param name="momentum">The momentum μ in [0, 1); 0, the default, is plain SGD with no state.</param>
    /// <param name="nesterov">Whether to use Nesterov momentum (needs <paramref name="momentum"/> &gt; 0); false by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="learningRate"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="momentum"/> is not in [0, 1).</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> is true with a momentum of 0.</exception>
    public Sgd(LearningRate learningRate, double momentum = 0, bool nesterov = false) : base(learningRate)
    {
        if (momentum < 0 || momentum >= 1) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1)");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs a momentum > 0", nameof(nesterov));
        Momentum = momentum;
        Nesterov = nesterov;
    }

    /// <summary>The momentum μ in [0, 1); 0 means plain SGD.</summary>
    public double Momentum { get; }

    /// <summary>Whether the update uses Nesterov momentum, p -= lr·(g + μv).</summary>
    public bool Nesterov { get; }

    /// <summary>"sgd" without momentum, "momentum" with it.</summary>
    public override string Name => Momentum == 0 ? "sgd" : "momentum";

    /// <summary>None without momentum; "velocity" (v) with it.</summary>
    public override IReadOnlyList<string> Slots => Momentum == 0 ? Array.Empty<string>() : new[] { "velocity" };

    /// <inheritdoc/>
    public override string Describe() => Momentum == 0
        ? (DescribeClipping() is { Length: > 0 } clipping ? $"sgd({clipping[2..]})" : "sgd")
        : $"sgd(momentum={Momentum:R}, nesterov={Nesterov.ToString().ToLowerInvariant()}{DescribeClipping()})";

    /// <inheritdoc/>
    public override (HloInstruction, HloInstruction[]) Update(HloBuilder b, HloInstruction p, HloInstruction g, IReadOnlyList<HloInstruction> slots, HloInstruction lr, HloInstruction step)
    {
        var rate = Spread(b, lr, p);
        if (Momentum == 0) return (b.Subtract(p, b.Multiply(rate, g)), Array.Empty<HloInstruction>());
        var mu = Scalar(b, p, Momentum);
        var v = b.Add(b.Multiply(mu, slots[0]), g);
        var direction = Nesterov ? b.Add(g, b.Multiply(mu, v)) : v;
        return (b.Subtract(p, b.Multiply(rate, direction)), new[] { v });
    }
}

/// <summary>Adam (Kingma &amp; Ba) with bias correction, in PyTorch's form (ε added to the bias-corrected sqrt(v̂));
/// AdamW adds decoupled weight decay.</summary>
public class Adam : Optimizer
{
    /// <summary>Adam with the given rate and hyperparameters (the defaults are Keras' and PyTorch's).</summary>
    /// <param name="learningRate">The learning-rate schedule (a number converts to a constant rate); 1e-3 is the usual choice.</param>
    /// <param name="beta1">The decay of the first-moment (mean) estimate, in [0, 1); 0.9 by default.</param>
    /// <param name="beta2">The decay of the second-moment (uncentred variance) estimate, in [0, 1); 0.999 by default.</param>
    /// <param name="epsilon">The positive constant added to the denominator for numerical stability; 1e-8 by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="learningRate"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta1"/> or <paramref name="beta2"/> is not in [0, 1), or <paramref name="epsilon"/> is not positive.</exception>
    public Adam(LearningRate learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8) : base(learningRate)
    {
        if (beta1 < 0 || beta1 >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (beta2 < 0 || beta2 >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        if (epsilon <= 0) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>The decay β1 of the first-moment estimate m.</summary>
    public double Beta1 { get; }

    /// <summary>The decay β2 of the second-moment estimate v.</summary>
    public double Beta2 { get; }

    /// <summary>The constant ε added to sqrt(v̂) in the denominator.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public override string Name => "adam";

    /// <summary>"m" (first moment) and "v" (second moment), both zero at the start.</summary>
    public override IReadOnlyList<string> Slots => new[] { "m", "v" };

    /// <inheritdoc/>
    public override string Describe() => $"adam(beta1={Beta1:R}, beta2={Beta2:R}, epsilon={Epsilon:R}{DescribeClipping()})";

    /// <inheritdoc/>
    public override (HloInstruction, HloInstruction[]) Update(HloBuilder b, HloInstruction p, HloInstruction g, IReadOnlyList<HloInstruction> slots, HloInstruction lr, HloInstruction step)
    {
        // m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)  (PyTorch),
        // computed as lr·sqrt(1-β2^t)/(1-β1^t) · m / (sqrt(v) + ε·sqrt(1-β2^t)), which is the same.
        var m = b.Add(b.Multiply(Scalar(b, p, Beta1), slots[0]), b.Multiply(Scalar(b, p, 1 - Beta1), g));
        var v = b.Add(b.Multiply(Scalar(b, p, Beta2), slots[1]), b.Multiply(Scalar(b, p, 1 - Beta2), b.Multiply(g, g)));
        var t = step;
        var bias1 = b.Subtract(b.Constant(t.Shape.ElementType, 1), b.Power(b.Constant(t.Shape.ElementType, Beta1), t));
        var bias2 = b.Subtract(b.Constant(t.Shape.ElementType, 1), b.Power(b.Constant(t.Shape.ElementType, Beta2), t));
        var alpha = b.Divide(b.Multiply(lr, b.Sqrt(bias2)), bias1);
        var epsHat = b.Multiply(b.Constant(t.Shape.ElementType, Epsilon), b.Sqrt(bias2));
        var update = b.Divide(m, b.Add(b.Sqrt(v), Spread(b, epsHat, p)));
        var decayed = Decay(b, p, lr);
        return (b.Subtract(decayed, b.Multiply(Spread(b, alpha, p), update)), new[] { m, v });
    }

    /// <summary>Adam applies no weight decay; AdamW overrides.</summary>
    protected virtual HloInstruction Decay(HloBuilder b, HloInstruction p, HloInstruction lr) => p;
}

/// <summary>AdamW (Loshchilov &amp; Hutter): Adam with decoupled weight decay, p -= lr·wd·p before the Adam step.</summary>
public sealed class AdamW : Adam
{
    /// <summary>AdamW with the given rate, decoupled weight decay and Adam hyperparameters.</summary>
    /// <param name="learningRate">The learning-rate schedule (a number converts to a constant rate).</param>
    /// <param name="weightDecay">The decoupled weight decay wd (not negative): each step first does p -= lr·wd·p; 0.01 by default.
    /// It applies to every trainable parameter, biases included.</param>
    /// <param name="beta1">The decay of the first-moment estimate, in [0, 1); 0.9 by default.</param>
    /// <param name="beta2">The decay of the second-moment estimate, in [0, 1); 0.999 by default.</param>
    /// <param name="epsilon">The positive constant added to the denominator; 1e-8 by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="learningRate"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weightDecay"/> is negative, <paramref name="beta1"/> or
    /// <paramref name="beta2"/> is not in [0, 1), or <paramref name="epsilon"/> is not positive.</exception>
    public AdamW(LearningRate learningRate, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
        : base(learningRate, beta1, beta2, epsilon)
    {
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must not be negative");
        WeightDecay = weightDecay;
    }

    /// <summary>The decoupled weight decay wd: p -= lr·wd·p before each Adam step.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    public override string Name => "adamw";

    /// <inheritdoc/>
    public override string Describe() => $"adamw(weight_decay={WeightDecay:R}, beta1={Beta1:R}, beta2={Beta2:R}, epsilon={Epsilon:R}{DescribeClipping()})";

    /// <summary>p − lr·wd·p.</summary>
    protected override HloInstruction Decay(HloBuilder b, HloInstruction p, HloInstruction lr) =>
        b.Subtract(p, b.Multiply(b.Multiply(Spread(b, lr, p), Scalar(b, p, WeightDecay)), p));
}

/// <summary>RMSProp in PyTorch's form: s = ρs + (1-ρ)g²; p -= lr·g/(sqrt(s)+ε); with momentum b = μb + g/(sqrt(s)+ε); p -= lr·b.</summary>
public sealed class RmsProp : Optimizer
{
    /// <summary>RMSProp with the given rate and hyperparameters (the defaults are PyTorch's).</summary>
    /// <param name="learningRate">The learning-rate schedule (a number converts to a constant rate).</param>
    /// <param name="rho">The decay ρ of the mean square, in (0, 1); 0.99 by default.</param>
    /// <param name="momentum">The momentum μ in [0, 1); 0, the default, keeps no momentum buffer.</param>
    /// <param name="epsilon">The constant added to sqrt(s) in the denominator; 1e-8 by default (not validated).</param>
    /// <exception cref="ArgumentNullException"><paramref name="learningRate"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rho"/> is not in (0, 1), or <paramref name="momentum"/> is not in [0, 1).</exception>
    public RmsProp(LearningRate learningRate, double rho = 0.99, double momentum = 0, double epsilon = 1e-8) : base(learningRate)
    {
        if (rho <= 0 || rho >= 1) throw new ArgumentOutOfRangeException(nameof(rho), rho, "rho must be in (0, 1)");
        if (momentum < 0 || momentum >= 1) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1)");
        Rho = rho;
        Momentum = momentum;
        Epsilon = epsilon;
    }

    /// <summary>The decay ρ of the mean square s.</summary>
    public double Rho { get; }

    /// <summary>The momentum μ in [0, 1); 0 means no momentum buffer.</summary>
    public double Momentum { get; }

    /// <summary>The constant ε added to sqrt(s) in the denominator.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public override string Name => "rmsprop";

    /// <summary>"ms" (the mean square), and "momentum" (the momentum buffer) when <see cref="Momentum"/> is not 0.</summary>
    public override IReadOnlyList<string> Slots => Momentum == 0 ? new[] { "ms" } : new[] { "ms", "momentum" };

    /// <inheritdoc/>
    public override string Describe() => $"rmsprop(rho={Rho:R}, momentum={Momentum:R}, epsilon={Epsilon:R}{DescribeClipping()})";

    /// <inheritdoc/>
    public override (HloInstruction, HloInstruction[]) Update(HloBuilder b, HloInstruction p, HloInstruction g, IReadOnlyList<HloInstruction> slots, HloInstruction lr, HloInstruction step)
    {
        var ms = b.Add(b.Multiply(Scalar(b, p, Rho), slots[0]), b.Multiply(Scalar(b, p, 1 - Rho), b.Multiply(g, g)));
        var direction = b.Divide(g, b.Add(b.Sqrt(ms), Scalar(b, p, Epsilon)));
        if (Momentum == 0) return (b.Subtract(p, b.Multiply(Spread(b, lr, p), direction)), new[] { ms });
        var buffer = b.Add(b.Multiply(Scalar(b, p, Momentum), slots[1]), direction);
        return (b.Subtract(p, b.Multiply(Spread(b, lr, p), buffer)), new[] { ms, buffer });
    }
}
