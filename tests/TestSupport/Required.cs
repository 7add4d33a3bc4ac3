namespace XlaGen.Tests;

/// <summary>
/// Tests that need something outside the repository (the XLA corpus, the Fashion-MNIST files) skip with a message
/// when it is absent on a developer's machine. Under CI (the environment variable CI=true, which .ci/run sets) they
/// fail instead: CI installs all of it, so its absence there is a broken setup that must not pass as a skip.
/// </summary>
public static class Required
{
    /// <summary>True when the environment variable CI is "true" (any case) or "1".</summary>
    public static bool OnCi { get; } = IsCi(Environment.GetEnvironmentVariable("CI"));

    public static bool IsCi(string? value) =>
        value is not null && (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value == "1");

    /// <summary>The failure text used under CI.</summary>
    public static string CiMessage(string missing) =>
        $"CI=true, but {missing}. Under CI a missing test input fails the test instead of skipping it (test.sh and the CI checkout provide them).";

    /// <summary>Returns when <paramref name="available"/>; otherwise fails under CI and skips elsewhere, saying what is missing.</summary>
    public static void Data(bool available, string missing, bool? ci = null)
    {
        if (available) return;
        if (ci ?? OnCi) Assert.Fail(CiMessage(missing));
        Assert.Skip(missing);
    }
}
