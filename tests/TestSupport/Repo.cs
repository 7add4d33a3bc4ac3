namespace XlaGen.Tests;

/// <summary>The repository root (the folder holding XlaGen.sln), found from the test binaries.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "XlaGen.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("XlaGen.sln not found above " + AppContext.BaseDirectory);
    }
}
