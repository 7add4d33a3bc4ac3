namespace XlaGen.Fuzz;

/// <summary>CI=true (or 1), which .ci/run sets: a missing corpus is then an error, not a smaller run.</summary>
static class Ci
{
    public static bool On { get; } = Environment.GetEnvironmentVariable("CI") is { } v && (v.Equals("true", StringComparison.OrdinalIgnoreCase) || v == "1");
}
