namespace XlaGen.Generated;

// The generator writes these onto every [XlaModel] class so that a model compiled in one assembly can be used
// as a sub-model in another: the parent's generator reads its parameters and its programs (symbolic HLO text)
// from metadata, where the source is not available.

/// <summary>One parameter of a compiled model, in program order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XlaModelParamAttribute : Attribute
{
    public XlaModelParamAttribute(string path, string shape, string init, double value)
    {
        Path = path;
        Shape = shape;
        Init = init;
        Value = value;
    }

    public string Path { get; }

    public string Shape { get; }

    public string Init { get; }

    /// <summary>False for a non-trainable parameter ([Param(Trainable = false)]).</summary>
    public bool Trainable { get; set; } = true;

    public double Value { get; }
}

/// <summary>One forward method of a compiled model: its HLO program with symbolic dims; the first
/// <see cref="InputCount"/> parameters are the method's inputs, the rest the model parameters in order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XlaModelForwardAttribute : Attribute
{
    public XlaModelForwardAttribute(string method, int inputCount, string hlo)
    {
        Method = method;
        InputCount = inputCount;
        Hlo = hlo;
    }

    public string Method { get; }

    public int InputCount { get; }

    public string Hlo { get; }
}

/// <summary>The C# source of a model class that takes constructor arguments (a configurable layer such as
/// <c>Dense(int In, int Out)</c>), with its usings and namespace: a model in another assembly that creates it with
/// constant arguments compiles it per instance from this text, as if it were its own source.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class XlaModelSourceAttribute : Attribute
{
    public XlaModelSourceAttribute(string source)
    {
        Source = source;
    }

    public string Source { get; }
}
