using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using XlaGen.Generator.Diagnostics;
using XlaGen.Generator.Model;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Surface;

namespace XlaGen.Generator.Parsing
{
    /// <summary>
    /// Compiles the body of a model method (IOperation tree) into instructions of one program: locals, tensor
    /// operators and surface calls, constants, calls to other methods of the model and of its sub-models
    /// (inlined). Each shape rule runs as the instruction is added; a violation becomes an XG diagnostic on the
    /// C# expression that caused it, and evaluation continues with that value poisoned (null) so one mistake
    /// gives one diagnostic.
    /// </summary>
    sealed class MethodCompiler
    {
        sealed class Frame
        {
            public Frame(ModelLayout layout, IMethodSymbol method, string opName)
            {
                Layout = layout;
                Method = method;
                OpName = opName;
            }

            public ModelLayout Layout { get; }

            public IMethodSymbol Method { get; }

            public string OpName { get; }

            public Dictionary<ISymbol, Value?> Variables { get; } = new Dictionary<ISymbol, Value?>(SymbolEqualityComparer.Default);
        }

        readonly Compilation compilation;
        readonly List<DiagnosticInfo> diagnostics;
        readonly Dictionary<string, HloInstruction> paramValues;
        readonly Stack<Frame> frames = new Stack<Frame>();
        readonly CancellationToken cancellation;

        public MethodCompiler(HloBuilder builder, Compilation compilation, List<DiagnosticInfo> diagnostics,
            Dictionary<string, HloInstruction> paramValues, CancellationToken cancellation)
        {
            Builder = builder;
            this.compilation = compilation;
            this.diagnostics = diagnostics;
            this.paramValues = paramValues;
            this.cancellation = cancellation;
        }

        public HloBuilder Builder { get; }

        /// <summary>The C# expression each instruction was lowered from (for diagnostics found later, e.g. by autodiff).</summary>
        public Dictionary<HloInstruction, Location> Origins { get; } = new Dictionary<HloInstruction, Location>();

        /// <summary>The training mode (random bits, the training flag, state updates) while compiling a training program
        /// ([Loss]); null in forward programs, where Dropout is the identity and BatchNorm uses its moving statistics.</summary>
        public TrainingMode? Training { get; set; }

        /// <summary>Paths of the model's non-trainable parameters ([Param(Trainable = false)]).</summary>
        public HashSet<string> NonTrainable { get; } = new HashSet<string>(StringComparer.Ordinal);

        /// <summary>The path of the non-trainable model parameter <paramref name="value"/> is, for a layer that updates it
        /// (BatchNorm's moving statistics); a ShapeException naming <paramref name="member"/> and <paramref name="argument"/> otherwise.</summary>
        public string StatePath(HloInstruction value, string member, string argument)
        {
            foreach (var kv in paramValues)
            {
                if (kv.Value != value) continue;
                if (!NonTrainable.Contains(kv.Key))
                    throw new ShapeException($"{member}: {argument} '{kv.Key}' is a trainable parameter; declare it [Param(…, Trainable = false)] (the train step writes its new value, gradients must not)");
                return kv.Key;
            }
            throw new ShapeException($"{member}: {argument} must be a model parameter declared [Param(…, Trainable = false)] (the train step writes its new value back), not a value computed in the method");
        }

        /// <summary>Metrics the loss functions called so far contributed (accuracy for cross-entropy …).</summary>
        public List<MetricValue> Metrics { get; } = new List<MetricValue>();

        /// <summary>Class-index tensors of sparse losses with their logits' shape: an input among them gets its range
        /// checked on the host before training (LossSpec.LabelRanges).</summary>
        public List<(HloInstruction Labels, Shape Logits, string Loss)> SparseLabels { get; } = new List<(HloInstruction, Shape, string)>();

        Frame Current => frames.Peek();

        /// <summary>Compiles <paramref name="method"/> of <paramref name="layout"/> with its parameters bound to <paramref name="arguments"/>.</summary>
        public Value? CompileMethod(ModelLayout layout, IMethodSymbol method, IReadOnlyList<Value?> arguments, string opName)
        {
            var frame = new Frame(layout, method, opName);
            for (int i = 0; i < method.Parameters.Length && i < arguments.Count; i++) frame.Variables[method.Parameters[i]] = arguments[i];
            var syntax = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellation)).OfType<MethodDeclarationSyntax>().FirstOrDefault();
            if (syntax == null || (syntax.Body == null && syntax.ExpressionBody == null))
            {
                Report(DiagnosticDescriptors.UnsupportedConstruct, method.Locations.FirstOrDefault(), $"'{method.Name}'", opName, "the method has no body in source");
                return null;
            }
            var model = compilation.GetSemanticModel(syntax.SyntaxTree);
            var body = model.GetOperation(syntax, cancellation) as IMethodBodyOperation;
            var block = body?.BlockBody ?? body?.ExpressionBody;
            if (block == null)
            {
                Report(DiagnosticDescriptors.UnsupportedConstruct, syntax.Identifier.GetLocation(), $"'{method.Name}'", opName, "its body has errors");
                return null;
            }
            frames.Push(frame);
            try
            {
                return CompileBlock(block);
            }
            finally
            {
                frames.Pop();
            }
        }

        Value? CompileBlock(IBlockOperation block)
        {
            var statements = block.Operations;
            for (int i = 0; i < statements.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                var s = statements[i];
                switch (s)
                {
                    case IVariableDeclarationGroupOperation group:
                        foreach (var declaration in group.Declarations)
                        {
                            foreach (var declarator in declaration.Declarators)
                            {
                                var init = declarator.Initializer?.Value ?? declaration.Initializer?.Value;
                                if (init == null)
                                {
                                    Unsupported(declarator, "a local variable without an initializer");
                                    Current.Variables[declarator.Symbol] = null;
                                    continue;
                                }
                                Current.Variables[declarator.Symbol] = Eval(init);
                            }
                        }
                        break;
                    case IExpressionStatementOperation { Operation: ISimpleAssignmentOperation { Target: ILocalReferenceOperation local } assignment }:
                        Current.Variables[local.Local] = Eval(assignment.Value);
                        break;
                    case IExpressionStatementOperation { Operation: ICompoundAssignmentOperation { Target: ILocalReferenceOperation local } compound }:
                        Current.Variables[local.Local] = Binary(compound, compound.OperatorKind, compound.OperatorMethod, Lookup(local.Local), Eval(compound.Value));
                        break;
                    case ILocalFunctionOperation _:
                        break;   // reported at its calls, with what to write instead
                    case IReturnOperation ret:
                        if (statements.Skip(i + 1).Any(x => !(x is ILocalFunctionOperation))) Unsupported(ret, "a return before the end of the method (model methods have no control flow)");
                        return ret.ReturnedValue == null ? null : Eval(ret.ReturnedValue);
                    case IBlockOperation nested:
                        var r = CompileBlock(nested);
                        if (r != null) return r;
                        break;
                    default:
                        Unsupported(s, Constructs.Describe(s) + " (model methods hold local declarations, assignments to locals and one return)");
                        break;
                }
            }
            return null;
        }

        Value? Lookup(ISymbol symbol) => Current.Variables.TryGetValue(symbol, out var v) ? v : null;

        /// <summary>Evaluates an expression to a tensor (an instruction), a compile-time scalar, an int array or a sub-model.</summary>
        public Value? Eval(IOperation op)
        {
            cancellation.ThrowIfCancellationRequested();
            if (op.ConstantValue.HasValue)
            {
                if (op.ConstantValue.Value == null) return NullValue.Instance;
                var c = Constant(op.ConstantValue.Value);
                if (c != null) return c;
                Unsupported(op, $"the constant {op.Syntax} (only numbers and bools)");
                return null;
            }
            switch (op)
            {
                case IConversionOperation conversion:
                    return Convert(conversion);
                case IParameterReferenceOperation p:
                    return Lookup(p.Parameter);
                case ILocalReferenceOperation l:
                    return Lookup(l.Local);
                case IFieldReferenceOperation f:
                    return Field(f);
                case IBinaryOperation b:
                    return Binary(b, b.OperatorKind, b.OperatorMethod, Eval(b.LeftOperand), Eval(b.RightOperand));
                case IUnaryOperation u:
                    return Unary(u);
                case IInvocationOperation inv:
                    return Invoke(inv);
                case IArrayCreationOperation array:
                    return ArrayOf(array);
                case IArgumentOperation arg:
                    return Eval(arg.Value);
                case IDefaultValueOperation d when d.Type == null || !d.Type.IsValueType || d.Type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T:
                    return NullValue.Instance;   // an omitted optional int? (or reference) argument
                default:
                    Unsupported(op, Constructs.Describe(op));
                    return null;
            }
        }

        static Value? Constant(object? value)
        {
            switch (value)
            {
                case bool b: return new ScalarValue(b ? 1 : 0, true, isBool: true);
                case int i: return new ScalarValue(i, true);
                case long l: return new ScalarValue(l, true);
                case short s: return new ScalarValue(s, true);
                case byte by: return new ScalarValue(by, true);
                case float f: return new ScalarValue(f, false);
                case double d: return new ScalarValue(d, false);
                default: return null;
            }
        }

        Value? Convert(IConversionOperation conversion)
        {
            var v = Eval(conversion.Operand);
            if (v == null) return null;
            if (v is ScalarValue s)
            {
                var target = conversion.Type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable
                    ? nullable.TypeArguments[0] : conversion.Type;
                var t = target?.SpecialType ?? SpecialType.None;
                bool integral = t == SpecialType.System_Int32 || t == SpecialType.System_Int64 || t == SpecialType.System_Int16 || t == SpecialType.System_Byte;
                return new ScalarValue(integral ? Math.Truncate(s.Number) : t == SpecialType.System_Single ? (float)s.Number : s.Number, integral, s.IsBool);
            }
            if (v is NullValue || conversion.Conversion.IsIdentity || (conversion.Conversion.IsImplicit && !conversion.Conversion.IsUserDefined)) return v;
            Unsupported(conversion, $"the conversion to '{conversion.Type?.ToDisplayString()}' (use Cast<T>() to change a tensor's element type)");
            return null;
        }

        Value? Field(IFieldReferenceOperation f)
        {
            var layout = Current.Layout;
            if (f.Instance is IFieldReferenceOperation || f.Instance is IInvocationOperation)
            {
                var owner = Eval(f.Instance);
                if (owner is ModelValue mv) layout = mv.Layout;
                else
                {
                    if (owner != null) Unsupported(f, $"the field access '{f.Syntax}'");
                    return null;
                }
            }
            else if (f.Instance != null && !(f.Instance is IInstanceReferenceOperation))
            {
                Unsupported(f, $"the field access '{f.Syntax}'");
                return null;
            }
            if (layout.ParamFields.TryGetValue(f.Field, out var slot)) return new TensorValue(paramValues[slot.Path]);
            if (layout.SubModels.TryGetValue(f.Field, out var sub)) return new ModelValue(sub, f.Field.Name);
            // A [Param] or sub-model field that was reported where it is declared (XG0005, XG0017, XG0010): poisoned, no second error.
            if (f.Field.HasAttribute(Symbols.ParamAttribute) || (f.Field.Type is INamedTypeSymbol ft && Symbols.IsModelType(ft))) return null;
            Unsupported(f, $"the field '{f.Field.Name}' (only [Param] tensors, sub-models and constants can be used in a model method)");
            return null;
        }

        static string? BinaryOpcode(BinaryOperatorKind kind)
        {
            switch (kind)
            {
                case BinaryOperatorKind.Add: return "add";
                case BinaryOperatorKind.Subtract: return "subtract";
                case BinaryOperatorKind.Multiply: return "multiply";
                case BinaryOperatorKind.Divide: return "divide";
                case BinaryOperatorKind.Remainder: return "remainder";
                case BinaryOperatorKind.And: return "and";
                case BinaryOperatorKind.Or: return "or";
                case BinaryOperatorKind.ExclusiveOr: return "xor";
                default: return null;
            }
        }

        static string OperatorText(BinaryOperatorKind kind)
        {
            switch (kind)
            {
                case BinaryOperatorKind.Add: return "+";
                case BinaryOperatorKind.Subtract: return "-";
                case BinaryOperatorKind.Multiply: return "*";
                case BinaryOperatorKind.Divide: return "/";
                case BinaryOperatorKind.Remainder: return "%";
                case BinaryOperatorKind.And: return "&";
                case BinaryOperatorKind.Or: return "|";
                case BinaryOperatorKind.ExclusiveOr: return "^";
                case BinaryOperatorKind.ConditionalAnd: return "&&";
                case BinaryOperatorKind.ConditionalOr: return "||";
                default: return kind.ToString();
            }
        }

        Value? Binary(IOperation at, BinaryOperatorKind kind, IMethodSymbol? method, Value? left, Value? right)
        {
            if (left == null || right == null) return null;
            var opcode = BinaryOpcode(kind);
            if (left is ScalarValue a && right is ScalarValue b)
            {
                switch (kind)
                {
                    case BinaryOperatorKind.Add: return new ScalarValue(a.Number + b.Number, a.IsIntegral && b.IsIntegral);
                    case BinaryOperatorKind.Subtract: return new ScalarValue(a.Number - b.Number, a.IsIntegral && b.IsIntegral);
                    case BinaryOperatorKind.Multiply: return new ScalarValue(a.Number * b.Number, a.IsIntegral && b.IsIntegral);
                    case BinaryOperatorKind.Divide:
                        return a.IsIntegral && b.IsIntegral && b.Number != 0 ? new ScalarValue(Math.Truncate(a.Number / b.Number), true) : new ScalarValue(a.Number / b.Number, false);
                    case BinaryOperatorKind.Remainder:
                        return new ScalarValue(a.Number % b.Number, a.IsIntegral && b.IsIntegral);
                }
            }
            if (opcode == null || (method != null && !Symbols.IsSurfaceType(method.ContainingType)))
            {
                Unsupported(at, $"the operator '{OperatorText(kind)}' here");
                return null;
            }
            if (!(left is TensorValue) && !(right is TensorValue))
            {
                Unsupported(at, $"'{at.Syntax}' (an operator between non-tensors that is not a compile-time constant)");
                return null;
            }
            var like = left as TensorValue ?? (TensorValue)right;
            var text = OperatorText(kind);
            switch (opcode)
            {
                case "and":
                case "or":
                case "xor":
                    return Lower(at, text, b2 => Lowering.Logical(b2, opcode, AsTensor(left, like), AsTensor(right, like), text));
                case "remainder":
                    return Lower(at, text, b2 => Lowering.Remainder(b2, AsTensor(left, like), AsTensor(right, like)));
                default:
                    return Lower(at, text, b2 => Lowering.Binary(b2, opcode, AsTensor(left, like), AsTensor(right, like), text));
            }
        }

        Value? Unary(IUnaryOperation u)
        {
            var v = Eval(u.Operand);
            if (v == null) return null;
            if (u.OperatorKind == UnaryOperatorKind.Plus) return v;
            if ((u.OperatorKind == UnaryOperatorKind.Not || u.OperatorKind == UnaryOperatorKind.BitwiseNegation) && v is TensorValue operand)
            {
                var text = u.OperatorKind == UnaryOperatorKind.Not ? "!" : "~";
                return Lower(u, text, b => Lowering.Not(b, operand.Instruction, text));
            }
            if (u.OperatorKind != UnaryOperatorKind.Minus)
            {
                Unsupported(u, $"the operator '{u.Syntax}'");
                return null;
            }
            if (v is ScalarValue s) return new ScalarValue(-s.Number, s.IsIntegral);
            if (v is TensorValue t) return Lower(u, "negate", b => b.Negate(t.Instruction));
            Unsupported(u, $"'{u.Syntax}'");
            return null;
        }

        /// <summary>An int array (axes, dims) or a tensor array (the parts of Tensor.Concat), from its initializer.</summary>
        Value? ArrayOf(IArrayCreationOperation array)
        {
            var elements = array.Initializer?.ElementValues.ToList() ?? new List<IOperation>();
            if (Symbols.IsTensorType((array.Type as IArrayTypeSymbol)?.ElementType))
            {
                var tensors = new List<HloInstruction>();
                foreach (var e in elements)
                {
                    var v = Eval(e);
                    if (v == null) return null;
                    if (!(v is TensorValue t))
                    {
                        Unsupported(e, "an array element that is not a tensor");
                        return null;
                    }
                    tensors.Add(t.Instruction);
                }
                return new TensorArrayValue(tensors.ToArray());
            }
            var items = new List<int>();
            foreach (var e in elements)
            {
                if (Eval(e) is ScalarValue s && s.IsIntegral) items.Add((int)s.Number);
                else
                {
                    Unsupported(e, "a non-constant array element (axes and dims must be compile-time ints)");
                    return null;
                }
            }
            return new IntArrayValue(items.ToArray());
        }

        /// <summary>A tensor operand: the tensor itself, or a scalar constant of the other operand's element type.</summary>
        public HloInstruction AsTensor(Value v, TensorValue like)
        {
            if (v is TensorValue t) return t.Instruction;
            var s = (ScalarValue)v;
            return Builder.Constant(like.Shape.ElementType, s.Number);
        }

        // ---- invocations ----

        Value? Invoke(IInvocationOperation inv)
        {
            var m = inv.TargetMethod;
            if (Symbols.IsSurfaceType(m.ContainingType)) return SurfaceTable.Invoke(this, inv);
            if (ConstantMath.IsMathType(m.ContainingType)) return ConstantMath.Fold(this, inv);
            if (m.MethodKind == MethodKind.LocalFunction)
            {
                Unsupported(inv, $"the call to the local function '{m.Name}'");
                return null;
            }
            var args = Arguments(inv);
            if (args == null) return null;
            if (inv.Instance == null || inv.Instance is IInstanceReferenceOperation)
            {
                if (SymbolEqualityComparer.Default.Equals(m.ContainingType, Current.Layout.Type))
                    return CallModelMethod(inv, Current.Layout, m, args, Current.OpName + "/" + m.Name);
            }
            else
            {
                var instance = Eval(inv.Instance);
                // A poisoned instance (a lambda in a local, already reported where it was written) reports nothing more.
                if (instance == null) return null;
                if (instance is ModelValue sub) return CallModelMethod(inv, sub.Layout, m, args, Current.OpName + "/" + sub.FieldName + "." + m.Name);
            }
            Unsupported(inv, $"the call to '{m.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat)}' (only the tensor surface, methods of this model and methods of its sub-models compile)");
            return null;
        }

        /// <summary>Argument values in parameter order (named and default arguments resolved).</summary>
        public Value?[]? Arguments(IInvocationOperation inv)
        {
            var values = new Value?[inv.TargetMethod.Parameters.Length];
            bool ok = true;
            foreach (var a in inv.Arguments)
            {
                if (a.Parameter == null) continue;
                var v = Eval(a.Value);
                if (v == null) ok = false;
                values[a.Parameter.Ordinal] = v;
            }
            return ok ? values : null;
        }

        Value? CallModelMethod(IInvocationOperation inv, ModelLayout layout, IMethodSymbol m, Value?[] args, string opName)
        {
            if (frames.Any(f => SymbolEqualityComparer.Default.Equals(f.Method.OriginalDefinition, m.OriginalDefinition)))
            {
                Report(DiagnosticDescriptors.RecursiveModelCall, inv.Syntax.GetLocation(), m.Name, string.Join(" → ", frames.Reverse().Select(f => f.Method.Name).Concat(new[] { m.Name })));
                return null;
            }
            // A [Shape] on a callee's parameter is a contract: check it against the argument and bind its symbols.
            var bindings = new Dictionary<string, Dim>(StringComparer.Ordinal);
            for (int i = 0; i < m.Parameters.Length; i++)
            {
                var p = m.Parameters[i];
                var pattern = ShapePattern.Read(p, out _);
                if (pattern == null || !(args[i] is TensorValue t)) continue;
                var problem = ShapePattern.Match(pattern, t.Shape, bindings);
                if (problem != null)
                {
                    var at = inv.Arguments.FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.Parameter, p))?.Syntax ?? inv.Syntax;
                    Report(DiagnosticDescriptors.ShapeMismatch, at.GetLocation(), $"'{inv.Syntax}': argument '{p.Name}' must be {Symbols.TensorElementType(p.Type)?.TextName()}[{string.Join(",", pattern)}], got {t.Shape}: {problem}");
                    return null;
                }
            }
            if (layout.FromMetadata) return CallManifestForward(inv, layout, m, args, opName);
            return CompileMethod(layout, m, args, opName);
        }

        /// <summary>A sub-model from another assembly: inline the program its generator recorded.</summary>
        Value? CallManifestForward(IInvocationOperation inv, ModelLayout layout, IMethodSymbol m, Value?[] args, string opName)
        {
            if (!layout.ManifestForwards.TryGetValue(m.Name, out var forward))
            {
                Unsupported(inv, $"'{m.Name}' of '{layout.Type.Name}' (only its [Forward] methods can be called from another assembly)");
                return null;
            }
            HloModule module;
            try
            {
                module = HloTextParser.Parse(forward.Hlo);
            }
            catch (Exception e)
            {
                Unsupported(inv, $"'{m.Name}' of '{layout.Type.Name}': its recorded program does not parse ({e.Message})");
                return null;
            }
            var ps = module.Entry.Parameters;
            var operands = new List<HloInstruction>();
            var bindings = new Dictionary<string, Dim>(StringComparer.Ordinal);
            for (int i = 0; i < forward.InputCount; i++)
            {
                if (!(args[i] is TensorValue t))
                {
                    Unsupported(inv, $"argument {i} of '{m.Name}' (a tensor is needed)");
                    return null;
                }
                var problem = ShapePattern.Match(ps[i].Shape.Dims.Select(d => d.ToString()).ToArray(), t.Shape, bindings);
                if (problem != null || ps[i].Shape.ElementType != t.Shape.ElementType)
                {
                    Report(DiagnosticDescriptors.ShapeMismatch, inv.Syntax.GetLocation(), $"'{inv.Syntax}': argument {i} must be {ps[i].Shape}, got {t.Shape}{(problem == null ? "" : ": " + problem)}");
                    return null;
                }
                operands.Add(t.Instruction);
            }
            for (int i = forward.InputCount; i < ps.Count; i++)
            {
                var path = layout.Prefix + ps[i].Name;
                if (!paramValues.TryGetValue(path, out var pv))
                {
                    Unsupported(inv, $"'{m.Name}' of '{layout.Type.Name}': its program uses parameter '{ps[i].Name}', which its manifest does not declare");
                    return null;
                }
                operands.Add(pv);
            }
            // Op names recorded as "Encoder.Encode/…" become "Parent.Method/encoder.Encode/…", as when inlined from source.
            var recorded = layout.Type.Name + "." + m.Name;
            OpMetadata? Rename(OpMetadata? md) =>
                md == null ? null : md with { OpName = md.OpName != null && md.OpName.StartsWith(recorded, StringComparison.Ordinal) ? opName + md.OpName.Substring(recorded.Length) : opName };
            return Lower(inv, m.Name, b => b.Inline(module.Entry, operands, bindings, Rename), opName);
        }

        // ---- lowering and diagnostics ----

        /// <summary>Runs a lowering with metadata pointing at <paramref name="at"/>; a shape error becomes a diagnostic there.</summary>
        public Value? Lower(IOperation at, string opType, Func<HloBuilder, HloInstruction> lower, string? opName = null)
        {
            var location = at.Syntax.GetLocation();
            var span = location.GetLineSpan();
            Builder.Metadata = new OpMetadata(opType, opName ?? Current.OpName, Path.GetFileName(span.Path), span.StartLinePosition.Line + 1);
            int before = Builder.Computation.Instructions.Count;
            try
            {
                var result = new TensorValue(lower(Builder));
                var all = Builder.Computation.Instructions;
                for (int i = before; i < all.Count; i++)
                {
                    if (!Origins.ContainsKey(all[i])) Origins[all[i]] = location;
                }
                return result;
            }
            catch (ShapeException e)
            {
                var descriptor = e.IsElementTypeError ? DiagnosticDescriptors.ElementTypeMismatch : DiagnosticDescriptors.ShapeMismatch;
                Report(descriptor, at.Syntax.GetLocation(), $"'{Shorten(at.Syntax.ToString())}': {e.Message}");
                return null;
            }
        }

        static string Shorten(string s)
        {
            s = string.Join(" ", s.Split(new[] { ' ', '\n', '\r', '\t' }, StringSplitOptions.RemoveEmptyEntries));
            return s.Length > 80 ? s.Substring(0, 77) + "..." : s;
        }

        public void Report(DiagnosticDescriptor descriptor, Location? location, params string[] args) =>
            diagnostics.Add(Symbols.Diagnostic(descriptor, location, args));

        /// <summary>XG0003 on <paramref name="at"/>, naming the model method it is written in (not the call path that
        /// reached it, so a helper inlined into several programs reports the same message, once).</summary>
        public void Unsupported(IOperation at, string what) =>
            Report(DiagnosticDescriptors.UnsupportedConstruct, at.Syntax.GetLocation(), what,
                frames.Count > 0 ? Current.Layout.Type.Name + "." + Current.Method.Name : "?", Constructs.Hint(at));

        public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }
}
