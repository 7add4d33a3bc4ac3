using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace XlaGen.Generator.Parsing
{
    /// <summary>
    /// The build-time values of one instance of a model class: the parameters of the constructor that creates it (from the
    /// constant arguments of its <c>new</c>, or their defaults), the fields and properties set from constants by
    /// initializers, the constructor body or an object initializer, and the <c>new</c> expressions that create its
    /// sub-model fields (single or arrays). Evaluated on the IOperation tree; anything not constant is simply absent, and
    /// reported only where a dimension, a constructor argument or a method needs it.
    /// </summary>
    sealed class InstanceConstants
    {
        InstanceConstants(IMethodSymbol? constructor)
        {
            Constructor = constructor;
        }

        /// <summary>The constructor that runs, or null when the class has no constructor callable without arguments and no
        /// <c>new</c> gave it some.</summary>
        public IMethodSymbol? Constructor { get; }

        /// <summary>Constructor parameters (IParameterSymbol), fields and properties with a build-time value.</summary>
        public Dictionary<ISymbol, Value> Values { get; } = new Dictionary<ISymbol, Value>(SymbolEqualityComparer.Default);

        /// <summary>The expression assigned to each sub-model field: an object creation, or an array creation of them.</summary>
        public Dictionary<IFieldSymbol, IOperation> Creations { get; } = new Dictionary<IFieldSymbol, IOperation>(SymbolEqualityComparer.Default);

        /// <summary>Arguments that are not build-time constants (with the parameter they are for), to report.</summary>
        public List<(IArgumentOperation Argument, IParameterSymbol Parameter)> NonConstantArguments { get; } = new List<(IArgumentOperation, IParameterSymbol)>();

        /// <summary>The values of an instance of <paramref name="type"/> created by <paramref name="creation"/> (evaluated
        /// in <paramref name="outer"/>, the creating instance's values), or by its argument-free constructor when null.</summary>
        public static InstanceConstants Evaluate(INamedTypeSymbol type, IObjectCreationOperation? creation, IReadOnlyDictionary<ISymbol, Value>? outer,
            Compilation compilation, CancellationToken cancellation)
        {
            // A class compiled from its recorded source (another assembly's): the creation names the referenced class's constructor.
            var constructor = creation?.Constructor == null ? ArgumentFreeConstructor(type) : ModelSource.Corresponding(creation.Constructor, type);
            var result = new InstanceConstants(constructor);
            var values = result.Values;
            if (creation != null)
            {
                foreach (var a in creation.Arguments)
                {
                    if (a.Parameter == null) continue;
                    var parameter = constructor != null && a.Parameter.Ordinal < constructor.Parameters.Length ? constructor.Parameters[a.Parameter.Ordinal] : a.Parameter;
                    var v = Eval(a.Value, outer);
                    if (v != null) values[parameter] = v;
                    else if (IsScalarType(a.Parameter.Type)) result.NonConstantArguments.Add((a, a.Parameter));
                }
            }
            else if (constructor != null)
            {
                foreach (var p in constructor.Parameters)
                {
                    if (!p.HasExplicitDefaultValue) continue;
                    if (p.ExplicitDefaultValue == null) values[p] = NullValue.Instance;   // int? stride = null
                    else if (ScalarMath.Constant(p.ExplicitDefaultValue) is ScalarValue d) values[p] = ScalarMath.Convert(d, p.Type);
                }
            }
            result.RunInitializers(type, compilation, cancellation);
            if (constructor != null) result.RunConstructor(constructor, compilation, cancellation, 0);
            if (creation?.Initializer != null)
            {
                var inner = new Dictionary<ISymbol, Value>(SymbolEqualityComparer.Default);
                if (outer != null) foreach (var kv in outer) inner[kv.Key] = kv.Value;
                foreach (var init in creation.Initializer.Initializers)
                {
                    if (init is ISimpleAssignmentOperation { Target: IMemberReferenceOperation member } assignment) result.Assign(member.Member, assignment.Value, inner);
                }
            }
            return result;
        }

        /// <summary>The constructor <c>new T()</c> calls: no parameters, or only optional ones.</summary>
        public static IMethodSymbol? ArgumentFreeConstructor(INamedTypeSymbol type) =>
            type.InstanceConstructors.OrderBy(c => c.Parameters.Length).FirstOrDefault(c => c.Parameters.All(p => p.IsOptional || p.IsParams));

        static bool IsScalarType(ITypeSymbol type)
        {
            if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } n) type = n.TypeArguments[0];
            if (type.TypeKind == TypeKind.Enum) return true;
            switch (type.SpecialType)
            {
                case SpecialType.System_Boolean:
                case SpecialType.System_Byte:
                case SpecialType.System_SByte:
                case SpecialType.System_Int16:
                case SpecialType.System_UInt16:
                case SpecialType.System_Int32:
                case SpecialType.System_UInt32:
                case SpecialType.System_Int64:
                case SpecialType.System_UInt64:
                case SpecialType.System_Single:
                case SpecialType.System_Double:
                    return true;
                default:
                    return false;
            }
        }

        void RunInitializers(INamedTypeSymbol type, Compilation compilation, CancellationToken cancellation)
        {
            foreach (var reference in type.DeclaringSyntaxReferences)
            {
                if (!(reference.GetSyntax(cancellation) is TypeDeclarationSyntax declaration)) continue;
                var model = compilation.GetSemanticModel(declaration.SyntaxTree);
                foreach (var member in declaration.Members)
                {
                    if (member is FieldDeclarationSyntax field && !field.Modifiers.Any(m => m.Text == "static" || m.Text == "const"))
                    {
                        foreach (var v in field.Declaration.Variables)
                        {
                            if (v.Initializer == null) continue;
                            if (model.GetOperation(v.Initializer, cancellation) is IFieldInitializerOperation init)
                            {
                                foreach (var f in init.InitializedFields) Assign(f, init.Value, Values);
                            }
                        }
                    }
                    else if (member is PropertyDeclarationSyntax property && property.Initializer != null && !property.Modifiers.Any(m => m.Text == "static"))
                    {
                        if (model.GetOperation(property.Initializer, cancellation) is IPropertyInitializerOperation init)
                        {
                            foreach (var p in init.InitializedProperties) Assign(p, init.Value, Values);
                        }
                    }
                }
            }
        }

        /// <summary>Runs the assignments of an ordinary constructor's body (after the constructor it chains to with
        /// <c>: this(…)</c>); a primary constructor has no body, its parameters are already bound.</summary>
        void RunConstructor(IMethodSymbol constructor, Compilation compilation, CancellationToken cancellation, int depth)
        {
            if (depth > 8) return;
            var syntax = constructor.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellation)).OfType<ConstructorDeclarationSyntax>().FirstOrDefault();
            if (syntax == null) return;
            var model = compilation.GetSemanticModel(syntax.SyntaxTree);
            if (!(model.GetOperation(syntax, cancellation) is IConstructorBodyOperation body)) return;
            if (body.Initializer is IExpressionStatementOperation { Operation: IInvocationOperation chained }
                && SymbolEqualityComparer.Default.Equals(chained.TargetMethod.ContainingType, constructor.ContainingType))
            {
                foreach (var a in chained.Arguments)
                {
                    if (a.Parameter != null && Eval(a.Value, Values) is Value v) Values[a.Parameter] = v;
                }
                RunConstructor(chained.TargetMethod, compilation, cancellation, depth + 1);
            }
            var block = body.BlockBody ?? body.ExpressionBody;
            if (block != null) RunStatements(block.Operations);
        }

        void RunStatements(IEnumerable<IOperation> statements)
        {
            foreach (var s in statements)
            {
                switch (s)
                {
                    case IExpressionStatementOperation { Operation: ISimpleAssignmentOperation { Target: IMemberReferenceOperation member } assignment }
                        when member.Instance == null || member.Instance is IInstanceReferenceOperation:
                        Assign(member.Member, assignment.Value, Values);
                        break;
                    case IBlockOperation block:
                        RunStatements(block.Operations);
                        break;
                }
            }
        }

        /// <summary>Records what a member is set to: a sub-model creation, or a constant (a non-constant value forgets an earlier one).</summary>
        void Assign(ISymbol member, IOperation value, IReadOnlyDictionary<ISymbol, Value> scope)
        {
            var unwrapped = value is IConversionOperation c && c.Conversion.IsImplicit ? c.Operand : value;
            if (member is IFieldSymbol field && IsModelOrModelArray(field.Type))
            {
                Creations[field] = unwrapped;
                return;
            }
            var v = Eval(value, scope);
            if (v != null) Values[member] = v;
            else Values.Remove(member);
        }

        static bool IsModelOrModelArray(ITypeSymbol type) =>
            Symbols.IsModelType(type) || (type is IArrayTypeSymbol a && Symbols.IsModelType(a.ElementType));

        /// <summary>The build-time value of <paramref name="op"/> in <paramref name="scope"/>, or null when it has none.</summary>
        public static Value? Eval(IOperation op, IReadOnlyDictionary<ISymbol, Value>? scope)
        {
            if (op.ConstantValue.HasValue)
            {
                if (op.ConstantValue.Value == null) return NullValue.Instance;
                var c = ScalarMath.Constant(op.ConstantValue.Value);
                return c == null || op.Type == null ? c : ScalarMath.Convert(c, op.Type);
            }
            Value? Find(ISymbol s) => scope != null && scope.TryGetValue(s, out var v) ? v : null;
            switch (op)
            {
                case IConversionOperation conversion:
                    var operand = Eval(conversion.Operand, scope);
                    return operand is ScalarValue s ? ScalarMath.Convert(s, conversion.Type) : operand as NullValue;
                case IArgumentOperation argument:
                    return Eval(argument.Value, scope);
                case IDefaultValueOperation d:
                    // An omitted int? (or reference) argument is null; default(T) of a number or bool is zero.
                    if (d.Type == null || !d.Type.IsValueType || d.Type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T) return NullValue.Instance;
                    return IsScalarType(d.Type) ? ScalarMath.Convert(new ScalarValue(0, true), d.Type) : null;
                case IParameterReferenceOperation p:
                    return Find(p.Parameter);
                case IMemberReferenceOperation m when m.Instance == null || m.Instance is IInstanceReferenceOperation:
                    return Find(m.Member);
                case IBinaryOperation b:
                    return Eval(b.LeftOperand, scope) is ScalarValue l && Eval(b.RightOperand, scope) is ScalarValue r ? ScalarMath.Binary(b.OperatorKind, l, r) : null;
                case IUnaryOperation u:
                    return Eval(u.Operand, scope) is ScalarValue o ? ScalarMath.Unary(u.OperatorKind, o) : null;
                case IConditionalOperation { WhenFalse: { } whenFalse } conditional:
                    return Eval(conditional.Condition, scope) is ScalarValue cond ? Eval(ScalarMath.IsTrue(cond) ? conditional.WhenTrue : whenFalse, scope) : null;
                case IInvocationOperation inv when ConstantMath.IsMathType(inv.TargetMethod.ContainingType):
                    var args = new double[inv.TargetMethod.Parameters.Length];
                    foreach (var a in inv.Arguments)
                    {
                        if (a.Parameter == null || !(Eval(a.Value, scope) is ScalarValue x)) return null;
                        args[a.Parameter.Ordinal] = x.Number;
                    }
                    return ConstantMath.Evaluate(inv.TargetMethod, args);
                default:
                    return null;
            }
        }
    }
}
