namespace XlaGen.Training;

/// <summary>
/// A learning-rate schedule: the rate for a given optimizer step (0-based, the number of updates applied so far).
/// The rate is an input of the train-step program, so changing it never recompiles.
/// </summary>
public abstract record LearningRate
{
    /// <summary>The learning rate for optimizer step <paramref name="step"/> (0-based: the number of updates applied before this one).</summary>
    public abstract double At(long step);

    /// <summary>A constant rate: <c>new Adam(1e-3)</c> converts implicitly.</summary>
    public static implicit operator LearningRate(double value) => new ConstantLearningRate(value);

    /// <summary>The same rate <paramref name="value"/> at every step (as the implicit conversion from double).</summary>
    public static LearningRate Constant(double value) => new ConstantLearningRate(value);

    /// <summary>rate · factor^floor(step / every).</summary>
    public static LearningRate StepDecay(double initial, long every, double factor) => new StepDecayLearningRate(initial, every, factor);

    /// <summary>Linear warmup from 0 to <paramref name="peak"/> over <paramref name="warmupSteps"/>, then cosine decay to
    /// <paramref name="final"/> at <paramref name="totalSteps"/> (held there afterwards).</summary>
    public static LearningRate CosineWithWarmup(double peak, long warmupSteps, long totalSteps, double final = 0) =>
        new CosineLearningRate(peak, warmupSteps, totalSteps, final);

    /// <summary>Parameters for checkpoint metadata.</summary>
    public abstract string Describe();
}

/// <summary>The same rate at every step; made by <see cref="LearningRate.Constant"/> or the conversion from double.</summary>
/// <param name="Value">The rate (not validated).</param>
public sealed record ConstantLearningRate(double Value) : LearningRate
{
    /// <inheritdoc/>
    public override double At(long step) => Value;

    /// <inheritdoc/>
    public override string Describe() => $"constant({Value:R})";
}

/// <summary>Step decay: <c>Initial · Factor^floor(step / Every)</c>; made by <see cref="LearningRate.StepDecay"/>.</summary>
/// <param name="Initial">The rate of steps 0 to <paramref name="Every"/> − 1.</param>
/// <param name="Every">The number of steps between two decays; must be positive (checked by <see cref="At"/>).</param>
/// <param name="Factor">What the rate is multiplied by every <paramref name="Every"/> steps (0.1 for a tenfold drop).</param>
public sealed record StepDecayLearningRate(double Initial, long Every, double Factor) : LearningRate
{
    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="Every"/> is not positive.</exception>
    public override double At(long step)
    {
        if (Every <= 0) throw new ArgumentOutOfRangeException(nameof(Every), Every, "the decay interval must be positive");
        return Initial * Math.Pow(Factor, step / Every);
    }

    /// <inheritdoc/>
    public override string Describe() => $"step_decay({Initial:R}, every={Every}, factor={Factor:R})";
}

/// <summary>Linear warmup then cosine decay; made by <see cref="LearningRate.CosineWithWarmup"/>. During warmup step s
/// (0-based) has the rate <c>Peak·(s+1)/WarmupSteps</c>, so the last warmup step reaches <paramref name="Peak"/>; then the
/// rate follows half a cosine from <paramref name="Peak"/> down to <paramref name="Final"/> at <paramref name="TotalSteps"/>,
/// and stays at <paramref name="Final"/> afterwards.</summary>
/// <param name="Peak">The rate at the end of warmup.</param>
/// <param name="WarmupSteps">The number of warmup steps (0 for none).</param>
/// <param name="TotalSteps">The step at which the decay reaches <paramref name="Final"/>.</param>
/// <param name="Final">The rate from <paramref name="TotalSteps"/> on.</param>
public sealed record CosineLearningRate(double Peak, long WarmupSteps, long TotalSteps, double Final) : LearningRate
{
    /// <inheritdoc/>
    public override double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return Final;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Final + (Peak - Final) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <inheritdoc/>
    public override string Describe() => $"cosine(peak={Peak:R}, warmup={WarmupSteps}, total={TotalSteps}, final={Final:R})";
}
