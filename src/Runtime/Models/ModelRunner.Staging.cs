using XlaGen.Data;

namespace XlaGen;

// Staging: batches reach the device while the previous step computes. On a remote device every upload is a round
// trip to the server, so Fit and Evaluate upload batch k+1 (and, in Fit, the learning rate of step k+1 when the
// schedule changes it) on a worker while step k executes; the step then finds its inputs already resident. The
// in-process CPU executor's upload is a memory copy with nothing to hide, so there the upload runs inline.
public abstract partial class ModelRunner
{
    /// <summary>A batch with its columns on the device, and the learning rate its train step uses.</summary>
    internal sealed class StagedBatch(Batch batch, UploadedColumns columns, double learningRate, DeviceBuffer? learningRateBuffer)
    {
        public Batch Batch { get; } = batch;

        public DeviceBuffer[] Columns { get; } = columns.Buffers;

        /// <summary>How the columns were placed on the replicas (and which tensors bind the program's shapes).</summary>
        public UploadedColumns Placement { get; } = columns;

        public double LearningRate { get; } = learningRate;

        /// <summary>A freshly uploaded learning rate, when it differs from the previous batch's (else null).</summary>
        public DeviceBuffer? LearningRateBuffer { get; set; } = learningRateBuffer;

        public void Dispose()
        {
            foreach (var c in Columns) c.Dispose();
            LearningRateBuffer?.Dispose();
            LearningRateBuffer = null;
            Batch.Dispose();
        }
    }

    /// <summary>A batch's columns on the device: split across the replicas of a <see cref="ReplicatedDevice"/> (each gets
    /// <see cref="Shards"/> = N contiguous slices of equal size, in replica order), or whole (one device; or a batch that
    /// does not divide by the replica count, which every replica then runs whole, so the result is the one-device
    /// result). <see cref="BindColumns"/> are the tensors one replica's program sees (they bind its symbolic sizes).</summary>
    internal sealed record UploadedColumns(DeviceBuffer[] Buffers, IReadOnlyList<Tensor> BindColumns, int Shards)
    {
        public long RowsPerReplica => BindColumns[0].Shape[0];
    }

    /// <summary>Uploads a batch's columns (see <see cref="UploadedColumns"/>).</summary>
    internal UploadedColumns UploadColumns(IReadOnlyList<Tensor> columns)
    {
        var buffers = new DeviceBuffer[columns.Count];
        try
        {
            int n = Replicas;
            long rows = columns.Count == 0 || columns[0].Shape.Count == 0 ? 0 : columns[0].Shape[0];
            if (n == 1 || rows == 0 || rows % n != 0)
            {
                for (int i = 0; i < buffers.Length; i++) buffers[i] = Device.Upload(columns[i]);
                return new UploadedColumns(buffers, columns, 1);
            }
            var device = (ReplicatedDevice)Device;
            var first = new Tensor[columns.Count];
            for (int i = 0; i < buffers.Length; i++)
            {
                var shards = SplitRows(columns[i], n);
                first[i] = shards[0];
                buffers[i] = device.UploadShards(shards);
            }
            return new UploadedColumns(buffers, first, n);
        }
        catch
        {
            foreach (var b in buffers) b?.Dispose();
            throw;
        }
    }

    /// <summary>Splits <paramref name="t"/> along dim 0 into <paramref name="n"/> equal contiguous slices.</summary>
    static Tensor[] SplitRows(Tensor t, int n)
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
            var data = Array.CreateInstanceFromArrayType(t.Data.GetType(), checked((int)(per * rowSize)));
            Array.Copy(t.Data, k * per * rowSize, data, 0, per * rowSize);
            r[k] = HostArrays.Wrap(t.ElementType, (long[])dims.Clone(), data);
        }
        return r;
    }

    /// <summary>Fit and Evaluate upload the next batch while the current step runs, on devices outside this process
    /// (a remote xlagen-server), as tf.data's prefetch to device does. True by default; results are the same either way.</summary>
    public bool PrefetchToDevice { get; set; } = true;

    bool OverlapsUploads => PrefetchToDevice && Device is not IHostMemoryDevice;

    /// <summary>
    /// Yields each batch with its columns uploaded. While the caller runs batch k, batch k+1 is being uploaded on a
    /// worker (remote devices). <paramref name="learningRateAt"/> (train steps) gives the learning rate of the k-th
    /// yielded batch's step; its scalar is uploaded with the batch when it changes. Buffers are disposed after the
    /// caller moves on, and whatever is staged is released when the loop ends early or fails.
    /// </summary>
    internal IEnumerable<StagedBatch> Staged(IEnumerable<Batch> batches, Func<int, double>? learningRateAt = null)
    {
        double previousRate = learningRateBuffer?.Value ?? double.NaN;
        int index = 0;
        StagedBatch Stage(Batch batch, int k)
        {
            UploadedColumns uploaded;
            DeviceBuffer? rateBuffer = null;
            double rate = learningRateAt?.Invoke(k) ?? double.NaN;
            try
            {
                uploaded = UploadColumns(batch.Columns);
            }
            catch
            {
                batch.Dispose();
                throw;
            }
            try
            {
                if (learningRateAt != null && !rate.Equals(previousRate)) rateBuffer = Device.Upload(Tensor<float>.Scalar((float)rate));
            }
            catch
            {
                foreach (var u in uploaded.Buffers) u.Dispose();
                batch.Dispose();
                throw;
            }
            previousRate = rate;
            return new StagedBatch(batch, uploaded, rate, rateBuffer);
        }

        using var e = batches.GetEnumerator();
        if (!e.MoveNext()) yield break;
        StagedBatch? current = Stage(e.Current, index++);
        // A thread of its own, not the thread pool: a pool work item queued from a pool thread sits in that thread's
        // local queue, and the blocked wait for it runs it inline, i.e. serially, whenever the pool is busy.
        using var worker = OverlapsUploads ? new StagingWorker() : null;
        Task<StagedBatch>? next = null;
        try
        {
            while (current != null)
            {
                if (e.MoveNext())
                {
                    var batch = e.Current;
                    int k = index++;
                    next = worker != null ? worker.Run(() => Stage(batch, k)) : Task.FromResult(Stage(batch, k));
                }
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
            }
        }
        finally
        {
            current?.Dispose();
            if (next != null)
            {
                try
                {
                    next.GetAwaiter().GetResult().Dispose();
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
        readonly System.Collections.Concurrent.BlockingCollection<(Func<StagedBatch> Job, TaskCompletionSource<StagedBatch> Done)> jobs = new(1);
        readonly Thread thread;

        public StagingWorker()
        {
            thread = new Thread(Loop) { IsBackground = true, Name = "XlaGen prefetch to device" };
            thread.Start();
        }

        public Task<StagedBatch> Run(Func<StagedBatch> job)
        {
            var done = new TaskCompletionSource<StagedBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
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
