namespace XlaGen.Generated;

// The generator writes these onto every [XlaModel] class so that a model compiled in one assembly can be used
// as a sub-model in another: the parent's generator reads its parameters and its programs (symbolic HLO text)
// from metadata, where the source is not available.

/// <summary>One parameter of a compiled model, in program order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XlaModelParamAttribute : Attribute
{
    /// <summary>Written by the generator; not meant to be applied by hand.</summary>
    /// <param name="path">The parameter's dotted path (encoder.w1).</param>
    /// <param name="shape">Its shape as HLO text, such as "f32[784,256]".</param>
    /// <param name="init">The name of its <see cref="XlaGen.Init"/> member, such as "GlorotUniform".</param>
    /// <param name="value">The initialiser's <see cref="ParamAttribute.Value"/>.</param>
    public XlaModelParamAttribute(string path, string shape, string init, double value)
    {
        Path = path;
        Shape = shape;
        Init = init;
        Value = value;
    }

    /// <summary>The parameter's dotted path.</summary>
    public string Path { get; }

    /// <summary>The parameter's shape as HLO text ("f32[784,256]").</summary>
    public string Shape { get; }

    /// <summary>The name of the parameter's <see cref="XlaGen.Init"/> member.</summary>
    public string Init { get; }

    /// <summary>False for a non-trainable parameter ([Param(Trainable = false)]).</summary>
    public bool Trainable { get; set; } = true;

    /// <summary>The initialiser's <see cref="ParamAttribute.Value"/>.</summary>
    public double Value { get; }
}

/// <summary>One forward method of a compiled model: its HLO program with symbolic dims; the first
/// <see cref="InputCount"/> parameters are the method's inputs, the rest the model parameters in order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XlaModelForwardAttribute : Attribute
{
    /// <summary>Written by the generator; not meant to be applied by hand.</summary>
    /// <param name="method">The forward method's name.</param>
    /// <param name="inputCount">How many of the program's parameters are the method's inputs.</param>
    /// <param name="hlo">The program as HLO text, with symbolic dims.</param>
    public XlaModelForwardAttribute(string method, int inputCount, string hlo)
    {
        Method = method;
        InputCount = inputCount;
        Hlo = hlo;
    }

    /// <summary>The forward method's name.</summary>
    public string Method { get; }

    /// <summary>How many leading parameters of the program are the method's inputs (the rest are the model's parameters).</summary>
    public int InputCount { get; }

    /// <summary>The program as HLO text, with symbolic dims (<see cref="XlaGen.Hlo.HloTextParser"/> reads it).</summary>
    public string Hlo { get; }
}

/// <summary>The C# source of a model class that takes constructor arguments (a configurable layer such as
/// <c>Dense(int In, int Out)</c>), with its usings and namespace: a model in another assembly that creates it with
/// constant arguments compiles it per instance from this text, as if it were its own source.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class XlaModelSourceAttribute : Attribute
{
    /// <summary>Written by the generator; not meant to be applied by hand.</summary>
    public XlaModelSourceAttribute(string source)
    {
        Source = source;
    }

    /// <summary>The model class's C# source, with its usings and namespace.</summary>
    public string Source { get; }
}
