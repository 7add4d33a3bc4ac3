using XlaGen.Hlo;
using XlaGen.Surface;

namespace XlaGen.Training;

/// <summary>
/// Builds the programs training runs, from the gradient program the generator wrote: the train step (gradients +
/// the optimizer's update + metric accumulators, with every piece of state donated and aliased in place) and
/// the evaluation step (loss and metrics only). Layout of the train step's parameters:
/// inputs · model parameters · optimizer slots (per trainable parameter, per slot) · step (s32[]) ·
/// learning rate (f32[]) · accumulators (loss sum, metric sums…, example count; f32[]).
/// Its result: new trainable parameters · new slots · new step · new accumulators · new values of the non-trainable
/// parameters the loss updates (BatchNorm's moving statistics).
/// </summary>
internal static class TrainingPrograms
{
    /// <param name="Inputs">The batch columns: the loss's inputs, and its sample weights when it takes them.</param>
    /// <param name="Parameters">The model's parameters.</param>
    /// <param name="Trainable">Indices (among the model parameters) of those the optimizer updates.</param>
    /// <param name="SlotsPerParameter">The optimizer's state tensors per trainable parameter.</param>
    /// <param name="StateUpdates">Indices (among the model parameters) of the non-trainable parameters the step writes back.</param>
    /// <param name="Plan">What the accumulators hold (loss sum, each metric's state, example count).</param>
    public sealed record Layout(int Inputs, int Parameters, int[] Trainable, int SlotsPerParameter, MetricPlan Plan, int[] StateUpdates)
    {
        public int SlotsStart => Inputs + Parameters;

        public int StepIndex => SlotsStart + Trainable.Length * SlotsPerParameter;

        public int LearningRateIndex => StepIndex + 1;

        public int AccumulatorsStart => LearningRateIndex + 1;

        /// <summary>Loss sum, each metric's state tensors, example count.</summary>
        public int Accumulators => Plan.AccumulatorShapes.Count;

        public int ParameterCount => AccumulatorsStart + Accumulators;
    }

    public static Layout LayoutOf(LossDefinition loss, IReadOnlyList<ParameterSpec> parameters, Optimizer optimizer, MetricPlan? plan = null)
    {
        var index = parameters.Select((p, i) => (p.Path, i)).ToDictionary(t => t.Path, t => t.i, StringComparer.Ordinal);
        int inputs = loss.Inputs.Count + (loss.HasSampleWeight ? 1 : 0);   // the sample weights travel as one more batch column
        var trainable = loss.TrainableParameters.Select(p => index.TryGetValue(p, out var i) ? i : throw new InvalidOperationException($"trainable parameter '{p}' is not a model parameter")).ToArray();
        var updated = loss.StateUpdates.Select(p => index.TryGetValue(p, out var i) ? i : throw new InvalidOperationException($"state parameter '{p}' is not a model parameter")).ToArray();
        return new Layout(inputs, parameters.Count, trainable, optimizer.Slots.Count, plan ?? MetricPlan.Default(loss), updated);
    }

    /// <param name="lossProgram">The generated gradient program for these bindings.</param>
    /// <param name="loss">What the generator recorded about the [Loss] method.</param>
    /// <param name="parameters">The model's parameters in program order.</param>
    /// <param name="optimizer">Appends its update to the gradients.</param>
    /// <param name="batchSize">The examples of one replica's batch.</param>
    /// <param name="replicas">How many replicas run the step, each on its own shard of the global batch. Above 1, one
    /// all-reduce (per element type) sums the gradients and the loss and metric increments over the replicas before
    /// clipping and the update; the gradients are then divided by the replica count, so every replica applies the
    /// update of the mean gradient over the global batch, and the accumulators count the global batch. New values of
    /// non-trainable state (BatchNorm's moving statistics) are averaged over the replicas the same way.</param>
    /// <param name="rngKey">The philox key of the loss's random draws (Dropout), from the model's seed; the counter is
    /// (replica, step), so each step and each replica draws its own bits (<see cref="TrainingMode"/>).</param>
    /// <param name="plan">The metrics to accumulate; the loss functions' own when null.</param>
    public static HloModule TrainStep(HloModule lossProgram, LossDefinition loss, IReadOnlyList<ParameterSpec> parameters, Optimizer optimizer, long batchSize, int replicas = 1,
        ulong rngKey = 0, MetricPlan? plan = null)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "the replica count must be at least 1");
        var layout = LayoutOf(loss, parameters, optimizer, plan);
        var b = new HloBuilder(lossProgram.Name + ".train_step");
        var lp = lossProgram.Entry.Parameters;
        int ownCount = loss.Inputs.Count + layout.Parameters;
        CheckExtraParameters(lossProgram, loss, ownCount);
        var inputArgs = lp.Take(loss.Inputs.Count).Select(p => b.Parameter(p.Shape, p.Name)).ToList();
        var sampleWeight = loss.HasSampleWeight ? b.Parameter(lp.First(p => p.Name == TrainingMode.SampleWeightName).Shape, TrainingMode.SampleWeightName) : null;
        var modelParams = lp.Skip(loss.Inputs.Count).Take(layout.Parameters).Select(p => b.Parameter(p.Shape, p.Name)).ToList();
        var args = inputArgs.Concat(modelParams).ToList();
        var slots = new List<HloInstruction>();
        foreach (var t in layout.Trainable)
        {
            foreach (var slot in optimizer.Slots) slots.Add(b.Parameter(parameters[t].Shape, $"{optimizer.Name}.{slot}.{parameters[t].Path}"));
        }
        var step = b.Parameter(Shape.Scalar(ElementType.S32), "step");
        var lr = b.Parameter(Shape.Scalar(ElementType.F32), "learning_rate");
        var accumulators = Enumerable.Range(0, layout.Accumulators).Select(i => b.Parameter(layout.Plan.AccumulatorShapes[i], layout.Plan.AccumulatorNames[i])).ToList();
        if (replicas > 1)
        {
            // Every replica holds the same weights, optimizer state, step, rate and accumulators (the runtime uploads them
            // alike and every update is all-reduced): said in HLO as XLA says it (parameter_replication), the promise
            // XLA's HloReplicationAnalysis starts from.
            foreach (var p in modelParams.Concat(slots).Append(step).Append(lr).Concat(accumulators)) MarkReplicated(p);
        }

        var lossArgs = new List<HloInstruction>(args);
        foreach (var extra in lp.Skip(ownCount))
        {
            if (extra.Name == TrainingMode.StateName)
            {
                // rng = (key, counter low = replica, counter high = step); training = true
                var key = b.Constant(Literal.Create(Shape.Array(ElementType.U64, 1), new[] { rngKey }));
                var replica = replicas > 1
                    ? b.Reshape(b.Convert(b.ReplicaId(), ElementType.U64), 1)
                    : b.Constant(Literal.Create(Shape.Array(ElementType.U64, 1), new[] { 0UL }));
                lossArgs.Add(b.Concatenate(0, key, replica, b.Reshape(b.Convert(step, ElementType.U64), 1)));
            }
            else if (extra.Name == TrainingMode.TrainingName) lossArgs.Add(b.Constant(Literal.Scalar(true)));
            else lossArgs.Add(sampleWeight!);
        }
        var result = b.Inline(lossProgram.Entry, lossArgs);
        var elements = new Dictionary<int, HloInstruction>();
        HloInstruction Output(int i) => elements.TryGetValue(i, out var e) ? e : elements[i] = b.GetTupleElement(result, i);
        for (int i = 0; i <= loss.Metrics.Count; i++) Output(i);   // loss, metric means
        var rawGradients = Enumerable.Range(0, layout.Trainable.Length).Select(i => Output(1 + loss.Metrics.Count + i)).ToList();
        int firstState = 1 + loss.Metrics.Count + layout.Trainable.Length;
        var stateValues = Enumerable.Range(0, layout.StateUpdates.Length).Select(k => Output(firstState + k)).ToList();
        List<HloInstruction>? increments = null;
        if (replicas > 1)
        {
            var (means, sums) = AllReduceMean(b, rawGradients.Concat(stateValues).ToList(), layout.Plan.Increments(b, Output, batchSize).ToList(), replicas);
            rawGradients = means.Take(rawGradients.Count).ToList();
            stateValues = means.Skip(rawGradients.Count).ToList();
            increments = sums;
        }
        var gradients = optimizer.ClipGradients(b, rawGradients);

        var nextStep = b.Add(step, b.Constant(ElementType.S32, 1));
        var t32 = b.Convert(nextStep, ElementType.F32);
        var outputs = new List<HloInstruction>();
        var newSlots = new List<HloInstruction>();
        for (int k = 0; k < layout.Trainable.Length; k++)
        {
            var p = modelParams[layout.Trainable[k]];
            var own = slots.Skip(k * layout.SlotsPerParameter).Take(layout.SlotsPerParameter).ToList();
            var (np, ns) = optimizer.Update(b, p, gradients[k], own, lr, t32);
            if (!np.Shape.Equals(p.Shape)) throw new InvalidOperationException($"{optimizer.Name} produced {np.Shape} for parameter {p.Name} of shape {p.Shape}");
            outputs.Add(np);
            newSlots.AddRange(ns);
        }
        outputs.AddRange(newSlots);
        outputs.Add(nextStep);
        outputs.AddRange(accumulators.Zip(increments ?? layout.Plan.Increments(b, Output, batchSize), b.Add));
        outputs.AddRange(stateValues);
        var module = b.BuildModule(b.Tuple(outputs.ToArray()));

        // Every output updates a parameter in place: donate and alias them.
        int o = 0;
        foreach (var t in layout.Trainable) module.InputOutputAliases.Add(new InputOutputAlias(new long[] { o++ }, layout.Inputs + t, Array.Empty<long>()));
        for (int s = 0; s < newSlots.Count; s++) module.InputOutputAliases.Add(new InputOutputAlias(new long[] { o++ }, layout.SlotsStart + s, Array.Empty<long>()));
        module.InputOutputAliases.Add(new InputOutputAlias(new long[] { o++ }, layout.StepIndex, Array.Empty<long>()));
        for (int a = 0; a < layout.Accumulators; a++) module.InputOutputAliases.Add(new InputOutputAlias(new long[] { o++ }, layout.AccumulatorsStart + a, Array.Empty<long>()));
        foreach (var p in layout.StateUpdates) module.InputOutputAliases.Add(new InputOutputAlias(new long[] { o++ }, layout.Inputs + p, Array.Empty<long>()));
        return module;
    }

    /// <summary>Sets parameter_replication on an array parameter: every replica receives the same data.</summary>
    static void MarkReplicated(HloInstruction parameter) => parameter.Attributes.ParameterReplication = new[] { true };

    /// <summary>
    /// Keras' steps_per_execution: <paramref name="steps"/> train steps in one program. <paramref name="trainStep"/> (from
    /// <see cref="TrainStep"/>) is inlined into the body of a <c>while</c> loop whose state carries a counter, the stacked
    /// batches, the learning rates, the model parameters, the optimizer slots, the step and the accumulators. Its
    /// parameters are the train step's, in the same layout, except that every batch column is stacked as [K, batch…]
    /// and the learning rate is f32[K] (the schedule's rate of each of the K steps); iteration i runs the train step on
    /// slice i of each (dynamic-slice + reshape). The result and the aliases are the train step's, so running it equals
    /// K train steps one after another, bit for bit: the step counter (and with it the rng counter of each step's
    /// random draws) advances inside the loop exactly as it does between single steps.
    /// </summary>
    public static HloModule TrainSteps(HloModule trainStep, Layout layout, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps per execution must be at least 1");
        var step = trainStep.Entry;
        var ps = step.Parameters;
        var b = new HloBuilder(trainStep.Name + "_x" + steps);
        var entryArgs = new List<HloInstruction>();
        for (int i = 0; i < ps.Count; i++)
        {
            var shape = ps[i].Shape;
            if (i < layout.Inputs) shape = Shape.Array(shape.ElementType, new Dim[] { steps }.Concat(shape.Dims).ToArray());
            else if (i == layout.LearningRateIndex) shape = Shape.Array(ElementType.F32, new Dim[] { steps });
            var parameter = b.Parameter(shape, ps[i].Name);
            if (ps[i].Attributes.ParameterReplication != null) MarkReplicated(parameter);
            entryArgs.Add(parameter);
        }
        // state: counter · the entry's parameters, in their order
        var counter0 = b.Constant(ElementType.S32, 0);
        var init = b.Tuple(new[] { counter0 }.Concat(entryArgs).ToArray());
        var stateShape = init.Shape;

        var body = b.CreateSubBuilder("train_step_body");
        var state = body.Parameter(stateShape, "state");
        var counter = body.GetTupleElement(state, 0);
        var carried = Enumerable.Range(0, ps.Count).Select(i => body.GetTupleElement(state, 1 + i)).ToList();
        var zero = body.Constant(ElementType.S32, 0);
        var stepArgs = new List<HloInstruction>();
        for (int i = 0; i < ps.Count; i++)
        {
            if (i < layout.Inputs || i == layout.LearningRateIndex)
            {
                var stacked = carried[i];
                var starts = new[] { stacked }.Concat(Enumerable.Range(0, stacked.Shape.Rank).Select(d => d == 0 ? counter : zero)).ToArray();
                var sizes = stacked.Shape.Dims.Select((d, k) => k == 0 ? 1L : d.Value).ToArray();
                var slice = body.AddInstruction("dynamic-slice", starts, new HloAttributes { DynamicSliceSizes = sizes });
                stepArgs.Add(body.Reshape(slice, ps[i].Shape.Dims.ToArray()));
            }
            else stepArgs.Add(carried[i]);
        }
        var result = body.Inline(step, stepArgs);
        HloInstruction Out(int i) => result.Opcode == "tuple" ? result.Operands[i] : body.GetTupleElement(result, i);
        var next = new List<HloInstruction>(carried);
        int o = 0;
        foreach (var t in layout.Trainable) next[layout.Inputs + t] = Out(o++);
        int slotCount = layout.Trainable.Length * layout.SlotsPerParameter;
        for (int s = 0; s < slotCount; s++) next[layout.SlotsStart + s] = Out(o++);
        next[layout.StepIndex] = Out(o++);
        for (int a = 0; a < layout.Accumulators; a++) next[layout.AccumulatorsStart + a] = Out(o++);
        foreach (var p in layout.StateUpdates) next[layout.Inputs + p] = Out(o++);
        var nextCounter = body.Add(counter, body.Constant(ElementType.S32, 1));
        var bodyComputation = body.Build(body.Tuple(new[] { nextCounter }.Concat(next).ToArray()));

        var cond = b.CreateSubBuilder("train_step_condition");
        var cstate = cond.Parameter(stateShape, "state");
        var condComputation = cond.Build(cond.Compare(cond.GetTupleElement(cstate, 0), cond.Constant(ElementType.S32, steps), "LT"));

        var loop = b.AddInstruction("while", new[] { init }, null, null, new[] { bodyComputation, condComputation });
        var outputs = new List<HloInstruction>();
        HloInstruction Final(int i) => b.GetTupleElement(loop, 1 + i);
        foreach (var t in layout.Trainable) outputs.Add(Final(layout.Inputs + t));
        for (int s = 0; s < slotCount; s++) outputs.Add(Final(layout.SlotsStart + s));
        outputs.Add(Final(layout.StepIndex));
        for (int a = 0; a < layout.Accumulators; a++) outputs.Add(Final(layout.AccumulatorsStart + a));
        foreach (var p in layout.StateUpdates) outputs.Add(Final(layout.Inputs + p));
        var module = b.BuildModule(b.Tuple(outputs.ToArray()));
        foreach (var alias in trainStep.InputOutputAliases) module.InputOutputAliases.Add(alias);
        return module;
    }

    /// <summary>Loss and metrics only: inputs · model parameters · accumulators → new accumulators. With several
    /// <paramref name="replicas"/> (each on a shard of <paramref name="batchSize"/> examples) the increments are
    /// all-reduced, so every replica's accumulators count the global batch.</summary>
    public static HloModule EvalStep(HloModule lossProgram, LossDefinition loss, long batchSize, int replicas = 1, MetricPlan? plan = null)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "the replica count must be at least 1");
        plan ??= MetricPlan.Default(loss);
        var b = new HloBuilder(lossProgram.Name + ".eval_step");
        int own = lossProgram.Entry.Parameters.Count - (loss.HasTrainingMode ? 2 : 0) - (loss.HasSampleWeight ? 1 : 0);
        CheckExtraParameters(lossProgram, loss, own);
        var args = lossProgram.Entry.Parameters.Take(own).Select(p => b.Parameter(p.Shape, p.Name)).ToList();
        var accumulators = Enumerable.Range(0, plan.AccumulatorShapes.Count).Select(i => b.Parameter(plan.AccumulatorShapes[i], plan.AccumulatorNames[i])).ToList();
        var lossArgs = new List<HloInstruction>(args);
        foreach (var extra in lossProgram.Entry.Parameters.Skip(own))
        {
            // inference: training = false, which the inliner folds (each Dropout's select picks x), so no bits are drawn;
            // evaluation weighs every example alike (Keras' evaluate without sample weights)
            if (extra.Name == TrainingMode.StateName) lossArgs.Add(b.Constant(Literal.Create(TrainingMode.StateShape, new ulong[3])));
            else if (extra.Name == TrainingMode.TrainingName) lossArgs.Add(b.Constant(Literal.Scalar(false)));
            else lossArgs.Add(b.Full(ElementType.F32, 1, extra.Shape.Dims.ToArray()));
        }
        var result = b.Inline(lossProgram.Entry, lossArgs);
        // Take the loss and metrics straight from the inlined tuple's operands, not through get-tuple-element of it:
        // then the tuple and the gradients it gathers are dead, and the eval step computes no gradients.
        HloInstruction Element(int i) => result.Opcode == "tuple" ? result.Operands[i] : b.GetTupleElement(result, i);
        HloInstruction[] next;
        if (replicas == 1) next = accumulators.Zip(plan.Increments(b, Element, batchSize), b.Add).ToArray();
        else
        {
            var sums = b.AllReduce(plan.Increments(b, Element, batchSize).ToList());
            next = accumulators.Select((a, i) => b.Add(a, b.GetTupleElement(sums, i))).ToArray();
        }
        var module = b.BuildModule(b.Tuple(next));
        module.RemoveDeadCode();
        int first = args.Count;
        for (int a = 0; a < accumulators.Count; a++) module.InputOutputAliases.Add(new InputOutputAlias(new long[] { a }, first + a, Array.Empty<long>()));
        return module;
    }

    /// <summary>After its <paramref name="own"/> inputs and model parameters, a loss takes exactly: (rng u64[3], training
    /// pred[]) when it draws random bits, and sample_weight f32[batch] when it weighs its examples, in the order the
    /// generator created them (told apart by name).</summary>
    static void CheckExtraParameters(HloModule lossProgram, LossDefinition loss, int own)
    {
        var ps = lossProgram.Entry.Parameters;
        var extras = ps.Skip(own).ToList();
        int rng = extras.FindIndex(p => p.Name == TrainingMode.StateName), training = extras.FindIndex(p => p.Name == TrainingMode.TrainingName);
        int weight = extras.FindIndex(p => p.Name == TrainingMode.SampleWeightName);
        bool ok = extras.Count == (loss.HasTrainingMode ? 2 : 0) + (loss.HasSampleWeight ? 1 : 0)
            && (!loss.HasTrainingMode || (rng >= 0 && training == rng + 1 && extras[rng].Shape.Equals(TrainingMode.StateShape) && extras[training].Shape.Equals(Shape.Scalar(ElementType.Pred))))
            && (!loss.HasSampleWeight || (weight >= 0 && extras[weight].Shape.Rank == 1 && extras[weight].Shape.ElementType == ElementType.F32));
        if (!ok)
            throw new InvalidOperationException($"loss program {lossProgram.Name} has parameters ({string.Join(", ", ps.Select(p => p.Name + ": " + p.Shape))}); "
                + $"expected {own} inputs and model parameters{(loss.HasTrainingMode ? ", rng u64[3] and training pred[]" : "")}{(loss.HasSampleWeight ? ", sample_weight f32[batch]" : "")}");
    }

    /// <summary>Sums gradients and accumulator increments over the replicas (one all-reduce per element type, so one
    /// rendezvous for an all-f32 model) and divides the gradients by the replica count.</summary>
    static (List<HloInstruction> Gradients, List<HloInstruction> Increments) AllReduceMean(HloBuilder b, List<HloInstruction> gradients, List<HloInstruction> increments, int replicas)
    {
        var values = gradients.Concat(increments).ToList();
        var reduced = new HloInstruction[values.Count];
        foreach (var group in values.Select((v, i) => (v, i)).GroupBy(t => t.v.Shape.ElementType))
        {
            var members = group.ToList();
            var sum = b.AllReduce(members.Select(t => t.v).ToList());
            for (int k = 0; k < members.Count; k++) reduced[members[k].i] = members.Count == 1 ? sum : b.GetTupleElement(sum, k);
        }
        var means = gradients.Select((g, i) =>
        {
            var count = b.BroadcastScalar(b.Constant(g.Shape.ElementType, replicas), g.Shape.Dims.ToArray());
            return b.Divide(reduced[i], count);
        }).ToList();
        return (means, reduced.Skip(gradients.Count).ToList());
    }
}
