namespace XlaGen.Tests;

/// <summary>
/// The real XLA corpus lives in ../shared/xla-corpus next to the repository, or where XLAGEN_CORPUS points (CI always
/// has it; a user's clone does not). Tests that read it call <see cref="Require"/>, which skips them with a message when
/// it is absent, and fails them under CI=true (see <see cref="Required"/>); theory data from <see cref="Files"/> is empty
/// when it is absent, and throws under CI=true, which fails the theory with that message.
/// </summary>
public static class Corpus
{
    public static string? Root { get; } = Find();

    static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("XLAGEN_CORPUS");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : null;   // named explicitly: that one or none
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

    /// <summary>Skips the test when the corpus is absent, or fails it under CI=true.</summary>
    public static void Require() => Required.Data(Available, MissingMessage);

    /// <summary>Files of the corpus folder; when the corpus is absent, an empty list (MemberData can't skip), or under
    /// CI=true an exception naming what is missing (MemberData that throws fails its theory).</summary>
    public static IEnumerable<string> Files(string folder, string pattern)
    {
        if (Root != null) return Directory.GetFiles(Path.Combine(Root, folder), pattern).OrderBy(f => f, StringComparer.Ordinal);
        if (Required.OnCi) throw new InvalidOperationException(Required.CiMessage(MissingMessage));
        return Enumerable.Empty<string>();
    }
}
