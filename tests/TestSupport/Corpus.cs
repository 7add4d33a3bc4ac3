namespace XlaGen.Tests;

/// <summary>
/// The real XLA corpus lives in ../shared/xla-corpus next to the repository (CI always has it; a user's clone
/// does not). Tests that read it call <see cref="Require"/>, which skips them with a message when it is absent.
/// </summary>
public static class Corpus
{
    public static string? Root { get; } = Find();

    static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("XLAGEN_CORPUS");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "XlaGen.sln")))
            {
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "xla-corpus"));
                return Directory.Exists(candidate) ? candidate : null;
            }
            dir = dir.Parent;
        }
        return null;
    }

    public static bool Available => Root != null;

    public const string MissingMessage = "the XLA corpus (../shared/xla-corpus beside the repository) is not present in this clone; CI provides it";

    /// <summary>Files of the corpus folder, or an empty list when the corpus is absent (MemberData can't skip).</summary>
    public static IEnumerable<string> Files(string folder, string pattern) =>
        Root == null ? Enumerable.Empty<string>() : Directory.GetFiles(Path.Combine(Root, folder), pattern).OrderBy(f => f, StringComparer.Ordinal);
}
