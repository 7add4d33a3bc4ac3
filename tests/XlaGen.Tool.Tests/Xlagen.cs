using System.Diagnostics;
using System.Reflection;

namespace XlaGen.Tool.Tests;

/// <summary>Runs the built tool as a process (<c>dotnet xlagen.dll …</c>) and returns its exit code and output.</summary>
public static class Xlagen
{
    public static string Dll { get; } = typeof(Xlagen).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "XlaGenToolDll").Value!;

    public sealed record Result(int Code, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;

        public override string ToString() => $"exit {Code}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        Assert.True(File.Exists(Dll), $"{Dll} is missing: build src/Tool first");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        // The tests name every device and token themselves.
        info.Environment.Remove("XLAGEN_DEVICE");
        info.Environment.Remove("XLAGEN_TOKEN");
        info.Environment.Remove("XLAGEN_TOKEN_FILE");
        return info;
    }

    public static Result Run(params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"xlagen {string.Join(" ", args)} did not finish within 2 minutes");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xlagen-tool-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
