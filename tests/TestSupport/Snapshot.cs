using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Xunit;

namespace XlaGen.Tests;

/// <summary>
/// Verify-style snapshots without the Verify package (it is not served here): the expected text lives in
/// <c>{TestClass}.{Method}[_{name}].verified.txt</c> beside the test source. On a mismatch a
/// <c>.received.txt</c> is written next to it and the test fails; <c>UPDATE_SNAPSHOTS=1</c> accepts the new text.
/// A missing snapshot fails when <c>CI=true</c> (and is created otherwise, so a developer can review it).
/// Moving to Verify.Xunit is mechanical: the file names and the scrubbing follow its conventions.
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string? name = null, [CallerFilePath] string sourceFile = "", [CallerMemberName] string method = "")
    {
        var dir = Path.GetDirectoryName(sourceFile)!;
        var cls = Path.GetFileNameWithoutExtension(sourceFile);
        var stem = Path.Combine(dir, cls + "." + method + (name == null ? "" : "_" + name));
        var verified = stem + ".verified.txt";
        var received = stem + ".received.txt";
        var text = Scrub(actual);
        bool update = Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1";
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(verified))
        {
            if (ci && !update)
            {
                File.WriteAllText(received, text);
                Assert.Fail($"Snapshot {Path.GetFileName(verified)} is missing (CI=true). The output was written to {Path.GetFileName(received)}; review it and accept with UPDATE_SNAPSHOTS=1.");
            }
            File.WriteAllText(verified, text);
            return;
        }
        var expected = File.ReadAllText(verified).Replace("\r\n", "\n");
        if (expected == text)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        if (update)
        {
            File.WriteAllText(verified, text);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, text);
        Assert.Fail($"Snapshot {Path.GetFileName(verified)} differs; see {Path.GetFileName(received)}. First difference at line {FirstDifference(expected, text)}. Accept with UPDATE_SNAPSHOTS=1.");
    }

    /// <summary>Line endings normalised; versions and absolute paths scrubbed so snapshots are machine-independent.</summary>
    public static string Scrub(string text)
    {
        text = text.Replace("\r\n", "\n");
        text = Regex.Replace(text, @"Version=\d+\.\d+\.\d+\.\d+", "Version={version}");
        text = Regex.Replace(text, @"GeneratedCode\(""([^""]+)"", ""[^""]+""\)", @"GeneratedCode(""$1"", ""{version}"")");
        return text;
    }

    static int FirstDifference(string a, string b)
    {
        var x = a.Split('\n');
        var y = b.Split('\n');
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            if (x[i] != y[i]) return i + 1;
        }
        return Math.Min(x.Length, y.Length) + 1;
    }
}
