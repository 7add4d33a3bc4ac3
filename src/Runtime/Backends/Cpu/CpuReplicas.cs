using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu;

/// <summary>
/// N virtual CPU devices in this process, one replica each (<see cref="Devices.Cpu(int)"/>). A replicated execution
/// runs one thread per replica (replica 0 on the caller's thread); the threads meet at every collective through a
/// <see cref="ReplicaRendezvous"/>. Kernels inside a replica still use the executor's thread pool for their own
/// parallel work.
/// </summary>
public sealed class CpuReplicaPlatform : IReplicaPlatform
{
    readonly CpuDevice[] devices;

    /// <summary><paramref name="replicas"/> virtual CPU devices, with ids 0 to replicas − 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is less than 1.</exception>
    public CpuReplicaPlatform(int replicas)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "a replicated CPU device needs at least one replica");
        devices = Enumerable.Range(0, replicas).Select(i => new CpuDevice(i)).ToArray();
    }

    /// <summary>The virtual devices; replica r runs on Devices[r].</summary>
    public IReadOnlyList<IDevice> Devices => devices;

    /// <summary>Verifies and plans the module once (the plan is shared by the replicas) and checks its collectives'
    /// replica groups against the replica count: ids in range, and groups that cover every replica.</summary>
    public IReplicaExecutable CompileReplicated(HloModule module) => CompileReplicated(module, devices.Length);

    /// <summary>As <see cref="CompileReplicated(HloModule)"/> on the first <paramref name="replicas"/> devices.</summary>
    public IReplicaExecutable CompileReplicated(HloModule module, int replicas)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (replicas < 1 || replicas > devices.Length)
            throw new ArgumentOutOfRangeException(nameof(replicas), replicas, $"{this} runs 1 to {devices.Length} replicas, not {replicas}");
        var plan = CpuCompiler.CompileModule(module, devices[0].Fusion);
        CheckReplicaGroups(module, replicas);
        return new CpuReplicaExecutable(module, devices.Take(replicas).Select(d => new CpuExecutable(d, module, plan)).ToArray());
    }

    static void CheckReplicaGroups(HloModule module, int replicas)
    {
        foreach (var c in module.Computations)
        {
            foreach (var ins in c.Instructions)
            {
                if (ins.Opcode is not ("all-reduce" or "all-gather" or "reduce-scatter")) continue;
                var groups = ins.Attributes.ReplicaGroups;
                string where = $"{ins.Describe()} in %{c.Name}";
                if (groups == null || groups.Length == 0)
                {
                    if (ins.Opcode != "all-reduce") CheckBlocks(ins, replicas, where);
                    continue;
                }
                if (ins.Attributes.UseGlobalDeviceIds)
                    throw new XlaCompileException($"{where}: use_global_device_ids names replica·partition ids; the CPU executor runs replicas without partitions, so write replica ids without it");
                var ids = groups.SelectMany(g => g).ToList();
                foreach (var id in ids)
                {
                    if (id >= replicas)
                        throw new XlaCompileException($"{where}: replica_groups name replica {id}, but the program runs on {replicas} replica(s) (ids 0 to {replicas - 1})");
                }
                if (ids.Count != replicas)
                    throw new XlaCompileException($"{where}: replica_groups cover {ids.Count} of the {replicas} replicas; every replica must be in exactly one group");
            }
        }
    }

    /// <summary>An all-gather or reduce-scatter over all replicas (replica_groups={}) states its result shape: its
    /// dimension must be the operand's times (gather) or divided by (scatter) the replica count it runs on.</summary>
    static void CheckBlocks(HloInstruction ins, int replicas, string where)
    {
        long d = ins.Attributes.Dimensions![0];
        var results = ins.Shape.IsTuple ? ins.Shape.TupleShapes.ToArray() : new[] { ins.Shape };
        for (int i = 0; i < results.Length; i++)
        {
            long input = ins.Operands[i].Shape.Dims[(int)d].Value, output = results[i].Dims[(int)d].Value;
            bool fits = ins.Opcode == "all-gather" ? output == input * replicas : output * replicas == input;
            if (!fits)
                throw new XlaCompileException($"{where}: with replica_groups={{}} over {replicas} replica(s), dimension {d} of operand {i} ({input}) makes {(ins.Opcode == "all-gather" ? input * replicas : input / Math.Max(1, replicas))}, but the result states {output}");
        }
    }

    /// <summary>Does nothing: virtual CPU devices hold no native resources.</summary>
    public void Dispose()
    {
    }

    /// <summary>"N virtual CPU devices".</summary>
    public override string ToString() => $"{devices.Length} virtual CPU devices";
}

/// <summary>A module planned once and run by N replica threads per call.</summary>
internal sealed class CpuReplicaExecutable(HloModule module, CpuExecutable[] replicas) : IReplicaExecutable
{
    public HloModule Module { get; } = module;

    public int Replicas => replicas.Length;

    public long PeakMemoryBytes => replicas[0].PeakMemoryBytes;

    public DeviceBuffer[][] ExecuteReplicas(IReadOnlyList<IReadOnlyList<DeviceBuffer>> arguments, ExecuteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        int n = replicas.Length;
        if (arguments.Count != n) throw new ArgumentException($"'{Module.Name}' runs on {n} replicas and needs {n} argument lists, got {arguments.Count}", nameof(arguments));
        // Every replica's arguments are checked before any replica starts, so a bad argument fails the call at once.
        var plan = replicas[0].Plan;
        for (int r = 0; r < n; r++)
        {
            try
            {
                ExecuteArguments.Check(Module.Name, plan.ParameterLeafShapes, plan.ParameterLeafNames, arguments[r], b => b.Shape, options?.DonatedArguments);
            }
            catch (XlaExecutionException e)
            {
                throw new XlaExecutionException($"replica {r} of {n}: {e.Message}", e);
            }
        }
        var callerToken = options?.Cancellation ?? default;
        using var step = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        var rendezvous = new ReplicaRendezvous(n);
        using var onCancel = callerToken.Register(() => rendezvous.Abort(new OperationCanceledException($"'{Module.Name}' was cancelled", callerToken)));
        var replicaOptions = (options ?? new ExecuteOptions()) with { Cancellation = step.Token };
        var results = new DeviceBuffer[n][];

        // Replicas that occupy every core run their kernels serially, one thread each; splitting them as well made two
        // replicas on two cores 3x slower than one (pool workers spinning beside Parallel.For threads).
        bool serial = n >= Par.Workers;
        void Run(int r)
        {
            try
            {
                using var scope = serial ? CpuThreadPool.Serial() : default;
                results[r] = replicas[r].Execute(arguments[r], replicaOptions, new ReplicaContext(r, n, rendezvous));
                rendezvous.Finish();
            }
            catch (Exception e)
            {
                // The first failure is the step's error; it stops the other replicas' kernels and releases their waits.
                if (rendezvous.Fail(r, e)) step.Cancel();
            }
        }

        using (var done = new CountdownEvent(n - 1))
        {
            for (int r = 1; r < n; r++)
            {
                int replica = r;
                ReplicaThreads.Post(replica, () =>
                {
                    try
                    {
                        Run(replica);
                    }
                    finally
                    {
                        done.Signal();
                    }
                }, spin: n <= Environment.ProcessorCount);
            }
            Run(0);
            done.Wait();
        }

        var failure = rendezvous.Failure;
        if (failure == null) return results;
        foreach (var list in results)
        {
            if (list == null) continue;
            foreach (var b in list) b.Dispose();
        }
        if (callerToken.IsCancellationRequested) throw new OperationCanceledException($"'{Module.Name}' was cancelled on {n} CPU replicas", failure.Value.Error, callerToken);
        var (failed, error) = failure.Value;
        throw new XlaExecutionException($"replica {failed} of {n} failed running '{Module.Name}': {error.Message}", error);
    }

    public void Dispose()
    {
        foreach (var r in replicas) r.Dispose();
    }

    public override string ToString() => $"cpu executable '{Module.Name}' × {replicas.Length} replicas";
}

/// <summary>
/// Long-lived threads for replicas 1..N-1 (replica 0 runs on the caller), one per replica index, shared by every
/// replicated executable; work for an index queues behind the running step. A thread per step cost its creation and,
/// worse, fresh thread-local GEMM pack buffers every step: their first touch page-faulted (2 replicas ran 3x slower
/// than 1). Work for different steps never waits on each other's rendezvous, so the queues cannot deadlock.
/// </summary>
internal static class ReplicaThreads
{
    static readonly object Gate = new();
    static readonly List<Worker> Workers = new();

    /// <summary>Queues <paramref name="work"/> for replica <paramref name="replica"/>'s thread. With
    /// <paramref name="spin"/> the thread spins up to 1 ms for its next item once this one is done (steps come back to
    /// back; a blocked thread's wake-up costs tens of microseconds on a VM and delays the whole step, since the other
    /// replicas wait for it at the first collective); set it only when every replica has a core.</summary>
    public static void Post(int replica, Action work, bool spin = false)
    {
        Worker worker;
        lock (Gate)
        {
            while (Workers.Count < replica)
            {
                var w = new Worker();
                Workers.Add(w);
                new Thread(w.Loop) { IsBackground = true, Name = $"xlagen-replica-{Workers.Count}" }.Start();
            }
            worker = Workers[replica - 1];
        }
        worker.Queue.Enqueue((work, spin));
        worker.Ready.Release();
    }

    sealed class Worker
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<(Action Work, bool Spin)> Queue = new();
        public readonly SemaphoreSlim Ready = new(0);
        static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

        public void Loop()
        {
            bool spin = false;
            while (true)
            {
                if (!(spin ? Kernels.Spin.Until(Ready, static r => r.Wait(0), SpinTicks) : Ready.Wait(0))) Ready.Wait();
                if (!Queue.TryDequeue(out var item)) continue;
                spin = item.Spin;
                item.Work();
            }
        }
    }
}
