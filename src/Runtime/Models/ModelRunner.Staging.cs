using XlaGen.Backends.Remote;
using XlaGen.Data;

namespace XlaGen;

// Staging: batches reach the device while the previous step computes. On a remote device every upload is a round
// trip to the server, so Fit and Evaluate upload batch k+1 (and, in Fit, the learning rate of step k+1 when the
// schedule changes it) on a worker while step k executes; the step then finds its inputs already resident. The
// in-process CPU executor's upload is a memory copy with nothing to hide, so there the upload runs inline.
public abstract partial class ModelRunner
{
    /// <summary>A batch with its columns on the device, and the learning rate its train step uses; or (Fit with
    /// <see cref="Training.FitOptions.StepsPerExecution"/> K &gt; 1) K full batches stacked into one [K, batch…] tensor
    /// per column, with the K steps' learning rates as one f32[K] (<see cref="LearningRates"/>).</summary>
    internal sealed class StagedBatch(Batch? batch, UploadedColumns columns, double learningRate, DeviceBuffer? learningRateBuffer)
    {
        /// <summary>The batch of a single step (null for stacked batches, which are released once stacked).</summary>
        public Batch? Batch { get; private set; } = batch;

        public DeviceBuffer[] Columns => Placement.Buffers;

        /// <summary>How the columns were placed on the replicas (and which tensors bind the program's shapes).</summary>
        public UploadedColumns Placement { get; } = columns;

        public double LearningRate { get; private set; } = learningRate;

        /// <summary>A host staging's batch (<see cref="HostStaging"/>): reused for the next batch once disposed.</summary>
        internal HostStaging? Host { get; init; }

        /// <summary>Makes this released host staging the staging of <paramref name="next"/>.</summary>
        internal void Reuse(Batch next, double rate, DeviceBuffer? rateBuffer)
        {
            Batch = next;
            LearningRate = rate;
            LearningRateBuffer = rateBuffer;
        }

        /// <summary>A freshly uploaded learning rate, when it differs from the previous batch's (else null).</summary>
        public DeviceBuffer? LearningRateBuffer { get; set; } = learningRateBuffer;

        /// <summary>Train steps this runs: 1, or K for stacked batches.</summary>
        public int Steps { get; init; } = 1;

        /// <summary>Examples over all its steps.</summary>
        public int Examples
        {
            get => examples ?? Batch?.Size ?? 0;
            init => examples = value;
        }

        readonly int? examples;

        /// <summary>Stacked batches: the K steps' learning rates, f32[K].</summary>
        public DeviceBuffer? LearningRates { get; init; }

        /// <summary>Stacked batches: the symbol bindings of one step's batch.</summary>
        public long[]? Bindings { get; init; }

        /// <summary>Stacked batches: the examples of one step.</summary>
        public long BatchSize { get; init; }

        /// <summary>Stacked batches on a remote device: the host arrays of the stack (<see cref="PooledArrays"/>),
        /// returned to this pool once the buffers uploaded from them are released (their host copies go with them).</summary>
        public Backends.Cpu.Plan.SharedBufferPool? Pool { get; set; }

        /// <summary>The host arrays that go back to <see cref="Pool"/>: the stacks, or every replica's stack shard.</summary>
        public Array[]? PooledArrays { get; set; }

        public void Dispose()
        {
            if (!Placement.Lent)
            {
                foreach (var c in Columns) c.Dispose();
            }
            LearningRateBuffer?.Dispose();
            LearningRateBuffer = null;
            LearningRates?.Dispose();
            var batch = Batch;
            Batch = null;
            batch?.Dispose();
            if (Pool != null && PooledArrays != null)
            {
                foreach (var a in PooledArrays) Pool.Return(a);
            }
            if (batch != null) Host?.Release(this);
        }
    }

    /// <summary>
    /// Host arrays for stacking K batches before a remote upload, reused from chunk to chunk: a fresh 6.4 MB array per
    /// chunk (the MLP's images, K = 16) is a large-object allocation that the runtime zeroes, page-faults and soon
    /// collects again in a gen-2 collection, which stops every thread of the client, the staging worker included.
    /// </summary>
    readonly Backends.Cpu.Plan.SharedBufferPool stackPool = new();

    /// <summary>Fit's unit of work: one batch (a single train step), or K full batches to stack and run in one program.</summary>
    internal sealed record TrainChunk(Batch[] Batches, int FirstIndex, bool Stack)
    {
        public void Dispose()
        {
            foreach (var b in Batches) b.Dispose();
        }
    }

    /// <summary>Groups an epoch's batches into chunks of <paramref name="steps"/> full batches (of
    /// <paramref name="batchSize"/> examples); what is left over at the end (fewer than K full batches, and a last partial
    /// batch) comes as single batches, so every step is the one K single steps would run.</summary>
    /// <param name="batches">The epoch's batches, in order.</param>
    /// <param name="steps">K, the steps per execution.</param>
    /// <param name="batchSize">The examples of a full batch.</param>
    /// <param name="fullBatches">How many of the epoch's batches are full (the partial last one not counted: counting it
    /// made a run of K that it completed wait for a K-th full batch that never came, and its full batches were dropped).</param>
    internal static IEnumerable<TrainChunk> Chunks(IEnumerable<Batch> batches, int steps, int batchSize, int fullBatches)
    {
        var pending = new List<Batch>();
        int index = 0;
        int fullChunks = steps <= 1 ? 0 : fullBatches / steps;
        try
        {
            foreach (var batch in batches)
            {
                int k = index++;
                if (k < fullChunks * steps && batch.Size == batchSize)
                {
                    pending.Add(batch);
                    if (pending.Count == steps)
                    {
                        var chunk = new TrainChunk(pending.ToArray(), k - steps + 1, true);
                        pending.Clear();
                        yield return chunk;
                    }
                }
                else
                {
                    yield return new TrainChunk(new[] { batch }, k, false);
                }
            }
        }
        finally
        {
            foreach (var b in pending) b.Dispose();
        }
    }

    /// <summary>Stacks K batches' columns into one [K, batch…] tensor per column (and releases the batches).</summary>
    /// <param name="batches">The K batches, all of one size.</param>
    /// <param name="host">A device whose buffers are host arrays: the stack is built in an array it recycles, to be
    /// adopted without a copy (a fresh K-batch array per chunk page-faulted on first touch and made K = 16 slower than
    /// K = 1 in process).</param>
    /// <param name="pool">Else, for a remote device (whose upload copies the bytes away before it returns), where the
    /// stack's arrays come from (see <see cref="stackPool"/>); null: fresh arrays.</param>
    static Tensor[] StackColumns(Batch[] batches, IHostMemoryDevice? host, Backends.Cpu.Plan.SharedBufferPool? pool)
    {
        var first = batches[0].Columns;
        var stacked = new Tensor[first.Length];
        for (int c = 0; c < first.Length; c++)
        {
            var t = first[c];
            long n = t.ElementCount;
            var dims = new[] { (long)batches.Length }.Concat(t.Shape).ToArray();
            var data = host?.AllocateUninitialized(t.ElementType, dims).Data ?? pool?.TryRent(t.Data.GetType().GetElementType()!, checked((int)(n * batches.Length))) ?? Array.CreateInstanceFromArrayType(t.Data.GetType(), checked((int)(n * batches.Length)));
            for (int k = 0; k < batches.Length; k++) Array.Copy(batches[k].Columns[c].Data, 0, data, k * n, n);
            stacked[c] = HostArrays.Wrap(t.ElementType, dims, data);
        }
        return stacked;
    }

    /// <summary>A batch's columns on the device: split across the replicas of a <see cref="ReplicatedDevice"/> (each gets
    /// <see cref="Shards"/> = N contiguous slices of equal size, in replica order), or whole (one device; or a batch that
    /// does not divide by the replica count, which every replica then runs whole, so the result is the one-device
    /// result). <see cref="BindColumns"/> are the tensors one replica's program sees (they bind its symbolic sizes).</summary>
    internal sealed class UploadedColumns(DeviceBuffer[] buffers, IReadOnlyList<Tensor> bindColumns, int shards)
    {
        public DeviceBuffer[] Buffers { get; } = buffers;

        public IReadOnlyList<Tensor> BindColumns { get; internal set; } = bindColumns;

        public int Shards { get; } = shards;

        /// <summary>The buffers are the CPU executor's views of the batch's own arrays (<see cref="HostStaging"/>):
        /// reused for the next batch, never disposed with the staging.</summary>
        public bool Lent { get; init; }

        public long RowsPerReplica => BindColumns[0].Shape[0];
    }

    /// <summary>
    /// Staging on the in-process CPU executor (one replica): a step reads the batch's own arrays in place (the executor
    /// never writes an argument it was not donated, and the batch goes back to its pool only after the step), through
    /// handles lent for the batch and rebound to the next batch's arrays, and the staged batch object itself is reused.
    /// Staging then allocates nothing per step (uploads copied each column and made new handles and lists).
    /// </summary>
    internal sealed class HostStaging(Backends.Cpu.CpuDevice device)
    {
        StagedBatch? free;

        /// <summary>The staging of <paramref name="batch"/>: the free staging rebound to its columns, or a new one when
        /// none is free or its handles do not fit (another column count or shape, e.g. the epoch's last partial batch);
        /// a released staging becomes the free one.</summary>
        public StagedBatch Stage(Batch batch, double rate, DeviceBuffer? rateBuffer)
        {
            var columns = batch.Columns;
            var staged = Interlocked.Exchange(ref free, null);
            if (staged != null && staged.Columns.Length == columns.Length)
            {
                bool fits = true;
                for (int i = 0; i < columns.Length && fits; i++) fits = ((Backends.Cpu.CpuBuffer)staged.Columns[i]).TryLend(columns[i]);
                if (fits)
                {
                    staged.Placement.BindColumns = columns;
                    staged.Reuse(batch, rate, rateBuffer);
                    return staged;
                }
            }
            var handles = new DeviceBuffer[columns.Length];
            for (int i = 0; i < handles.Length; i++) handles[i] = device.Lend(columns[i]);
            return new StagedBatch(batch, new UploadedColumns(handles, columns, 1) { Lent = true }, rate, rateBuffer) { Host = this };
        }

        /// <summary>Makes <paramref name="staged"/> the free staging. Its handles keep pointing at the released batch's
        /// arrays, which the batch pool holds anyway, until the next loan rebinds them; nothing reads them meanwhile.</summary>
        public void Release(StagedBatch staged) => Volatile.Write(ref free, staged);
    }

    HostStaging? hostStaging;

    /// <summary>Uploads a batch's columns (see <see cref="UploadedColumns"/>).</summary>
    internal UploadedColumns UploadColumns(IReadOnlyList<Tensor> columns)
    {
        var buffers = new DeviceBuffer[columns.Count];
        try
        {
            int n = Replicas;
            long rows = columns.Count == 0 || columns[0].Shape.Count == 0 ? 0 : columns[0].Shape[0];
            if (n == 1 || rows == 0 || rows % n != 0)
                return new UploadedColumns(UploadAll(columns), columns, 1);
            var device = (ReplicatedDevice)Device;
            var first = new Tensor[columns.Count];
            var hosts = device.Devices.OfType<IHostMemoryDevice>().ToArray();
            for (int i = 0; i < buffers.Length; i++)
            {
                // replicas whose buffers are host arrays (the CPU executor's): each slice copied once, straight into an
                // array its replica recycles, and adopted (fresh slices, then an upload's copy, were two copies and two
                // large allocations per column and step)
                var shards = SplitRows(columns[i], n, hosts.Length == n ? hosts : null);
                first[i] = shards[0];
                buffers[i] = hosts.Length == n ? device.AdoptShards(shards.Select((t, r) => hosts[r].AdoptHostTensor(t)).ToArray()) : device.UploadShards(shards);
            }
            return new UploadedColumns(buffers, first, n);
        }
        catch
        {
            foreach (var b in buffers) b?.Dispose();
            throw;
        }
    }

    /// <summary>Splits <paramref name="t"/> along dim 0 into <paramref name="n"/> equal contiguous slices, slice r in an
    /// array of <paramref name="hosts"/>[r] when given (one it recycles), else a fresh one.</summary>
    static Tensor[] SplitRows(Tensor t, int n, IHostMemoryDevice[]? hosts = null)
    {
        var dims = t.Shape.ToArray();
        long rows = dims[0];
        if (rows % n != 0) throw new ArgumentException($"{t.ShapeText} does not split into {n} equal slices along dim 0");
        long per = rows / n;
        long rowSize = rows == 0 ? 0 : t.ElementCount / rows;
        dims[0] = per;
        var r = new Tensor[n];
        for (int k = 0; k < n; k++)
        {
            var data = hosts?[k].AllocateUninitialized(t.ElementType, dims).Data ?? Array.CreateInstanceFromArrayType(t.Data.GetType(), checked((int)(per * rowSize)));
            Array.Copy(t.Data, k * per * rowSize, data, 0, per * rowSize);
            r[k] = HostArrays.Wrap(t.ElementType, (long[])dims.Clone(), data);
        }
        return r;
    }

    /// <summary>The replicas are the CPU executor's virtual devices in this process: each gathers its slice of every
    /// batch on its own thread (<see cref="StagedRows"/>).</summary>
    bool ReplicasGather => Device is ReplicatedDevice r && r.Replicas > 1 && r.Devices.All(d => d is Backends.Cpu.CpuDevice);

    /// <summary>
    /// An epoch's batches staged for the device: on the CPU executor's replicas (<see cref="ReplicasGather"/>) as
    /// deferred slices that each replica gathers from <paramref name="data"/> itself (<see cref="StagedRows"/>);
    /// elsewhere gathered by the dataset (<paramref name="prefetch"/> batches ahead on its thread) and uploaded
    /// (<see cref="Staged"/>).
    /// </summary>
    internal IEnumerable<StagedBatch> StagedEpoch(Dataset data, int batchSize, bool shuffle, ulong seed, int epoch, int prefetch, Func<int, double>? learningRateAt) =>
        ReplicasGather
            ? StagedRows(data.BatchRanges(batchSize, shuffle, seed, epoch, dropLast: false), learningRateAt)
            : Staged(data.Batches(batchSize, shuffle, seed, epoch, dropLast: false, prefetch), learningRateAt);

    /// <summary>
    /// Stages batches on the CPU executor's replicas without gathering them here: replica r's column buffers are arrays
    /// its device recycles, filled on first read (<see cref="Backends.Cpu.CpuDevice.AdoptDeferred"/>) with slice r of the
    /// batch's rows (or the whole batch when it does not divide by the replica count, see <see cref="UploadedColumns"/>).
    /// A replicated execution reads replica r's arguments on replica r's thread, so the replicas gather in parallel, and
    /// neither a prefetch thread nor a split copy of a gathered batch takes a core from them (on two cores these cost
    /// 0.1 ms of a 0.9 ms two-replica MLP step, with replica 1 waiting).
    /// </summary>
    internal IEnumerable<StagedBatch> StagedRows(IEnumerable<Dataset.BatchRows> batches, Func<int, double>? learningRateAt)
    {
        double previousRate = learningRateBuffer?.Value ?? double.NaN;
        int index = 0;
        StagedBatch Stage(Dataset.BatchRows rows) => StageRows(rows, learningRateAt == null ? null : learningRateAt(index++), ref previousRate);
        return Prefetched(batches, Stage);
    }

    /// <summary>One <paramref name="dims"/>-shaped buffer per CPU replica, each an array its device recycles, written by
    /// <paramref name="fill"/>(r) on the thread that first reads it (replica r's, in a replicated execution); replica
    /// 0's tensor comes back in <paramref name="first"/> (its shape binds the program's sizes).</summary>
    static ReplicatedBuffer DeferredShards(ReplicatedDevice device, Hlo.ElementType type, long[] dims, Func<int, Action<Array>> fill, out Tensor first)
    {
        var shards = new DeviceBuffer[device.Replicas];
        first = null!;
        try
        {
            for (int r = 0; r < shards.Length; r++)
            {
                var cpu = (Backends.Cpu.CpuDevice)device.Devices[r];
                var t = cpu.AllocateUninitialized(type, (long[])dims.Clone());
                shards[r] = cpu.AdoptDeferred(t, fill(r));
                if (r == 0) first = t;
            }
            return device.AdoptShards(shards);
        }
        catch
        {
            foreach (var b in shards) b?.Dispose();
            throw;
        }
    }

    /// <summary>One batch of <see cref="StagedRows"/>: deferred slices per replica, and the step's learning rate uploaded
    /// when it differs from <paramref name="previousRate"/> (null: an evaluation).</summary>
    StagedBatch StageRows(Dataset.BatchRows rows, double? rate, ref double previousRate)
    {
        bool newRate = rate is { } value && !value.Equals(previousRate);
        var device = (ReplicatedDevice)Device;
        int n = device.Replicas;
        bool split = rows.Size % n == 0;
        int per = split ? rows.Size / n : rows.Size;
        var sources = rows.Sources;
        var buffers = new DeviceBuffer[sources.Count];
        var bind = new Tensor[sources.Count];
        DeviceBuffer? rateBuffer = null;
        try
        {
            for (int c = 0; c < buffers.Length; c++)
            {
                var dims = sources[c].Shape.ToArray();
                dims[0] = per;
                int column = c;
                buffers[c] = DeferredShards(device, sources[c].ElementType, dims, r => a => rows.Gather(column, split ? r * per : 0, per, a), out bind[c]);
            }
            if (newRate) rateBuffer = Device.Upload(Tensor<float>.Scalar((float)rate!.Value));
        }
        catch
        {
            foreach (var b in buffers) b?.Dispose();
            throw;
        }
        previousRate = rate ?? double.NaN;
        return new StagedBatch(null, new UploadedColumns(buffers, bind, split ? n : 1), rate ?? double.NaN, rateBuffer) { Examples = rows.Size };
    }

    /// <summary>
    /// Fit with K steps per execution on the CPU executor's replicas: runs of K full batches (of
    /// <paramref name="batchSize"/> examples, which divides by the replica count) become one stacked chunk, replica r's
    /// columns a deferred [K, batch / N, …] stack that replica r fills on its own thread with slice r of each of the K
    /// batches (as <see cref="StagedRows"/> does for one batch), and the K steps' learning rates one f32[K]. What is
    /// left over (fewer than K full batches, a last partial batch) runs as single steps, so every step is the one K
    /// single steps would run.
    /// </summary>
    /// <param name="batches">The epoch's batches as row ranges, in order.</param>
    /// <param name="steps">K, the steps per execution.</param>
    /// <param name="batchSize">The examples of a full batch.</param>
    /// <param name="fullBatches">How many of the epoch's batches are full (see <see cref="Chunks"/>).</param>
    /// <param name="learningRateAt">The learning rate of the epoch's k-th step.</param>
    internal IEnumerable<StagedBatch> StagedRowChunks(IEnumerable<Dataset.BatchRows> batches, int steps, int batchSize, int fullBatches, Func<int, double> learningRateAt)
    {
        var loss = RequireLoss();
        var device = (ReplicatedDevice)Device;
        int n = device.Replicas;
        int fullChunks = batchSize % n == 0 ? fullBatches / steps : 0;
        double previousRate = learningRateBuffer?.Value ?? double.NaN;
        Tensor[]? bind = null;

        IEnumerable<(Dataset.BatchRows[] Batches, int FirstIndex, bool Stack)> Group()
        {
            var pending = new List<Dataset.BatchRows>(steps);
            int index = 0;
            foreach (var rows in batches)
            {
                int k = index++;
                if (k < fullChunks * steps && rows.Size == batchSize)
                {
                    pending.Add(rows);
                    if (pending.Count < steps) continue;
                    var chunk = pending.ToArray();
                    pending.Clear();
                    yield return (chunk, k - steps + 1, true);
                }
                else yield return (new[] { rows }, k, false);
            }
        }

        StagedBatch Stage((Dataset.BatchRows[] Batches, int FirstIndex, bool Stack) chunk)
        {
            if (!chunk.Stack) return StageRows(chunk.Batches[0], learningRateAt(chunk.FirstIndex), ref previousRate);
            int per = batchSize / n;
            var sources = chunk.Batches[0].Sources;
            bind ??= OneStepShapes(sources, per);   // made once per Fit call
            var bindings = loss.Bind(ModelName + "." + loss.Method, bind, loss.HasSampleWeight);
            var buffers = new DeviceBuffer[sources.Count];
            DeviceBuffer? rates = null;
            try
            {
                for (int c = 0; c < buffers.Length; c++)
                {
                    var dims = new[] { (long)steps }.Concat(sources[c].Shape).ToArray();
                    dims[1] = per;
                    int column = c;
                    var rows = chunk.Batches;
                    buffers[c] = DeferredShards(device, sources[c].ElementType, dims, r => a =>
                    {
                        for (int k = 0; k < rows.Length; k++) rows[k].Gather(column, r * per, per, a, (long)k * per);
                    }, out _);
                }
                rates = Device.Upload(StepRates(chunk.FirstIndex, steps, learningRateAt));
            }
            catch
            {
                foreach (var b in buffers) b?.Dispose();
                throw;
            }
            return StagedStacks(buffers, bind, n, steps, batchSize, rates, bindings);
        }

        return Prefetched(Group(), Stage);
    }

    /// <summary>Fit and Evaluate upload the next batch while the current step runs, on devices outside this process
    /// (a remote xlagen-server), as tf.data's prefetch to device does. True by default; results are the same either way.</summary>
    public bool PrefetchToDevice { get; set; } = true;

    /// <summary>Staging on a worker pays off for devices outside this process. The CPU executor's replicas are in
    /// process too: a staging thread beside the replica threads only competes with them for the cores.</summary>
    bool OverlapsUploads => PrefetchToDevice && Device is not IHostMemoryDevice
        && !(Device is ReplicatedDevice replicated && replicated.Devices.Count > 0 && replicated.Devices[0] is IHostMemoryDevice);

    /// <summary>
    /// Yields each batch with its columns uploaded. While the caller runs batch k, batch k+1 is being uploaded on a
    /// worker (remote devices). <paramref name="learningRateAt"/> (train steps) gives the learning rate of the k-th
    /// yielded batch's step; its scalar is uploaded with the batch when it changes. Buffers are disposed after the
    /// caller moves on, and whatever is staged is released when the loop ends early or fails.
    /// </summary>
    internal IEnumerable<StagedBatch> Staged(IEnumerable<Batch> batches, Func<int, double>? learningRateAt = null)
    {
        double previousRate = learningRateBuffer?.Value ?? double.NaN;
        StagedBatch Stage(Batch batch, int k) =>
            StageBatch(batch, learningRateAt == null ? null : learningRateAt(k), ref previousRate);
        int index = 0;
        return Prefetched(batches, b => Stage(b, index++));
    }

    /// <summary>One batch's columns uploaded, with its step's learning rate uploaded too when <paramref name="rate"/>
    /// differs from <paramref name="previousRate"/> (null: no learning rate, an evaluation). On failure everything
    /// staged so far and the batch are released.</summary>
    StagedBatch StageBatch(Batch batch, double? rate, ref double previousRate)
    {
        bool newRate = rate is { } r && !r.Equals(previousRate);
        UploadedColumns uploaded;
        DeviceBuffer? rateBuffer = null;
        try
        {
            var columns = batch.Columns;
            if (Replicas == 1 && Device is Backends.Cpu.CpuDevice cpu)
            {
                if (newRate) rateBuffer = Device.Upload(Tensor<float>.Scalar((float)rate!.Value));
                previousRate = rate ?? double.NaN;
                return (hostStaging ??= new HostStaging(cpu)).Stage(batch, rate ?? double.NaN, rateBuffer);
            }
            if (Replicas == 1)
            {
                // One device: the columns and the learning rate travel together (at once, on a remote device).
                var tensors = newRate ? columns.Append(Tensor<float>.Scalar((float)rate!.Value)).ToArray() : columns;
                var buffers = UploadAll(tensors);
                uploaded = new UploadedColumns(newRate ? buffers[..columns.Length] : buffers, columns, 1);
                if (newRate) rateBuffer = buffers[columns.Length];
            }
            else
            {
                uploaded = UploadColumns(columns);
                try
                {
                    if (newRate) rateBuffer = Device.Upload(Tensor<float>.Scalar((float)rate!.Value));
                }
                catch
                {
                    foreach (var u in uploaded.Buffers) u.Dispose();
                    throw;
                }
            }
        }
        catch
        {
            batch.Dispose();
            throw;
        }
        previousRate = rate ?? double.NaN;
        return new StagedBatch(batch, uploaded, rate ?? double.NaN, rateBuffer);
    }

    /// <summary>Uploads <paramref name="tensors"/>: on a remote device all at once, so their round trips overlap (one by
    /// one, a batch's columns and learning rate cost four round trips in a row, longer than the step they feed); elsewhere
    /// one after another. If any upload fails, the others are released and the first failure is thrown.</summary>
    internal DeviceBuffer[] UploadAll(IReadOnlyList<Tensor> tensors)
    {
        if (Device is RemoteDevice remote && tensors.Count > 1)
        {
            var tasks = new Task<RemoteBuffer>[tensors.Count];
            for (int i = 0; i < tasks.Length; i++) tasks[i] = remote.UploadAsync(tensors[i]);
            return Uploaded(tasks);
        }
        var buffers = new DeviceBuffer[tensors.Count];
        try
        {
            for (int i = 0; i < buffers.Length; i++) buffers[i] = Device.Upload(tensors[i]);
            return buffers;
        }
        catch
        {
            foreach (var b in buffers) b?.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="Staged(IEnumerable{Batch}, Func{int, double}?)"/> for Fit's chunks: a single batch is
    /// staged as there; K stacked batches upload one [K, batch…] tensor per column and one f32[K] of learning rates
    /// (<paramref name="learningRateAt"/> of each step's index in the epoch).</summary>
    internal IEnumerable<StagedBatch> StagedChunks(IEnumerable<TrainChunk> chunks, Func<int, double> learningRateAt)
    {
        var loss = RequireLoss();
        double previousRate = learningRateBuffer?.Value ?? double.NaN;
        StagedBatch Stage(TrainChunk chunk)
        {
            if (!chunk.Stack)
                return StageBatch(chunk.Batches[0], learningRateAt(chunk.FirstIndex), ref previousRate);
            if (Device is ReplicatedDevice { Replicas: > 1 } replicated && chunk.Batches[0].Size % replicated.Replicas == 0)
                return StageShardedStacks(replicated, chunk, learningRateAt);
            long[] bindings;
            Tensor[] stacked;
            int examples = chunk.Batches.Sum(b => b.Size);
            long batchSize = chunk.Batches[0].Size;
            try
            {
                bindings = loss.Bind(ModelName + "." + loss.Method, chunk.Batches[0].Columns, loss.HasSampleWeight);
                stacked = StackColumns(chunk.Batches, Device as IHostMemoryDevice, Device is RemoteDevice ? stackPool : null);
            }
            finally
            {
                chunk.Dispose();
            }
            var rates = StepRates(chunk.FirstIndex, chunk.Batches.Length, learningRateAt);
            DeviceBuffer[] buffers;
            DeviceBuffer ratesBuffer;
            if (Device is IHostMemoryDevice host)
            {
                buffers = new DeviceBuffer[stacked.Length];
                for (int i = 0; i < stacked.Length; i++) buffers[i] = host.AdoptHostTensor(stacked[i]);
                try
                {
                    ratesBuffer = Device.Upload(rates);
                }
                catch
                {
                    foreach (var u in buffers) u.Dispose();
                    throw;
                }
            }
            else
            {
                var all = UploadAll(stacked.Append(rates).ToArray());
                buffers = all[..stacked.Length];
                ratesBuffer = all[stacked.Length];
            }
            return new StagedBatch(null, new UploadedColumns(buffers, stacked, 1), double.NaN, null)
            {
                Steps = (int)rates.ElementCount,
                Examples = examples,
                LearningRates = ratesBuffer,
                Bindings = bindings,
                BatchSize = batchSize,
                Pool = Device is RemoteDevice ? stackPool : null,
                PooledArrays = stacked.Select(t => t.Data).ToArray(),
            };
        }
        return Prefetched(chunks, Stage);
    }

    /// <summary>
    /// K full batches for a replicated device whose replicas are not in this process (a server's, <c>xlagen-server
    /// --devices N</c>): replica r's columns are [K, batch / N, …] stacks of slice r of each batch, built straight from
    /// the batches (one copy, no whole stack split afterwards) in arrays the stack pool recycles, and uploaded to their
    /// replicas all at once; the K rates go to every replica. The program is the replicated train step in the K-step
    /// loop, so the result is K replicated single steps (tested bitwise against them).
    /// </summary>
    StagedBatch StageShardedStacks(ReplicatedDevice device, TrainChunk chunk, Func<int, double> learningRateAt)
    {
        var loss = RequireLoss();
        var batches = chunk.Batches;
        int n = device.Replicas, steps = batches.Length;
        int batchSize = batches[0].Size, per = batchSize / n;
        var columns = batches[0].Columns;
        var pool = Device is RemoteDevice || device.Devices[0] is RemoteDevice ? stackPool : null;
        var shards = new Tensor[columns.Length][];
        var pooled = new List<Array>();
        var bind = OneStepShapes(columns, per);
        long[] bindings;
        try
        {
            for (int c = 0; c < columns.Length; c++)
            {
                var t = columns[c];
                long rowSize = batchSize == 0 ? 0 : t.ElementCount / batchSize;
                var dims = new[] { (long)steps }.Concat(t.Shape).ToArray();
                dims[1] = per;
                var arrayType = t.Data.GetType();
                int length = checked((int)(steps * per * rowSize));
                shards[c] = new Tensor[n];
                for (int r = 0; r < n; r++)
                {
                    var data = pool?.TryRent(arrayType.GetElementType()!, length) ?? Array.CreateInstanceFromArrayType(arrayType, length);
                    pooled.Add(data);
                    for (int k = 0; k < steps; k++) Array.Copy(batches[k].Columns[c].Data, r * per * rowSize, data, k * per * rowSize, per * rowSize);
                    shards[c][r] = HostArrays.Wrap(t.ElementType, (long[])dims.Clone(), data);
                }
            }
            bindings = loss.Bind(ModelName + "." + loss.Method, bind, loss.HasSampleWeight);
        }
        finally
        {
            chunk.Dispose();
        }
        var rates = StepRates(chunk.FirstIndex, steps, learningRateAt);
        var buffers = new DeviceBuffer[columns.Length];
        DeviceBuffer? ratesBuffer = null;
        try
        {
            for (int c = 0; c < buffers.Length; c++) buffers[c] = UploadShardsAll(device, shards[c]);
            ratesBuffer = Device.Upload(rates);
        }
        catch
        {
            foreach (var b in buffers) b?.Dispose();
            if (pool != null) foreach (var a in pooled) pool.Return(a);
            throw;
        }
        var staged = StagedStacks(buffers, bind, n, steps, batchSize, ratesBuffer, bindings);
        staged.Pool = pool;
        staged.PooledArrays = pooled.ToArray();
        return staged;
    }

    /// <summary>K stacked batches staged on <paramref name="replicas"/> replicas: each replica's columns hold its
    /// [K, batch / N, …] slices, <paramref name="bind"/> are one step's per-replica shapes.</summary>
    static StagedBatch StagedStacks(DeviceBuffer[] buffers, Tensor[] bind, int replicas, int steps, int batchSize, DeviceBuffer rates, long[] bindings) =>
        new(null, new UploadedColumns(buffers, bind, replicas), double.NaN, null)
        {
            Steps = steps,
            Examples = steps * batchSize,
            LearningRates = rates,
            Bindings = bindings,
            BatchSize = batchSize / replicas,
        };

    /// <summary>Tensors of one step's shapes on one replica (<paramref name="rows"/> rows of each column; zeros): they
    /// bind the program's symbolic sizes.</summary>
    static Tensor[] OneStepShapes(IReadOnlyList<Tensor> columns, long rows) => columns.Select(t =>
    {
        var dims = t.Shape.ToArray();
        dims[0] = rows;
        return TensorBytes.Allocate(t.ElementType, dims, zeroed: true);
    }).ToArray();

    /// <summary>The learning rates of K steps from the epoch's step <paramref name="first"/>, as f32[K].</summary>
    static Tensor<float> StepRates(int first, int steps, Func<int, double> learningRateAt)
    {
        var rates = new float[steps];
        for (int j = 0; j < steps; j++) rates[j] = (float)learningRateAt(first + j);
        return new Tensor<float>(new long[] { steps }, rates);
    }

    /// <summary>One shard per replica, uploaded: to a server's replicas all at once (their round trips overlap),
    /// elsewhere one after another (<see cref="ReplicatedDevice.UploadShards"/>).</summary>
    static ReplicatedBuffer UploadShardsAll(ReplicatedDevice device, Tensor[] shards)
    {
        if (device.Devices.All(d => d is RemoteDevice))
        {
            return device.AdoptShards(Uploaded(shards.Select((t, r) => ((RemoteDevice)device.Devices[r]).UploadAsync(t)).ToArray()));
        }
        return device.UploadShards(shards);
    }

    /// <summary>The buffers of uploads started together, once all are done; if any failed, the others are released and
    /// the first failure is thrown.</summary>
    static DeviceBuffer[] Uploaded(Task<RemoteBuffer>[] tasks)
    {
        try
        {
            Task.WhenAll(tasks).GetAwaiter().GetResult();
        }
        catch
        {
            foreach (var t in tasks)
            {
                if (t.IsCompletedSuccessfully) t.Result.Dispose();
            }
            throw;
        }
        var uploaded = new DeviceBuffer[tasks.Length];
        for (int i = 0; i < tasks.Length; i++) uploaded[i] = tasks[i].Result;
        return uploaded;
    }

    /// <summary>Yields <paramref name="stage"/> of each item, taking item k+1 from <paramref name="items"/> and staging it
    /// on a worker (remote devices) while the caller runs item k; what is staged is released after the caller moves on,
    /// or when the loop ends early or fails. Taking the item is part of the worker's job: for stacked batches it gathers
    /// K batches from the dataset, which on the caller's thread delayed the next execution by as long.</summary>
    IEnumerable<StagedBatch> Prefetched<T>(IEnumerable<T> items, Func<T, StagedBatch> stage)
    {
        using var e = items.GetEnumerator();
        StagedBatch? StageNext() => e.MoveNext() ? stage(e.Current) : null;
        // A thread of its own, not the thread pool: a pool work item queued from a pool thread sits in that thread's
        // local queue, and the blocked wait for it runs it inline, i.e. serially, whenever the pool is busy.
        using var worker = OverlapsUploads ? new StagingWorker() : null;
        StagedBatch? current = StageNext();
        Task<StagedBatch?>? next = null;
        try
        {
            while (current != null)
            {
                // The worker owns the enumerator until the task completes; this thread touches it only after waiting.
                if (worker != null) next = worker.Run(StageNext);
                try
                {
                    yield return current;
                }
                finally
                {
                    current.Dispose();
                    current = null;
                }
                if (next != null)
                {
                    var pending = next;
                    next = null;
                    current = pending.GetAwaiter().GetResult();
                }
                else
                {
                    current = StageNext();
                }
            }
        }
        finally
        {
            current?.Dispose();
            if (next != null)
            {
                try
                {
                    next.GetAwaiter().GetResult()?.Dispose();
                }
                catch
                {
                    // the loop already ended with its own exception or by the caller's choice; a failed upload of a
                    // batch nobody will run has nothing left to release
                }
            }
        }
    }

    /// <summary>A thread that runs one staging job at a time for <see cref="Staged"/>; it ends when disposed.</summary>
    sealed class StagingWorker : IDisposable
    {
        readonly System.Collections.Concurrent.BlockingCollection<(Func<StagedBatch?> Job, TaskCompletionSource<StagedBatch?> Done)> jobs = new(1);
        readonly Thread thread;

        public StagingWorker()
        {
            thread = new Thread(Loop) { IsBackground = true, Name = "XlaGen prefetch to device" };
            thread.Start();
        }

        public Task<StagedBatch?> Run(Func<StagedBatch?> job)
        {
            var done = new TaskCompletionSource<StagedBatch?>(TaskCreationOptions.RunContinuationsAsynchronously);
            jobs.Add((job, done));
            return done.Task;
        }

        void Loop()
        {
            foreach (var (job, done) in jobs.GetConsumingEnumerable())
            {
                try
                {
                    done.SetResult(job());
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        }

        public void Dispose()
        {
            jobs.CompleteAdding();
            thread.Join();
            jobs.Dispose();
        }
    }
}
