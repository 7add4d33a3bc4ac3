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

    public EarlyStopping(string monitor = "val_loss", int patience = 3, double minDelta = 0, bool restoreBestWeights = false)
    {
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must not be negative");
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
        RestoreBestWeights = restoreBestWeights;
    }

    public string Monitor { get; }

    public int Patience { get; }

    public double MinDelta { get; }

    public bool RestoreBestWeights { get; }

    /// <summary>The epoch training stopped after (0 when it ran to the end).</summary>
    public int StoppedEpoch { get; private set; }

    public int BestEpoch { get; private set; }

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

    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false)
    {
        Path = path;
        Monitor = monitor;
        SaveBestOnly = saveBestOnly;
    }

    public string Path { get; }

    public string Monitor { get; }

    public bool SaveBestOnly { get; }

    /// <summary>Files written, in order.</summary>
    public List<string> Saved { get; } = new();

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

    public long StoppedStep { get; private set; }

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

    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) { }
}
