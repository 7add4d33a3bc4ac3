using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// Compiles a module for the CPU executor: rejects what it cannot run (an opcode without a kernel, an element type
/// it does not store, a symbolic or oversized shape) before anything runs, verifies the module, and builds plans
/// for the entry and every called computation (each compiled once).
/// </summary>
internal sealed class CpuCompiler
{
    readonly Dictionary<HloComputation, CompiledComputation> plans = new();
    readonly Dictionary<HloComputation, ScalarFunction> scalarFunctions = new();

    CpuCompiler(HloModule module)
    {
        Module = module;
    }

    public HloModule Module { get; }

    public static CompiledComputation CompileModule(HloModule module, bool fuse = true)
    {
        if (module == null) throw new ArgumentNullException(nameof(module));
        CheckSupported(module);
        var problems = HloVerifier.Check(module);
        if (problems.Count > 0) throw new XlaCompileException(new HloVerificationException(module.Name, problems).Message);
        if (DumpDirectory != null) Dump(module, "hlo");
        if (fuse) module = LoopFusion.Run(module);
        if (DumpDirectory != null && fuse) Dump(module, "cpu.hlo");
        return new CpuCompiler(module).Plan(module.Entry);
    }

    /// <summary>Where compiled modules are written as HLO text, as given (NNN.name.hlo) and after the executor's fusion
    /// pass (NNN.name.cpu.hlo) (<c>XLAGEN_CPU_DUMP=DIR</c>, like XLA's <c>--xla_dump_to</c>), or null.</summary>
    static readonly string? DumpDirectory = Environment.GetEnvironmentVariable("XLAGEN_CPU_DUMP") is { Length: > 0 } d ? d : null;
    static int dumped;

    static void Dump(HloModule module, string suffix)
    {
        int n = suffix == "hlo" ? Interlocked.Increment(ref dumped) : dumped;
        var name = string.Concat(module.Name.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_'));
        var path = Path.Combine(DumpDirectory!, $"{n:D3}.{name}.{suffix}");
        try
        {
            Directory.CreateDirectory(DumpDirectory!);
            File.WriteAllText(path, HloPrinter.Print(module, includeMetadata: false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new XlaCompileException($"XLAGEN_CPU_DUMP={DumpDirectory}: cannot write '{path}' ({e.Message}); unset it or name a writable directory");
        }
    }

    static void CheckSupported(HloModule module)
    {
        foreach (var c in module.Computations)
        {
            foreach (var ins in c.Instructions)
            {
                string where = $"{ins.Describe()} in %{c.Name}";
                if (!KernelRegistry.Has(ins.Opcode))
                    throw new XlaCompileException($"{where}: the CPU executor has no kernel for opcode '{ins.Opcode}'");
                foreach (var leaf in ComputationCompiler.Leaves(ins.Shape))
                {
                    if (leaf.ElementType == ElementType.Token) continue;
                    if (!TypeDispatch.IsSupported(leaf.ElementType))
                        throw new XlaCompileException($"{where}: {TypeDispatch.Unsupported(leaf.ElementType).Message}; convert to a supported type first");
                    if (!leaf.IsStatic)
                        throw new XlaCompileException($"{where}: shape {leaf} has a symbolic dimension; bind every symbol before compiling");
                    if (leaf.ElementCount > Array.MaxLength)
                        throw new XlaCompileException($"{where}: shape {leaf} has {leaf.ElementCount} elements, more than one CPU array can hold ({Array.MaxLength})");
                }
            }
        }
    }

    /// <summary>The plan of <paramref name="computation"/>, compiled on first request.</summary>
    public CompiledComputation Plan(HloComputation computation)
    {
        if (!plans.TryGetValue(computation, out var plan))
        {
            plan = new ComputationCompiler(this, computation).Compile();
            plans[computation] = plan;
        }
        return plan;
    }

    /// <summary>A scalar function (reducer, comparator, map function) for <paramref name="computation"/>: a register
    /// program when every instruction is a scalar op, otherwise its plan run on one-element arrays.</summary>
    public ScalarFunction Scalar(HloComputation computation)
    {
        if (!scalarFunctions.TryGetValue(computation, out var f))
        {
            f = ScalarProgram.TryCompile(computation) ?? (ScalarFunction)new PlanScalarFunction(Plan(computation));
            scalarFunctions[computation] = f;
        }
        return f;
    }
}
