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
using XlaGen.Surface;

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
            // A method inlined into several programs reports its mistakes once: one diagnostic per (id, location).
            var seen = new HashSet<(string, LocationInfo)>();
            var unique = diagnostics.Where(d => d.Location == null || seen.Add((d.Id, d.Location))).Distinct().ToEquatableArray();
            return new ModelResult(spec, unique, spec == null || spec.Configurable ? null : ParameterBytesOf(spec, declaration.Identifier.GetLocation()));
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

            var layout = ModelLayout.Build(type, "", compilation, diagnostics, new List<INamedTypeSymbol>(), cancellation: cancellation);
            var ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
            if (layout.NeedsArguments)
            {
                // A configurable layer (Dense(int In, int Out)): compiled per instance where a model creates it with arguments.
                if (diagnostics.Any(d => DiagnosticDescriptors.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error)) return null;
                var own = type.GetMembers().OfType<IFieldSymbol>().Where(f => !f.IsStatic && f.HasAttribute(Symbols.ParamAttribute))
                    .Select(f => (Field: f, Type: Symbols.TensorElementType(f.Type))).Where(x => x.Type != null)
                    .Select(x => new ParamSpec(x.Field.Name, x.Field.Name, x.Type!.Value.TextName(), Symbols.ClrName(x.Type.Value), EquatableArray<long>.Empty, "Zeros", 0,
                        !x.Field.FindAttribute(Symbols.ParamAttribute)!.NamedArguments.Any(a => a.Key == "Trainable" && a.Value.Value is false)))
                    .ToEquatableArray();
                return new ModelSpec(ns, type.Name, Accessibility(type), Path.GetFileName(declaration.SyntaxTree.FilePath), own,
                    EquatableArray<ForwardSpec>.Empty, SubModelSpecs(type, compilation), false, null, null, Configurable: true,
                    ModelSource.Capture(type, compilation, cancellation));
            }
            var forwards = new List<ForwardSpec>();
            var methods = type.GetMembers().OfType<IMethodSymbol>().Where(m => m.HasAttribute(Symbols.ForwardAttribute)).ToList();
            // A layer (a public method taking and returning tensors, no programs of its own) is used inside other models: no warning.
            if (methods.Count == 0 && !type.GetMembers().OfType<IMethodSymbol>().Any(m => m.HasAttribute(Symbols.LossAttribute)) && !IsLayer(type))
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.NoForwardMethods, location, type.Name));
            }
            bool failed = diagnostics.Any(d => DiagnosticDescriptors.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
            var lossMethods = type.GetMembers().OfType<IMethodSymbol>().Where(m => m.HasAttribute(Symbols.LossAttribute)).ToList();
            LossSpec? loss = null;
            if (lossMethods.Count > 1)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.MultipleLossMethods, lossMethods[1].Locations.FirstOrDefault(), type.Name, string.Join(", ", lossMethods.Select(m => m.Name))));
                failed = true;
            }
            else if (lossMethods.Count == 1)
            {
                int before = diagnostics.Count;
                loss = CompileLoss(type, layout, lossMethods[0], compilation, diagnostics, cancellation);
                if (loss == null || diagnostics.Count != before) failed = true;
            }
            foreach (var m in methods)
            {
                cancellation.ThrowIfCancellationRequested();
                int before = diagnostics.Count;
                var forward = CompileForward(type, layout, m, compilation, diagnostics, cancellation);
                if (forward != null && diagnostics.Count == before) forwards.Add(forward);
                else failed = true;
            }
            var predict = ChoosePredict(type, methods, diagnostics);
            if (failed || predict.Failed) return null;

            var parameters = layout.AllParams.Select(p => new ParamSpec(
                p.Path, p.Field != null && p.Path == p.Field.Name ? p.Field.Name : null, p.Type.TextName(), Symbols.ClrName(p.Type),
                p.Dims.ToEquatableArray(), p.Init, p.Value, p.Trainable)).ToEquatableArray();
            return new ModelSpec(ns, type.Name, Accessibility(type), Path.GetFileName(declaration.SyntaxTree.FilePath), parameters,
                forwards.ToEquatableArray(), SubModelSpecs(type, compilation), HasParameterlessConstructor(type, compilation), loss, predict.Method, Configurable: false,
                ModelSource.Capture(type, compilation, cancellation));
        }

        /// <summary>The fields LoadParameters walks into: sub-models and arrays of them (whatever their constructor arguments).</summary>
        static EquatableArray<SubModelSpec> SubModelSpecs(INamedTypeSymbol type, Compilation compilation)
        {
            var list = new List<SubModelSpec>();
            foreach (var f in type.GetMembers().OfType<IFieldSymbol>().Where(f => !f.IsStatic && !f.IsConst))
            {
                if (f.Type is INamedTypeSymbol t && Symbols.IsModelType(t))
                    list.Add(new SubModelSpec(f.Name, t.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), HasParameterlessConstructor(t, compilation), false));
                else if (f.Type is IArrayTypeSymbol { ElementType: INamedTypeSymbol e } && Symbols.IsModelType(e))
                    list.Add(new SubModelSpec(f.Name, e.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), false, true));
            }
            return list.OrderBy(s => s.FieldName, StringComparer.Ordinal).ToEquatableArray();
        }

        /// <summary>The [Forward] method Predict runs: the one marked Default = true, else the one named Predict or Call,
        /// else the only one; several and none chosen is XG0018 (then the first, as before), several marked XG0019.</summary>
        static (string? Method, bool Failed) ChoosePredict(INamedTypeSymbol type, List<IMethodSymbol> forwards, List<DiagnosticInfo> diagnostics)
        {
            var marked = forwards.Where(m => m.FindAttribute(Symbols.ForwardAttribute)?.NamedArguments
                .Any(a => a.Key == "Default" && a.Value.Value is true) == true).ToList();
            if (marked.Count > 1)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SeveralDefaultForwards, marked[1].Locations.FirstOrDefault(), type.Name,
                    string.Join(", ", marked.Select(m => m.Name))));
                return (null, true);
            }
            if (marked.Count == 1) return (marked[0].Name, false);
            var named = forwards.FirstOrDefault(m => m.Name == "Predict") ?? forwards.FirstOrDefault(m => m.Name == "Call");
            if (named != null) return (named.Name, false);
            if (forwards.Count == 0) return (null, false);
            if (forwards.Count > 1)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.PredictNotChosen, forwards[0].Locations.FirstOrDefault(), type.Name,
                    string.Join(", ", forwards.Select(m => m.Name)), forwards[0].Name));
            }
            return (forwards[0].Name, false);
        }

        /// <summary>A class with a public instance method returning a tensor (Call): a layer for other models.</summary>
        static bool IsLayer(INamedTypeSymbol type) =>
            type.GetMembers().OfType<IMethodSymbol>().Any(m => m.MethodKind == MethodKind.Ordinary && !m.IsStatic
                && m.DeclaredAccessibility == Microsoft.CodeAnalysis.Accessibility.Public && Symbols.IsTensorType(m.ReturnType));

        static bool HasParameterlessConstructor(INamedTypeSymbol type, Compilation compilation) =>
            !type.IsAbstract && type.InstanceConstructors.Any(c => c.Parameters.Length == 0 &&
                compilation.IsSymbolAccessibleWithin(c, compilation.Assembly));

        static string Accessibility(INamedTypeSymbol type) =>
            type.DeclaredAccessibility == Microsoft.CodeAnalysis.Accessibility.Public ? "public" : "internal";

        /// <summary>A method compiled into a program builder: its inputs, symbols and result (before the program is finished).</summary>
        sealed class Compiled
        {
            public Compiled(HloBuilder builder, MethodCompiler compiler, List<InputSpec> inputs, List<string> symbols, HloInstruction result, List<HloInstruction> inputParameters)
            {
                Builder = builder;
                Compiler = compiler;
                Inputs = inputs;
                Symbols = symbols;
                Result = result;
                InputParameters = inputParameters;
            }

            public HloBuilder Builder { get; }

            public MethodCompiler Compiler { get; }

            public List<InputSpec> Inputs { get; }

            public List<string> Symbols { get; }

            public HloInstruction Result { get; }

            public List<HloInstruction> InputParameters { get; }
        }

        static Compiled? CompileMethod(INamedTypeSymbol type, ModelLayout layout, IMethodSymbol method, string attributeName, Compilation compilation,
            List<DiagnosticInfo> diagnostics, Dictionary<string, HloInstruction> paramValues, CancellationToken cancellation)
        {
            var methodLocation = method.Locations.FirstOrDefault();
            var programName = type.Name + "." + method.Name;
            if (method.IsStatic || method.IsGenericMethod)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedConstruct, methodLocation, $"[{attributeName}] method '{method.Name}'", programName,
                    $"a [{attributeName}] method must be a non-generic instance method"));
                return null;
            }
            if (Symbols.TensorElementType(method.ReturnType) == null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, methodLocation,
                    $"[{attributeName}] method '{method.Name}' returns '{method.ReturnType.ToDisplayString()}'; it must return a Tensor<T>"));
                return null;
            }
            var builder = new HloBuilder(programName);
            var inputs = new List<InputSpec>();
            var arguments = new List<Value?>();
            var inputParameters = new List<HloInstruction>();
            var symbols = new List<string>();
            bool ok = true;
            foreach (var p in method.Parameters)
            {
                var pLocation = p.Locations.FirstOrDefault();
                var et = Symbols.TensorElementType(p.Type);
                if (et == null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, pLocation,
                        $"Input '{p.Name}' of [{attributeName}] method '{method.Name}' has type '{p.Type.ToDisplayString()}'; inputs must be Tensor<T> with a [Shape]"));
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
                var parameter = builder.Parameter(shape, p.Name);
                inputParameters.Add(parameter);
                arguments.Add(new TensorValue(parameter));
                inputs.Add(new InputSpec(p.Name, et.Value.TextName(), Symbols.ClrName(et.Value), pattern.ToEquatableArray()));
            }
            if (!ok) return null;
            foreach (var slot in layout.AllParams) paramValues[slot.Path] = builder.Parameter(slot.Shape, slot.Path);

            var compiler = new MethodCompiler(builder, diagnostics, paramValues, cancellation);
            // A loss compiles the training program: Dropout draws there (rng and training parameters after the model's).
            if (attributeName == "Loss")
            {
                compiler.Training = new TrainingMode(builder);
                var firstDims = inputs.Select(i => i.Dims.Count > 0 ? i.Dims[0] : "").Distinct().ToList();
                if (firstDims.Count == 1 && Dim.IsIdentifier(firstDims[0])) compiler.Training.Batch = Dim.Symbol(firstDims[0]);
            }
            foreach (var slot in layout.AllParams.Where(p => !p.Trainable)) compiler.NonTrainable.Add(slot.Path);
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
                var problem = ShapePattern.Match(returnPattern, tensor.Shape, new Dictionary<string, Dim>(StringComparer.Ordinal));
                if (problem != null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ShapeMismatch, returnLocation ?? methodLocation,
                        $"'{method.Name}' returns {tensor.Shape}, but its [return: Shape] says [{string.Join(",", returnPattern)}]: {problem}"));
                    return null;
                }
            }
            return new Compiled(builder, compiler, inputs, symbols, tensor.Instruction, inputParameters);
        }

        static ForwardSpec? CompileForward(INamedTypeSymbol type, ModelLayout layout, IMethodSymbol method, Compilation compilation,
            List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
        {
            var paramValues = new Dictionary<string, HloInstruction>(StringComparer.Ordinal);
            var c = CompileMethod(type, layout, method, "Forward", compilation, diagnostics, paramValues, cancellation);
            if (c == null) return null;
            var module = c.Builder.BuildModule(c.Result);
            return new ForwardSpec(method.Name, module.Name, c.Inputs.ToEquatableArray(), c.Symbols.ToEquatableArray(),
                Symbols.ClrName(c.Result.Shape.ElementType), c.Result.Shape.ToString(), HloPrinter.Print(module), Memory(module, c.Inputs.Count));
        }

        /// <summary>Compiles a [Loss] method and differentiates it: the program returns (loss, metric means…, gradients…).</summary>
        static LossSpec? CompileLoss(INamedTypeSymbol type, ModelLayout layout, IMethodSymbol method, Compilation compilation,
            List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
        {
            var methodLocation = method.Locations.FirstOrDefault();
            var paramValues = new Dictionary<string, HloInstruction>(StringComparer.Ordinal);
            var c = CompileMethod(type, layout, method, "Loss", compilation, diagnostics, paramValues, cancellation);
            if (c == null) return null;
            var loss = c.Result;
            if (!loss.Shape.IsScalar || !loss.Shape.ElementType.IsFloatingPoint())
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.LossMustBeScalar, methodLocation, method.Name, loss.Shape.ToString()));
                return null;
            }
            // The batch: every input starts with the same symbol, so Fit can slice datasets along it.
            var firsts = c.Inputs.Select(i => i.Dims.Count > 0 ? i.Dims[0] : "").Distinct().ToList();
            if (c.Inputs.Count == 0 || firsts.Count != 1 || !Dim.IsIdentifier(firsts[0]))
            {
                var why = c.Inputs.Count == 0 ? "has no inputs" : $"has inputs starting with {string.Join(", ", c.Inputs.Select(i => i.Name + ": [" + string.Join(",", i.Dims) + "]"))}";
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.LossNeedsBatchDimension, methodLocation, method.Name, why));
                return null;
            }
            var trainable = layout.AllParams.Where(p => p.Type.IsFloatingPoint() && p.Trainable).ToList();
            var wrt = trainable.Select(p => paramValues[p.Path]).ToList();
            HloInstruction[] gradients;
            var b = c.Builder;
            b.Metadata = null;
            try
            {
                gradients = Autodiff.ReverseMode.Gradients(b, loss, wrt);
            }
            catch (Autodiff.GradientException e)
            {
                var at = c.Compiler.Origins.TryGetValue(e.Instruction, out var l) ? l : methodLocation;
                var op = e.Instruction.Metadata?.OpType ?? e.Instruction.Opcode;
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.NoGradientRule, at, op, method.Name, e.Message));
                return null;
            }
            var outputs = new List<HloInstruction> { loss };
            outputs.AddRange(c.Compiler.Metrics.Select(m => m.Mean));
            outputs.AddRange(gradients);
            var stateUpdates = c.Compiler.Training?.StateUpdates ?? new List<(string, HloInstruction)>();
            outputs.AddRange(stateUpdates.Select(u => u.Value));
            // The (prediction, target) pair Compile's metric objects read: the first written with Losses.Observe, else the
            // first built-in loss's arguments.
            var first = c.Compiler.Observations.FirstOrDefault(o => o.Explicit) ?? c.Compiler.Observations.FirstOrDefault();
            var observations = first == null ? new List<Observation>() : new List<Observation> { first };
            foreach (var o in observations)
            {
                outputs.Add(o.Prediction);
                outputs.Add(o.Target);
            }
            b.Metadata = null;
            var module = b.BuildModule(b.Tuple(outputs.ToArray()));
            // Gradient rules build the cotangents of every operand, also of those no parameter needs (the inputs'):
            // drop them, so the program in the snapshots and on the device is the one that runs.
            module.RemoveDeadCode();
            // Two losses contributing "accuracy" report "accuracy" and "accuracy_2".
            var metricNames = new List<string>();
            foreach (var m in c.Compiler.Metrics)
            {
                var name = m.Name;
                for (int k = 2; metricNames.Contains(name); k++) name = m.Name + "_" + k;
                metricNames.Add(name);
            }
            return new LossSpec(method.Name, module.Name, c.Inputs.ToEquatableArray(), c.Symbols.ToEquatableArray(), firsts[0],
                metricNames.ToEquatableArray(), trainable.Select(p => p.Path).ToEquatableArray(), HloPrinter.Print(module), LabelRanges(c),
                c.Compiler.Training?.Used == true, stateUpdates.Select(u => u.Path).ToEquatableArray(),
                observations.Select(o => (int)o.Kind).ToEquatableArray(), c.Compiler.Training?.HasSampleWeight == true, Memory(module, c.Inputs.Count));
        }

        /// <summary>The build-time memory estimate of a program (Hlo/ProgramMemory); null when a byte count overflows a long.</summary>
        static ProgramMemorySpec? Memory(HloModule module, int inputCount)
        {
            try
            {
                var estimate = ProgramMemory.Estimate(module);
                var inputs = SymbolicBytes.Sum(module.Entry.Parameters.Take(inputCount).Select(p => SymbolicBytes.Of(p.Shape)));
                return new ProgramMemorySpec(inputs.ToCanonicalString(), estimate.Outputs.ToCanonicalString(),
                    estimate.PeakCandidates.Select(p => p.ToCanonicalString()).ToEquatableArray());
            }
            catch (OverflowException)
            {
                return null;
            }
        }

        /// <summary>A model's parameter bytes and its three largest parameters, for the XlaGenDeviceMemory check.</summary>
        static ParameterBytesSpec? ParameterBytesOf(ModelSpec spec, Location location)
        {
            try
            {
                var each = spec.Params.Select(p => new ParamBytes(p.Path, p.ElementTypeName + "[" + string.Join(",", p.Dims) + "]", ParameterBytes.Of(p))).ToList();
                long total = 0;
                foreach (var p in each) total = checked(total + p.Bytes);
                var largest = each.OrderByDescending(p => p.Bytes).ThenBy(p => p.Path, StringComparer.Ordinal).Take(3).ToEquatableArray();
                return new ParameterBytesSpec(spec.ClassName, location.ToInfo(), total, largest);
            }
            catch (OverflowException)
            {
                return null;   // a parameter that cannot exist is XG0017 already
            }
        }

        /// <summary>Labels that are inputs of the loss (not computed from them), with a constant class count.</summary>
        static EquatableArray<LabelRangeSpec> LabelRanges(Compiled c)
        {
            var ranges = new List<LabelRangeSpec>();
            foreach (var (labels, logits, lossName) in c.Compiler.SparseLabels)
            {
                int input = c.InputParameters.IndexOf(labels);
                if (input < 0 || logits.Rank == 0 || !logits.Dims[logits.Rank - 1].IsConstant) continue;
                var spec = new LabelRangeSpec(c.Inputs[input].Name, logits.Dims[logits.Rank - 1].Value, lossName);
                if (!ranges.Contains(spec)) ranges.Add(spec);
            }
            return ranges.ToEquatableArray();
        }
    }
}
