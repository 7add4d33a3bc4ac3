using System;

namespace XlaGen.Generator.Model
{
    // Everything the emitter needs, as immutable, equatable data: no ISymbol, IOperation, SyntaxNode, Location or
    // Compilation inside (a caching test walks this graph to prove it). Programs are carried as HLO text with
    // symbolic dims: the canonical, equatable form of the IR.

    /// <summary>One [XlaModel] class. A <see cref="Configurable"/> one needs constructor arguments (its [Param] dims name
    /// them): it exists only as a sub-model, so it gets LoadParameters and no programs; its <see cref="Params"/> are its own
    /// [Param] fields without dims. <see cref="Source"/> is the class's C# text for models in other assemblies that create
    /// it with arguments (recorded for classes with constructor parameters; see Parsing/ModelSource).</summary>
    public sealed record ModelSpec(
        string? Namespace,
        string ClassName,
        string Accessibility,
        string SourceFileName,
        EquatableArray<ParamSpec> Params,
        EquatableArray<ForwardSpec> Forwards,
        EquatableArray<SubModelSpec> SubModels,
        bool HasParameterlessConstructor,
        LossSpec? Loss,
        string? PredictMethod,
        bool Configurable,
        string? Source);

    /// <summary>The [Loss] method: its program returns (loss, metric means…, gradients of the trainable parameters…, new
    /// values of the <see cref="StateUpdates"/> parameters…, then a prediction and its target per entry of
    /// <see cref="Observations"/>, the <see cref="PredictionKind"/> of each, for the metric objects chosen at Compile). When <see cref="HasTrainingMode"/>, it takes the rng state
    /// and the training flag after the model's parameters.</summary>
    public sealed record LossSpec(
        string MethodName,
        string ProgramName,
        EquatableArray<InputSpec> Inputs,
        EquatableArray<string> Symbols,
        string BatchSymbol,
        EquatableArray<string> Metrics,
        EquatableArray<string> TrainableParams,
        string HloText,
        EquatableArray<LabelRangeSpec> LabelRanges,
        bool HasTrainingMode,
        EquatableArray<string> StateUpdates,
        EquatableArray<int> Observations,
        bool HasSampleWeight,
        ProgramMemorySpec? Memory);

    /// <summary>A loss input holding class indices in [0, Classes) for <see cref="Loss"/>: Fit and Evaluate check it on the host.</summary>
    public sealed record LabelRangeSpec(string Input, long Classes, string Loss);

    /// <summary>A field holding a sub-model (or an array of them: <see cref="IsArray"/>, <see cref="TypeName"/> is the
    /// element type): its type and whether the generated code may construct it.</summary>
    public sealed record SubModelSpec(string FieldName, string TypeName, bool Constructible, bool IsArray);

    /// <summary>A parameter in program order; <see cref="Path"/> is dotted for sub-model parameters (encoder.w1).</summary>
    public sealed record ParamSpec(
        string Path,
        string? FieldName,
        string ElementTypeName,
        string ClrElementType,
        EquatableArray<long> Dims,
        string Init,
        double InitValue,
        bool Trainable);

    /// <summary>A [Forward] method and its program.</summary>
    public sealed record ForwardSpec(
        string MethodName,
        string ProgramName,
        EquatableArray<InputSpec> Inputs,
        EquatableArray<string> Symbols,
        string OutputClrElementType,
        string OutputShape,
        string HloText,
        ProgramMemorySpec? Memory);

    /// <summary>The build-time memory estimate of one program (Hlo/ProgramMemory), polynomials in canonical text
    /// (<c>3176*B+814120</c>): its inputs' bytes (the model's parameters excluded), its outputs' and the candidate peaks
    /// (parameters included). Null in a spec when a byte count overflows a long.</summary>
    public sealed record ProgramMemorySpec(string Inputs, string Outputs, EquatableArray<string> PeakCandidates);

    /// <summary>What the device-memory check (XlaGenDeviceMemory) needs of a model: its name and class location, its
    /// parameter bytes and the largest parameters. Kept out of <see cref="ModelSpec"/>, so moving the class regenerates nothing.</summary>
    public sealed record ParameterBytesSpec(string ModelName, LocationInfo? Location, long Bytes, EquatableArray<ParamBytes> Largest);

    /// <summary>One parameter's path, shape text (f32[784,256]) and bytes.</summary>
    public sealed record ParamBytes(string Path, string Shape, long Bytes);

    /// <summary>The XlaGenDeviceMemory build property: its text (empty when unset) and bytes, or why it is malformed.</summary>
    public sealed record DeviceMemorySetting(string Text, long Bytes, string? Problem)
    {
        public bool IsSet => Text.Length > 0 && Problem == null;
    }

    /// <summary>A tensor input: name, element type and dims as text ("B", "784").</summary>
    public sealed record InputSpec(string Name, string ElementTypeName, string ClrElementType, EquatableArray<string> Dims);

    /// <summary>Where a diagnostic points, without a Roslyn Location.</summary>
    public sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

    /// <summary>A diagnostic as data: descriptor id, location and message arguments.</summary>
    public sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments);

    /// <summary>What the parser produced for one class: the spec (null when errors stop generation) and diagnostics.</summary>
    public sealed record ModelResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, ParameterBytesSpec? ParameterBytes = null);
}
