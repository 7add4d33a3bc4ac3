namespace XlaGen.Training;

/// <summary>
/// A learning-rate schedule: the rate for a given optimizer step (0-based, the number of updates applied so far).
/// The rate is an input of the train-step program, so changing it never recompiles.
/// </summary>
public abstract record LearningRate
{
    public abstract double At(long step);

    /// <summary>A constant rate: <c>new Adam(1e-3)</c> converts implicitly.</summary>
    public static implicit operator LearningRate(double value) => new ConstantLearningRate(value);

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

public sealed record ConstantLearningRate(double Value) : LearningRate
{
    public override double At(long step) => Value;

    public override string Describe() => $"constant({Value:R})";
}

public sealed record StepDecayLearningRate(double Initial, long Every, double Factor) : LearningRate
{
    public override double At(long step)
    {
        if (Every <= 0) throw new ArgumentOutOfRangeException(nameof(Every), Every, "the decay interval must be positive");
        return Initial * Math.Pow(Factor, step / Every);
    }

    public override string Describe() => $"step_decay({Initial:R}, every={Every}, factor={Factor:R})";
}

public sealed record CosineLearningRate(double Peak, long WarmupSteps, long TotalSteps, double Final) : LearningRate
{
    public override double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return Final;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Final + (Peak - Final) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    public override string Describe() => $"cosine(peak={Peak:R}, warmup={WarmupSteps}, total={TotalSteps}, final={Final:R})";
}
