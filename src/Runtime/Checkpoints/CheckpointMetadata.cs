using System.Globalization;

namespace XlaGen.Checkpoints;

/// <summary>
/// The ranges a checkpoint's training state must lie in, checked when it is loaded (before anything changes), so a
/// corrupt or hostile file is refused with its key, value and range instead of resuming into NaN. The step is an s32
/// counter on the device (Adam's bias correction raises beta to it), so it must stay far from overflowing.
/// </summary>
internal static class CheckpointMetadata
{
    /// <summary>Most optimizer steps a checkpoint may record: 2^30, half the s32 device counter, so a resumed run
    /// still has 2^30 steps before it overflows.</summary>
    public const long MaxStep = 1L << 30;

    /// <summary>Most completed epochs a checkpoint may record.</summary>
    public const int MaxEpoch = 10_000_000;

    /// <summary>The value of <paramref name="key"/> as an integer in [0, <paramref name="max"/>], or null when absent.</summary>
    public static long? Integer(SafetensorsFile file, string key, long max)
    {
        if (!file.Metadata.TryGetValue(key, out var text)) return null;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            throw new CheckpointException($"{file.Path}: metadata '{key}' is '{Shorten(text)}', not a non-negative integer (allowed: 0 to {max.ToString(CultureInfo.InvariantCulture)})");
        if (value > max)
            throw new CheckpointException($"{file.Path}: metadata '{key}' is {value.ToString(CultureInfo.InvariantCulture)}, outside the allowed range 0 to {max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>The value of <paramref name="key"/> as any unsigned 64-bit integer, or null when absent.</summary>
    public static ulong? Unsigned(SafetensorsFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var text)) return null;
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
            throw new CheckpointException($"{file.Path}: metadata '{key}' is '{Shorten(text)}', not a non-negative integer (allowed: 0 to {ulong.MaxValue.ToString(CultureInfo.InvariantCulture)})");
        return value;
    }

    /// <summary>Descriptions of the learning rate and the optimizer (<c>constant(0.001)</c>, <c>adam(beta1=0.9, …)</c>):
    /// every number in them must be finite and non-negative (rates, decay factors, betas, epsilons, step counts).</summary>
    public static void CheckNumbers(SafetensorsFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var text)) return;
        foreach (var token in text.Split(new[] { '(', ')', ',', '=', ' ' }, StringSplitOptions.RemoveEmptyEntries))
        {
            bool isNumber = double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value);
            bool nonFinite = isNumber ? !double.IsFinite(value) : token is "∞" or "-∞" || token.Contains("NaN", StringComparison.OrdinalIgnoreCase);
            if (nonFinite || (isNumber && value < 0))
                throw new CheckpointException($"{file.Path}: metadata '{key}' is '{Shorten(text)}', whose number {token} is outside the allowed range (finite and at least 0)");
        }
    }

    /// <summary>The optimizer step counters the file holds (<c>optimizer.NAME.step</c>, s32 scalars): each in [0, <see cref="MaxStep"/>].</summary>
    public static void CheckStepTensors(SafetensorsFile file)
    {
        foreach (var name in file.Names)
        {
            if (!name.StartsWith("optimizer.", StringComparison.Ordinal) || !name.EndsWith(".step", StringComparison.Ordinal)) continue;
            if (file.Tensors[name] is not Tensor<int> { ElementCount: 1 } counter) continue; // a wrong shape or type is Verify's to report
            int value = counter.Data[0];
            if (value < 0 || value > MaxStep)
                throw new CheckpointException($"{file.Path}: tensor '{name}' (the optimizer step) is {value.ToString(CultureInfo.InvariantCulture)}, outside the allowed range 0 to {MaxStep.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
