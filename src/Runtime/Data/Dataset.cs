using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using XlaGen.Hlo;

namespace XlaGen.Data;

/// <summary>
/// An in-memory dataset: columns of host tensors (images, labels …) that share dimension 0, the example index.
/// <see cref="Slice"/> and <see cref="Split"/> are views (no copy); <see cref="Batches(int, bool, ulong, int, bool, int)"/>
/// gathers rows into pooled batch buffers, optionally on a background thread while the consumer computes.
/// </summary>
public sealed class Dataset
{
    readonly Tensor[] source;
    readonly int offset;
    readonly long[] rowBytes;
    readonly BatchPool pool = new();
    Tensor[]? columns;
    int[]? cachedOrder;
    int activeWorkers;

    /// <param name="columns">Tensors of any element type and rank ≥ 1, all with the same dimension 0.</param>
    public Dataset(params Tensor[] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length == 0) throw new ArgumentException("a dataset needs at least one column", nameof(columns));
        for (int i = 0; i < columns.Length; i++)
        {
            var c = columns[i] ?? throw new ArgumentException($"column {i} is null", nameof(columns));
            if (c.Rank == 0)
                throw new ArgumentException($"column {i} ({c.ShapeText}) is a scalar; every column needs dimension 0 to index examples", nameof(columns));
            if (c.Shape[0] > int.MaxValue)
                throw new ArgumentException($"column {i} ({c.ShapeText}) has more than {int.MaxValue} examples", nameof(columns));
            if (c.Shape[0] != columns[0].Shape[0])
                throw new ArgumentException(
                    $"column {i} ({c.ShapeText}) has {c.Shape[0]} examples but column 0 ({columns[0].ShapeText}) has {columns[0].Shape[0]}; all columns must share dimension 0",
                    nameof(columns));
        }
        source = (Tensor[])columns.Clone();
        Count = (int)columns[0].Shape[0];
        rowBytes = RowBytes(source);
        this.columns = source;
    }

    Dataset(Tensor[] source, long[] rowBytes, int offset, int count)
    {
        this.source = source;
        this.rowBytes = rowBytes;
        this.offset = offset;
        Count = count;
        if (offset == 0 && count == source[0].Shape[0]) columns = source;
    }

    static long[] RowBytes(Tensor[] columns)
    {
        var r = new long[columns.Length];
        for (int i = 0; i < columns.Length; i++)
        {
            long elements = 1;
            for (int d = 1; d < columns[i].Rank; d++) elements *= columns[i].Shape[d];
            r[i] = elements * columns[i].ElementType.ByteSize();
        }
        return r;
    }

    /// <summary>The number of examples.</summary>
    public int Count { get; }

    /// <summary>The columns of this dataset (for a slice, copies of its rows, made on first access).</summary>
    public IReadOnlyList<Tensor> Columns => columns ??= Materialize();

    /// <summary>Column <paramref name="c"/> without copying a slice's rows: the source tensor, where this dataset's
    /// elements start in it, how many there are, and the elements per row (for host-side checks of the data).</summary>
    internal (Tensor Source, long Start, long Length, long RowElements) ColumnView(int c)
    {
        long rowElements = rowBytes[c] / source[c].ElementType.ByteSize();
        return (source[c], offset * rowElements, Count * rowElements, rowElements);
    }

    /// <summary>The number of columns.</summary>
    internal int ColumnCount => source.Length;

    Tensor[] Materialize()
    {
        var result = new Tensor[source.Length];
        for (int c = 0; c < source.Length; c++)
        {
            var dims = source[c].Shape.ToArray();
            dims[0] = Count;
            var data = HostArrays.New(source[c].ElementType, checked((int)(rowBytes[c] / source[c].ElementType.ByteSize() * Count)));
            HostArrays.Copy(ref Unsafe.AddByteOffset(ref HostArrays.Bytes(source[c].Data), (nint)(offset * rowBytes[c])),
                ref HostArrays.Bytes(data), Count * rowBytes[c]);
            result[c] = HostArrays.Wrap(source[c].ElementType, dims, data);
        }
        return result;
    }

    /// <summary>Examples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>), as a view.</summary>
    public Dataset Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start > Count - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice(start: {start}, count: {count}) is outside the {Count} examples of this dataset");
        return new Dataset(source, rowBytes, offset + start, count);
    }

    /// <summary>The first <paramref name="firstCount"/> examples and the rest (for example training and validation).</summary>
    public (Dataset First, Dataset Second) Split(int firstCount)
    {
        if (firstCount < 0 || firstCount > Count)
            throw new ArgumentOutOfRangeException(nameof(firstCount), $"Split({firstCount}) needs 0 ≤ firstCount ≤ {Count}, the number of examples");
        return (Slice(0, firstCount), Slice(firstCount, Count - firstCount));
    }

    /// <summary>How many batches <see cref="Batches(int, bool, ulong, int, bool, int)"/> yields per epoch.</summary>
    public int BatchCount(int batchSize, bool dropLast = false)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"the batch size is {batchSize}; it must be at least 1");
        return dropLast ? Count / batchSize : (Count + batchSize - 1) / batchSize;
    }

    /// <summary>
    /// The order of the examples in epoch <paramref name="epoch"/>: the identity without shuffling, otherwise a
    /// Fisher–Yates permutation driven by a <see cref="SplitMix64"/> whose seed depends on (<paramref name="seed"/>,
    /// <paramref name="epoch"/>) only, so any epoch can be replayed on its own (resuming a run).
    /// </summary>
    public static int[] EpochOrder(int count, bool shuffle, ulong seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        FillOrder(order, shuffle, seed, epoch);
        return order;
    }

    static void FillOrder(int[] order, bool shuffle, ulong seed, int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch {epoch} is negative");
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (!shuffle) return;
        // Stream seed: SplitMix64's output mixer applied to the seed, then to that XOR the epoch. Epoch streams
        // start at unrelated points of the generator's cycle (plain seed + epoch would give shifted copies).
        var rng = new SplitMix64(seed);
        rng.State = rng.NextUInt64() ^ (uint)epoch;
        rng.State = rng.NextUInt64();
        for (int i = order.Length - 1; i > 0; i--)
        {
            // Lemire's multiply-high: uniform in [0, i] without modulo bias worth mentioning (bias < 2^-32).
            int j = (int)Math.BigMul(rng.NextUInt64(), (ulong)(i + 1), out _);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    /// <summary>
    /// The batches of one epoch, in the order of <see cref="EpochOrder"/>; the last partial batch is yielded
    /// unless <paramref name="dropLast"/>. With <paramref name="prefetch"/> ≥ 1, a background thread gathers up
    /// to that many batches ahead of the consumer (0 gathers on the consumer's thread). Dispose each batch when done
    /// with it (after uploading it): its buffers return to a pool, so a steady-state epoch does not allocate per
    /// batch. Ending the enumeration early (break, exception) stops and joins the worker.
    /// </summary>
    public IEnumerable<Batch> Batches(int batchSize, bool shuffle, ulong seed, int epoch, bool dropLast = false, int prefetch = 1) =>
        Batches(batchSize, shuffle, seed, epoch, dropLast, prefetch, firstBatch: 0);

    /// <summary>As the other overload, starting at batch <paramref name="firstBatch"/> of the epoch (resuming mid-epoch).</summary>
    public IEnumerable<Batch> Batches(int batchSize, bool shuffle, ulong seed, int epoch, bool dropLast, int prefetch, int firstBatch)
    {
        int batches = BatchCount(batchSize, dropLast);
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch {epoch} is negative");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), $"prefetch is {prefetch}; use 0 to gather on the calling thread, or the number of batches to prepare ahead");
        if (firstBatch < 0 || firstBatch > batches)
            throw new ArgumentOutOfRangeException(nameof(firstBatch), $"firstBatch {firstBatch} is outside the {batches} batches of an epoch");
        return Enumerate(batchSize, shuffle, seed, epoch, firstBatch, batches, prefetch);
    }

    // Each enumeration takes its own epoch state (order array, worker), so enumerating the result twice is safe.
    IEnumerable<Batch> Enumerate(int batchSize, bool shuffle, ulong seed, int epochNumber, int firstBatch, int batches, int prefetch)
    {
        // alive at once: the prefetcher's ring and the batch it gathers, and as many held by a consumer that groups them
        pool.Keep(2 * prefetch + 2);
        var epoch = new Epoch(this, batchSize, shuffle, seed, epochNumber, firstBatch, batches);
        try
        {
            if (prefetch == 0)
            {
                for (int k = epoch.FirstBatch; k < epoch.BatchCount; k++)
                    yield return epoch.Gather(k);
            }
            else
            {
                using var prefetcher = new Prefetcher(epoch, prefetch);
                while (prefetcher.TryTake(out var batch))
                    yield return batch;
            }
        }
        finally
        {
            epoch.Release();
        }
    }

    /// <summary>
    /// The batches of one epoch (as <see cref="Batches(int, bool, ulong, int, bool, int)"/> with the same arguments) as
    /// ranges of the epoch's order whose rows nobody has gathered yet: whoever needs a batch's rows copies them where
    /// they are needed (<see cref="BatchRows.Gather(int, int, int, Array)"/>). The CPU executor's replicas each gather their own slice of the
    /// global batch on their own thread this way: no prefetch thread competes with them for the cores, and no copy
    /// splits a gathered batch. A range can be gathered until the enumeration has ended.
    /// </summary>
    internal IEnumerable<BatchRows> BatchRanges(int batchSize, bool shuffle, ulong seed, int epoch, bool dropLast)
    {
        int batches = BatchCount(batchSize, dropLast);
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch {epoch} is negative");
        return EnumerateRanges(batchSize, shuffle, seed, epoch, batches);
    }

    IEnumerable<BatchRows> EnumerateRanges(int batchSize, bool shuffle, ulong seed, int epochNumber, int batches)
    {
        var epoch = new Epoch(this, batchSize, shuffle, seed, epochNumber, 0, batches);
        try
        {
            for (int k = 0; k < batches; k++)
            {
                int start = k * batchSize;
                yield return new BatchRows(epoch, k, Math.Min(batchSize, Count - start));
            }
        }
        finally
        {
            epoch.Release();
        }
    }

    /// <summary>One batch of an epoch before its rows are gathered (see <see cref="BatchRanges"/>).</summary>
    internal sealed class BatchRows
    {
        readonly Epoch epoch;

        internal BatchRows(Epoch epoch, int index, int size)
        {
            this.epoch = epoch;
            Index = index;
            Size = size;
        }

        /// <summary>The batch's index in its epoch.</summary>
        public int Index { get; }

        /// <summary>Its examples (the last batch may be short).</summary>
        public int Size { get; }

        /// <summary>The dataset's columns: their element types and per-example dims shape the gathered tensors.</summary>
        public IReadOnlyList<Tensor> Sources => epoch.Data.source;

        /// <summary>Copies column <paramref name="column"/> of the batch's examples [<paramref name="first"/>, first +
        /// <paramref name="count"/>) into rows 0 … count − 1 of <paramref name="destination"/> (an array of the column's
        /// element type with room for count rows).</summary>
        /// <exception cref="ArgumentOutOfRangeException">The range is not inside the batch, or the column does not exist.</exception>
        /// <exception cref="ArgumentException"><paramref name="destination"/> is not of the column's type or too short.</exception>
        /// <exception cref="InvalidOperationException">The epoch's enumeration has ended.</exception>
        public void Gather(int column, int first, int count, Array destination) => Gather(column, first, count, destination, 0);

        /// <summary>As <see cref="Gather(int, int, int, Array)"/>, into rows <paramref name="destinationRow"/> … +
        /// count − 1 of <paramref name="destination"/> (a slot of a stack of batches).</summary>
        public void Gather(int column, int first, int count, Array destination, long destinationRow)
        {
            ArgumentNullException.ThrowIfNull(destination);
            var sources = epoch.Data.source;
            if ((uint)column >= (uint)sources.Length) throw new ArgumentOutOfRangeException(nameof(column), column, $"the dataset has {sources.Length} column(s)");
            if (first < 0 || count < 0 || first > Size - count)
                throw new ArgumentOutOfRangeException(nameof(first), $"rows [{first}, {(long)first + count}) are not inside batch {Index} of {Size} examples");
            if (destinationRow < 0) throw new ArgumentOutOfRangeException(nameof(destinationRow), destinationRow, "the destination row is negative");
            if (destination.GetType() != sources[column].Data.GetType() || (long)destination.Length * sources[column].ElementType.ByteSize() < (destinationRow + count) * epoch.Data.rowBytes[column])
                throw new ArgumentException($"column {column} needs a {sources[column].Data.GetType().Name} with room for {destinationRow + count} rows, got a {destination.GetType().Name} of {destination.Length} elements", nameof(destination));
            epoch.GatherRows(column, Index * epoch.BatchSize + first, count, destination, destinationRow);
        }
    }

    /// <summary>Live prefetch worker threads of this dataset (tests check that early exits stop them).</summary>
    internal int ActiveWorkers => Volatile.Read(ref activeWorkers);

    /// <summary>Bytes the last finished prefetch worker allocated (tests check steady state allocates nothing per batch).</summary>
    internal long LastWorkerAllocatedBytes { get; private set; }

    /// <summary>One epoch's state: the order (a cached array, taken for the epoch) and the gather routine.</summary>
    internal sealed class Epoch
    {
        readonly Dataset data;
        readonly int[]? order;
        readonly int batchSize;

        public Epoch(Dataset data, int batchSize, bool shuffle, ulong seed, int epoch, int firstBatch, int batchCount)
        {
            this.data = data;
            this.batchSize = batchSize;
            FirstBatch = firstBatch;
            BatchCount = batchCount;
            if (shuffle)
            {
                order = Interlocked.Exchange(ref data.cachedOrder, null);
                if (order == null || order.Length != data.Count) order = new int[data.Count];
                FillOrder(order, shuffle: true, seed, epoch);
            }
        }

        public int FirstBatch { get; }

        public int BatchCount { get; }

        public int BatchSize => batchSize;

        public Dataset Data => data;

        public Batch Gather(int index)
        {
            int start = index * batchSize;
            int size = Math.Min(batchSize, data.Count - start);
            var batch = data.pool.Rent(size) ?? NewBatch(size);
            batch.Index = index;
            batch.Start = start;
            var columns = batch.Buffers;
            for (int c = 0; c < columns.Length; c++) GatherRows(c, start, size, columns[c].Data);
            batch.GatheredOnThread = Environment.CurrentManagedThreadId;
            batch.GatheredAt = System.Diagnostics.Stopwatch.GetTimestamp();
            return batch;
        }

        /// <summary>Copies column <paramref name="column"/> of the examples at positions [<paramref name="first"/>,
        /// first + <paramref name="count"/>) of the epoch's order into rows 0 … count − 1 of <paramref name="destination"/>.</summary>
        public void GatherRows(int column, int first, int count, Array destination, long destinationRow = 0)
        {
            if (Volatile.Read(ref released)) throw new InvalidOperationException("the rows of a batch were gathered after its epoch's enumeration ended (the epoch's order is reused by the next epoch)");
            long row = data.rowBytes[column];
            ref byte src = ref HostArrays.Bytes(data.source[column].Data);
            ref byte dst = ref Unsafe.AddByteOffset(ref HostArrays.Bytes(destination), (nint)(destinationRow * row));
            if (order == null)
            {
                HostArrays.Copy(ref Unsafe.AddByteOffset(ref src, (nint)((data.offset + (long)first) * row)), ref dst, count * row);
            }
            else if (row <= uint.MaxValue)
            {
                for (int i = 0; i < count; i++)
                {
                    long from = (data.offset + (long)order[first + i]) * row;
                    Unsafe.CopyBlockUnaligned(ref Unsafe.AddByteOffset(ref dst, (nint)(i * row)), ref Unsafe.AddByteOffset(ref src, (nint)from), (uint)row);
                }
            }
            else
            {
                for (int i = 0; i < count; i++)
                {
                    long from = (data.offset + (long)order[first + i]) * row;
                    HostArrays.Copy(ref Unsafe.AddByteOffset(ref src, (nint)from), ref Unsafe.AddByteOffset(ref dst, (nint)(i * row)), row);
                }
            }
        }

        Batch NewBatch(int size)
        {
            var tensors = new Tensor[data.source.Length];
            for (int c = 0; c < tensors.Length; c++)
            {
                var column = data.source[c];
                var dims = column.Shape.ToArray();
                dims[0] = size;
                tensors[c] = HostArrays.Wrap(column.ElementType, dims, HostArrays.New(column.ElementType, checked((int)(data.rowBytes[c] / column.ElementType.ByteSize() * size))));
            }
            return new Batch(data.pool, tensors, size);
        }

        bool released;

        public void Release()
        {
            Volatile.Write(ref released, true);
            if (order != null) Volatile.Write(ref data.cachedOrder, order);
        }
    }

    /// <summary>A single worker thread filling a bounded ring of batches, in order; Monitor-based so it does not allocate.</summary>
    sealed class Prefetcher : IDisposable
    {
        readonly Epoch epoch;
        readonly Batch?[] ring;
        readonly object gate = new();
        readonly Thread worker;
        int head, count;
        bool finished, cancelled;
        ExceptionDispatchInfo? failure;

        public Prefetcher(Epoch epoch, int prefetch)
        {
            this.epoch = epoch;
            ring = new Batch?[Math.Max(1, Math.Min(prefetch, epoch.BatchCount - epoch.FirstBatch))];
            Interlocked.Increment(ref epoch.Data.activeWorkers);
            worker = new Thread(Run) { IsBackground = true, Name = "XlaGen batch prefetch" };
            try
            {
                worker.Start();
            }
            catch
            {
                Interlocked.Decrement(ref epoch.Data.activeWorkers);
                throw;
            }
        }

        void Run()
        {
            long allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                for (int k = epoch.FirstBatch; k < epoch.BatchCount; k++)
                {
                    lock (gate)
                    {
                        while (count == ring.Length && !cancelled) Monitor.Wait(gate);
                        if (cancelled) return;
                    }
                    var batch = epoch.Gather(k);
                    lock (gate)
                    {
                        if (cancelled)
                        {
                            batch.Dispose();
                            return;
                        }
                        ring[(head + count) % ring.Length] = batch;
                        count++;
                        Monitor.PulseAll(gate);
                    }
                }
            }
            catch (Exception e)
            {
                lock (gate) failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                epoch.Data.LastWorkerAllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - allocatedAtStart;
                lock (gate)
                {
                    finished = true;
                    Monitor.PulseAll(gate);
                }
                Interlocked.Decrement(ref epoch.Data.activeWorkers);
            }
        }

        public bool TryTake(out Batch batch)
        {
            lock (gate)
            {
                while (count == 0 && !finished) Monitor.Wait(gate);
                if (count > 0)
                {
                    batch = ring[head]!;
                    ring[head] = null;
                    head = (head + 1) % ring.Length;
                    count--;
                    Monitor.PulseAll(gate);
                    return true;
                }
            }
            failure?.Throw();
            batch = null!;
            return false;
        }

        public void Dispose()
        {
            lock (gate)
            {
                cancelled = true;
                Monitor.PulseAll(gate);
            }
            worker.Join();
            for (; count > 0; count--)
            {
                ring[head]!.Dispose();
                ring[head] = null;
                head = (head + 1) % ring.Length;
            }
        }
    }
}

/// <summary>
/// One batch: a tensor per dataset column with <see cref="Size"/> rows. Its buffers are pooled: dispose it once
/// you are done (typically right after uploading it to a device); afterwards its tensors may be reused by a later
/// batch, and <see cref="Columns"/> throws.
/// </summary>
public sealed class Batch : IDisposable
{
    readonly Tensor[] columns;
    BatchPool? owner;

    internal Batch(BatchPool pool, Tensor[] columns, int size)
    {
        owner = pool;
        this.columns = columns;
        Size = size;
    }

    /// <summary>The batch's rows of each dataset column, in column order: shape [Size, …].</summary>
    public Tensor[] Columns => Volatile.Read(ref owner) != null ? columns : throw new ObjectDisposedException(nameof(Batch), $"batch {Index} was disposed and its buffers returned to the pool");

    /// <summary>The number of examples (the last batch of an epoch may be smaller than the batch size).</summary>
    public int Size { get; }

    /// <summary>The batch's index within its epoch.</summary>
    public int Index { get; internal set; }

    /// <summary>The position of the batch's first example within the epoch's order.</summary>
    public int Start { get; internal set; }

    internal Tensor[] Buffers => columns;

    internal int GatheredOnThread { get; set; }

    internal long GatheredAt { get; set; }

    internal void Reopen(BatchPool pool) => Volatile.Write(ref owner, pool);

    /// <summary>Returns the batch's buffers to the pool for a later batch; calling it again does nothing.</summary>
    public void Dispose() => Interlocked.Exchange(ref owner, null)?.Return(this);
}

/// <summary>Free batch buffers by batch size; bounded so a burst of undisposed-then-disposed batches is not kept forever.</summary>
internal sealed class BatchPool
{
    /// <summary>Free batches kept per size, at least (see <see cref="Keep"/>).</summary>
    const int MaxFreePerSize = 16;
    readonly Dictionary<int, Stack<Batch>> free = new();
    int keep = MaxFreePerSize;

    /// <summary>Keeps at least <paramref name="batches"/> free batches per size: as many as can be alive at once, so
    /// that none is dropped and allocated again (a batch of the MLP's images is a 400 KB large object). Fit with K steps
    /// per execution holds K gathered batches while it stacks them, and the prefetcher K more.</summary>
    public void Keep(int batches)
    {
        lock (free) keep = Math.Max(keep, batches);
    }

    public Batch? Rent(int size)
    {
        Batch? batch;
        lock (free)
        {
            if (!free.TryGetValue(size, out var stack) || !stack.TryPop(out batch)) return null;
        }
        batch.Reopen(this);
        return batch;
    }

    public void Return(Batch batch)
    {
        lock (free)
        {
            if (!free.TryGetValue(batch.Size, out var stack)) free.Add(batch.Size, stack = new Stack<Batch>());
            if (stack.Count < keep) stack.Push(batch);
        }
    }
}
