using System.Diagnostics;
using System.Text.Json;

namespace XlaGen.Tests.Pjrt;

/// <summary>
/// tools/DeviceCheck, the program scripts/device-check.sh runs on the GPU machine, run here as built by the solution:
/// on the CPU executor every part passes and lands in the report; on a PJRT device that cannot compute (the C test
/// double of the PJRT C API, identity programs only) the check fails with every refusal listed, never a crash.
/// </summary>
[Collection(TestPluginCollection.Name)]
public class DeviceCheckToolTests
{
    static string Tool
    {
        get
        {
            string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            var path = Path.Combine(Repo.Root, "tools", "DeviceCheck", "bin", configuration, "net10.0", "linux-x64", "xlagen-device-check");
            Assert.True(File.Exists(path), $"{path} is missing: build the solution (dotnet build XlaGen.sln -c {configuration}) first");
            return path;
        }
    }

    static (int Code, string Output, JsonElement Report) Run(params string[] args)
    {
        var report = Path.Combine(Path.GetTempPath(), $"xlagen-device-check-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo(Tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var a in new[] { "--skip-train", "--warmup-steps", "2", "--out", report }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the device check did not finish within 2 minutes");
        output += stderr.Result;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(report));
            return (p.ExitCode, output, json.RootElement.Clone());
        }
        finally
        {
            File.Delete(report);
        }
    }

    [Fact]
    public void OnTheCpuEveryPartPassesAndIsReported()
    {
        Corpus.Require();
        var (code, output, report) = Run("--device", "cpu", "--corpus", Corpus.Root!);
        Assert.True(code == 0, output);
        Assert.True(report.GetProperty("passed").GetBoolean());
        Assert.Equal("finished", report.GetProperty("state").GetString());
        var conformance = report.GetProperty("conformance");
        Assert.True(conformance.GetProperty("cases").GetInt32() > 300);
        Assert.Equal(conformance.GetProperty("cases").GetInt32(), conformance.GetProperty("passed").GetInt32());
        var corpus = report.GetProperty("corpus");
        Assert.True(corpus.GetProperty("cases").GetInt32() > 30);
        Assert.Equal(0, corpus.GetProperty("failed").GetInt32());
        Assert.Equal(JsonValueKind.Array, report.GetProperty("peak_memory").ValueKind);
        Assert.Equal(0, report.GetProperty("failures").GetArrayLength());
        Assert.EndsWith("is not a PJRT device", report.GetProperty("replicas").GetProperty("skipped").GetString());
    }

    [Fact]
    public void OnADeviceThatCannotComputeTheCheckFailsWithEveryRefusalListed()
    {
        Corpus.Require();
        var plugin = TestPluginBuild.Require();
        var (code, output, report) = Run("--device", "pjrt:" + plugin, "--corpus", Corpus.Root!);
        Assert.True(code == 1, output);
        Assert.False(report.GetProperty("passed").GetBoolean());
        Assert.Equal("testpjrt", report.GetProperty("device").GetProperty("platform").GetString());
        Assert.Contains("executes identity programs only", output);
        Assert.True(report.GetProperty("failures").GetArrayLength() > 0);
        // replicas on its two devices: placed by the plugin's assignment (reverse order), refused at the all-reduce
        var rows = report.GetProperty("replicas").GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(new[] { 1, 2 }, rows.Select(r => r.GetProperty("replicas").GetInt32()));
        Assert.Equal(new[] { 10 }, rows[0].GetProperty("device_assignment").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new[] { 11, 10 }, rows[1].GetProperty("device_assignment").EnumerateArray().Select(e => e.GetInt32()));
        Assert.All(rows, r => Assert.Contains("executes identity programs only", r.GetProperty("error").GetString()));
        Assert.Contains(report.GetProperty("failures").EnumerateArray(), f => f.GetString()!.StartsWith("2 replica(s): ", StringComparison.Ordinal));
    }
}
