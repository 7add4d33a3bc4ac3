using System.Globalization;
using System.Text;
using XlaGen.Hlo;

namespace XlaGen;

// Keras' model.summary(): what the model holds and what it has compiled, as text.
public abstract partial class ModelRunner
{
    /// <summary>
    /// A table of the parameters (path, shape, element type, count, initialiser), their total in elements and bytes,
    /// the optimizer and the size of its state, and every program compiled so far with its estimated peak device
    /// memory (from the compiled plan; "?" when the device does not say), and the generator's build-time memory estimate
    /// (<see cref="MemoryEstimate"/>: each program's peak as a formula, and its value at the sizes compiled so far). Like Keras' <c>model.summary()</c>, printed
    /// by the caller: <c>Console.WriteLine(model.Summary())</c>.
    /// </summary>
    public string Summary()
    {
        ThrowIfDisposed();
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Model {ModelName} on {Device.Info.Platform} ({Device.Info.DeviceKind}), seed {Seed}");
        var rows = ParameterSpecs.Select(p => (p.Path, Shape: "[" + string.Join(",", p.Dims) + "]", Type: p.ElementType.TextName(),
            Count: p.ElementCount.ToString("N0", c), Init: p.Init.ToString())).ToList();
        int w0 = Math.Max(9, rows.Max(r => r.Path.Length)), w1 = Math.Max(5, rows.Max(r => r.Shape.Length)), w3 = Math.Max(8, rows.Max(r => r.Count.Length));
        string header = $"{"parameter".PadRight(w0)}  {"shape".PadRight(w1)}  {"type",-4}  {"elements".PadLeft(w3)}  init";
        text.AppendLine(header).AppendLine(new string('-', Math.Max(header.Length, rows.Max(r => w0 + w1 + w3 + 12 + r.Init.Length))));
        foreach (var r in rows) text.AppendLine(c, $"{r.Path.PadRight(w0)}  {r.Shape.PadRight(w1)}  {r.Type,-4}  {r.Count.PadLeft(w3)}  {r.Init}");
        long bytes = ParameterSpecs.Sum(p => p.ElementCount * ElementTypes.ByteSize(p.ElementType));
        text.AppendLine(c, $"Total: {ParameterCount:N0} parameters, {Bytes(bytes)}");
        if (Optimizer is { } optimizer)
        {
            var trainable = layout!.Trainable;
            long stateBytes = trainable.Sum(t => ParameterSpecs[t].ElementCount * ElementTypes.ByteSize(ParameterSpecs[t].ElementType)) * optimizer.Slots.Count;
            text.AppendLine(c, $"Optimizer: {optimizer.Describe()}, learning rate {optimizer.LearningRate.Describe()}; state {Bytes(stateBytes)} ({optimizer.Slots.Count} slot(s) per trainable parameter); steps taken: {Step:N0}");
        }
        else
        {
            text.AppendLine(Loss == null ? "Optimizer: none (the model has no [Loss] method)" : "Optimizer: none yet (call Compile)");
        }
        var compiled = programs.Select(kv => (Name: kv.Key, Exe: kv.Value.IsValueCreated ? kv.Value.Value : null))
            .Concat(trainPrograms.Select(kv => (Name: "train step " + kv.Key, Exe: (IExecutable?)kv.Value)))
            .Concat(evalPrograms.Select(kv => (Name: "eval step " + kv.Key, Exe: (IExecutable?)kv.Value)))
            .Where(p => p.Exe != null).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        if (compiled.Count == 0) text.AppendLine("Compiled programs: none yet (they compile on first use, once per batch size)");
        else
        {
            text.AppendLine("Compiled programs (estimated peak device memory per execution):");
            foreach (var (name, exe) in compiled)
                text.AppendLine(c, $"  {name}: {exe!.Module.Entry.Instructions.Count} instructions, peak {(exe.PeakMemoryBytes > 0 ? Bytes(exe.PeakMemoryBytes) : "?")}");
        }
        if (MemoryEstimate is { } estimate)
        {
            text.Append(estimate.Describe(compiledBindings.Values));
            if (Optimizer is { } o && estimate.Programs.FirstOrDefault(p => p.IsLoss) is { } lossProgram)
                text.AppendLine(c, $"  training adds the optimizer state to the [Loss] {lossProgram.Method} peak: {estimate.OptimizerStateBytes(o.Slots.Count):N0} bytes ({o.Slots.Count} slot(s))");
        }
        return text.ToString();
    }

    static string Bytes(long n) => n switch
    {
        < 1 << 10 => $"{n} B",
        < 1 << 20 => (n / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB",
        < 1L << 30 => (n / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MiB",
        _ => (n / 1073741824.0).ToString("F2", CultureInfo.InvariantCulture) + " GiB",
    };
}
