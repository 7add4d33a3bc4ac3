using System.Collections.Concurrent;
using XlaGen.Backends.Cpu;
using XlaGen.Hlo;

namespace XlaGen;

// Inference without the batching machinery: a batch that fits one chunk runs the compiled forward directly, and the
// span form (generated Predict(ReadOnlySpan<T>, Span<U>)) reads the caller's rows and writes the caller's output.
public abstract partial class ModelRunner
{
    /// <summary>Direct-path programs by (method, rows): a lookup that allocates nothing (the general cache's key is a
    /// string built per call).</summary>
    readonly ConcurrentDictionary<(string Method, long Rows), DirectProgram> directPrograms = new();

    sealed class DirectProgram(IExecutable executable, long inputElements, long outputElements)
    {
        public IExecutable Executable { get; } = executable;

        public long InputElements { get; } = inputElements;

        public long OutputElements { get; } = outputElements;
    }

    /// <summary>RunBatched's shortcut: inputs of at most <paramref name="batchSize"/> rows (all with the same dim 0)
    /// run as one program call, without a Dataset or its prefetching thread; null when they need chunking.</summary>
    Tensor? RunWhole(string method, int batchSize, Func<long, HloModule> build, Tensor[] inputs)
    {
        if (inputs.Length == 0 || inputs[0].Shape.Count == 0) return null;
        long rows = inputs[0].Shape[0];
        if (rows <= 0 || rows > batchSize) return null;
        foreach (var t in inputs)
        {
            if (t.Shape.Count == 0 || t.Shape[0] != rows) return null;
        }
        // The same programs the chunked loop would run for a single chunk of `rows`.
        if (Replicas > 1 && rows % Replicas == 0) return RunSharded(method, build, inputs);
        return Run(method, new long[] { rows }, () => build(rows), inputs)[0];
    }

    /// <summary>
    /// Runs the forward program <paramref name="method"/> on rows read from <paramref name="input"/> and writes its
    /// result into <paramref name="output"/> (generated <c>Predict(ReadOnlySpan, Span)</c> methods call it). The batch
    /// size is <c>input.Length / rowElements</c>. On the CPU executor the input is copied once into a pooled array,
    /// the cached executable runs on it and the parameters, and the result is copied into <paramref name="output"/>:
    /// nothing is allocated once the program for that batch size has run. Other devices upload and download (same
    /// results).
    /// </summary>
    /// <typeparam name="TIn">The input's element type.</typeparam>
    /// <typeparam name="TOut">The result's element type.</typeparam>
    /// <param name="method">The forward method's name (the program cache key).</param>
    /// <param name="input">The rows, row-major, one after another.</param>
    /// <param name="output">Receives the result, row-major; its length must be the result's element count.</param>
    /// <param name="rowElements">Elements per input row (the product of the input's dims after the batch dim).</param>
    /// <param name="rowShape">The input's dims as the model declares them ("[B,784]"), for messages.</param>
    /// <param name="build">Builds the program for a number of rows.</param>
    /// <exception cref="ArgumentException">The input is empty or not a whole number of rows, or the output's length
    /// is not the result's element count for that many rows.</exception>
    protected void RunInto<TIn, TOut>(string method, ReadOnlySpan<TIn> input, Span<TOut> output, long rowElements, string rowShape, Func<long, HloModule> build)
        where TIn : unmanaged where TOut : unmanaged
    {
        ThrowIfDisposed();
        if (input.Length == 0 || rowElements <= 0 || input.Length % rowElements != 0)
        {
            throw new ArgumentException(
                $"{ModelName}.{method}: the input has {input.Length} elements; it must hold whole rows of {rowElements} elements (input shape {rowShape}), e.g. {rowElements} for one row",
                nameof(input));
        }
        long rows = input.Length / rowElements;
        var program = DirectProgramFor(method, rows, build);
        if (output.Length != program.OutputElements)
        {
            throw new ArgumentException(
                $"{ModelName}.{method}: the output has {output.Length} elements; {rows} row(s) of input give {program.Executable.Module.ResultShape} = {program.OutputElements} elements",
                nameof(output));
        }
        if (program.Executable is CpuExecutable cpu)
        {
            cpu.ExecuteInto(input, ParameterBuffers, output);
            return;
        }
        RunIntoThroughTensors(method, input, output, rows, program, build);
    }

    // The lambdas live in methods of their own: a lambda capturing a method's locals makes C# allocate their closure on
    // entry to that method, on the warm path too (it was the last 64 B of every span Predict).
    void RunIntoThroughTensors<TIn, TOut>(string method, ReadOnlySpan<TIn> input, Span<TOut> output, long rows, DirectProgram program, Func<long, HloModule> build)
        where TIn : unmanaged where TOut : unmanaged
    {
        var shape = program.Executable.Module.ParameterShapes[0].ConcreteDims();
        var result = Run(method, new long[] { rows }, () => build(rows), new Tensor<TIn>(shape, input.ToArray()))[0];
        if (result is not Tensor<TOut> typed)
            throw new InvalidOperationException($"{ModelName}.{method}: the result is {result.ShapeText}, not {typeof(TOut).Name} elements");
        typed.Data.AsSpan().CopyTo(output);
    }

    DirectProgram DirectProgramFor(string method, long rows, Func<long, HloModule> build) =>
        directPrograms.TryGetValue((method, rows), out var p) ? p : CompileDirectProgram(method, rows, build);

    DirectProgram CompileDirectProgram(string method, long rows, Func<long, HloModule> build)
    {
        var executable = Program(method, new long[] { rows }, () => build(rows));
        var module = executable.Module;
        var parameters = module.ParameterShapes;
        if (parameters.Count != 1 + ParameterBuffers.Count || !module.ResultShape.IsArray)
        {
            throw new InvalidOperationException(
                $"{ModelName}.{method}: the direct path needs a program of one input and the parameters that returns one array; it takes {parameters.Count} argument(s) and returns {module.ResultShape}");
        }
        return directPrograms.GetOrAdd((method, rows), new DirectProgram(executable, parameters[0].ElementCount, module.ResultShape.ElementCount));
    }
}
