using System.Globalization;

namespace XlaGen.Tool;

/// <summary>
/// One command's arguments: positional arguments in order and <c>--name value</c> options (<c>--name=value</c> too),
/// checked against the options the command knows. Every mistake is a <see cref="UsageException"/> naming the argument.
/// </summary>
sealed class CommandLine
{
    readonly string command;
    readonly Dictionary<string, List<string>> values = new(StringComparer.Ordinal);
    readonly HashSet<string> flags = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = new();

    public bool Help { get; private set; }

    /// <param name="valued">options that take a value (may repeat)</param>
    /// <param name="switches">options without a value</param>
    public CommandLine(string command, IReadOnlyList<string> args, IReadOnlyCollection<string> valued, IReadOnlyCollection<string>? switches = null)
    {
        this.command = command;
        switches ??= Array.Empty<string>();
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (optionsEnded)
            {
                Positional.Add(arg);
                continue;
            }
            if (arg == "--")
            {
                optionsEnded = true;   // what follows is positional, even when it starts with --
                continue;
            }
            if (arg is "--help" or "-h")
            {
                Help = true;
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                Positional.Add(arg);
                continue;
            }
            string name = arg;
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }
            if (switches.Contains(name))
            {
                if (inline != null) throw new UsageException($"{command}: {name} takes no value");
                flags.Add(name);
                continue;
            }
            if (!valued.Contains(name))
                throw new UsageException($"{command}: unknown option '{name}' (it takes {Known(valued, switches)})");
            string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"{command}: {name} needs a value"));
            if (value.Length == 0) throw new UsageException($"{command}: {name} needs a value, not an empty string");
            if (!values.TryGetValue(name, out var list)) values[name] = list = new();
            list.Add(value);
        }
    }

    static string Known(IReadOnlyCollection<string> valued, IReadOnlyCollection<string> switches)
    {
        var all = valued.Concat(switches).Append("--help").ToList();
        return string.Join(", ", all);
    }

    public bool Has(string name) => flags.Contains(name) || values.ContainsKey(name);

    /// <summary>The option's value, or null; given twice is a usage error.</summary>
    public string? Value(string name)
    {
        if (!values.TryGetValue(name, out var list)) return null;
        if (list.Count > 1) throw new UsageException($"{command}: {name} is given {list.Count} times; give it once");
        return list[0];
    }

    public IReadOnlyList<string> Values(string name) => values.TryGetValue(name, out var list) ? list : Array.Empty<string>();

    public int? Int(string name, int min)
    {
        var text = Value(name);
        if (text == null) return null;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) || n < min)
            throw new UsageException($"{command}: {name} takes a whole number of at least {min}, not '{text}'");
        return n;
    }

    /// <summary>Exactly <paramref name="names"/>.Length positional arguments, named in the message when some are missing.</summary>
    public string[] Expect(params string[] names)
    {
        if (Positional.Count < names.Length)
            throw new UsageException($"{command}: missing {string.Join(" ", names.Skip(Positional.Count))} (usage: {command} {string.Join(" ", names)} …)");
        if (Positional.Count > names.Length)
            throw new UsageException($"{command}: unexpected argument '{Positional[names.Length]}' (it takes {(names.Length == 0 ? "no positional arguments" : string.Join(" ", names))})");
        return Positional.ToArray();
    }
}
