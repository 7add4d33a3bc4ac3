using XlaGen.Hlo;

namespace XlaGen.Training;

/// <summary>A tensor input of a [Loss] method: name, element type and dims pattern ("B", "784").</summary>
public sealed record LossInput(string Name, ElementType ElementType, string[] Dims);

/// <summary>Input <see cref="Input"/> of a loss holds class indices in [0, <see cref="Classes"/>) for <see cref="Loss"/>
/// (a sparse loss, whose logits have that many classes); Fit and Evaluate check it before any step runs.</summary>
public sealed record LabelRange(int Input, long Classes, string Loss);

/// <summary>
/// What the generator recorded about a model's [Loss] method: its inputs, the symbolic batch dimension they share,
/// the metrics its loss functions contribute, the trainable parameters, and the builder of its program, whose
/// result is (loss, metric means…, gradients of the trainable parameters…, new values of <see cref="StateUpdates"/>…,
/// (prediction, target) per entry of <see cref="Observations"/>).
/// </summary>
public sealed class LossDefinition
{
    public LossDefinition(string method, IReadOnlyList<LossInput> inputs, IReadOnlyList<string> symbols, string batchSymbol,
        IReadOnlyList<string> metrics, IReadOnlyList<string> trainableParameters, Func<long[], HloModule> buildProgram,
        IReadOnlyList<LabelRange>? labelRanges = null, bool hasTrainingMode = false, IReadOnlyList<string>? stateUpdates = null,
        IReadOnlyList<PredictionKind>? observations = null, bool hasSampleWeight = false)
    {
        HasSampleWeight = hasSampleWeight;
        Observations = observations ?? Array.Empty<PredictionKind>();
        StateUpdates = stateUpdates ?? Array.Empty<string>();
        HasTrainingMode = hasTrainingMode;
        LabelRanges = labelRanges ?? Array.Empty<LabelRange>();
        Method = method;
        Inputs = inputs;
        Symbols = symbols;
        BatchSymbol = batchSymbol;
        Metrics = metrics;
        TrainableParameters = trainableParameters;
        BuildProgram = buildProgram;
    }

    public string Method { get; }

    public IReadOnlyList<LossInput> Inputs { get; }

    /// <summary>The symbolic dims of the inputs, in the order <see cref="BuildProgram"/> takes them.</summary>
    public IReadOnlyList<string> Symbols { get; }

    public string BatchSymbol { get; }

    public IReadOnlyList<string> Metrics { get; }

    public IReadOnlyList<string> TrainableParameters { get; }

    public Func<long[], HloModule> BuildProgram { get; }

    /// <summary>True when the loss draws random bits (Dropout): its program then takes the rng state (u64[3]) and the
    /// training flag (pred[]) after the model parameters (<see cref="XlaGen.Surface.TrainingMode"/>).</summary>
    public bool HasTrainingMode { get; }

    /// <summary>Non-trainable parameters the loss updates (BatchNorm's moving statistics): its program returns their new
    /// values after the gradients, in this order, and the train step writes them back.</summary>
    public IReadOnlyList<string> StateUpdates { get; }

    /// <summary>True when the loss weights its examples (a sparse cross-entropy over the batch's rows): its program takes
    /// <c>sample_weight</c> (f32[batch]) after the model parameters (and the rng state and training flag, by name). The
    /// train step takes it as one more batch column after the inputs (FitOptions.ClassWeights looked up by label, else
    /// ones); evaluation passes ones.</summary>
    public bool HasSampleWeight { get; }

    /// <summary>The (prediction, target) pairs the program returns last, two outputs each, for the metric objects chosen in
    /// <c>Compile(optimizer, metrics)</c>: what each prediction is. Those written with <c>Losses.Observe</c>, else the
    /// built-in losses' own arguments.</summary>
    public IReadOnlyList<PredictionKind> Observations { get; }

    /// <summary>The index in the program's result tuple of observation <paramref name="k"/>'s prediction (its target follows).</summary>
    public int ObservationOutput(int k) => 1 + Metrics.Count + TrainableParameters.Count + StateUpdates.Count + 2 * k;

    /// <summary>Inputs holding class indices, with their valid range (the generator records them for sparse losses).</summary>
    public IReadOnlyList<LabelRange> LabelRanges { get; }

    /// <summary>Binds the symbols from a batch's tensors (validating them) and returns their values in <see cref="Symbols"/> order.</summary>
    public long[] Bind(string program, IReadOnlyList<Tensor> batch) => Bind(program, batch, withSampleWeight: false);

    /// <summary>As <see cref="Bind(string, IReadOnlyList{Tensor})"/>; with <paramref name="withSampleWeight"/> the batch
    /// carries the sample weights as one more column after the inputs, which binds nothing.</summary>
    internal long[] Bind(string program, IReadOnlyList<Tensor> batch, bool withSampleWeight)
    {
        if (withSampleWeight && batch.Count == Inputs.Count + 1) batch = batch.Take(Inputs.Count).ToList();
        if (batch.Count != Inputs.Count)
            throw new ArgumentException($"{program}: the loss takes {Inputs.Count} inputs ({string.Join(", ", Inputs.Select(i => i.Name))}), the data has {batch.Count} columns");
        var binder = new ShapeBinder(program);
        for (int i = 0; i < Inputs.Count; i++) binder.Bind(Inputs[i].Name, batch[i], Inputs[i].ElementType, Inputs[i].Dims);
        return Symbols.Select(s => (long)binder[s]).ToArray();
    }
}
