using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// The one check of execute arguments and donation that every backend applies before running a program: the CPU
/// executor, xlagen-server (on the handles a request names) and PJRT. The messages name the program, the argument's
/// index and parameter name, and what was expected.
/// </summary>
public static class ExecuteArguments
{
    /// <summary>
    /// Checks the argument count, each argument's shape against its parameter (layouts ignored) and the donated
    /// indices (in range, not repeated, not the same buffer as another argument). Returns which arguments are donated,
    /// or null when none is. Throws <see cref="XlaExecutionException"/>.
    /// </summary>
    /// <param name="program">The program's name, as messages show it.</param>
    /// <param name="parameterShapes">The entry parameters' shapes.</param>
    /// <param name="parameterNames">Their names, or null to show indices only.</param>
    /// <param name="arguments">The arguments; a null element is an error.</param>
    /// <param name="shapeOf">An argument's shape.</param>
    /// <param name="donated">The argument indices the caller donates.</param>
    /// <param name="describe">How messages name an argument (e.g. the server's "buffer #7"); null for its shape.</param>
    public static bool[]? Check<T>(
        string program,
        IReadOnlyList<Shape> parameterShapes,
        IReadOnlyList<string>? parameterNames,
        IReadOnlyList<T?> arguments,
        Func<T, Shape> shapeOf,
        IReadOnlyList<int>? donated,
        Func<T, string>? describe = null)
        where T : class => Check(program, parameterShapes, parameterNames, arguments, shapeOf, donated, describe, null);

    /// <summary>As the public Check, filling <paramref name="mask"/> (cleared first) when it has one element per
    /// argument instead of allocating the donation mask: an executor that runs every step reuses one.</summary>
    internal static bool[]? Check<T>(
        string program,
        IReadOnlyList<Shape> parameterShapes,
        IReadOnlyList<string>? parameterNames,
        IReadOnlyList<T?> arguments,
        Func<T, Shape> shapeOf,
        IReadOnlyList<int>? donated,
        Func<T, string>? describe,
        bool[]? mask)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count != parameterShapes.Count) throw CountMismatch(program, parameterShapes, parameterNames, arguments.Count);
        for (int i = 0; i < arguments.Count; i++)
        {
            var a = arguments[i] ?? throw new XlaExecutionException($"module '{program}', argument {i} ({Name(parameterNames, i)}) is null");
            var shape = shapeOf(a);
            if (!shape.Equals(parameterShapes[i]))
            {
                string which = describe == null ? "" : $" ({describe(a)})";
                throw new XlaExecutionException($"module '{program}', argument {i} ({Name(parameterNames, i)}): expected {parameterShapes[i]}, got {shape}{which}");
            }
        }
        if (donated == null || donated.Count == 0) return null;
        if (mask == null || mask.Length != arguments.Count) mask = new bool[arguments.Count];
        else Array.Clear(mask);
        for (int k = 0; k < donated.Count; k++)
        {
            int d = donated[k];
            if (d < 0 || d >= arguments.Count)
                throw new XlaExecutionException($"module '{program}': donated argument index {d} is out of range (the program takes {arguments.Count} arguments)");
            if (mask[d]) throw new XlaExecutionException($"module '{program}': argument {d} ({Name(parameterNames, d)}) is donated twice");
            mask[d] = true;
        }
        for (int i = 0; i < arguments.Count; i++)
        {
            if (!mask[i]) continue;
            for (int j = 0; j < arguments.Count; j++)
            {
                if (j != i && ReferenceEquals(arguments[i], arguments[j]))
                {
                    throw new XlaExecutionException(
                        $"module '{program}': argument {i} ({Name(parameterNames, i)}) is donated but the same buffer is also argument {j} ({Name(parameterNames, j)})");
                }
            }
        }
        return mask;
    }

    /// <summary>The wrong-count error; a method of its own so that the check allocates no closure when it passes.</summary>
    static XlaExecutionException CountMismatch(string program, IReadOnlyList<Shape> parameterShapes, IReadOnlyList<string>? parameterNames, int count)
    {
        var list = string.Join(", ", parameterShapes.Select((s, i) => $"{Name(parameterNames, i)}: {s}"));
        return new XlaExecutionException($"module '{program}' takes {parameterShapes.Count} argument(s) ({list}), got {count}");
    }

    static string Name(IReadOnlyList<string>? names, int i) => names != null && i < names.Count ? names[i] : "p" + i;
}
