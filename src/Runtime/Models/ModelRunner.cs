using System.Collections.Concurrent;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// The base of every generated runner: the model's parameters resident on a device, and its programs compiled
/// once per binding of the symbolic dims (per batch size) and cached. Generated subclasses add one typed method
/// per [Forward] method.
/// </summary>
public abstract partial class ModelRunner : IDisposable
{
    readonly DeviceBuffer[] parameters;
    readonly Dictionary<string, int> parameterIndex;
    readonly ConcurrentDictionary<string, Lazy<IExecutable>> programs = new(StringComparer.Ordinal);
    bool disposed;

    /// <summary>Initialises a runner that can also train (generated runners of models with a [Loss] method call it).</summary>
    /// <param name="modelName">The model's name, for messages and checkpoints.</param>
    /// <param name="device">The device the parameters live on and the programs run on.</param>
    /// <param name="parameterSpecs">The model's parameters; each is initialised from <paramref name="seed"/> and uploaded.</param>
    /// <param name="seed">The seed of the parameter initialisers.</param>
    /// <param name="loss">The model's [Loss] method, or null when it has none (then training methods throw).</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    protected ModelRunner(string modelName, IDevice device, IReadOnlyList<ParameterSpec> parameterSpecs, int seed, Training.LossDefinition? loss)
        : this(modelName, device, parameterSpecs, seed)
    {
        Loss = loss;
    }

    /// <summary>Initialises a runner for inference: every parameter is initialised from <paramref name="seed"/> and uploaded to <paramref name="device"/>.</summary>
    /// <param name="modelName">The model's name, for messages and checkpoints.</param>
    /// <param name="device">The device the parameters live on and the programs run on.</param>
    /// <param name="parameterSpecs">The model's parameters, in the order the programs take them.</param>
    /// <param name="seed">The seed of the parameter initialisers.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    protected ModelRunner(string modelName, IDevice device, IReadOnlyList<ParameterSpec> parameterSpecs, int seed)
    {
        ModelName = modelName;
        Device = device ?? throw new ArgumentNullException(nameof(device));
        ParameterSpecs = parameterSpecs;
        Seed = seed;
        parameterIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        parameters = new DeviceBuffer[parameterSpecs.Count];
        for (int i = 0; i < parameterSpecs.Count; i++)
        {
            parameterIndex[parameterSpecs[i].Path] = i;
            parameters[i] = device.Upload(ParameterInit.Create(parameterSpecs[i], seed));
        }
    }

    /// <summary>The model's class name, used in messages and checkpoint metadata.</summary>
    public string ModelName { get; }

    /// <summary>The device that holds the parameters and runs the programs.</summary>
    public IDevice Device { get; }

    /// <summary>How many replicas run each step: N on a <see cref="ReplicatedDevice"/> (Fit, Evaluate and Predict split
    /// each batch across them), else 1.</summary>
    public int Replicas => Device is ReplicatedDevice r ? r.Replicas : 1;

    /// <summary>The seed the parameters were initialised from.</summary>
    public int Seed { get; }

    /// <summary>The model's parameters (path, element type, dims, initialiser), in the order the programs take them.</summary>
    public IReadOnlyList<ParameterSpec> ParameterSpecs { get; }

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount => ParameterSpecs.Sum(p => p.ElementCount);

    /// <summary>Keys of the programs compiled so far ("Logits(128)").</summary>
    public IReadOnlyCollection<string> CompiledPrograms => programs.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>The compiled module for a key from <see cref="CompiledPrograms"/>.</summary>
    public HloModule GetCompiledProgram(string key) =>
        programs.TryGetValue(key, out var p) ? p.Value.Module : throw new KeyNotFoundException($"{ModelName} has not compiled '{key}'; compiled: {string.Join(", ", CompiledPrograms)}");

    /// <summary>A host copy of one parameter.</summary>
    public Tensor GetParameter(string path)
    {
        ThrowIfDisposed();
        return Device.Download(parameters[IndexOf(path)]);
    }

    /// <summary>Every replica's copy of one parameter, in replica order (one tensor on a single device). Replicas apply
    /// the same update each step, so the copies are bitwise equal.</summary>
    public IReadOnlyList<Tensor> GetParameterReplicas(string path)
    {
        ThrowIfDisposed();
        var buffer = parameters[IndexOf(path)];
        return Device is ReplicatedDevice r ? r.DownloadReplicas(buffer) : new[] { Device.Download(buffer) };
    }

    /// <summary>Host copies of all parameters, by path.</summary>
    public IReadOnlyDictionary<string, Tensor> GetParameters()
    {
        ThrowIfDisposed();
        return ParameterSpecs.ToDictionary(p => p.Path, p => Device.Download(parameters[parameterIndex[p.Path]]), StringComparer.Ordinal);
    }

    /// <summary>Replaces one parameter (shape and element type must match).</summary>
    public void SetParameter(string path, Tensor value)
    {
        ThrowIfDisposed();
        int i = IndexOf(path);
        var spec = ParameterSpecs[i];
        if (value.ElementType != spec.ElementType || !value.Shape.SequenceEqual(spec.Dims))
            throw new ArgumentException($"{ModelName}: parameter '{path}' is {spec.Shape}, the value is {value.ShapeText}", nameof(value));
        var old = parameters[i];
        parameters[i] = Device.Upload(value);
        old.Dispose();
    }

    int IndexOf(string path) => parameterIndex.TryGetValue(path, out var i)
        ? i
        : throw new KeyNotFoundException($"{ModelName} has no parameter '{path}'; its parameters are {string.Join(", ", ParameterSpecs.Select(p => p.Path))}");

    /// <summary>Device buffers of the parameters in program order (for subclasses that run their own programs).</summary>
    protected IReadOnlyList<DeviceBuffer> ParameterBuffers => parameters;

    /// <summary>The generator's build-time memory figures for this model (parameters, optimizer state per slot, each
    /// program's peak as a formula in its symbolic dims); null for a runner the generator did not write.</summary>
    public virtual ModelMemoryEstimate? MemoryEstimate => null;

    /// <summary>Symbol values programs were compiled for, by method: Summary evaluates the memory estimate at them.</summary>
    readonly ConcurrentDictionary<string, (string Method, long[] Values)> compiledBindings = new(StringComparer.Ordinal);

    void RecordBindings(string method, long[] bindings) =>
        compiledBindings.TryAdd(method + "(" + string.Join(",", bindings) + ")", (method, (long[])bindings.Clone()));

    /// <summary>The compiled program for <paramref name="method"/> at <paramref name="bindings"/>, compiled on first use.</summary>
    protected IExecutable Program(string method, long[] bindings, Func<HloModule> build)
    {
        ThrowIfDisposed();
        RecordBindings(method, bindings);
        var key = method + "(" + string.Join(",", bindings) + ")";
        return programs.GetOrAdd(key, _ => new Lazy<IExecutable>(() => Device.CompileHlo(build()))).Value;
    }

    /// <summary>Runs a forward program: inputs are uploaded, parameters passed from the device, outputs downloaded.</summary>
    protected Tensor[] Run(string method, long[] bindings, Func<HloModule> build, params Tensor[] inputs)
    {
        var program = Program(method, bindings, build);
        var args = new List<DeviceBuffer>(inputs.Length + parameters.Length);
        var uploaded = new List<DeviceBuffer>(inputs.Length);
        try
        {
            foreach (var t in inputs)
            {
                var buffer = Device.Upload(t);
                uploaded.Add(buffer);
                args.Add(buffer);
            }
            args.AddRange(parameters);
            var outputs = program.Execute(args);
            var result = new Tensor[outputs.Length];
            for (int i = 0; i < outputs.Length; i++)
            {
                result[i] = Device.Download(outputs[i]);
                outputs[i].Dispose();
            }
            return result;
        }
        finally
        {
            foreach (var b in uploaded) b.Dispose();
        }
    }

    /// <summary>Looks up a parameter of the given element type in a name → tensor map (used by generated LoadParameters).</summary>
    public static Tensor<T> Take<T>(IReadOnlyDictionary<string, Tensor> values, string path) where T : unmanaged
    {
        if (!values.TryGetValue(path, out var t)) throw new KeyNotFoundException($"no value for parameter '{path}'");
        return t as Tensor<T> ?? throw new ArgumentException($"parameter '{path}' must be a Tensor<{typeof(T).Name}>, got {t.ShapeText}");
    }

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>Releases the parameters, the training state and every compiled program on the device. Calling it again does nothing; other members throw <see cref="ObjectDisposedException"/> afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeTrainingState();
        foreach (var p in parameters) p.Dispose();
        foreach (var p in programs.Values)
        {
            if (p.IsValueCreated) p.Value.Dispose();
        }
        GC.SuppressFinalize(this);
    }
}
