namespace XlaGen;

/// <summary>Marks a partial class as a model that XlaGen compiles at build time.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class XlaModelAttribute : Attribute
{
}

/// <summary>How a parameter is initialised from the model's seed.</summary>
public enum Init
{
    /// <summary>All zeros (the default: biases).</summary>
    Zeros,
    /// <summary>All ones (LayerNorm and BatchNorm scales, moving variances).</summary>
    Ones,
    /// <summary>All equal to <see cref="ParamAttribute.Value"/>.</summary>
    Constant,
    /// <summary>U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras glorot_uniform).</summary>
    GlorotUniform,
    /// <summary>Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)) / .8796 (Keras glorot_normal).</summary>
    GlorotNormal,
    /// <summary>U(-l, l), l = sqrt(6 / fan_in) (Keras he_uniform).</summary>
    HeUniform,
    /// <summary>Truncated normal, stddev = sqrt(2 / fan_in) / .8796 (Keras he_normal).</summary>
    HeNormal,
    /// <summary>U(-Value, Value).</summary>
    Uniform,
    /// <summary>N(0, Value²).</summary>
    Normal,
}

/// <summary>A trainable parameter of a model: a <c>Tensor&lt;T&gt;</c> field with a shape fixed at build time. Each dim is
/// an int (<c>[Param(784, 256)]</c>) or the name of a constructor parameter, or of a field or property with a build-time
/// value, of the model (<c>[Param("In", "Out")]</c> on <c>class Dense(int In, int Out)</c>): a field created with constant
/// arguments (<c>Dense d1 = new(784, 256);</c>) gets its own parameters of the shapes those arguments give.</summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
public sealed class ParamAttribute : Attribute
{
    /// <summary>A parameter of the given dims, outermost first (row-major): each an int or the name of a build-time value of the model.</summary>
    public ParamAttribute(params object[] dims)
    {
        Dims = dims;
    }

    /// <summary>Ints and names, as written.</summary>
    public object[] Dims { get; }

    /// <summary>How the parameter is initialised from the model's seed; <see cref="Init.Zeros"/> by default.</summary>
    public Init Init { get; set; } = Init.Zeros;

    /// <summary>The constant for <see cref="Init.Constant"/>, the bound for <see cref="Init.Uniform"/>, the stddev for <see cref="Init.Normal"/>.</summary>
    public double Value { get; set; }

    /// <summary>False for state that is not learned by gradient descent (BatchNorm's moving mean and variance): the loss
    /// is not differentiated with respect to it, layers that own it update it in each train step, and it is saved,
    /// loaded and used by Predict like any parameter.</summary>
    public bool Trainable { get; set; } = true;
}

/// <summary>A forward method: compiled to an HLO program with a typed runner method of the same name.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class ForwardAttribute : Attribute
{
    /// <summary>The method the runner's <c>Predict</c> runs. Without it, Predict runs the method named Predict or Call,
    /// else the only [Forward] method; a model with several and none chosen gets warning XG0018.</summary>
    public bool Default { get; set; }
}

/// <summary>A loss method: differentiated at build time into the train step.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LossAttribute : Attribute
{
}

/// <summary>The shape of a tensor input: numbers are fixed dims, strings are symbolic dims ("B") bound per call.
/// On a return value (<c>[return: Shape("B", 10)]</c>) it states the result's shape, checked at build time.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.ReturnValue, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    /// <summary>A shape of the given dims, outermost first: an int is a fixed dim, a string a symbolic dim ("B") bound from the arguments of each call.</summary>
    public ShapeAttribute(params object[] dims)
    {
        Dims = dims;
    }

    /// <summary>The dims as written: ints and strings.</summary>
    public object[] Dims { get; }
}
