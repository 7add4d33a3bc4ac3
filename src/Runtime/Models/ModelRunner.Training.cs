using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using XlaGen.Checkpoints;
using XlaGen.Data;
using XlaGen.Hlo;
using XlaGen.Training;

namespace XlaGen;

// Training: Compile (choose the optimizer), Fit, Evaluate, TrainStep, Save and Load. Parameters, optimizer state,
// the step counter and the metric accumulators live on the device; every train step donates them and gets them
// back updated in place; the host reads the accumulators only every few steps.
public abstract partial class ModelRunner
{
    DeviceBuffer[]? slots;
    DeviceBuffer? stepBuffer;
    (double Value, DeviceBuffer Buffer)? learningRateBuffer;
    TrainingPrograms.Layout? layout;
    readonly ConcurrentDictionary<string, IExecutable> trainPrograms = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, IExecutable> evalPrograms = new(StringComparer.Ordinal);
    SavedOptimizerState? pendingOptimizerState;
    bool shuffleSeedSet;

    /// <summary>The [Loss] method's definition, or null when the model has none (then it can only run forward).</summary>
    public LossDefinition? Loss { get; }

    /// <summary>The optimizer chosen with <see cref="Compile"/>, or null.</summary>
    public Optimizer? Optimizer { get; private set; }

    /// <summary>Optimizer updates applied so far.</summary>
    public long Step { get; private set; }

    /// <summary>Epochs <see cref="Fit"/> has completed (the next Fit continues from here, shuffling by epoch number).</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>The seed of the per-epoch shuffle: the last one Fit used or a checkpoint restored, else the model's seed.
    /// Together with the epoch number it is the whole state of the data order, so it is saved in checkpoints.</summary>
    public ulong ShuffleSeed { get; private set; }

    LossDefinition RequireLoss() =>
        Loss ?? throw new InvalidOperationException($"{ModelName} has no [Loss] method, so it cannot be trained or evaluated; add one, e.g. [Loss] public Tensor<float> Loss(...) => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels);");

    /// <summary>Chooses the optimizer (Keras' compile): its state starts at zero and the step counter at 0, unless a
    /// checkpoint loaded before carried state; that state must be the same optimizer's (same name, one slot of each
    /// trainable parameter's shape and element type per slot name) or Compile throws a <see cref="CheckpointException"/>
    /// naming what differs and changes nothing. Load and Compile commute: Load-then-Compile and Compile-then-Load
    /// restore the same state or fail with the same differences.</summary>
    /// <param name="optimizer">The optimizer and its learning rate (schedule).</param>
    /// <param name="metrics">Metric objects computed on the device inside the train and eval steps, from the prediction and
    /// target the [Loss] method observes (the built-in losses observe their arguments; a hand-written loss calls
    /// <c>Losses.Observe</c>): e.g. <c>[new Accuracy(), new SparseTopKAccuracy(5), new Auc()]</c>. When null, the metrics
    /// the loss functions contribute (accuracy of a cross-entropy, mae of a squared error); an empty list reports the loss only.
    /// Evaluate reports the same metrics.</param>
    public void Compile(Optimizer optimizer, IReadOnlyList<Metric>? metrics = null)
    {
        ThrowIfDisposed();
        var loss = RequireLoss();
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.CheckClipping();
        var plan = metrics == null ? MetricPlan.Default(loss) : MetricPlan.For(loss, metrics, $"{ModelName}.Compile");
        var newLayout = TrainingPrograms.LayoutOf(loss, ParameterSpecs, optimizer, plan);
        if (pendingOptimizerState != null) VerifyOptimizerState(pendingOptimizerState, optimizer, newLayout, compiling: true);
        var (newSlots, newStep, step) = UploadOptimizerState(optimizer, newLayout, pendingOptimizerState);
        // Everything is checked and on the device: from here nothing throws.
        DisposeOptimizerState();
        Optimizer = optimizer;
        layout = newLayout;
        foreach (var p in trainPrograms.Values) p.Dispose();
        trainPrograms.Clear();
        foreach (var p in evalPrograms.Values) p.Dispose();
        evalPrograms.Clear();
        donated = null;
        lastTrainStep = null;
        trainExecuteOptions = null;
        slots = newSlots;
        stepBuffer = newStep;
        Step = step;
        pendingOptimizerState = null;
    }

    /// <summary>Optimizer state read from a checkpoint: where it came from, the optimizer it describes (metadata), its tensors.</summary>
    sealed record SavedOptimizerState(string Source, string? Description, Dictionary<string, Tensor> Tensors);

    /// <summary>Throws a <see cref="CheckpointException"/> unless <paramref name="saved"/> is exactly the state
    /// <paramref name="optimizer"/> keeps for this model: the same optimizer name, and for every trainable parameter one
    /// tensor per slot with the parameter's shape and element type, plus the s32[] step counter.</summary>
    void VerifyOptimizerState(SavedOptimizerState saved, Optimizer optimizer, TrainingPrograms.Layout l, bool compiling = false)
    {
        var savedNames = saved.Tensors.Keys.Select(k => k.Split('.') is { Length: >= 3 } parts ? parts[1] : k)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (savedNames.Count != 1 || savedNames[0] != optimizer.Name)
        {
            var savedSlots = saved.Tensors.Keys.Select(k => k.Split('.')).Where(parts => parts.Length >= 4)
                .Select(parts => parts[2]).Distinct(StringComparer.Ordinal).ToList();
            var savedText = (saved.Description ?? string.Join("+", savedNames)) + " (slots: " + (savedSlots.Count == 0 ? "none" : string.Join(", ", savedSlots)) + ")";
            var compiledText = optimizer.Describe() + " (slots: " + (optimizer.Slots.Count == 0 ? "none" : string.Join(", ", optimizer.Slots)) + ")";
            throw new CheckpointException(
                $"{saved.Source} holds optimizer state of {savedText}, but {ModelName} is {(compiling ? "being compiled" : "compiled")} with {compiledText}; "
                + $"compile with the optimizer the checkpoint was saved with to resume it (to change optimizers, copy the weights with SetParameter instead of Load)");
        }
        var expected = new List<(string, ElementType, long[])>();
        foreach (var t in l.Trainable)
        {
            foreach (var slot in optimizer.Slots) expected.Add((SlotName(optimizer, slot, ParameterSpecs[t].Path), ParameterSpecs[t].ElementType, ParameterSpecs[t].Dims));
        }
        expected.Add((StepName(optimizer), ElementType.S32, Array.Empty<long>()));
        var names = saved.Tensors.Keys.Order(StringComparer.Ordinal).ToList();
        Safetensors.Verify(new SafetensorsFile(saved.Source, names, saved.Tensors, new Dictionary<string, string>()), expected,
            $"the state of {optimizer.Describe()} for {ModelName}");
    }

    /// <summary>Uploads the optimizer state (<paramref name="saved"/>, already verified, or zeros) and returns it with
    /// the step counter; if an upload fails, what was uploaded is released and nothing else changes.</summary>
    (DeviceBuffer[] Slots, DeviceBuffer Step, long StepValue) UploadOptimizerState(Optimizer optimizer, TrainingPrograms.Layout l, SavedOptimizerState? saved)
    {
        var state = new List<DeviceBuffer>();
        try
        {
            foreach (var t in l.Trainable)
            {
                foreach (var slot in optimizer.Slots)
                {
                    var value = saved?.Tensors[SlotName(optimizer, slot, ParameterSpecs[t].Path)]
                        ?? Tensor.FromLiteral(Literal.FromDoubles(ParameterSpecs[t].Shape, new double[ParameterSpecs[t].ElementCount]));
                    state.Add(Device.Upload(value));
                }
            }
            int step = saved == null ? 0 : ((Tensor<int>)saved.Tensors[StepName(optimizer)]).Data[0];
            var stepBuffer = Device.Upload(Tensor<int>.Scalar(step));
            return (state.ToArray(), stepBuffer, step);
        }
        catch
        {
            foreach (var b in state) b.Dispose();
            throw;
        }
    }

    TrainingPrograms.Layout RequireCompiled() =>
        layout ?? throw new InvalidOperationException($"{ModelName}: call Compile(optimizer) before training, e.g. model.Compile(new Adam(1e-3))");

    static string SlotName(Optimizer optimizer, string slot, string path) => $"optimizer.{optimizer.Name}.{slot}.{path}";

    static string StepName(Optimizer optimizer) => "optimizer." + optimizer.Name + ".step";

    string BindingKey(long[] bindings) => string.Join(",", bindings);

    string ProgramKey(long[] bindings, int shards) => shards == 1 ? BindingKey(bindings) : BindingKey(bindings) + "/" + shards;

    /// <summary>Train steps compiled so far, by their symbol bindings: "128" is a step for batches of 128 (on one device,
    /// or run whole by every replica when a batch does not divide by the replica count); "16/4" one for 16 examples
    /// per replica on 4 replicas (a global batch of 64); "128*16" sixteen steps on batches of 128 in one program
    /// (<see cref="FitOptions.StepsPerExecution"/>).</summary>
    public IReadOnlyCollection<string> CompiledTrainSteps => trainPrograms.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>The executable of a compiled train step (key from <see cref="CompiledTrainSteps"/>), for benchmarks.</summary>
    internal IExecutable? CompiledTrainStep(string key) => trainPrograms.TryGetValue(key, out var e) ? e : null;

    /// <summary>The train step for one replica's batch (<paramref name="bindings"/>, <paramref name="batchSize"/>), with the
    /// gradient all-reduce when <paramref name="shards"/> replicas each run a slice of the batch.</summary>
    IExecutable TrainProgram(long[] bindings, long batchSize, int shards)
    {
        var loss = RequireLoss();
        RecordBindings(loss.Method, bindings);
        return trainPrograms.GetOrAdd(ProgramKey(bindings, shards), _ =>
            Device.CompileHlo(TrainingPrograms.TrainStep(loss.BuildProgram(bindings), loss, ParameterSpecs, Optimizer!, batchSize, shards, RandomKey, layout!.Plan)));
    }

    /// <summary>The philox key of the train step's random draws (Dropout), derived from <see cref="Seed"/>: the draws of
    /// step s on replica r use the counter (r, s), so they depend only on the seed, the replica and the step, on every backend.</summary>
    public ulong RandomKey => new SplitMix64(unchecked((ulong)(long)Seed) ^ 0x64726F706F757421UL).NextUInt64();   // "dropout!"

    IExecutable EvalProgram(long[] bindings, long batchSize, int shards)
    {
        var loss = RequireLoss();
        RecordBindings(loss.Method, bindings);
        var plan = MetricPlan;
        return evalPrograms.GetOrAdd(ProgramKey(bindings, shards), _ => Device.CompileHlo(TrainingPrograms.EvalStep(loss.BuildProgram(bindings), loss, batchSize, shards, plan)));
    }

    /// <summary>The metrics Fit and Evaluate report: those chosen in <see cref="Compile"/>, else the loss functions' own.</summary>
    MetricPlan MetricPlan => layout?.Plan ?? MetricPlan.Default(RequireLoss());

    /// <summary>The names of the metrics Fit and Evaluate report (besides the loss), in order.</summary>
    public IReadOnlyList<string> MetricNames => Loss == null ? Array.Empty<string>() : MetricPlan.MetricNames;

    DeviceBuffer[] ZeroAccumulators(MetricPlan plan) =>
        UploadAll(plan.AccumulatorShapes.Select(shape => (Tensor)new Tensor<float>(shape.ConcreteDims(), new float[shape.ElementCount])).ToArray());

    DeviceBuffer LearningRateBuffer(double value)
    {
        if (learningRateBuffer is { } cached && cached.Value == value) return cached.Buffer;
        learningRateBuffer?.Buffer.Dispose();
        var b = Device.Upload(Tensor<float>.Scalar((float)value));
        learningRateBuffer = (value, b);
        return b;
    }

    /// <summary>One optimizer step on one batch (the columns in the [Loss] method's input order). Returns the batch's loss
    /// and metrics (this reads them back, so prefer Fit, which reads every few steps).</summary>
    public StepResult TrainStep(params Tensor[] batch)
    {
        CheckData($"{ModelName}.TrainStep", "batch", batch, checkLabels: true, checkInputs: false, "use Fit with FitOptions.CheckLabels = false", "");
        var loss = RequireLoss();
        if (batch.Length != loss.Inputs.Count)
            throw new ArgumentException($"{ModelName}.TrainStep: the loss takes {loss.Inputs.Count} inputs ({string.Join(", ", loss.Inputs.Select(i => i.Name))}), the batch has {batch.Length} columns");
        if (loss.HasSampleWeight) batch = batch.Append(SampleWeights.Ones(batch[0].Shape.Count == 0 ? 1 : batch[0].Shape[0])).ToArray();
        var accumulators = ZeroAccumulators(RequireCompiled().Plan);
        try
        {
            RunTrainStep(batch, accumulators);
            var values = ReadAccumulators(RequireCompiled().Plan, accumulators);
            return new StepResult(values.Loss, values.Metrics);
        }
        finally
        {
            foreach (var a in accumulators) a.Dispose();
        }
    }

    /// <summary>What <see cref="TrainStep"/> returns: the batch's values, computed before the update.</summary>
    /// <param name="Loss">The batch's mean loss.</param>
    /// <param name="Metrics">The batch's metrics by name ("accuracy" …).</param>
    public sealed record StepResult(double Loss, IReadOnlyDictionary<string, double> Metrics);

    void RunTrainStep(IReadOnlyList<Tensor> batch, DeviceBuffer[] accumulators)
    {
        ThrowIfDisposed();
        var uploaded = UploadColumns(batch);
        try
        {
            RunTrainStep(uploaded, LearningRateBuffer(Optimizer!.LearningRate.At(Step)), accumulators);
        }
        finally
        {
            foreach (var u in uploaded.Buffers) u.Dispose();
        }
    }

    /// <summary>A train step on a staged batch: its columns are on the device already, and so is its learning rate
    /// when the schedule changed it (the runner then keeps that buffer for the steps that follow).</summary>
    void RunTrainStep(StagedBatch staged, DeviceBuffer[] accumulators)
    {
        ThrowIfDisposed();
        if (staged.LearningRateBuffer is { } fresh)
        {
            learningRateBuffer?.Buffer.Dispose();
            learningRateBuffer = (staged.LearningRate, fresh);
            staged.LearningRateBuffer = null;
        }
        RunTrainStep(staged.Placement, LearningRateBuffer(staged.LearningRate), accumulators);
    }

    void RunTrainStep(UploadedColumns uploaded, DeviceBuffer learningRate, DeviceBuffer[] accumulators)
    {
        var l = RequireCompiled();
        var program = lastTrainStep is { } last && ReferenceEquals(last.Layout, l) && last.Shards == uploaded.Shards && SameDims(last.ColumnDims, uploaded.BindColumns)
            ? last.Program
            : LookUpTrainStep(l, uploaded);
        RunStepProgram(program, l, uploaded.Buffers, learningRate, accumulators);
        Step++;
    }

    /// <summary>Runs a train-step program (one step or K) on the batch's columns with the parameters, optimizer slots,
    /// step counter, learning rate(s) and metric accumulators, and takes its outputs as their new values (the donated
    /// old ones are gone). The argument array and the execute options are reused from step to step.</summary>
    void RunStepProgram(IExecutable program, TrainingPrograms.Layout l, DeviceBuffer[] columns, DeviceBuffer learningRate, DeviceBuffer[] accumulators)
    {
        var args = trainArguments?.Length == l.ParameterCount ? trainArguments : trainArguments = new DeviceBuffer[l.ParameterCount];
        for (int i = 0; i < columns.Length; i++) args[i] = columns[i];
        for (int i = 0; i < parameters.Length; i++) args[l.Inputs + i] = parameters[i];
        for (int i = 0; i < slots!.Length; i++) args[l.SlotsStart + i] = slots[i];
        args[l.StepIndex] = stepBuffer!;
        args[l.LearningRateIndex] = learningRate;
        for (int i = 0; i < accumulators.Length; i++) args[l.AccumulatorsStart + i] = accumulators[i];
        DeviceBuffer[] outputs;
        try
        {
            var options = trainExecuteOptions ??= new ExecuteOptions { DonatedArguments = Donated(l) };
            if (program is IInPlaceExecutable inPlace)
            {
                // the CPU executor: every output updates its donated input's handle, into a reused results array
                int count = l.Trainable.Length + slots.Length + 1 + accumulators.Length + l.StateUpdates.Length;
                outputs = trainResults?.Length == count ? trainResults : trainResults = new DeviceBuffer[count];
                inPlace.ExecuteInPlace(args, options, outputs);
            }
            else outputs = Dispatch(program, args, options);
        }
        finally
        {
            Array.Clear(args);
        }
        int o = 0;
        foreach (var t in l.Trainable) parameters[t] = outputs[o++];
        for (int i = 0; i < slots.Length; i++) slots[i] = outputs[o++];
        stepBuffer = outputs[o++];
        for (int i = 0; i < accumulators.Length; i++) accumulators[i] = outputs[o++];
        foreach (var p in l.StateUpdates) parameters[p] = outputs[o++];
        if (ReferenceEquals(outputs, trainResults)) Array.Clear(outputs);
    }

    /// <summary>The train step the previous step ran, with the column dims it was bound for: a step on batches of the
    /// same dims reuses it without binding shapes or building its key again (that was most of a step's allocations).</summary>
    sealed record TrainStepCache(TrainingPrograms.Layout Layout, long[][] ColumnDims, int Shards, IExecutable Program);

    TrainStepCache? lastTrainStep;

    /// <summary>
    /// <paramref name="data"/> with the sample-weight column of ones appended, the same dataset object for the same
    /// data on every Fit call: its batch pool then serves the next call too. A fresh wrapper per call gathered every
    /// batch into fresh arrays (400 KB large objects for the MLP's images; with K = 16 steps per execution, 34 of them
    /// per call and a gen-2 collection every few calls).
    /// </summary>
    Dataset WithOnesColumn(Dataset data)
    {
        lock (withOnes)
        {
            if (withOnes.TryGetValue(data, out var wrapped)) return wrapped;
            wrapped = new Dataset(data.Columns.Append(OnesColumn(data.Count)).ToArray());
            withOnes.Add(data, wrapped);
            return wrapped;
        }
    }

    readonly System.Runtime.CompilerServices.ConditionalWeakTable<Dataset, Dataset> withOnes = new();

    /// <summary>The sample-weight column of ones Fit appends for a loss that takes weights, kept for the last few
    /// dataset sizes: a fresh one per Fit call was 4 bytes per example allocated each epoch.</summary>
    Tensor<float> OnesColumn(long rows)
    {
        lock (onesColumns)
        {
            var hit = onesColumns.Find(t => t.Shape[0] == rows);
            if (hit != null) return hit;
            if (onesColumns.Count == 4) onesColumns.RemoveAt(0);
            var ones = SampleWeights.Ones(rows);
            onesColumns.Add(ones);
            return ones;
        }
    }

    readonly List<Tensor<float>> onesColumns = new();
    DeviceBuffer[]? trainArguments;
    DeviceBuffer[]? trainResults;
    ExecuteOptions? trainExecuteOptions;

    IExecutable LookUpTrainStep(TrainingPrograms.Layout l, UploadedColumns uploaded)
    {
        var loss = RequireLoss();
        var bindings = loss.Bind(ModelName + "." + loss.Method, uploaded.BindColumns, loss.HasSampleWeight);
        var program = TrainProgram(bindings, uploaded.RowsPerReplica, uploaded.Shards);
        lastTrainStep = new TrainStepCache(l, uploaded.BindColumns.Select(c => c.Shape.ToArray()).ToArray(), uploaded.Shards, program);
        return program;
    }

    static bool SameDims(long[][] dims, IReadOnlyList<Tensor> columns)
    {
        if (dims.Length != columns.Count) return false;
        for (int c = 0; c < dims.Length; c++)
        {
            var shape = columns[c].Shape;
            if (shape.Count != dims[c].Length) return false;
            for (int d = 0; d < dims[c].Length; d++)
                if (shape[d] != dims[c][d]) return false;
        }
        return true;
    }

    /// <summary>K train steps in one program (Fit with <see cref="FitOptions.StepsPerExecution"/> = K): the staged
    /// columns are K batches stacked, its learning rates the K steps' (see <see cref="TrainingPrograms.TrainSteps"/>).</summary>
    void RunTrainSteps(StagedBatch staged, DeviceBuffer[] accumulators)
    {
        ThrowIfDisposed();
        var l = RequireCompiled();
        var loss = RequireLoss();
        var bindings = staged.Bindings!;
        RecordBindings(loss.Method, bindings);
        int shards = staged.Placement.Shards;
        var program = trainPrograms.GetOrAdd(BindingKey(bindings) + "*" + staged.Steps + (shards > 1 ? "/" + shards : ""), _ =>
            Device.CompileHlo(TrainingPrograms.TrainSteps(
                TrainingPrograms.TrainStep(loss.BuildProgram(bindings), loss, ParameterSpecs, Optimizer!, staged.BatchSize, shards, RandomKey, l.Plan), l, staged.Steps)));
        RunStepProgram(program, l, staged.Columns, staged.LearningRates!, accumulators);
        Step += staged.Steps;
    }

    int[]? donated;

    /// <summary>Runs a train or eval step. On a remote device it is dispatched asynchronously
    /// (<see cref="Backends.Remote.RemoteDeviceOptions.PipelineDepth"/>): the outputs come back before the server ran the
    /// step, so the next batch's step is on its way while this one runs; a failure surfaces at the next step or when the
    /// accumulators are read.</summary>
    static DeviceBuffer[] Dispatch(IExecutable program, IReadOnlyList<DeviceBuffer> args, ExecuteOptions options) =>
        program is Backends.Remote.RemoteExecutable remote ? remote.Dispatch(args, options) : program.Execute(args, options);

    int[] Donated(TrainingPrograms.Layout l) => donated ??= l.Trainable.Select(t => l.Inputs + t)
        .Concat(Enumerable.Range(l.SlotsStart, slots!.Length))
        .Append(l.StepIndex)
        .Concat(Enumerable.Range(l.AccumulatorsStart, l.Accumulators))
        .Concat(l.StateUpdates.Select(p => l.Inputs + p)).ToArray();

    /// <summary>Reads the metric accumulators (all at once: on a remote device the downloads' round trips overlap).</summary>
    (double Loss, Dictionary<string, double> Metrics, double Examples) ReadAccumulators(MetricPlan plan, DeviceBuffer[] accumulators)
    {
        var downloads = accumulators.Select(a => Device.DownloadAsync(a)).ToArray();
        Task.WhenAll(downloads).GetAwaiter().GetResult();
        return plan.Read(downloads.Select(d => ((Tensor<float>)d.Result).Data).ToList());
    }

    /// <summary>Keras' fit: trains for <see cref="FitOptions.Epochs"/> more epochs over <paramref name="train"/> (columns in the
    /// [Loss] method's input order), with per-epoch shuffling from the seed, optional validation, progress and callbacks.</summary>
    public History Fit(Dataset train, FitOptions? options = null)
    {
        ThrowIfDisposed();
        options ??= new FitOptions();
        var l = RequireCompiled();
        if (train.Count == 0) throw new ArgumentException($"{ModelName}.Fit: the training data is empty", nameof(train));
        if (options.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be positive");
        if (options.StepsPerExecution < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.StepsPerExecution, $"{ModelName}.Fit: StepsPerExecution must be at least 1, got {options.StepsPerExecution}");
        // On replicas each replica's K-batch stack holds its slices of the K batches: the CPU executor's replicas gather
        // their own (StagedRowChunks), a server's get theirs built here and uploaded per replica (StageShardedStacks).
        int stepsPerExecution = options.StepsPerExecution;
        var validation = options.Validation;
        if (options.ValidationSplit != 0)
        {
            if (!(options.ValidationSplit > 0 && options.ValidationSplit < 1))
                throw new ArgumentOutOfRangeException(nameof(options), options.ValidationSplit, $"{ModelName}.Fit: ValidationSplit must be in [0, 1), got {options.ValidationSplit}");
            if (validation != null) throw new ArgumentException($"{ModelName}.Fit: set either Validation or ValidationSplit, not both", nameof(options));
            int trainCount = (int)Math.Floor(train.Count * (1.0 - options.ValidationSplit));   // Keras: the last fraction, before shuffling
            if (trainCount == 0 || trainCount == train.Count)
                throw new ArgumentException($"{ModelName}.Fit: ValidationSplit {options.ValidationSplit} of {train.Count} examples leaves {(trainCount == 0 ? "no training" : "no validation")} examples", nameof(options));
            (train, validation) = train.Split(trainCount);
        }
        CheckData($"{ModelName}.Fit", "training", train, options.CheckLabels, options.CheckInputs, "set FitOptions.CheckLabels = false", "FitOptions.CheckInputs is true");
        if (validation != null)
            CheckData($"{ModelName}.Fit", "validation", validation, options.CheckLabels, options.CheckInputs, "set FitOptions.CheckLabels = false", "FitOptions.CheckInputs is true");
        var loss = RequireLoss();
        if (options.ClassWeights != null)
            train = new Dataset(train.Columns.Append(SampleWeights.FromClassWeights($"{ModelName}.Fit", loss, train, options.ClassWeights)).ToArray());
        else if (loss.HasSampleWeight)
            train = WithOnesColumn(train);
        var history = new History();
        var control = new TrainingControl();
        using var progress = options.Verbose ? new ProgressReporter(options.Output ?? Console.Out) : null;
        ulong shuffleSeed = options.ShuffleSeed ?? (shuffleSeedSet ? ShuffleSeed : (ulong)(uint)Seed);
        ShuffleSeed = shuffleSeed;
        shuffleSeedSet = true;
        int first = CompletedEpochs;
        for (int epoch = first; epoch < first + options.Epochs && !control.StopTraining; epoch++)
        {
            var clock = Stopwatch.StartNew();
            progress?.StartEpoch(epoch + 1, first + options.Epochs, train.Count);
            var accumulators = ZeroAccumulators(l.Plan);
            try
            {
                long done = 0, steps = 0;
                int sinceRead = 0;
                bool readsWanted = progress != null || options.Callbacks.Count > 0;
                long firstStep = Step;
                var schedule = Optimizer!.LearningRate;
                // K steps per execution take K batches at once: gathered ahead by as many (one ahead, the other K - 1 were
                // gathered one after another while the step waited: 2.3 ms of every 16-step chunk of the MLP)
                var work = stepsPerExecution == 1
                    ? StagedEpoch(train, options.BatchSize, options.Shuffle, shuffleSeed, epoch, prefetch: 1, k => schedule.At(firstStep + k))
                    : ReplicasGather
                    ? StagedRowChunks(train.BatchRanges(options.BatchSize, options.Shuffle, shuffleSeed, epoch, dropLast: false), stepsPerExecution, options.BatchSize,
                        train.BatchCount(options.BatchSize, dropLast: true), k => schedule.At(firstStep + k))
                    : StagedChunks(Chunks(train.Batches(options.BatchSize, options.Shuffle, shuffleSeed, epoch, dropLast: false, prefetch: stepsPerExecution),
                        stepsPerExecution, options.BatchSize, train.BatchCount(options.BatchSize, dropLast: true)), k => schedule.At(firstStep + k));
                foreach (var staged in work)
                {
                    if (staged.Steps == 1) RunTrainStep(staged, accumulators);
                    else RunTrainSteps(staged, accumulators);
                    done += staged.Examples;
                    steps += staged.Steps;
                    sinceRead += staged.Steps;
                    if (readsWanted && sinceRead >= options.MetricsEvery)
                    {
                        sinceRead = 0;
                        var partial = ReadAccumulators(l.Plan, accumulators);
                        progress?.Update(done, WithLoss(partial.Loss, partial.Metrics));
                        foreach (var callback in options.Callbacks) callback.OnMetricsRead(this, epoch + 1, steps, partial.Loss, control);
                        StepMetricsRead(options, new StepMetrics(epoch + 1, steps, Step, partial.Loss, partial.Metrics, schedule.At(Step - 1)), control);
                        if (control.StopTraining) break;
                    }
                }
                var (lossValue, metrics, examples) = ReadAccumulators(l.Plan, accumulators);
                if (!control.StopTraining && sinceRead != 0)
                {
                    foreach (var callback in options.Callbacks) callback.OnMetricsRead(this, epoch + 1, steps, lossValue, control);
                    StepMetricsRead(options, new StepMetrics(epoch + 1, steps, Step, lossValue, metrics, schedule.At(Step - 1)), control);
                }
                double? validationLoss = null;
                IReadOnlyDictionary<string, double>? validationMetrics = null;
                if (validation != null && !control.StopTraining)
                {
                    var v = Evaluate(validation, options.ValidationBatchSize ?? options.BatchSize, checkLabels: false);
                    validationLoss = v.Loss;
                    validationMetrics = v.Metrics;
                }
                clock.Stop();
                var result = new EpochMetrics(epoch + 1, lossValue, metrics, validationLoss, validationMetrics, clock.Elapsed, examples / clock.Elapsed.TotalSeconds);
                history.Epochs.Add(result);
                CompletedEpochs = epoch + 1;
                progress?.EndEpoch(result);
                foreach (var callback in options.Callbacks) callback.OnEpochEnd(this, result, control);
            }
            finally
            {
                foreach (var a in accumulators) a.Dispose();
            }
        }
        foreach (var callback in options.Callbacks) callback.OnTrainEnd(this, history);
        return history;
    }

    void StepMetricsRead(FitOptions options, StepMetrics metrics, TrainingControl control)
    {
        foreach (var callback in options.Callbacks) callback.OnStepMetrics(this, metrics, control);
    }

    /// <summary>The train-step programs compiled so far, keyed by the values of the loss's symbolic dims (the batch size).</summary>
    internal IReadOnlyList<(string Bindings, HloModule Program)> TrainStepPrograms =>
        trainPrograms.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value.Module)).ToList();

    void CheckData(string where, string dataName, Dataset data, bool checkLabels, bool checkInputs, string labelsOff, string inputsOn)
    {
        var loss = RequireLoss();
        if (!(checkLabels && loss.LabelRanges.Count > 0) && !checkInputs) return;
        DataChecks.Check(where, dataName, loss, data, checkLabels, checkInputs, labelsOff, inputsOn);
    }

    void CheckData(string where, string dataName, IReadOnlyList<Tensor> batch, bool checkLabels, bool checkInputs, string labelsOff, string inputsOn)
    {
        var loss = RequireLoss();
        if (!(checkLabels && loss.LabelRanges.Count > 0) && !checkInputs) return;
        DataChecks.Check(where, dataName, loss, batch, checkLabels, checkInputs, labelsOff, inputsOn);
    }

    static IReadOnlyDictionary<string, double> WithLoss(double loss, IReadOnlyDictionary<string, double> metrics)
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal) { ["loss"] = loss };
        foreach (var kv in metrics) d[kv.Key] = kv.Value;
        return d;
    }

    /// <summary>Loss and metrics over a dataset (no update). Every example counts once: a last partial batch runs a
    /// program compiled for its own size.</summary>
    /// <param name="data">The columns in the [Loss] method's input order.</param>
    /// <param name="batchSize">Examples per step (the last batch may be smaller).</param>
    /// <param name="checkLabels">Check that class indices of sparse losses are in range before any step (one pass over the labels).</param>
    /// <param name="checkInputs">Check that floating-point inputs are finite before any step.</param>
    public EvaluationResult Evaluate(Dataset data, int batchSize = 256, bool checkLabels = true, bool checkInputs = false)
    {
        ThrowIfDisposed();
        var loss = RequireLoss();
        if (data.Count == 0) throw new ArgumentException($"{ModelName}.Evaluate: the data is empty", nameof(data));
        CheckData($"{ModelName}.Evaluate", "evaluation", data, checkLabels, checkInputs, "pass checkLabels: false", "checkInputs is true");
        var plan = MetricPlan;
        var accumulators = ZeroAccumulators(plan);
        try
        {
            foreach (var staged in StagedEpoch(data, batchSize, shuffle: false, seed: 0, epoch: 0, prefetch: 1, learningRateAt: null))
            {
                var placement = staged.Placement;
                var bindings = loss.Bind(ModelName + "." + loss.Method, placement.BindColumns);
                var program = EvalProgram(bindings, placement.RowsPerReplica, placement.Shards);
                var args = new List<DeviceBuffer>();
                args.AddRange(staged.Columns);
                args.AddRange(parameters);
                args.AddRange(accumulators);
                int start = staged.Columns.Length + parameters.Length;
                var outputs = Dispatch(program, args, new ExecuteOptions { DonatedArguments = Enumerable.Range(start, accumulators.Length).ToArray() });
                for (int i = 0; i < accumulators.Length; i++) accumulators[i] = outputs[i];
            }
            var (l, metrics, examples) = ReadAccumulators(plan, accumulators);
            return new EvaluationResult(l, metrics, (long)examples);
        }
        finally
        {
            foreach (var a in accumulators) a.Dispose();
        }
    }

    /// <summary>Runs a forward program over inputs of any length in chunks of <paramref name="batchSize"/> along dim 0 and
    /// joins the results (the last chunk compiles a program for its own size).</summary>
    protected Tensor RunBatched(string method, int batchSize, Func<long, HloModule> build, params Tensor[] inputs)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be positive");
        if (RunWhole(method, batchSize, build, inputs) is { } whole) return whole; // fits one chunk: no Dataset, no prefetch thread
        var data = new Dataset(inputs);
        Array? joined = null;
        long[]? shape = null;
        var type = ElementType.Invalid;
        long rowSize = 0;
        foreach (var batch in data.Batches(batchSize, shuffle: false, seed: 0, epoch: 0, dropLast: false, prefetch: 1))
        {
            using (batch)
            {
                var output = Replicas > 1 && batch.Size % Replicas == 0
                    ? RunSharded(method, build, batch.Columns)
                    : Run(method, new long[] { batch.Size }, () => build(batch.Size), batch.Columns)[0];
                if (joined == null)
                {
                    rowSize = output.ElementCount / batch.Size;
                    shape = output.Shape.ToArray();
                    shape[0] = data.Count;
                    type = output.ElementType;
                    joined = Array.CreateInstanceFromArrayType(output.Data.GetType(), checked((int)(data.Count * rowSize)));
                }
                Array.Copy(output.Data, 0, joined, batch.Start * rowSize, output.ElementCount);
            }
        }
        return Tensor.FromLiteral(Literal.Create(Hlo.Shape.Array(type, shape!), joined!));
    }

    /// <summary>A forward program on a batch split across the replicas: each runs the program for its slice, and the
    /// first result's slices are joined in replica order.</summary>
    Tensor RunSharded(string method, Func<long, HloModule> build, Tensor[] columns)
    {
        var device = (ReplicatedDevice)Device;
        var placement = UploadColumns(columns);
        try
        {
            long rows = placement.RowsPerReplica;
            var program = Program(method, new long[] { rows }, () => build(rows));
            var outputs = program.Execute(placement.Buffers.Concat(ParameterBuffers).ToList());
            try
            {
                var parts = device.DownloadReplicas(outputs[0]);
                var dims = parts[0].Shape.ToArray();
                long partCount = parts[0].ElementCount;
                dims[0] *= parts.Length;
                var joined = Array.CreateInstanceFromArrayType(parts[0].Data.GetType(), checked((int)(partCount * parts.Length)));
                for (int r = 0; r < parts.Length; r++) Array.Copy(parts[r].Data, 0, joined, r * partCount, partCount);
                return HostArrays.Wrap(parts[0].ElementType, dims, joined);
            }
            finally
            {
                foreach (var o in outputs) o.Dispose();
            }
        }
        finally
        {
            foreach (var b in placement.Buffers) b.Dispose();
        }
    }

    // ---- checkpoints ----

    /// <summary>Writes parameters, optimizer state, step, epoch and seed to a safetensors file, atomically (the previous
    /// file stays intact if anything fails).</summary>
    public void Save(string path)
    {
        ThrowIfDisposed();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (int i = 0; i < ParameterSpecs.Count; i++) tensors.Add(new(ParameterSpecs[i].Path, Device.Download(parameters[i])));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "xlagen-checkpoint/1",
            ["model"] = ModelName,
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            ["epoch"] = CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["shuffle_seed"] = (shuffleSeedSet ? ShuffleSeed : (ulong)(uint)Seed).ToString(CultureInfo.InvariantCulture),
        };
        // The library layers' weights under Keras' names (dense_1/kernel), a JSON object keyed by parameter path: the keys
        // stay field paths, so every checkpoint loads as before, and a reader finds each weight's Keras name beside it.
        if (KerasNamesJson(ParameterSpecs) is string kerasNames) metadata["keras_names"] = kerasNames;
        if (Optimizer != null && layout != null)
        {
            int k = 0;
            foreach (var t in layout.Trainable)
            {
                foreach (var slot in Optimizer.Slots) tensors.Add(new(SlotName(Optimizer, slot, ParameterSpecs[t].Path), Device.Download(slots![k++])));
            }
            tensors.Add(new("optimizer." + Optimizer.Name + ".step", Device.Download(stepBuffer!)));
            metadata["optimizer"] = Optimizer.Describe();
            metadata["learning_rate"] = Optimizer.LearningRate.Describe();
        }
        else if (pendingOptimizerState is { } pending)
        {
            // Loaded but not compiled yet: the state passes through unchanged, so Load → Save → Load loses nothing.
            foreach (var name in pending.Tensors.Keys.Order(StringComparer.Ordinal)) tensors.Add(new(name, pending.Tensors[name]));
            if (pending.Description != null) metadata["optimizer"] = pending.Description;
        }
        Safetensors.Save(path, tensors, metadata);
    }

    /// <summary>{"path": "keras/name", …} in parameter order for the parameters that belong to library layers, or null.</summary>
    static string? KerasNamesJson(IReadOnlyList<ParameterSpec> specs)
    {
        var names = Layers.KerasNames.Of(specs);
        if (names.Count == 0) return null;
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var spec in specs)
            {
                if (names.TryGetValue(spec.Path, out var name)) json.WriteString(spec.Path, name);
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Restores a checkpoint written by <see cref="Save"/>: parameters (names, shapes and element types must
    /// match exactly; what differs is listed), epoch, step and shuffle seed when its metadata has them, and the optimizer
    /// state. Everything is checked before anything changes: a Load that throws leaves the runner as it was.
    /// <para>Optimizer state: when an optimizer is compiled, the checkpoint's state must be that optimizer's (as
    /// <see cref="Compile"/> checks) and is restored now; when none is compiled yet, it is kept and checked and restored
    /// by the next Compile. A checkpoint without optimizer state (saved before Compile) restores weights only, and the
    /// compiled optimizer starts fresh (zero slots, step 0), exactly as Compile after such a Load would: the moments
    /// the optimizer held belong to the weights this Load replaces, so they are not kept.</para></summary>
    public void Load(string path)
    {
        ThrowIfDisposed();
        var file = Safetensors.Load(path);
        var expected = ParameterSpecs.Select(p => (p.Path, p.ElementType, p.Dims)).ToList();
        var optimizerTensors = file.Names.Where(n => n.StartsWith("optimizer.", StringComparison.Ordinal)).ToList();
        var modelPart = new SafetensorsFile(file.Path, file.Names.Where(n => !n.StartsWith("optimizer.", StringComparison.Ordinal)).ToList(), file.Tensors, file.Metadata);
        // The message names the file and the model once; each item names one tensor (and the model it came from, if another).
        var savedFrom = file.Metadata.TryGetValue("model", out var m) && m != ModelName ? $" (it was saved from model '{m}')" : "";
        Safetensors.Verify(modelPart, expected, ModelName + savedFrom);
        // Every value is range-checked here, before anything changes (CheckpointMetadata says why each range).
        int? epoch = (int?)CheckpointMetadata.Integer(file, "epoch", CheckpointMetadata.MaxEpoch);
        long? step = CheckpointMetadata.Integer(file, "step", CheckpointMetadata.MaxStep);
        ulong? shuffle = CheckpointMetadata.Unsigned(file, "shuffle_seed");
        CheckpointMetadata.CheckNumbers(file, "learning_rate");
        CheckpointMetadata.CheckNumbers(file, "optimizer");
        CheckpointMetadata.CheckStepTensors(file);
        var saved = optimizerTensors.Count == 0
            ? null
            : new SavedOptimizerState(file.Path, file.Metadata.GetValueOrDefault("optimizer"), optimizerTensors.ToDictionary(n => n, n => file.Tensors[n], StringComparer.Ordinal));
        if (Optimizer != null && saved != null) VerifyOptimizerState(saved, Optimizer, layout!);

        // Verified: upload everything before replacing anything, so a failing upload changes nothing either.
        var newParameters = new DeviceBuffer[ParameterSpecs.Count];
        (DeviceBuffer[] Slots, DeviceBuffer Step, long StepValue)? newState = null;
        try
        {
            for (int i = 0; i < ParameterSpecs.Count; i++) newParameters[i] = Device.Upload(file.Tensors[ParameterSpecs[i].Path]);
            if (Optimizer != null) newState = UploadOptimizerState(Optimizer, layout!, saved);
        }
        catch
        {
            foreach (var b in newParameters) b?.Dispose();
            throw;
        }

        for (int i = 0; i < ParameterSpecs.Count; i++)
        {
            var old = parameters[i];
            parameters[i] = newParameters[i];
            old.Dispose();
        }
        if (epoch is { } e) CompletedEpochs = e;
        if (shuffle is { } seed)
        {
            ShuffleSeed = seed;
            shuffleSeedSet = true;
        }
        if (newState is { } state)
        {
            DisposeOptimizerState();
            slots = state.Slots;
            stepBuffer = state.Step;
            Step = state.StepValue;
            pendingOptimizerState = null;
        }
        else
        {
            if (step is { } st) Step = st;
            pendingOptimizerState = saved;
        }
    }

    void DisposeOptimizerState()
    {
        if (slots != null) foreach (var s in slots) s.Dispose();
        slots = null;
        stepBuffer?.Dispose();
        stepBuffer = null;
        donated = null;
    }

    void DisposeTrainingState()
    {
        DisposeOptimizerState();
        learningRateBuffer?.Buffer.Dispose();
        learningRateBuffer = null;
        foreach (var p in trainPrograms.Values) p.Dispose();
        foreach (var p in evalPrograms.Values) p.Dispose();
    }
}
