using System.Globalization;

namespace XlaGen.Training;

/// <summary>Which value a callback watches: "loss", "val_loss", "accuracy", "val_accuracy" …</summary>
static class Monitor
{
    public static double? Read(EpochMetrics m, string name)
    {
        if (name == "loss") return m.Loss;
        if (name == "val_loss") return m.ValidationLoss;
        if (name.StartsWith("val_", StringComparison.Ordinal))
            return m.ValidationMetrics != null && m.ValidationMetrics.TryGetValue(name[4..], out var v) ? v : null;
        return m.Metrics.TryGetValue(name, out var t) ? t : null;
    }

    /// <summary>Losses and errors improve downwards, accuracies upwards (Keras' "auto" mode).</summary>
    public static bool HigherIsBetter(string name) => name.Contains("acc", StringComparison.Ordinal);

    public static double Value(EpochMetrics m, string name) =>
        Read(m, name) ?? throw new InvalidOperationException($"the monitored value '{name}' is not available after epoch {m.Epoch} " +
            $"(have: loss{string.Concat(m.Metrics.Keys.Select(k => ", " + k))}{(m.ValidationLoss == null ? "; pass Validation to Fit for val_ values" : ", val_loss" + string.Concat((m.ValidationMetrics ?? new Dictionary<string, double>()).Keys.Select(k => ", val_" + k)))})");
}

/// <summary>Stops training when the monitored value has not improved by <see cref="MinDelta"/> for <see cref="Patience"/>
/// epochs; optionally restores the parameters of the best epoch.</summary>
public sealed class EarlyStopping : ITrainingCallback
{
    double best = double.NaN;
    int wait;
    IReadOnlyDictionary<string, Tensor>? bestParameters;

    /// <summary>Early stopping on <paramref name="monitor"/>.</summary>
    /// <param name="monitor">The value watched: "loss", "val_loss" (the default; needs validation data), a metric name such as
    /// "accuracy", or "val_" and a metric name. Names containing "acc" improve upwards, all others downwards (Keras' "auto" mode).</param>
    /// <param name="patience">How many epochs without improvement are tolerated; training stops after the next one. Not negative; 3 by default.</param>
    /// <param name="minDelta">How much the value must beat the best so far by to count as an improvement; 0 by default.</param>
    /// <param name="restoreBestWeights">Whether to put back the parameters of the best epoch when training stops early (they are
    /// copied to the host at each improvement); false by default. Nothing is restored when training runs to the end.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="patience"/> is negative.</exception>
    public EarlyStopping(string monitor = "val_loss", int patience = 3, double minDelta = 0, bool restoreBestWeights = false)
    {
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must not be negative");
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
        RestoreBestWeights = restoreBestWeights;
    }

    /// <summary>The watched value's name ("val_loss", "accuracy", "val_accuracy" …).</summary>
    public string Monitor { get; }

    /// <summary>Epochs without improvement tolerated before stopping.</summary>
    public int Patience { get; }

    /// <summary>The least change over the best value so far that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether the best epoch's parameters are restored when training stops early.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>The epoch training stopped after (0 when it ran to the end).</summary>
    public int StoppedEpoch { get; private set; }

    /// <summary>The (1-based) epoch with the best monitored value so far; 0 before the first epoch ends.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>Compares the monitored value with the best so far, and asks Fit to stop once it has not improved for more than <see cref="Patience"/> epochs.</summary>
    /// <exception cref="InvalidOperationException">The monitored value is not among the epoch's metrics (a "val_" name without validation data, or a misspelled metric).</exception>
    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control)
    {
        var value = Training.Monitor.Value(metrics, Monitor);
        bool higher = Training.Monitor.HigherIsBetter(Monitor);
        bool improved = double.IsNaN(best) || (higher ? value > best + MinDelta : value < best - MinDelta);
        if (improved)
        {
            best = value;
            BestEpoch = metrics.Epoch;
            wait = 0;
            if (RestoreBestWeights) bestParameters = model.GetParameters();
            return;
        }
        if (++wait > Patience)
        {
            StoppedEpoch = metrics.Epoch;
            control.StopTraining = true;
        }
    }

    /// <summary>Restores the best epoch's parameters when <see cref="RestoreBestWeights"/> is set and training stopped early.</summary>
    public void OnTrainEnd(ModelRunner model, History history)
    {
        if (!RestoreBestWeights || bestParameters == null || StoppedEpoch == 0) return;
        foreach (var kv in bestParameters) model.SetParameter(kv.Key, kv.Value);
    }
}

/// <summary>Saves a checkpoint after every epoch (or only when the monitored value improves). The path may contain
/// {epoch}; each file is written atomically.</summary>
public sealed class ModelCheckpoint : ITrainingCallback
{
    double best = double.NaN;

    /// <summary>Checkpoints written to <paramref name="path"/> after each epoch.</summary>
    /// <param name="path">The safetensors file to write; "{epoch}" in it is replaced by the 1-based epoch number
    /// (<c>ckpt/epoch-{epoch}.safetensors</c>). Missing folders are created. Without {epoch} each save replaces the last.</param>
    /// <param name="monitor">The value compared when <paramref name="saveBestOnly"/> is set, named as for <see cref="EarlyStopping"/>; "val_loss" by default.</param>
    /// <param name="saveBestOnly">Whether to save only after epochs that improve <paramref name="monitor"/> on the best so far; false by default.</param>
    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false)
    {
        Path = path;
        Monitor = monitor;
        SaveBestOnly = saveBestOnly;
    }

    /// <summary>The checkpoint path, possibly containing "{epoch}".</summary>
    public string Path { get; }

    /// <summary>The value compared when <see cref="SaveBestOnly"/> is set.</summary>
    public string Monitor { get; }

    /// <summary>Whether only improving epochs are saved.</summary>
    public bool SaveBestOnly { get; }

    /// <summary>Files written, in order.</summary>
    public List<string> Saved { get; } = new();

    /// <summary>Saves the model (parameters and optimizer state, as <see cref="ModelRunner.Save"/>) unless <see cref="SaveBestOnly"/> is set and the epoch did not improve.</summary>
    /// <exception cref="InvalidOperationException"><see cref="SaveBestOnly"/> is set and the monitored value is not among the epoch's metrics.</exception>
    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control)
    {
        if (SaveBestOnly)
        {
            var value = Training.Monitor.Value(metrics, Monitor);
            bool higher = Training.Monitor.HigherIsBetter(Monitor);
            if (!double.IsNaN(best) && !(higher ? value > best : value < best)) return;
            best = value;
        }
        var path = Path.Replace("{epoch}", metrics.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        model.Save(path);
        Saved.Add(path);
    }
}

/// <summary>Keras' TerminateOnNaN: stops training as soon as the loss Fit reads is NaN or ±Inf, naming the epoch and the
/// step. Fit reads the loss every <see cref="FitOptions.MetricsEvery"/> steps and at the end of each epoch, so the step
/// named is where it was noticed; MetricsEvery = 1 names the first bad step.</summary>
public sealed class TerminateOnNaN : ITrainingCallback
{
    readonly TextWriter? output;

    /// <param name="output">Where the stop is announced; the console when null.</param>
    public TerminateOnNaN(TextWriter? output = null)
    {
        this.output = output;
    }

    /// <summary>Why training stopped, or null while it has not.</summary>
    public string? Message { get; private set; }

    /// <summary>The epoch (1-based) and the step within it where the non-finite loss was read; 0 while training has not stopped.</summary>
    public int StoppedEpoch { get; private set; }

    /// <summary>The step within <see cref="StoppedEpoch"/> at which the non-finite loss was read; 0 while training has not stopped.</summary>
    public long StoppedStep { get; private set; }

    /// <summary>Stops training (once) when <paramref name="loss"/> is NaN or infinite, and writes <see cref="Message"/> to the output.</summary>
    public void OnMetricsRead(ModelRunner model, int epoch, long step, double loss, TrainingControl control)
    {
        if (double.IsFinite(loss) || Message != null) return;
        StoppedEpoch = epoch;
        StoppedStep = step;
        Message = $"TerminateOnNaN: the loss of {model.ModelName} is {(double.IsNaN(loss) ? "NaN" : "infinite")} in epoch {epoch.ToString(CultureInfo.InvariantCulture)} " +
            $"at step {step.ToString(CultureInfo.InvariantCulture)} (optimizer step {model.Step.ToString(CultureInfo.InvariantCulture)}); training stopped";
        (output ?? Console.Out).WriteLine(Message);
        control.StopTraining = true;
    }

    /// <summary>Does nothing: the loss is checked in <see cref="OnMetricsRead"/>.</summary>
    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) { }
}
