using System.Diagnostics;
using System.Reflection;

namespace XlaGen.Package.Tests;

/// <summary>
/// The local folder feed scripts/pack.sh fills (out/packages), and a user's machine in a temp folder: a NuGet.Config
/// whose only source is that feed, a packages folder of its own (so nothing lands in ~/.nuget/packages), and the
/// machine's packages folder as a read-only fallback for the third-party dependencies (Google.Protobuf, Grpc.Net.Client,
/// …): the restore is offline.
/// </summary>
public sealed class Feed : IDisposable
{
    public static string Version { get; } = typeof(Feed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "XlaGenVersion").Value!;

    public static string Folder { get; } = Path.Combine(XlaGen.Tests.Repo.Root, "out", "packages");

    /// <summary>The path of a package of this version in the feed; a clear failure when scripts/pack.sh has not run.</summary>
    public static string Package(string id, string extension = "nupkg")
    {
        var path = Path.Combine(Folder, $"{id}.{Version}.{extension}");
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} does not exist: run scripts/pack.sh (test.sh runs it after the build) before these tests");
        return path;
    }

    /// <summary>The machine's global packages folder (NUGET_PACKAGES, else ~/.nuget/packages).</summary>
    static string MachinePackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public string Root { get; } = Directory.CreateTempSubdirectory("xlagen-package-").FullName;

    public Feed()
    {
        Package("XlaGen");
        File.WriteAllText(Path.Combine(Root, "NuGet.Config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="xlagen-local" value="{Folder}" />
              </packageSources>
              <fallbackPackageFolders>
                <clear />
                <add key="machine" value="{MachinePackages}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        // Nothing from the folders above the temp folder (a stray Directory.Build.props in /tmp) reaches the builds.
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(Root, name), "<Project />\n");
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    /// <summary>Runs <c>dotnet</c> (or <paramref name="program"/>) in <paramref name="directory"/> with this feed's
    /// packages folder; returns the exit code and stdout+stderr.</summary>
    public async Task<(int ExitCode, string Output)> Run(string directory, string arguments, string program = "dotnet", int timeoutSeconds = 180)
    {
        var psi = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["NUGET_PACKAGES"] = Path.Combine(Root, "packages");
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {arguments} ran past {timeoutSeconds} s:\n{await output}{await error}");
        }
        return (p.ExitCode, await output + await error);
    }
}
