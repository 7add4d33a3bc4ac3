using System.Globalization;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using XlaGen.Generator.Diagnostics;
using XlaGen.Generator.Emit;
using XlaGen.Generator.Model;
using XlaGen.Generator.Parsing;

namespace XlaGen.Generator
{
    /// <summary>
    /// The pipeline only: [XlaModel] classes → <see cref="ModelParser"/> (specs + diagnostics as data) →
    /// <see cref="ModelEmitter"/>. Every step's output is equatable, so unrelated edits regenerate nothing.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class XlaGenerator : IIncrementalGenerator
    {
        public const string ParseStep = "XlaGen.Parse";
        public const string SpecStep = "XlaGen.Spec";
        public const string DiagnosticsStep = "XlaGen.Diagnostics";
        public const string DeviceMemoryStep = "XlaGen.DeviceMemory";
        public const string DeviceMemoryCheckStep = "XlaGen.DeviceMemoryCheck";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var results = context.SyntaxProvider.ForAttributeWithMetadataName(
                    Symbols.XlaModelAttribute,
                    static (node, _) => node is ClassDeclarationSyntax,
                    static (ctx, ct) => ModelParser.Parse(ctx, ct))
                .WithTrackingName(ParseStep);

            var specs = results.Select(static (r, _) => r.Spec).WithTrackingName(SpecStep);
            var diagnostics = results.Select(static (r, _) => r.Diagnostics).WithTrackingName(DiagnosticsStep);

            context.RegisterSourceOutput(diagnostics, static (spc, list) =>
            {
                foreach (var d in list) spc.ReportDiagnostic(ToDiagnostic(d));
            });

            // <XlaGenDeviceMemory> (build/XlaGen.props makes it compiler-visible): malformed is XG0025, once per
            // compilation; a model whose parameters alone exceed it is XG0024 on its class.
            var deviceMemory = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) => DeviceMemory.Read(options.GlobalOptions)).WithTrackingName(DeviceMemoryStep);
            context.RegisterSourceOutput(deviceMemory, static (spc, setting) =>
            {
                foreach (var d in DeviceMemory.Problems(setting)) spc.ReportDiagnostic(ToDiagnostic(d));
            });
            var memoryChecks = results.Select(static (r, _) => r.ParameterBytes).Combine(deviceMemory)
                .Select(static (pair, _) => DeviceMemory.Check(pair.Left, pair.Right)).WithTrackingName(DeviceMemoryCheckStep);
            context.RegisterSourceOutput(memoryChecks, static (spc, list) =>
            {
                foreach (var d in list) spc.ReportDiagnostic(ToDiagnostic(d));
            });

            context.RegisterSourceOutput(specs, static (spc, spec) =>
            {
                if (spec == null) return;
                var hint = (spec.Namespace == null ? "" : spec.Namespace + ".") + spec.ClassName + ".g.cs";
                var previous = Thread.CurrentThread.CurrentCulture;
                Thread.CurrentThread.CurrentCulture = CultureInfo.InvariantCulture;
                try
                {
                    spc.AddSource(hint, SourceText.From(ModelEmitter.Emit(spec), System.Text.Encoding.UTF8));
                }
                finally
                {
                    Thread.CurrentThread.CurrentCulture = previous;
                }
            });
        }

        static Diagnostic ToDiagnostic(DiagnosticInfo info)
        {
            var descriptor = DiagnosticDescriptors.Get(info.Id);
            Location location = Location.None;
            if (info.Location is LocationInfo l)
            {
                location = Location.Create(l.FilePath, new TextSpan(l.Start, l.Length),
                    new LinePositionSpan(new LinePosition(l.StartLine, l.StartColumn), new LinePosition(l.EndLine, l.EndColumn)));
            }
            var args = new object[info.Arguments.Count];
            for (int i = 0; i < args.Length; i++) args[i] = info.Arguments[i];
            return Diagnostic.Create(descriptor, location, args);
        }
    }
}
