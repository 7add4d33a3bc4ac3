using System.Globalization;
using System.Text;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// The generator's build-time estimate of the device memory one run of a program needs (<see cref="ProgramMemory"/>):
/// byte counts as polynomials in the program's symbolic dims (<c>3,176·B + 814,120</c>). The peak counts the model's
/// parameters, the inputs, the outputs and every intermediate of an unfused schedule in definition order, each live
/// from its definition to its last use; it is an estimate in the style of an upper bound, not XLA's buffer assignment
/// (fusion and buffer reuse only lower the real figure).
/// </summary>
public sealed class MemoryEstimate
{
    /// <summary>An estimate for one program; generated code calls <see cref="Create"/> instead.</summary>
    /// <param name="method">The [Forward] or [Loss] method the program is.</param>
    /// <param name="isLoss">Whether it is the [Loss] method (whose train step adds gradients and optimizer state).</param>
    /// <param name="symbols">The program's symbolic dims, in the order <see cref="Bytes(long[])"/> takes their values.</param>
    /// <param name="inputs">The bytes of the inputs.</param>
    /// <param name="outputs">The bytes of the outputs.</param>
    /// <param name="peakCandidates">The candidate peaks; the peak for given dims is the largest of them.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public MemoryEstimate(string method, bool isLoss, IReadOnlyList<string> symbols, SymbolicBytes inputs, SymbolicBytes outputs, IReadOnlyList<SymbolicBytes> peakCandidates)
    {
        Method = method ?? throw new ArgumentNullException(nameof(method));
        IsLoss = isLoss;
        Symbols = symbols ?? throw new ArgumentNullException(nameof(symbols));
        Inputs = inputs ?? throw new ArgumentNullException(nameof(inputs));
        Outputs = outputs ?? throw new ArgumentNullException(nameof(outputs));
        PeakCandidates = peakCandidates ?? throw new ArgumentNullException(nameof(peakCandidates));
        Peak = peakCandidates.Aggregate(SymbolicBytes.Zero, SymbolicBytes.Max);
    }

    /// <summary>What generated code calls: the polynomials in their canonical text (<see cref="SymbolicBytes.ToCanonicalString"/>).</summary>
    public static MemoryEstimate Create(string method, bool isLoss, string[] symbols, string inputs, string outputs, string[] peakCandidates) =>
        new(method, isLoss, symbols, SymbolicBytes.Parse(inputs), SymbolicBytes.Parse(outputs), peakCandidates.Select(SymbolicBytes.Parse).ToArray());

    /// <summary>The [Forward] or [Loss] method whose program this is.</summary>
    public string Method { get; }

    /// <summary>True for the [Loss] program (loss, metrics and gradients; the train step adds the optimizer's update).</summary>
    public bool IsLoss { get; }

    /// <summary>The program's symbolic dims, in the order <see cref="Bytes(long[])"/> takes their values.</summary>
    public IReadOnlyList<string> Symbols { get; }

    /// <summary>Bytes of the program's inputs (the model's parameters not included).</summary>
    public SymbolicBytes Inputs { get; }

    /// <summary>Bytes of the program's results.</summary>
    public SymbolicBytes Outputs { get; }

    /// <summary>The live bytes at the points of the schedule that can be the peak, none coefficient-wise below another:
    /// which is largest depends on the symbol values, so <see cref="Bytes(IReadOnlyDictionary{string, long})"/> evaluates
    /// them all and takes the largest.</summary>
    public IReadOnlyList<SymbolicBytes> PeakCandidates { get; }

    /// <summary>One formula for the peak: the coefficient-wise maximum of <see cref="PeakCandidates"/>, the peak itself when
    /// there is one candidate and never below it (for positive symbol values) when there are several.</summary>
    public SymbolicBytes Peak { get; }

    /// <summary>The peak as text: the formula when one candidate is the peak for every size, else
    /// <c>max(4,006·B + 805,740; 4,676·B + 406,888)</c>, exact for every size.</summary>
    public string PeakFormula => PeakCandidates.Count <= 1 ? Peak.ToString() : "max(" + string.Join("; ", PeakCandidates) + ")";

    /// <summary>The estimated peak bytes of one run for the given symbol values (<c>["B"] = 128</c>).</summary>
    public long Bytes(IReadOnlyDictionary<string, long> symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        foreach (var s in Symbols)
        {
            if (!symbols.TryGetValue(s, out var v)) throw new ArgumentException($"{Method}: the memory estimate needs a value for {s} (its symbols: {string.Join(", ", Symbols)})", nameof(symbols));
            if (v <= 0) throw new ArgumentOutOfRangeException(nameof(symbols), v, $"{Method}: symbolic dimension {s} must be positive");
        }
        return PeakCandidates.Count == 0 ? 0 : PeakCandidates.Max(c => c.Evaluate(symbols));
    }

    /// <summary>The estimated peak bytes for values of <see cref="Symbols"/> in order (<c>Bytes(128)</c> for B = 128).</summary>
    public long Bytes(params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != Symbols.Count)
            throw new ArgumentException($"{Method}: the memory estimate takes {Symbols.Count} value(s) ({string.Join(", ", Symbols)}), got {values.Length}", nameof(values));
        return Bytes(Bind(values));
    }

    internal Dictionary<string, long> Bind(long[] values)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < values.Length; i++) d[Symbols[i]] = values[i];
        return d;
    }

    /// <summary>"method: peak formula bytes (inputs …, outputs …)".</summary>
    public override string ToString() => $"{Method}: peak {PeakFormula} bytes (inputs {Inputs}, outputs {Outputs})";
}

/// <summary>
/// A model's build-time memory figures, from its generator: parameter bytes (exact, from the [Param] shapes and element
/// types), optimizer state per slot (the optimizer is chosen at run time: Adam keeps 2 slots, RMSProp 1 or 2, SGD with
/// momentum 1, plain SGD 0, each the size of the trainable parameters), and a <see cref="MemoryEstimate"/> per program.
/// </summary>
public sealed class ModelMemoryEstimate
{
    /// <summary>A model's figures; generated code makes it.</summary>
    /// <param name="parameterBytes">The bytes of all parameters.</param>
    /// <param name="optimizerStateBytesPerSlot">The bytes of one optimizer slot (the size of the trainable parameters).</param>
    /// <param name="programs">One estimate per program.</param>
    public ModelMemoryEstimate(long parameterBytes, long optimizerStateBytesPerSlot, IReadOnlyList<MemoryEstimate> programs)
    {
        ParameterBytes = parameterBytes;
        OptimizerStateBytesPerSlot = optimizerStateBytesPerSlot;
        Programs = programs ?? throw new ArgumentNullException(nameof(programs));
    }

    /// <summary>Bytes of all parameters (trainable or not), as the device holds them.</summary>
    public long ParameterBytes { get; }

    /// <summary>Bytes of one optimizer slot: the trainable (floating-point, Trainable) parameters' bytes.</summary>
    public long OptimizerStateBytesPerSlot { get; }

    /// <summary>Optimizer state for an optimizer keeping <paramref name="slots"/> slots per trainable parameter.</summary>
    public long OptimizerStateBytes(int slots) =>
        slots < 0 ? throw new ArgumentOutOfRangeException(nameof(slots), slots, "a slot count is not negative") : checked(OptimizerStateBytesPerSlot * slots);

    /// <summary>One estimate per program the generator built ([Forward] methods, then the [Loss] method); a program
    /// whose byte counts overflow a long has none.</summary>
    public IReadOnlyList<MemoryEstimate> Programs { get; }

    /// <summary>The estimate of <paramref name="method"/>'s program.</summary>
    public MemoryEstimate this[string method] =>
        Programs.FirstOrDefault(p => p.Method == method)
        ?? throw new KeyNotFoundException($"no memory estimate for '{method}'; estimated: {string.Join(", ", Programs.Select(p => p.Method))}");

    /// <summary>The figures as text: parameters, optimizer state per slot, and each program's peak formula; with
    /// <paramref name="bindings"/> (method → symbol values), the peak at those values too.</summary>
    public string Describe(IEnumerable<(string Method, long[] Values)>? bindings = null)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Build-time memory estimate (generator; an unfused schedule, upper-bound style, not XLA's buffer assignment):");
        text.AppendLine(c, $"  parameters {ParameterBytes:N0} bytes; optimizer state {OptimizerStateBytesPerSlot:N0} bytes per slot (Adam keeps 2 slots, RMSProp 1 or 2, SGD with momentum 1)");
        var bound = (bindings ?? Enumerable.Empty<(string, long[])>()).ToList();
        foreach (var p in Programs)
        {
            var symbols = p.Symbols.Count == 0 ? "" : "(" + string.Join(", ", p.Symbols) + ")";
            text.Append(c, $"  {(p.IsLoss ? "[Loss] " : "")}{p.Method}{symbols}: peak {p.PeakFormula} bytes, inputs {p.Inputs}, outputs {p.Outputs}");
            var at = bound.Where(b => b.Method == p.Method && b.Values.Length == p.Symbols.Count)
                .Select(b => b.Values).GroupBy(v => string.Join(",", v)).Select(g => g.First()).OrderBy(v => v.Length == 0 ? 0 : v[0]).ToList();
            foreach (var values in at)
            {
                var names = string.Join(", ", p.Symbols.Select((s, i) => s + "=" + values[i].ToString(c)));
                text.Append(c, $"; at {names}: {p.Bytes(values):N0} bytes");
            }
            text.AppendLine();
        }
        return text.ToString();
    }

    /// <summary>The report <see cref="Describe"/> writes with no bindings.</summary>
    public override string ToString() => Describe();
}
