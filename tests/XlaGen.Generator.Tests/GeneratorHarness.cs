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

    public sealed record Result(GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, ImmutableArray<Diagnostic> CompileDiagnostics)
    {
        public GeneratorRunResult Run => Driver.GetRunResult().Results.Single();

        public string Generated(string hintEnding) =>
            Run.GeneratedSources.Single(s => s.HintName.EndsWith(hintEnding, StringComparison.Ordinal)).SourceText.ToString();

        public IEnumerable<Diagnostic> Errors => GeneratorDiagnostics.Concat(CompileDiagnostics).Where(d => d.Severity == DiagnosticSeverity.Error);
    }

    public static Result Run(params (string Path, string Source)[] sources) => Run(Compilation(sources));

    public static Result Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? Driver()).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var compile = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        return new Result(driver, output, diagnostics, compile);
    }

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
        foreach (var step in new[] { XlaGenerator.ParseStep, XlaGenerator.SpecStep, XlaGenerator.DiagnosticsStep })
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
