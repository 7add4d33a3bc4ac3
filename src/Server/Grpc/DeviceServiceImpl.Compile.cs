using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using XlaGen.Device.V1;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Server.Sessions;

namespace XlaGen.Server.Grpc;

/// <summary>Compile: the module checks (value sizes, instruction count, cost) and the shared compile cache.</summary>
internal sealed partial class DeviceServiceImpl
{
    // ---------------------------------------------------------------- compile

    public override async Task<CompileResponse> Compile(CompileRequest request, ServerCallContext context)
    {
        var session = Sessions.Get(request.SessionId);
        using var call = session.BeginCall();
        if (request.HloModuleProto.IsEmpty) throw Errors.InvalidArgument("hlo_module_proto is empty: send a serialized xla.HloModuleProto");
        int replicas = CheckReplicaCount(session, request.ReplicaCount);
        session.EnsureRoomForHandles(1, "compile");
        var clock = Stopwatch.StartNew();
        var bytes = request.HloModuleProto.ToByteArray();
        var fingerprint = CompileCache.Fingerprint(bytes);
        // One module compiled for different replica counts is different programs (their collectives' groups differ).
        var key = replicas > 1 ? $"{fingerprint}/replicas={replicas}" : fingerprint;
        var (program, hit) = await host.Cache.AcquireAsync(key, () => CompileProgram(bytes, key, replicas)).ConfigureAwait(false);
        // The compiled program counts against the session's and the server's byte budgets while this handle holds it
        // (its estimated size, at least Session.MinimumCharge), as a buffer would.
        long charge = program.EstimatedBytes;
        bool reserved;
        long held;
        try
        {
            reserved = session.TryReserve(charge, host.Options.MaxSessionBytes, out held, $"compiling '{program.Module.Name}'");
        }
        catch
        {
            host.Cache.Release(program);
            throw;
        }
        if (!reserved)
        {
            host.Cache.Release(program);
            throw Errors.ResourceExhausted(
                $"compiling '{program.Module.Name}': the compiled program (about {charge} bytes: its module, {program.Module.Computations.Sum(c => c.Instructions.Count)} instructions and constants) would take the session to {held + Session.Charge(charge)} bytes, over its limit of {host.Options.MaxSessionBytes} bytes (--max-session-bytes)");
        }
        var entry = new ExecutableEntry(session, program, host.Cache);
        try
        {
            session.Add(entry);
        }
        catch
        {
            session.Unreserve(charge);
            throw;
        }
        Log.Compiled(logger, session.ShortId, program.Module.Name, fingerprint[..12], hit, clock.ElapsedMilliseconds);
        // The cache is shared (one compilation for everyone), but what a client is told is not: a hit it did not cause
        // itself would reveal that another session compiled the same bytes. Only the timing still can (docs/server.md).
        bool ownHit = session.CompiledBefore(key) && hit;
        var response = new CompileResponse
        {
            ExecutableHandle = entry.Handle, Fingerprint = fingerprint, CacheHit = ownHit, ModuleName = program.Module.Name,
            PeakMemoryBytes = program.PeakMemoryBytes, ReplicaCount = program.ReplicaCount,
        };
        response.ParameterShapes.AddRange(program.ParameterShapes.Select(ToProto));
        response.ResultShapes.AddRange(program.ResultShapes.Select(ToProto));
        return response;
    }

    /// <summary>The replica count a compile asks for: 0 and 1 are one device; more needs protocol version 3 and at
    /// most the server's devices.</summary>
    int CheckReplicaCount(Session session, int requested)
    {
        if (requested < 0) throw Errors.InvalidArgument($"replica_count {requested} is negative (0 or 1: one device; N: N replicas)");
        if (requested <= 1) return 1;
        RequireReplicaProtocol(session, "compile with replica_count");
        if (requested > host.MaxReplicas)
        {
            throw Errors.InvalidArgument(host.MaxReplicas == 1
                ? $"replica_count {requested}: this server hosts one device; start it with --devices {requested} (or more) to run {requested} replicas"
                : $"replica_count {requested}: this server hosts {host.MaxReplicas} devices, so a program runs on at most {host.MaxReplicas} replicas (--devices)");
        }
        return requested;
    }

    /// <summary>Fields of protocol version 3 in a session opened at an older version: refused, so that what an old
    /// client could not have meant is never guessed.</summary>
    static void RequireReplicaProtocol(Session session, string what)
    {
        if (session.ProtocolVersion < DeviceHost.ReplicaProtocolVersion)
        {
            throw Errors.FailedPrecondition(
                $"{what} is part of protocol version {DeviceHost.ReplicaProtocolVersion}; this session was opened at version {session.ProtocolVersion}");
        }
    }

    CachedProgram CompileProgram(byte[] bytes, string fingerprint, int replicas)
    {
        HloModule module;
        try
        {
            module = HloProto.Read(bytes);
        }
        catch (Exception e) when (e is HloProtoException or HloVerificationException or HloParseException or ShapeException)
        {
            throw Errors.InvalidArgument($"hlo_module_proto ({bytes.Length} bytes) is not a valid module: {e.Message}");
        }
        CheckValueSizes(module);
        CheckProgramSize(module);
        IExecutable? executable = null;
        IReplicaExecutable? replicated = null;
        try
        {
            if (replicas > 1) replicated = host.Replicas!.CompileReplicated(module, replicas);
            else executable = Device.CompileHlo(module);
        }
        catch (Exception e) when (e is XlaCompileException or NotSupportedException or HloVerificationException or ShapeException or ArgumentException)
        {
            string what = replicas > 1 ? $" for {replicas} replicas" : "";
            throw Errors.InvalidArgument($"the {Device.Info.Platform} backend cannot compile module '{module.Name}'{what}: {e.Message}");
        }
        // Values that fit one by one can still not fit together: refuse what could never run, rather than let the host
        // run out of memory (which, past what the OS will give, ends the process) while it runs. Replicas of one host
        // platform share its memory, so a replicated program needs its peak once per replica.
        long limit = host.LargestValueBytes;
        long peak = replicated != null ? SaturatingMultiply(replicated.PeakMemoryBytes, replicas) : executable!.PeakMemoryBytes;
        if (limit > 0 && peak > limit)
        {
            ((IDisposable?)replicated ?? executable!).Dispose();
            string each = replicas > 1 ? $" ({replicas} replicas together)" : "";
            throw Errors.ResourceExhausted(
                $"module '{module.Name}' needs about {peak} bytes at its peak{each} (the values alive at once while it runs), more than the {limit} bytes {host.LargestValueLimitName}");
        }
        var parameters = module.Entry.Parameters.SelectMany(p => Leaves(p.Shape)).ToArray();
        var results = Leaves(module.Entry.Root.Shape).ToArray();
        long estimate = CachedProgram.Estimate(module, bytes.Length);
        return replicated != null
            ? new CachedProgram(fingerprint, module, replicated, parameters, results, estimate)
            : new CachedProgram(fingerprint, module, executable!, parameters, results, estimate);
    }

    static long SaturatingMultiply(long a, int b)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    /// <summary>--max-instructions and --max-program-cost, checked before the backend compiles anything: a module's
    /// instructions are what its compiled form (IR, plan, constants) grows with, and its estimated cost is what one
    /// run of it would keep a core busy with.</summary>
    void CheckProgramSize(HloModule module)
    {
        int maxInstructions = host.Options.MaxInstructions;
        if (maxInstructions > 0)
        {
            long count = module.Computations.Sum(c => (long)c.Instructions.Count);
            if (count > maxInstructions)
            {
                throw Errors.ResourceExhausted(
                    $"module '{module.Name}' has {count} instructions in {module.Computations.Count} computations, more than the {maxInstructions} this server compiles per module (--max-instructions)");
            }
        }
        double maxCost = host.Options.MaxProgramCost;
        if (maxCost > 0)
        {
            ProgramCost cost;
            try
            {
                cost = ProgramCost.Estimate(module);
            }
            catch (ArgumentException e)
            {
                throw Errors.InvalidArgument($"module '{module.Name}': {e.Message}");
            }
            if (cost.Operations > maxCost)
            {
                throw Errors.ResourceExhausted(string.Create(CultureInfo.InvariantCulture,
                    $"module '{module.Name}' would cost about {cost.Operations:0.##e+0} operations and touch about {cost.Bytes:0.##e+0} bytes per run (estimated from its instructions), more than the {maxCost:0.##e+0} operations this server allows per program (--max-program-cost)"));
            }
        }
    }

    /// <summary>A program whose single values exceed what a session may hold would only fail (or exhaust the host) when run.</summary>
    void CheckValueSizes(HloModule module)
    {
        long limit = host.LargestValueBytes;
        if (limit <= 0) return;
        foreach (var c in module.Computations)
        {
            foreach (var ins in c.Instructions)
            {
                long bytes = ShapeBytes(ins.Shape);
                if (bytes > limit)
                {
                    throw Errors.ResourceExhausted($"module '{module.Name}': {ins.Describe()} in %{c.Name} makes a value of {bytes} bytes, more than the {limit} bytes {host.LargestValueLimitName}");
                }
            }
        }
    }

    static long ShapeBytes(Shape shape)
    {
        try
        {
            if (shape.IsTuple) return shape.TupleShapes.Sum(ShapeBytes);
            if (!shape.IsArray || !shape.IsStatic) return 0;
            return TensorBytes.ByteCount(shape.ElementType, shape.ConcreteDims());
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    static IEnumerable<Shape> Leaves(Shape shape) => shape.IsTuple ? shape.TupleShapes.SelectMany(Leaves) : new[] { shape };
}
