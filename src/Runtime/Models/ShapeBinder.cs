using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// Checks a runner call's tensors against the [Shape] patterns of its inputs and binds the symbolic dims
/// (B = x.Shape[0]). A mismatch throws an ArgumentException naming the argument, the expected and the actual shape.
/// </summary>
public sealed class ShapeBinder
{
    readonly string program;
    readonly Dictionary<string, (long Value, string Argument)> symbols = new(StringComparer.Ordinal);

    /// <summary>A binder for one call of <paramref name="program"/> (named in messages, such as "Mlp.Logits").</summary>
    public ShapeBinder(string program)
    {
        this.program = program;
    }

    /// <summary>Checks <paramref name="tensor"/> against <paramref name="type"/> and <paramref name="pattern"/>, binding each
    /// symbolic dim the first time it is seen and checking it against that binding afterwards.</summary>
    /// <param name="argument">The argument's name, for messages.</param>
    /// <param name="tensor">The tensor passed.</param>
    /// <param name="type">The element type the argument must have.</param>
    /// <param name="pattern">One entry per dimension: a number ("784") or a symbol ("B").</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    /// <exception cref="ArgumentException">The element type, rank or a dim does not match, a symbol's value differs from its
    /// earlier binding, or a symbolic dim is not between 1 and <see cref="int.MaxValue"/>.</exception>
    public void Bind(string argument, Tensor? tensor, ElementType type, params string[] pattern)
    {
        if (tensor is null) throw new ArgumentNullException(argument, $"{program}: argument '{argument}' is null");
        string expected() => $"{type.TextName()}[{string.Join(",", pattern)}]";
        if (tensor.ElementType != type)
            throw new ArgumentException($"{program}: argument '{argument}' must be {expected()}, got {tensor.ShapeText} (element type {tensor.ElementType.TextName()} instead of {type.TextName()})", argument);
        if (tensor.Rank != pattern.Length)
            throw new ArgumentException($"{program}: argument '{argument}' must be {expected()}, got {tensor.ShapeText} (rank {tensor.Rank} instead of {pattern.Length})", argument);
        for (int i = 0; i < pattern.Length; i++)
        {
            long actual = tensor.Shape[i];
            if (long.TryParse(pattern[i], out var fixedDim))
            {
                if (actual != fixedDim)
                    throw new ArgumentException($"{program}: argument '{argument}' must be {expected()}, got {tensor.ShapeText} (dimension {i} is {actual}, expected {fixedDim})", argument);
                continue;
            }
            if (symbols.TryGetValue(pattern[i], out var bound))
            {
                if (bound.Value != actual)
                    throw new ArgumentException($"{program}: argument '{argument}' must be {expected()}, got {tensor.ShapeText} (dimension {i} is {actual}, but {pattern[i]} = {bound.Value} from '{bound.Argument}')", argument);
                continue;
            }
            if (actual <= 0 || actual > int.MaxValue)
                throw new ArgumentException($"{program}: argument '{argument}' has dimension {i} = {actual}; the symbolic dimension {pattern[i]} must be between 1 and {int.MaxValue}", argument);
            symbols[pattern[i]] = (actual, argument);
        }
    }

    /// <summary>The value bound to <paramref name="symbol"/>.</summary>
    /// <exception cref="InvalidOperationException">No argument bound <paramref name="symbol"/>.</exception>
    public int this[string symbol] => symbols.TryGetValue(symbol, out var v)
        ? (int)v.Value
        : throw new InvalidOperationException($"{program}: symbolic dimension {symbol} was not bound by any argument");
}
