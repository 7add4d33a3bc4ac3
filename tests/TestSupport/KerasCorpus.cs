namespace XlaGen.Tests;

/// <summary>
/// Real Keras-written weight files (../shared/keras-corpus beside the repository, or where XLAGEN_KERAS_CORPUS points;
/// its README names each file's source and stated values). Found like <see cref="Corpus"/>: tests call
/// <see cref="Require"/>, which skips them with a message when the folder is absent and fails them under CI=true.
/// </summary>
public static class KerasCorpus
{
    public static string? Root { get; } = Find();

    static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("XLAGEN_KERAS_CORPUS");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : null;   // named explicitly: that one or none
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "XlaGen.sln")))
            {
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "keras-corpus"));
                return Directory.Exists(candidate) ? candidate : null;
            }
            dir = dir.Parent;
        }
        return null;
    }

    public static bool Available => Root != null;

    public const string MissingMessage = "the Keras corpus (../shared/keras-corpus beside the repository) is not present in this clone; CI provides it";

    /// <summary>Skips the test when the corpus is absent (fails it under CI=true); else the full path of
    /// <paramref name="relative"/> inside it (e.g. "dl4j-cnn-batch-norm/cnn_batch_norm.h5").</summary>
    public static string Require(string relative)
    {
        Required.Data(Available, MissingMessage);
        var path = Path.Combine(Root!, relative);
        if (!File.Exists(path)) Assert.Fail($"the Keras corpus at {Root} has no {relative}");
        return path;
    }

    /// <summary>Files of the corpus matching <paramref name="pattern"/> in all its folders, relative to its root; empty when
    /// absent (MemberData cannot skip), or under CI=true an exception naming what is missing.</summary>
    public static IEnumerable<string> Files(string pattern)
    {
        if (Root != null)
            return Directory.GetFiles(Root, pattern, SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/')).OrderBy(f => f, StringComparer.Ordinal);
        if (Required.OnCi) throw new InvalidOperationException(Required.CiMessage(MissingMessage));
        return Enumerable.Empty<string>();
    }
}
