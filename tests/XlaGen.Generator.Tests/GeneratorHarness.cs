extern alias gen;
using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using gen::XlaGen.Generator;

namespace XlaGen.Tests;

/// <summary>Drives XlaGenerator with CSharpGeneratorDriver over in-memory sources, as the compiler would.</summary>
public static class GeneratorHarness
{
    static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(XlaGen.Tensor).Assembly.Location));
        return refs.ToImmutableArray();
    });

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(params (string Path, string Source)[] sources) =>
        Compilation("Models", sources, Array.Empty<MetadataReference>());

    public static CSharpCompilation Compilation(string assemblyName, (string Path, string Source)[] sources, IEnumerable<MetadataReference> extra) =>
        CSharpCompilation.Create(assemblyName,
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Source, ParseOptions, path: s.Path)),
            References.Value.Concat(extra),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver() =>
        CSharpGeneratorDriver.Create(new[] { new XlaGenerator().AsSourceGenerator() }, parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>A driver whose compilation has the given build properties (as MSBuild passes CompilerVisibleProperty
    /// values: <c>build_property.XlaGenDeviceMemory</c>).</summary>
    public static GeneratorDriver Driver(IReadOnlyDictionary<string, string> buildProperties) =>
        CSharpGeneratorDriver.Create(new[] { new XlaGenerator().AsSourceGenerator() }, parseOptions: ParseOptions,
            optionsProvider: new BuildProperties(buildProperties),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Global analyzer options holding build properties, as the SDK's generated .editorconfig does.</summary>
    public sealed class BuildProperties : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider
    {
        readonly Options global;

        public BuildProperties(IReadOnlyDictionary<string, string> properties)
        {
            global = new Options(properties.ToDictionary(kv => "build_property." + kv.Key, kv => kv.Value));
        }

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GlobalOptions => global;

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Options.Empty;

        sealed class Options : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions
        {
            public static readonly Options Empty = new(new Dictionary<string, string>());

            readonly Dictionary<string, string> values;

            public Options(Dictionary<string, string> values) => this.values = values;

            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }
    }

    public sealed record Result(GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, ImmutableArray<Diagnostic> CompileDiagnostics)
    {
        public GeneratorRunResult Run => Driver.GetRunResult().Results.Single();

        public string Generated(string hintEnding) =>
            Run.GeneratedSources.Single(s => s.HintName.EndsWith(hintEnding, StringComparison.Ordinal)).SourceText.ToString();

        public IEnumerable<Diagnostic> Errors => GeneratorDiagnostics.Concat(CompileDiagnostics).Where(d => d.Severity == DiagnosticSeverity.Error);
    }

    public static Result Run(params (string Path, string Source)[] sources) => Run(Compilation(sources));

    /// <summary>Runs the generator on <paramref name="compilation"/> (after <paramref name="driver"/>'s runs, when given) and
    /// proves the run cacheable (<see cref="AssertCaches"/>), so every generator test is also a caching test. The result is
    /// that of the run itself; the checks run on copies of the driver (drivers are immutable).</summary>
    public static Result Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? Driver()).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var compile = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        AssertCaches(driver, compilation, diagnostics);
        return new Result(driver, output, diagnostics, compile);
    }

    const string UnrelatedSource = "namespace XlaGen.Tests.Unrelated; public class UnrelatedToAnyModel { public int X => 1; }";

    /// <summary>After <paramref name="driver"/> ran on <paramref name="compilation"/>: the specs and diagnostics it tracked hold
    /// no Roslyn object; a second run on a clone of the same compilation is all Cached/Unchanged, as is a run after an
    /// unrelated file is added; and both give the same sources and diagnostics as the first run.</summary>
    public static void AssertCaches(GeneratorDriver driver, CSharpCompilation compilation, ImmutableArray<Diagnostic> diagnostics)
    {
        var run = driver.GetRunResult().Results.Single();
        Assert.True(run.Exception == null, "the generator threw: " + run.Exception);
        foreach (var step in TrackedStepNames)
            if (run.TrackedSteps.TryGetValue(step, out var steps))
                foreach (var (value, _) in steps.SelectMany(s => s.Outputs)) AssertNoRoslynObjects(value);

        var again = driver.RunGeneratorsAndUpdateCompilation((CSharpCompilation)compilation.Clone(), out _, out var againDiagnostics);
        AssertAllCached(again);
        AssertSameOutput(run, diagnostics, again.GetRunResult().Results.Single(), againDiagnostics, "a second run over a clone");

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(UnrelatedSource, ParseOptions, path: "UnrelatedToAnyModel.cs"));
        var afterEdit = driver.RunGeneratorsAndUpdateCompilation(edited, out _, out var editDiagnostics);
        AssertAllCached(afterEdit);
        AssertSameOutput(run, diagnostics, afterEdit.GetRunResult().Results.Single(), editDiagnostics, "a run after an unrelated file was added");
    }

    static void AssertSameOutput(GeneratorRunResult first, ImmutableArray<Diagnostic> firstDiagnostics, GeneratorRunResult second, ImmutableArray<Diagnostic> secondDiagnostics, string what)
    {
        static IEnumerable<string> Sources(GeneratorRunResult r) => r.GeneratedSources.Select(s => s.HintName + "\n" + s.SourceText);
        Assert.True(Sources(first).SequenceEqual(Sources(second)), $"{what} generated different sources");
        static IEnumerable<string> Diagnostics(ImmutableArray<Diagnostic> ds) => ds.Select(d => d.ToString()).OrderBy(x => x, StringComparer.Ordinal);
        Assert.Equal(Diagnostics(firstDiagnostics), Diagnostics(secondDiagnostics));
    }

    static readonly string[] TrackedStepNames =
    {
        XlaGenerator.ParseStep, XlaGenerator.SpecStep, XlaGenerator.DiagnosticsStep, XlaGenerator.DeviceMemoryStep, XlaGenerator.DeviceMemoryCheckStep,
    };

    /// <summary>Emits the output compilation to an in-memory assembly and loads it (for running generated code).</summary>
    public static Assembly Load(Compilation output)
    {
        using var ms = new MemoryStream();
        var emit = output.Emit(ms);
        if (!emit.Success) throw new InvalidOperationException("generated code does not compile:\n" + string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        return Assembly.Load(ms.ToArray());
    }

    /// <summary>Fails if any object reachable from <paramref name="root"/> is a Roslyn symbol, syntax node, operation, location or compilation.</summary>
    public static void AssertNoRoslynObjects(object? root)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        void Walk(object? o, string path)
        {
            if (o == null || o is string || o.GetType().IsPrimitive || o is decimal || o is Enum) return;
            var t = o.GetType();
            if (o is ISymbol || o is SyntaxNode || o is IOperation || o is Location || o is Compilation || o is SemanticModel || o is SyntaxTree
                || (t.Namespace?.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) ?? false))
                Assert.Fail($"spec graph holds a Roslyn object {t.FullName} at {path}");
            if (!t.IsValueType && !seen.Add(o)) return;
            if (o is IEnumerable e)
            {
                int i = 0;
                foreach (var item in e) Walk(item, $"{path}[{i++}]");
            }
            foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                Walk(f.GetValue(o), path + "." + f.Name);
        }
        Walk(root, "spec");
    }

    /// <summary>Asserts every output of every XlaGen tracked step is Cached or Unchanged in the second run.</summary>
    public static void AssertAllCached(GeneratorDriver driver)
    {
        var run = driver.GetRunResult().Results.Single();
        foreach (var step in TrackedStepNames)
        {
            Assert.True(run.TrackedSteps.ContainsKey(step), $"step {step} was not tracked");
            foreach (var s in run.TrackedSteps[step])
            foreach (var (_, reason) in s.Outputs)
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"step {step} output was {reason}, expected Cached or Unchanged");
        }
        foreach (var output in run.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs))
            Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"an output step was {output.Reason}");
    }
}
