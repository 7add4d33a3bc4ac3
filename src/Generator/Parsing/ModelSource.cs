using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace XlaGen.Generator.Parsing
{
    /// <summary>
    /// Configurable sub-models across assemblies. A model class with constructor parameters has no fixed program (its
    /// shapes come from each instance's arguments), so its generator writes its source into the assembly
    /// (<c>[XlaModelSource]</c>: global and file usings, namespace, every partial declaration). A model in another assembly
    /// that creates it parses that text into a side compilation with its own references and compiles it per instance,
    /// exactly as from source; the side compilation is built once per consuming compilation and class.
    /// </summary>
    static class ModelSource
    {
        public const string AttributeName = "XlaGen.Generated.XlaModelSourceAttribute";

        /// <summary>The text to record for <paramref name="type"/>, or null when it needs none (no constructor parameters and
        /// programs of its own, which another assembly inlines from their recorded HLO).</summary>
        public static string? Capture(INamedTypeSymbol type, Compilation compilation, CancellationToken cancellation)
        {
            // Fixed-shape models keep their recorded programs; classes with constructor parameters, and layers without
            // programs of their own (Flatten), need their source in another assembly.
            bool programs = type.GetMembers().OfType<IMethodSymbol>().Any(m => m.HasAttribute(Symbols.ForwardAttribute) || m.HasAttribute(Symbols.LossAttribute));
            if (!type.InstanceConstructors.Any(c => c.Parameters.Length > 0) && programs) return null;
            var text = new StringBuilder();
            var usings = new List<string>();
            foreach (var tree in compilation.SyntaxTrees)
            {
                if (!(tree.GetRoot(cancellation) is CompilationUnitSyntax unit)) continue;
                foreach (var u in unit.Usings.Where(u => u.GlobalKeyword.IsKind(SyntaxKind.GlobalKeyword))) usings.Add(u.ToString().Trim());
            }
            var declarations = type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellation)).OfType<TypeDeclarationSyntax>().ToList();
            foreach (var d in declarations)
            {
                if (d.SyntaxTree.GetRoot(cancellation) is CompilationUnitSyntax unit)
                {
                    foreach (var u in unit.Usings.Where(u => !u.GlobalKeyword.IsKind(SyntaxKind.GlobalKeyword))) usings.Add(u.ToString().Trim());
                }
            }
            foreach (var u in usings.Distinct()) text.AppendLine(u);
            if (!type.ContainingNamespace.IsGlobalNamespace) text.AppendLine("namespace " + type.ContainingNamespace.ToDisplayString() + ";");
            foreach (var d in declarations)
            {
                // Each declaration keeps its file and line numbers, so op metadata (source_file, source_line) is the same as in its own assembly.
                var line = d.SyntaxTree.GetLineSpan(d.FullSpan).StartLinePosition.Line + 1;
                text.AppendLine($"#line {line} \"{System.IO.Path.GetFileName(d.SyntaxTree.FilePath)}\"");
                text.AppendLine(d.ToFullString().TrimEnd());
            }
            return text.ToString();
        }

        static readonly ConditionalWeakTable<Compilation, Dictionary<string, (INamedTypeSymbol, Compilation)?>> Cache =
            new ConditionalWeakTable<Compilation, Dictionary<string, (INamedTypeSymbol, Compilation)?>>();

        /// <summary>The class compiled from its recorded source in a side compilation over <paramref name="compilation"/>'s
        /// references, or null when <paramref name="type"/> carries no recorded source.</summary>
        public static (INamedTypeSymbol Type, Compilation Compilation)? FromSource(INamedTypeSymbol type, Compilation compilation)
        {
            var attr = type.FindAttribute(AttributeName);
            if (attr == null || attr.ConstructorArguments.Length != 1 || !(attr.ConstructorArguments[0].Value is string source)) return null;
            var key = type.ContainingAssembly.Identity.GetDisplayName() + "|" + type.FullName();
            var map = Cache.GetValue(compilation, _ => new Dictionary<string, (INamedTypeSymbol, Compilation)?>());
            lock (map)
            {
                if (map.TryGetValue(key, out var known)) return known;
                var options = (compilation.SyntaxTrees.FirstOrDefault()?.Options as CSharpParseOptions ?? CSharpParseOptions.Default)
                    .WithLanguageVersion(LanguageVersion.Latest).WithKind(SourceCodeKind.Regular);
                var tree = CSharpSyntaxTree.ParseText(source, options, path: type.Name + ".cs", encoding: Encoding.UTF8);
                var side = CSharpCompilation.Create("XlaGen.Source." + type.ContainingAssembly.Name, new[] { tree }, compilation.References,
                    new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
                // The class in the text shadows the referenced one of the same name (CS0436), so the side compilation sees its source.
                var result = side.Assembly.GetTypeByMetadataName(type.ContainingNamespace.IsGlobalNamespace ? type.MetadataName : type.ContainingNamespace.ToDisplayString() + "." + type.MetadataName);
                (INamedTypeSymbol, Compilation)? entry = result == null ? ((INamedTypeSymbol, Compilation)?)null : (result, side);
                map[key] = entry;
                return entry;
            }
        }

        /// <summary>The member of <paramref name="sideType"/> that corresponds to <paramref name="method"/> of the referenced class
        /// (same name and parameter count), or <paramref name="method"/> itself when both are the same class.</summary>
        public static IMethodSymbol Corresponding(IMethodSymbol method, INamedTypeSymbol sideType)
        {
            if (SymbolEqualityComparer.Default.Equals(method.ContainingType.OriginalDefinition, sideType)) return method;
            var kind = method.MethodKind;
            return sideType.GetMembers(method.Name).OfType<IMethodSymbol>()
                .Concat(kind == MethodKind.Constructor ? sideType.InstanceConstructors : Enumerable.Empty<IMethodSymbol>())
                .FirstOrDefault(m => m.MethodKind == kind && m.Parameters.Length == method.Parameters.Length
                    && m.Parameters.Select(p => p.Name).SequenceEqual(method.Parameters.Select(p => p.Name))) ?? method;
        }
    }
}
