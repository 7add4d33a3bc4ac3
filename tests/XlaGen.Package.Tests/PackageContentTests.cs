using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace XlaGen.Package.Tests;

/// <summary>What is inside the packages of out/packages: the layout, the metadata, the dependencies, a Release-built
/// runtime, the symbols; and the server tool installs and runs.</summary>
public class PackageContentTests
{
    static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    static string? Value(XElement metadata, string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    static IEnumerable<string> Dependencies(XElement metadata) =>
        metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value);

    static byte[] Read(ZipArchive package, string path)
    {
        var entry = package.GetEntry(path) ?? throw new Xunit.Sdk.XunitException($"the package has no {path}; it has: {string.Join(", ", package.Entries.Select(e => e.FullName))}");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void XlaGenHoldsTheRuntimeAndTheGeneratorAsAnAnalyzerWithReadmeLicenseAndCommit()
    {
        using var package = ZipFile.OpenRead(Feed.Package("XlaGen"));
        var metadata = Nuspec(package);
        Assert.Equal("XlaGen", Value(metadata, "id"));
        Assert.Equal(Feed.Version, Value(metadata, "version"));
        Assert.Equal("MIT", Value(metadata, "license"));
        Assert.Equal("README.md", Value(metadata, "readme"));
        Assert.Contains("[XlaModel]", System.Text.Encoding.UTF8.GetString(Read(package, "README.md")));
        var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");

        Assert.NotEmpty(Read(package, "lib/net10.0/XlaGen.Runtime.dll"));
        Assert.NotEmpty(Read(package, "analyzers/dotnet/cs/XlaGen.Generator.dll"));
        Assert.DoesNotContain(package.Entries, e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.Name == "XlaGen.Generator.dll");
        // <XlaGenDeviceMemory> reaches the generator in projects that install the package, directly or transitively.
        foreach (var props in new[] { "build/XlaGen.props", "buildTransitive/XlaGen.props" })
            Assert.Contains("<CompilerVisibleProperty Include=\"XlaGenDeviceMemory\" />", System.Text.Encoding.UTF8.GetString(Read(package, props)));

        var dependencies = Dependencies(metadata).ToList();
        Assert.Contains("Google.Protobuf", dependencies);
        foreach (var unwanted in new[] { "XlaGen.Generator", "ScottPlot", "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies", "Grpc.Tools", "Microsoft.CodeAnalysis.CSharp" })
            Assert.DoesNotContain(unwanted, dependencies);
    }

    /// <summary>A user's Debug build runs the kernels optimised because the packaged runtime is a Release build: its
    /// DebuggableAttribute does not disable the JIT's optimizations.</summary>
    [Fact]
    public void ThePackagedRuntimeIsReleaseBuiltAndItsSymbolsAreInTheSnupkg()
    {
        using var package = ZipFile.OpenRead(Feed.Package("XlaGen"));
        using var pe = new PEReader(new MemoryStream(Read(package, "lib/net10.0/XlaGen.Runtime.dll")));
        var reader = pe.GetMetadataReader();
        int? modes = null;
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            var type = attribute.Constructor.Kind == HandleKind.MemberReference
                ? reader.GetTypeReference((TypeReferenceHandle)reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent)
                : default;
            if (attribute.Constructor.Kind != HandleKind.MemberReference || reader.GetString(type.Name) != "DebuggableAttribute") continue;
            var blob = reader.GetBlobReader(attribute.Value);
            Assert.Equal(1, blob.ReadUInt16());   // the custom attribute prolog
            modes = blob.ReadInt32();             // DebuggableAttribute(DebuggingModes)
        }
        Assert.NotNull(modes);
        Assert.Equal(0, modes!.Value & (int)System.Diagnostics.DebuggableAttribute.DebuggingModes.DisableOptimizations);

        using var symbols = ZipFile.OpenRead(Feed.Package("XlaGen", "snupkg"));
        Assert.True(Read(symbols, "lib/net10.0/XlaGen.Runtime.pdb").Length > 1000);
    }

    [Fact]
    public void TheChartsLiveInXlaGenChartsWhichDependsOnXlaGen()
    {
        using var package = ZipFile.OpenRead(Feed.Package("XlaGen.Charts"));
        var metadata = Nuspec(package);
        var dependencies = Dependencies(metadata).ToList();
        Assert.Contains("XlaGen", dependencies);
        Assert.Contains("ScottPlot", dependencies);
        Assert.Contains("SkiaSharp.NativeAssets.Linux.NoDependencies", dependencies);
        Assert.NotEmpty(Read(package, "lib/net10.0/XlaGen.Charts.dll"));
    }

    [Fact]
    public async Task TheServerInstallsAsADotnetToolAndRuns()
    {
        using var package = ZipFile.OpenRead(Feed.Package("xlagen-server"));
        Assert.Contains(Nuspec(package).Descendants(), e => e.Name.LocalName == "packageType" && e.Attribute("name")?.Value == "DotnetTool");

        using var feed = new Feed();
        var tools = Path.Combine(feed.Root, "tools");
        var install = await feed.Run(feed.Root, $"tool install xlagen-server --version {Feed.Version} --tool-path \"{tools}\"");
        Assert.True(install.ExitCode == 0, $"dotnet tool install failed:\n{install.Output}");
        var help = await feed.Run(feed.Root, "--help", program: Path.Combine(tools, "xlagen-server"), timeoutSeconds: 60);
        Assert.True(help.ExitCode == 0, $"xlagen-server --help failed:\n{help.Output}");
        Assert.Contains("--listen", help.Output);
        Assert.Contains("--token-file", help.Output);
    }
}
