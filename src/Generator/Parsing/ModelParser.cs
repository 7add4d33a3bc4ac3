using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using XlaGen.Generator.Diagnostics;
using XlaGen.Generator.Model;
using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>Turns one [XlaModel] class into a <see cref="ModelSpec"/> (programs as symbolic HLO text) and diagnostics.</summary>
    static class ModelParser
    {
        public static ModelResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellation)
        {
            var diagnostics = new List<DiagnosticInfo>();
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var declaration = (ClassDeclarationSyntax)context.TargetNode;
            var spec = Parse(type, declaration, context.SemanticModel.Compilation, diagnostics, cancellation);
            // A method inlined into several programs reports its mistakes once.
            return new ModelResult(spec, diagnostics.Distinct().ToEquatableArray());
        }

        static ModelSpec? Parse(INamedTypeSymbol type, ClassDeclarationSyntax declaration, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
        {
            var location = declaration.Identifier.GetLocation();
            for (var t = type; t != null; t = t.ContainingType)
            {
                bool partial = t.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellation) is TypeDeclarationSyntax s && s.Modifiers.Any(SyntaxKind.PartialKeyword));
                if (!partial)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ModelClassMustBePartial, location, type.Name));
                    return null;
                }
            }
            if (type.IsGenericType)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ModelClassUnsupported, location, type.Name, "is generic; a model's programs are fixed at build time, so its class cannot have type parameters"));
                return null;
            }
            if (type.ContainingType != null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ModelClassUnsupported, location, type.Name, "is nested in another type; declare it at namespace level"));
                return null;
            }
            if (type.IsStatic)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ModelClassUnsupported, location, type.Name, "is static; a model is instantiated with its parameters"));
                return null;
            }

            var layout = ModelLayout.Build(type, "", compilation, diagnostics, new List<INamedTypeSymbol>());
            var forwards = new List<ForwardSpec>();
            var methods = type.GetMembers().OfType<IMethodSymbol>().Where(m => m.HasAttribute(Symbols.ForwardAttribute)).ToList();
            if (methods.Count == 0 && !type.GetMembers().OfType<IMethodSymbol>().Any(m => m.HasAttribute(Symbols.LossAttribute)))
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.NoForwardMethods, location, type.Name));
            }
            bool failed = diagnostics.Any(d => DiagnosticDescriptors.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
            foreach (var m in methods)
            {
                cancellation.ThrowIfCancellationRequested();
                int before = diagnostics.Count;
                var forward = CompileForward(type, layout, m, compilation, diagnostics, cancellation);
                if (forward != null && diagnostics.Count == before) forwards.Add(forward);
                else failed = true;
            }
            if (failed) return null;

            var ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
            var parameters = layout.AllParams.Select(p => new ParamSpec(
                p.Path, p.Field != null && p.Path == p.Field.Name ? p.Field.Name : null, p.Type.TextName(), Symbols.ClrName(p.Type),
                p.Dims.ToEquatableArray(), p.Init, p.Value)).ToEquatableArray();
            var subModels = layout.SubModels.Select(kv => new SubModelSpec(kv.Key.Name,
                kv.Value.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), HasParameterlessConstructor(kv.Value.Type, compilation)))
                .OrderBy(s => s.FieldName, StringComparer.Ordinal).ToEquatableArray();
            return new ModelSpec(ns, type.Name, Accessibility(type), Path.GetFileName(declaration.SyntaxTree.FilePath), parameters,
                forwards.ToEquatableArray(), subModels, HasParameterlessConstructor(type, compilation));
        }

        static bool HasParameterlessConstructor(INamedTypeSymbol type, Compilation compilation) =>
            !type.IsAbstract && type.InstanceConstructors.Any(c => c.Parameters.Length == 0 &&
                compilation.IsSymbolAccessibleWithin(c, compilation.Assembly));

        static string Accessibility(INamedTypeSymbol type) =>
            type.DeclaredAccessibility == Microsoft.CodeAnalysis.Accessibility.Public ? "public" : "internal";

        static ForwardSpec? CompileForward(INamedTypeSymbol type, ModelLayout layout, IMethodSymbol method, Compilation compilation,
            List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
        {
            var methodLocation = method.Locations.FirstOrDefault();
            if (method.IsStatic || method.IsGenericMethod)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedConstruct, methodLocation, $"[Forward] method '{method.Name}'", type.Name + "." + method.Name,
                    "a [Forward] method must be a non-generic instance method"));
                return null;
            }
            var outputType = Symbols.TensorElementType(method.ReturnType);
            if (outputType == null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, methodLocation,
                    $"[Forward] method '{method.Name}' returns '{method.ReturnType.ToDisplayString()}'; it must return a Tensor<T>"));
                return null;
            }
            var programName = type.Name + "." + method.Name;
            var builder = new HloBuilder(programName);
            var inputs = new List<InputSpec>();
            var arguments = new List<Value?>();
            var symbols = new List<string>();
            bool ok = true;
            foreach (var p in method.Parameters)
            {
                var pLocation = p.Locations.FirstOrDefault();
                var et = Symbols.TensorElementType(p.Type);
                if (et == null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, pLocation,
                        $"Input '{p.Name}' of [Forward] method '{method.Name}' has type '{p.Type.ToDisplayString()}'; inputs must be Tensor<T> with a [Shape]"));
                    ok = false;
                    continue;
                }
                var pattern = ShapePattern.Read(p, out var shapeLocation);
                if (pattern == null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.InputShapeMissing, pLocation, p.Name, method.Name));
                    ok = false;
                    continue;
                }
                var invalid = ShapePattern.FirstInvalid(pattern);
                if (invalid != null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnknownSymbolicDimension, shapeLocation ?? pLocation,
                        $"[Shape] of input '{p.Name}' has the dimension '{invalid.Substring(1)}'; use a positive int for a fixed dimension or an identifier string (\"B\") for a symbolic one"));
                    ok = false;
                    continue;
                }
                foreach (var s in pattern.Where(x => Dim.IsIdentifier(x) && !symbols.Contains(x))) symbols.Add(s);
                var shape = Shape.Array(et.Value, ShapePattern.ToDims(pattern));
                arguments.Add(new TensorValue(builder.Parameter(shape, p.Name)));
                inputs.Add(new InputSpec(p.Name, et.Value.TextName(), Symbols.ClrName(et.Value), pattern.ToEquatableArray()));
            }
            if (!ok) return null;
            var paramValues = new Dictionary<string, HloInstruction>(StringComparer.Ordinal);
            foreach (var slot in layout.AllParams) paramValues[slot.Path] = builder.Parameter(slot.Shape, slot.Path);

            var compiler = new MethodCompiler(builder, compilation, diagnostics, paramValues, cancellation);
            int before = diagnostics.Count;
            var result = compiler.CompileMethod(layout, method, arguments, programName);
            if (diagnostics.Count != before) return null;
            if (!(result is TensorValue tensor))
            {
                if (result is ScalarValue)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedConstruct, methodLocation, $"'{method.Name}'", programName,
                        "it returns a compile-time constant, not a tensor computed from its inputs or parameters"));
                }
                return null;
            }
            var output = tensor.Instruction;
            var returnPattern = ShapePattern.ReadReturn(method, out var returnLocation);
            if (returnPattern != null)
            {
                var unknown = returnPattern.FirstOrDefault(p => p.StartsWith("?", StringComparison.Ordinal) || (Dim.IsIdentifier(p) && !symbols.Contains(p)));
                if (unknown != null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnknownSymbolicDimension, returnLocation ?? methodLocation,
                        $"[return: Shape] of '{method.Name}' names the dimension '{unknown.TrimStart('?')}', which is not a number and not a symbol of its inputs ({string.Join(", ", symbols)})"));
                    return null;
                }
                var problem = ShapePattern.Match(returnPattern, output.Shape, new Dictionary<string, Dim>(StringComparer.Ordinal));
                if (problem != null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ShapeMismatch, returnLocation ?? methodLocation,
                        $"'{method.Name}' returns {output.Shape}, but its [return: Shape] says [{string.Join(",", returnPattern)}]: {problem}"));
                    return null;
                }
            }
            var module = builder.BuildModule(output);
            return new ForwardSpec(method.Name, programName, inputs.ToEquatableArray(), symbols.ToEquatableArray(),
                Symbols.ClrName(output.Shape.ElementType), output.Shape.ToString(), HloPrinter.Print(module));
        }
    }
}
