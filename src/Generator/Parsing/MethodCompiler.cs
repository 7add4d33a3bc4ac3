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

            /// <summary>The value of the return statement that ended the method.</summary>
            public Value? Result { get; set; }
        }

        /// <summary>What a statement did: go on, or leave the method, the loop or the switch.</summary>
        enum Flow
        {
            Next,
            Return,
            Break,
            Continue,
        }

        /// <summary>The most iterations one loop may unroll into a program (XG0023 beyond).</summary>
        public const int UnrollLimit = 1024;

        readonly List<DiagnosticInfo> diagnostics;
        readonly Dictionary<string, HloInstruction> paramValues;
        readonly Stack<Frame> frames = new Stack<Frame>();
        readonly CancellationToken cancellation;

        public MethodCompiler(HloBuilder builder, List<DiagnosticInfo> diagnostics,
            Dictionary<string, HloInstruction> paramValues, CancellationToken cancellation)
        {
            Builder = builder;
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

        /// <summary>(prediction, target) pairs the metrics of Compile(optimizer, metrics) read: the built-in losses observe
        /// their arguments (not explicit), <c>Losses.Observe</c> adds explicit ones, which take precedence.</summary>
        public List<Observation> Observations { get; } = new List<Observation>();

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
            var model = layout.Compilation.GetSemanticModel(syntax.SyntaxTree);
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
                Execute(block.Operations);
                return frame.Result;
            }
            finally
            {
                frames.Pop();
            }
        }

        // ---- statements: executed at build time; branches and loops on constants choose or repeat what is compiled ----

        Flow Execute(IEnumerable<IOperation> statements)
        {
            foreach (var s in statements)
            {
                cancellation.ThrowIfCancellationRequested();
                var flow = Execute(s);
                if (flow != Flow.Next) return flow;
            }
            return Flow.Next;
        }

        Flow Execute(IOperation s)
        {
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
                    return Flow.Next;
                case IExpressionStatementOperation { Operation: ISimpleAssignmentOperation assignment } when Variable(assignment.Target) is ISymbol target:
                    Current.Variables[target] = Eval(assignment.Value);
                    return Flow.Next;
                case IExpressionStatementOperation { Operation: ICompoundAssignmentOperation compound } when Variable(compound.Target) is ISymbol target:
                    Current.Variables[target] = Binary(compound, compound.OperatorKind, compound.OperatorMethod, Lookup(target), Eval(compound.Value));
                    return Flow.Next;
                case IExpressionStatementOperation { Operation: IIncrementOrDecrementOperation step } when Variable(step.Target) is ISymbol target:
                    var old = Lookup(target);
                    if (old is ScalarValue n) Current.Variables[target] = new ScalarValue(n.Number + (step.Kind == OperationKind.Increment ? 1 : -1), n.IsIntegral);
                    else
                    {
                        if (old != null) Unsupported(step, $"'{step.Syntax}' on a tensor (write x + 1)");
                        Current.Variables[target] = null;
                    }
                    return Flow.Next;
                case IExpressionStatementOperation { Operation: IInvocationOperation call }:
                    Eval(call);   // a call for its effect on the program (Losses.Observe); a discarded value is dead code
                    return Flow.Next;
                case ILocalFunctionOperation _:
                case IEmptyOperation _:
                    return Flow.Next;   // a local function is reported at its calls, with what to write instead
                case IReturnOperation ret:
                    Current.Result = ret.ReturnedValue == null ? null : Eval(ret.ReturnedValue);
                    return Flow.Return;
                case IBlockOperation nested:
                    return Execute(nested.Operations);
                case IConditionalOperation branch:
                    var condition = Condition(branch, branch.Condition);
                    if (condition == null) return Flow.Return;   // reported; stop here rather than guess a branch
                    var taken = condition.Value ? branch.WhenTrue : branch.WhenFalse;
                    return taken == null ? Flow.Next : Execute(taken);
                case IForEachLoopOperation each:
                    return ForEach(each);
                case IForLoopOperation loop:
                    foreach (var before in loop.Before)
                    {
                        var f = Execute(before);
                        if (f != Flow.Next) return f;
                    }
                    return Loop(loop, loop.Condition, true, false, loop.Body, loop.AtLoopBottom);
                case IWhileLoopOperation loop:
                    return Loop(loop, loop.Condition, loop.ConditionIsTop, loop.ConditionIsUntil, loop.Body, Enumerable.Empty<IOperation>());
                case ISwitchOperation choice:
                    return Switch(choice);
                case IBranchOperation { BranchKind: BranchKind.Break }:
                    return Flow.Break;
                case IBranchOperation { BranchKind: BranchKind.Continue }:
                    return Flow.Continue;
                default:
                    Unsupported(s, Constructs.Describe(s) + " (model methods hold local declarations, assignments to locals, returns, and if, switch and loops on build-time constants)");
                    return Flow.Next;
            }
        }

        /// <summary>The local or method parameter an assignment writes, or null (fields of a model are not assigned in its methods).</summary>
        static ISymbol? Variable(IOperation target) =>
            target is ILocalReferenceOperation l ? l.Local : target is IParameterReferenceOperation p ? (ISymbol)p.Parameter : null;

        /// <summary>A branch condition evaluated at build time, or null (reported) when it is not a build-time constant.</summary>
        bool? Condition(IOperation construct, IOperation? condition)
        {
            if (condition == null) return true;
            var runtime = condition.DescendantsAndSelf().OfType<IMemberReferenceOperation>().FirstOrDefault(IsRunTimeMember);
            if (runtime != null)
            {
                Unsupported(construct, $"{Constructs.Describe(construct)}, whose condition reads '{runtime.Member.Name}', which has no build-time value");
                return null;
            }
            var v = Eval(condition);
            if (v is ScalarValue s) return ScalarMath.IsTrue(s);
            if (v != null) Unsupported(construct, $"{Constructs.Describe(construct)}, whose condition is not a build-time constant");
            return null;
        }

        /// <summary>A field or property of this model (or a sub-model) read in a condition that has no build-time value.</summary>
        bool IsRunTimeMember(IMemberReferenceOperation m)
        {
            if (!(m is IFieldReferenceOperation || m is IPropertyReferenceOperation) || m.ConstantValue.HasValue || m.Member.IsStatic) return false;
            if (m.Member is IPropertySymbol { Name: "Length" } && m.Instance?.Type is IArrayTypeSymbol) return false;
            if (m.Member is IFieldSymbol f && (f.HasAttribute(Symbols.ParamAttribute) || Symbols.IsModelType(f.Type) || f.Type is IArrayTypeSymbol)) return false;
            if (!(m.Instance == null || m.Instance is IInstanceReferenceOperation)) return false;   // a sub-model's member: looked up when evaluated
            return !Current.Layout.Constants.ContainsKey(m.Member) && SymbolEqualityComparer.Default.Equals(m.Member.ContainingType, Current.Layout.Type);
        }

        Flow ForEach(IForEachLoopOperation each)
        {
            var collection = Eval(each.Collection);
            if (collection == null) return Flow.Return;
            List<Value> items;
            switch (collection)
            {
                case ModelArrayValue models: items = Enumerable.Range(0, models.Elements.Count).Select(i => (Value)models[i]).ToList(); break;
                case IntArrayValue ints: items = ints.Items.Select(i => (Value)new ScalarValue(i, true)).ToList(); break;
                case TensorArrayValue tensors: items = tensors.Items.Select(t => (Value)new TensorValue(t)).ToList(); break;
                default:
                    Unsupported(each, $"{Constructs.Describe(each)} over '{each.Collection.Syntax}', which is not an array of sub-models or a constant array");
                    return Flow.Return;
            }
            if (items.Count > UnrollLimit)
            {
                Report(DiagnosticDescriptors.UnrollLimitExceeded, each.Syntax.GetLocation(), Shorten(each.Syntax.ToString()), MethodName, UnrollLimit.ToString(CultureInfo.InvariantCulture));
                return Flow.Return;
            }
            if (!(each.LoopControlVariable is IVariableDeclaratorOperation variable))
            {
                Unsupported(each, $"{Constructs.Describe(each)} with a deconstructing loop variable");
                return Flow.Return;
            }
            foreach (var item in items)
            {
                Current.Variables[variable.Symbol] = item;
                var flow = Execute(each.Body);
                if (flow == Flow.Return) return flow;
                if (flow == Flow.Break) break;
            }
            return Flow.Next;
        }

        Flow Loop(IOperation loop, IOperation? condition, bool conditionIsTop, bool conditionIsUntil, IOperation body, IEnumerable<IOperation> atBottom)
        {
            for (int n = 0; ; n++)
            {
                if (conditionIsTop || n > 0)
                {
                    var c = Condition(loop, condition);
                    if (c == null) return Flow.Return;
                    if (c.Value == conditionIsUntil) break;
                }
                if (n >= UnrollLimit)
                {
                    Report(DiagnosticDescriptors.UnrollLimitExceeded, loop.Syntax.GetLocation(), Shorten(loop.Syntax.ToString()), MethodName, UnrollLimit.ToString(CultureInfo.InvariantCulture));
                    return Flow.Return;
                }
                var flow = Execute(body);
                if (flow == Flow.Return) return flow;
                if (flow == Flow.Break) break;
                var bottom = Execute(atBottom);
                if (bottom != Flow.Next) return bottom;
            }
            return Flow.Next;
        }

        Flow Switch(ISwitchOperation choice)
        {
            if (!(Eval(choice.Value) is ScalarValue value))
            {
                return Flow.Return;
            }
            ISwitchCaseOperation? chosen = null, fallback = null;
            foreach (var c in choice.Cases)
            {
                foreach (var clause in c.Clauses)
                {
                    bool? match;
                    switch (clause)
                    {
                        case IDefaultCaseClauseOperation _: fallback = c; match = false; break;
                        case ISingleValueCaseClauseOperation single: match = Eval(single.Value) is ScalarValue v ? v.Number == value.Number : (bool?)null; break;
                        case IPatternCaseClauseOperation pattern:
                            match = Matches(pattern.Pattern, value);
                            if (match == true && pattern.Guard != null) match = Condition(choice, pattern.Guard);
                            break;
                        default:
                            Unsupported(clause, $"the case '{clause.Syntax}' (constant cases, patterns of constants and default compile)");
                            match = null;
                            break;
                    }
                    if (match == null) return Flow.Return;
                    if (match.Value)
                    {
                        chosen = c;
                        break;
                    }
                }
                if (chosen != null) break;
            }
            chosen ??= fallback;
            if (chosen == null) return Flow.Next;
            var flow = Execute(chosen.Body);
            return flow == Flow.Break ? Flow.Next : flow;
        }

        /// <summary>Whether a constant, relational, discard or combined pattern matches a build-time value; null when reported.</summary>
        bool? Matches(IPatternOperation pattern, ScalarValue value)
        {
            switch (pattern)
            {
                case IDiscardPatternOperation _:
                    return true;
                case IConstantPatternOperation constant:
                    return Eval(constant.Value) is ScalarValue c ? c.Number == value.Number : (bool?)null;
                case IRelationalPatternOperation relational:
                    return Eval(relational.Value) is ScalarValue r && ScalarMath.Binary(relational.OperatorKind, value, r) is ScalarValue b ? ScalarMath.IsTrue(b) : (bool?)null;
                case INegatedPatternOperation negated:
                    return !Matches(negated.Pattern, value);
                case IBinaryPatternOperation binary:
                    var left = Matches(binary.LeftPattern, value);
                    var right = Matches(binary.RightPattern, value);
                    if (left == null || right == null) return null;
                    return binary.OperatorKind == BinaryOperatorKind.Or ? left.Value || right.Value : left.Value && right.Value;
                default:
                    Unsupported(pattern, $"the pattern '{pattern.Syntax}' (constants, relational patterns, not/and/or and _ compile)");
                    return null;
            }
        }

        string MethodName => frames.Count > 0 ? Current.Layout.Type.Name + "." + Current.Method.Name : "?";

        /// <summary>A local or parameter of the method, else a constructor parameter of this instance (a primary constructor's).</summary>
        Value? Lookup(ISymbol symbol) =>
            Current.Variables.TryGetValue(symbol, out var v) ? v : Current.Layout.Constants.TryGetValue(symbol, out var c) ? c : null;

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
                case IPropertyReferenceOperation property:
                    return Property(property);
                case IArrayElementReferenceOperation element:
                    return Element(element);
                case IConditionalOperation conditional when conditional.WhenFalse != null:
                    var condition = Condition(conditional, conditional.Condition);
                    return condition == null ? null : Eval(condition.Value ? conditional.WhenTrue : conditional.WhenFalse);
                case ISwitchExpressionOperation choice:
                    return SwitchExpression(choice);
                case IDefaultValueOperation d when d.Type == null || !d.Type.IsValueType || d.Type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T:
                    return NullValue.Instance;   // an omitted optional int? (or reference) argument
                default:
                    Unsupported(op, Constructs.Describe(op));
                    return null;
            }
        }

        static Value? Constant(object? value) => ScalarMath.Constant(value);

        Value? SwitchExpression(ISwitchExpressionOperation choice)
        {
            if (!(Eval(choice.Value) is ScalarValue value)) return null;
            foreach (var arm in choice.Arms)
            {
                var match = Matches(arm.Pattern, value);
                if (match == null) return null;
                if (match.Value && arm.Guard != null) match = Condition(choice, arm.Guard);
                if (match == null) return null;
                if (match.Value) return Eval(arm.Value);
            }
            Unsupported(choice, $"{Constructs.Describe(choice)}, where no arm matches the value {ScalarMath.Text(value)}");
            return null;
        }

        /// <summary><c>blocks.Length</c> and other array lengths, and properties of this model or a sub-model with a build-time value.</summary>
        Value? Property(IPropertyReferenceOperation property)
        {
            if (property.Property.Name == "Length" && property.Instance?.Type is IArrayTypeSymbol)
            {
                switch (Eval(property.Instance))
                {
                    case null: return null;
                    case ModelArrayValue models: return new ScalarValue(models.Elements.Count, true);
                    case IntArrayValue ints: return new ScalarValue(ints.Items.Length, true);
                    case TensorArrayValue tensors: return new ScalarValue(tensors.Items.Length, true);
                }
            }
            var layout = Current.Layout;
            if (property.Instance != null && !(property.Instance is IInstanceReferenceOperation))
            {
                var owner = Eval(property.Instance);
                if (owner == null) return null;
                if (owner is ModelValue mv) layout = mv.Layout;
                else
                {
                    Unsupported(property, Constructs.Describe(property));
                    return null;
                }
            }
            if (layout.Constants.TryGetValue(property.Property, out var value)) return value;
            Unsupported(property, $"{Constructs.Describe(property)}, which has no build-time value (a property is compiled when it is set from constants or constructor parameters in its initializer or the constructor)");
            return null;
        }

        /// <summary><c>blocks[i]</c> with a build-time index.</summary>
        Value? Element(IArrayElementReferenceOperation element)
        {
            var array = Eval(element.ArrayReference);
            if (array == null) return null;
            if (element.Indices.Length != 1 || !(Eval(element.Indices[0]) is ScalarValue { IsIntegral: true } index))
            {
                Unsupported(element, $"'{element.Syntax}' (an array index must be a build-time int, such as a for loop's variable)");
                return null;
            }
            int count = array is ModelArrayValue m ? m.Elements.Count : array is IntArrayValue ints ? ints.Items.Length : array is TensorArrayValue ts ? ts.Items.Length : -1;
            if (count < 0)
            {
                Unsupported(element, $"'{element.Syntax}'");
                return null;
            }
            int i = (int)index.Number;
            if (i < 0 || i >= count)
            {
                Unsupported(element, $"'{element.Syntax}': index {i} is outside the array's {count} elements");
                return null;
            }
            switch (array)
            {
                case ModelArrayValue models: return models[i];
                case IntArrayValue ints2: return new ScalarValue(ints2.Items[i], true);
                default: return new TensorValue(((TensorArrayValue)array).Items[i]);
            }
        }

        Value? Convert(IConversionOperation conversion)
        {
            var v = Eval(conversion.Operand);
            if (v == null) return null;
            if (v is ScalarValue s) return ScalarMath.Convert(s, conversion.Type);
            if (v is NullValue || conversion.Conversion.IsIdentity || (conversion.Conversion.IsImplicit && !conversion.Conversion.IsUserDefined)) return v;
            Unsupported(conversion, $"the conversion to '{conversion.Type?.ToDisplayString()}' (use Cast<T>() to change a tensor's element type)");
            return null;
        }

        Value? Field(IFieldReferenceOperation f)
        {
            var layout = Current.Layout;
            if (f.Instance != null && !(f.Instance is IInstanceReferenceOperation))
            {
                var owner = Eval(f.Instance);
                if (owner is ModelValue mv) layout = mv.Layout;
                else
                {
                    if (owner != null) Unsupported(f, $"the field access '{f.Syntax}'");
                    return null;
                }
            }
            if (layout.ParamFields.TryGetValue(f.Field, out var slot)) return new TensorValue(paramValues[slot.Path]);
            if (layout.SubModels.TryGetValue(f.Field, out var sub)) return new ModelValue(sub, f.Field.Name);
            if (layout.SubModelArrays.TryGetValue(f.Field, out var elements)) return new ModelArrayValue(elements, f.Field.Name);
            if (layout.Constants.TryGetValue(f.Field, out var constant)) return constant;
            // A [Param] or sub-model field that was reported where it is declared (XG0005, XG0017, XG0010): poisoned, no second error.
            if (f.Field.HasAttribute(Symbols.ParamAttribute) || (f.Field.Type is INamedTypeSymbol ft && Symbols.IsModelType(ft))
                || (f.Field.Type is IArrayTypeSymbol at && Symbols.IsModelType(at.ElementType))) return null;
            Unsupported(f, $"the field '{f.Field.Name}', which has no build-time value (a model method uses [Param] tensors, sub-models, consts, and fields set from constants or constructor parameters in their initializer or the constructor)");
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
            if (left is ScalarValue a && right is ScalarValue b && ScalarMath.Binary(kind, a, b) is ScalarValue folded) return folded;
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
            if (v is ScalarValue scalar && ScalarMath.Unary(u.OperatorKind, scalar) is ScalarValue folded) return folded;
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
            if (!layout.FromMetadata) m = ModelSource.Corresponding(m, layout.Type);   // the same method of a class compiled from recorded source
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
                    ReportShape(DiagnosticDescriptors.ShapeMismatch, at, $"'{inv.Syntax}': argument '{p.Name}' must be {Symbols.TensorElementType(p.Type)?.TextName()}[{string.Join(",", pattern)}], got {t.Shape}: {problem}");
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
            var span = location.GetMappedLineSpan();   // #line-mapped: a class compiled from recorded source keeps its own file and lines
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
                ReportShape(descriptor, at.Syntax, $"'{Shorten(at.Syntax.ToString())}': {e.Message}");
                return null;
            }
        }

        /// <summary>A shape or element type error at <paramref name="at"/>; inside a sub-model created with arguments it is
        /// reported where that instance is created (XG0022), naming the expression, since those arguments cause it.</summary>
        void ReportShape(DiagnosticDescriptor descriptor, SyntaxNode at, string message)
        {
            var site = frames.Select(f => f.Layout.Site).LastOrDefault(x => x != null);
            if (site == null)
            {
                Report(descriptor, at.GetLocation(), message);
                return;
            }
            var span = at.GetLocation().GetMappedLineSpan();
            Report(DiagnosticDescriptors.SubModelInstanceInvalid, site.Location, site.Describe(),
                $"does not fit in '{MethodName}' ({Path.GetFileName(span.Path)} line {span.StartLinePosition.Line + 1}) with these arguments: {message}");
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
            Report(DiagnosticDescriptors.UnsupportedConstruct, at.Syntax.GetLocation(), what, MethodName, Constructs.Hint(at));

        public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }
}
