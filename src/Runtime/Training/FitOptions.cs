namespace XlaGen.Training;

/// <summary>Options of <see cref="ModelRunner.Fit"/>, named after Keras' fit arguments.</summary>
public sealed record FitOptions
{
    /// <summary>How many more epochs to train.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Examples per step (Keras' default 32); the last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle each epoch (the order depends only on the seed and the epoch number, so runs are reproducible and resumable).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>The shuffling seed; the model's seed when null.</summary>
    public ulong? ShuffleSeed { get; init; }

    /// <summary>Evaluated after every epoch (val_loss and val_ metrics).</summary>
    public Data.Dataset? Validation { get; init; }

    /// <summary>Examples per step of the validation pass; <see cref="BatchSize"/> when null.</summary>
    public int? ValidationBatchSize { get; init; }

    /// <summary>Keras' validation_split: the fraction (0 ≤ f &lt; 1) of the training data, taken from its end before any
    /// shuffling, held out and evaluated after every epoch instead of <see cref="Validation"/> (setting both is an error).</summary>
    public double ValidationSplit { get; init; }

    /// <summary>Keras' class_weight: each training example's loss term is multiplied by the weight of its class (classes
    /// left out weigh 1), so rare classes count more. Works with a [Loss] whose sparse cross-entropy takes the labels
    /// input directly and averages over the batch; the reported loss is the weighted one, metrics and validation are
    /// unweighted (as in Keras).</summary>
    public IReadOnlyDictionary<int, double>? ClassWeights { get; init; }

    /// <summary>Called after every epoch and metrics read (EarlyStopping, ModelCheckpoint, TensorBoard, TerminateOnNaN, yours).</summary>
    public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = Array.Empty<ITrainingCallback>();

    /// <summary>Print a progress bar (a terminal) or progress lines (redirected output).</summary>
    public bool Verbose { get; init; } = true;

    /// <summary>Where progress goes; the console when null.</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Check, before any step runs, that every class index of a sparse loss (training and validation data) is in
    /// [0, classes); a bad one throws an ArgumentException naming the row, its value and the range. One pass over the
    /// label columns; set false to skip it when the data is known to be clean.</summary>
    public bool CheckLabels { get; init; } = true;

    /// <summary>Check, before any step runs, that every floating-point input (training and validation data) is finite;
    /// a NaN or ±Inf throws an ArgumentException naming the input, row and column. Off by default (a pass over all inputs).</summary>
    public bool CheckInputs { get; init; }

    /// <summary>Keras' steps_per_execution: how many train steps run in one device call (default 1). With K &gt; 1, Fit
    /// stacks K full batches into one upload per column and runs a program that loops the train step K times on the
    /// device, which saves K − 1 dispatches (and, on a remote device, round trips) per K steps. The results are bitwise
    /// those of K single steps: each step sees its own batch, learning rate (the schedule is evaluated per step) and
    /// random draws. An epoch's leftover batches (fewer than K full ones, and a last partial batch) run as single steps.
    /// As in Keras, the running loss and metrics are read, and <see cref="ITrainingCallback.OnMetricsRead"/> called,
    /// only between device calls: after the call that brings the steps since the last read to <see cref="MetricsEvery"/> or more, and at the end of each epoch.
    /// On a replicated device (several replicas) Fit runs single steps whatever K is. Must be at least 1.</summary>
    public int StepsPerExecution { get; init; } = 1;

    /// <summary>Steps between reads of the running loss and metrics from the device (for the progress display).</summary>
    public int MetricsEvery { get; init; } = 50;
}

/// <summary>Loss and metrics over a dataset.</summary>
public sealed record EvaluationResult(double Loss, IReadOnlyDictionary<string, double> Metrics, long Examples)
{
    /// <summary>"loss 0.3121, accuracy 0.8874 (10000 examples)".</summary>
    public override string ToString() =>
        $"loss {Loss:F4}" + string.Concat(Metrics.Select(m => $", {m.Key} {m.Value:F4}")) + $" ({Examples} examples)";
}

/// <summary>Lets a callback stop training after the current epoch.</summary>
public sealed class TrainingControl
{
    /// <summary>Set to stop Fit (after the epoch, or at once from a mid-epoch read).</summary>
    public bool StopTraining { get; set; }
}

/// <summary>Called by Fit after every epoch and at the end.</summary>
public interface ITrainingCallback
{
    /// <summary>After every epoch, with what it measured (validation included).</summary>
    void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control);

    /// <summary>When Fit returns, with its whole history.</summary>
    void OnTrainEnd(ModelRunner model, History history) { }

    /// <summary>Called when Fit reads the running loss from the device (every <see cref="FitOptions.MetricsEvery"/> steps):
    /// <paramref name="step"/> is the number of steps done in epoch <paramref name="epoch"/> (1-based), <paramref name="loss"/>
    /// the epoch's mean loss so far. Setting <c>control.StopTraining</c> here stops at once, mid-epoch.</summary>
    void OnMetricsRead(ModelRunner model, int epoch, long step, double loss, TrainingControl control) { }

    /// <summary>Called right after <see cref="OnMetricsRead"/>, with everything Fit read then: the epoch's running loss
    /// and metrics and the learning rate of the last step (see <see cref="StepMetrics"/>).</summary>
    void OnStepMetrics(ModelRunner model, StepMetrics metrics, TrainingControl control) { }
}

/// <summary>What Fit read from the device mid-epoch (every <see cref="FitOptions.MetricsEvery"/> steps and at the end of
/// each epoch): the means over the epoch so far, as Keras' batch-level logs.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="GlobalStep">Optimizer steps done in all (<see cref="ModelRunner.Step"/>).</param>
/// <param name="Loss">The mean loss over the epoch's steps so far.</param>
/// <param name="Metrics">The mean of each metric over the epoch's steps so far.</param>
/// <param name="LearningRate">The learning rate the last step used.</param>
public sealed record StepMetrics(int Epoch, long Step, long GlobalStep, double Loss, IReadOnlyDictionary<string, double> Metrics, double LearningRate);
