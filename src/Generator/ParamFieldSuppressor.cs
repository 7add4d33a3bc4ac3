using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using XlaGen.Generator.Parsing;

namespace XlaGen.Generator
{
    /// <summary>
    /// [Param] fields and sub-model fields of an [XlaModel] class are never assigned by the user: their values
    /// live on the device, and the generated LoadParameters fills them for host use. So the nullable warning
    /// "non-nullable field must contain a non-null value" (CS8618) is noise for them and is suppressed, for those
    /// fields only. Likewise "never assigned" (CS0649) and "never used" (CS0169), which appear when the generator could
    /// not emit LoadParameters because the model has an error, so the real error is not buried under them.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class ParamFieldSuppressor : DiagnosticSuppressor
    {
        public static readonly SuppressionDescriptor UninitializedParam = new SuppressionDescriptor(
            "XGSP0001", "CS8618", "[Param] and sub-model fields of an [XlaModel] class hold device-resident values; XlaGen initialises them");

        public static readonly SuppressionDescriptor UnassignedParam = new SuppressionDescriptor(
            "XGSP0002", "CS0649", "[Param] fields of an [XlaModel] class are assigned by the generated LoadParameters");

        public static readonly SuppressionDescriptor UnusedParam = new SuppressionDescriptor(
            "XGSP0003", "CS0169", "[Param] fields of an [XlaModel] class are used by its compiled programs");

        public static readonly SuppressionDescriptor UnreadDimensionParameter = new SuppressionDescriptor(
            "XGSP0004", "CS9113", "a primary constructor parameter named by a [Param] dimension is read by XlaGen at build time");

        public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions => ImmutableArray.Create(UninitializedParam, UnassignedParam, UnusedParam, UnreadDimensionParameter);

        public override void ReportSuppressions(SuppressionAnalysisContext context)
        {
            foreach (var diagnostic in context.ReportedDiagnostics)
            {
                var tree = diagnostic.Location.SourceTree;
                if (tree == null) continue;
                var node = tree.GetRoot(context.CancellationToken).FindNode(diagnostic.Location.SourceSpan);
                var model = context.GetSemanticModel(tree);
                if (diagnostic.Id == "CS9113")
                {
                    // Dense(int In, int Out) with [Param("In", "Out")]: the parameter gives the shape of each instance's parameters.
                    if (node is ParameterSyntax ps && model.GetDeclaredSymbol(ps, context.CancellationToken) is IParameterSymbol parameter
                        && parameter.ContainingType is INamedTypeSymbol owner && Symbols.IsModelType(owner)
                        && owner.GetMembers().OfType<IFieldSymbol>().Any(f => f.FindAttribute(Symbols.ParamAttribute) is AttributeData a
                            && a.ConstructorArguments.Length == 1 && a.ConstructorArguments[0].Kind == TypedConstantKind.Array
                            && a.ConstructorArguments[0].Values.Any(v => v.Value as string == parameter.Name)))
                    {
                        context.ReportSuppression(Suppression.Create(UnreadDimensionParameter, diagnostic));
                    }
                    continue;
                }
                IFieldSymbol? field = null;
                if (node is VariableDeclaratorSyntax declarator)
                {
                    field = model.GetDeclaredSymbol(declarator, context.CancellationToken) as IFieldSymbol;
                }
                else if (node.FirstAncestorOrSelf<ConstructorDeclarationSyntax>() is ConstructorDeclarationSyntax ctor
                         && model.GetDeclaredSymbol(ctor, context.CancellationToken) is IMethodSymbol c)
                {
                    // Reported on a constructor: the message names the field ('w1').
                    var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
                    int a = message.IndexOf('\''), b = a < 0 ? -1 : message.IndexOf('\'', a + 1);
                    if (b > a) field = c.ContainingType.GetMembers(message.Substring(a + 1, b - a - 1)).OfType<IFieldSymbol>().FirstOrDefault();
                }
                if (field == null || !Symbols.IsModelType(field.ContainingType)) continue;
                if (!field.HasAttribute(Symbols.ParamAttribute) && !Symbols.IsModelType(field.Type)) continue;
                var descriptor = SupportedSuppressions.FirstOrDefault(d => d.SuppressedDiagnosticId == diagnostic.Id);
                if (descriptor != null) context.ReportSuppression(Suppression.Create(descriptor, diagnostic));
            }
        }
    }
}
