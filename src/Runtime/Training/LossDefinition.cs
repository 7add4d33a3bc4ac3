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
    /// <summary>The record the generator emits for a [Loss] method; not meant to be built by hand.</summary>
    /// <param name="method">The [Loss] method's name.</param>
    /// <param name="inputs">Its tensor inputs, in parameter order.</param>
    /// <param name="symbols">The symbolic dims of the inputs, in the order <paramref name="buildProgram"/> takes their values.</param>
    /// <param name="batchSymbol">The symbolic dim that is the batch size, shared by every input's first dimension.</param>
    /// <param name="metrics">The names of the metrics the loss functions contribute, in the program's result order.</param>
    /// <param name="trainableParameters">The trainable parameters, in the order of their gradients in the result.</param>
    /// <param name="buildProgram">Builds the loss program for the values of <paramref name="symbols"/>.</param>
    /// <param name="labelRanges">Inputs that hold class indices, checked before any step; null means none.</param>
    /// <param name="hasTrainingMode">Whether the program takes the rng state and training flag (Dropout); false by default.</param>
    /// <param name="stateUpdates">Non-trainable parameters the program updates; null means none.</param>
    /// <param name="observations">What kind of prediction each (prediction, target) pair in the result is; null means none.</param>
    /// <param name="hasSampleWeight">Whether the program takes per-sample weights; false by default.</param>
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

    /// <summary>The name of the [Loss] method.</summary>
    public string Method { get; }

    /// <summary>The method's tensor inputs (data and labels), in parameter order.</summary>
    public IReadOnlyList<LossInput> Inputs { get; }

    /// <summary>The symbolic dims of the inputs, in the order <see cref="BuildProgram"/> takes them.</summary>
    public IReadOnlyList<string> Symbols { get; }

    /// <summary>The symbolic dim that is the batch size (B); Fit binds it to the batch size.</summary>
    public string BatchSymbol { get; }

    /// <summary>The metric names the loss functions contribute, in the order their means follow the loss in the program's result.</summary>
    public IReadOnlyList<string> Metrics { get; }

    /// <summary>The trainable parameters, in the order their gradients follow the metrics in the program's result.</summary>
    public IReadOnlyList<string> TrainableParameters { get; }

    /// <summary>Builds the loss program for the values of <see cref="Symbols"/>, in that order.</summary>
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
