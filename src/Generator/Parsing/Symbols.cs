using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using XlaGen.Generator.Model;
using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>Recognising XlaGen's types and attributes on Roslyn symbols, and turning locations into data.</summary>
    static class Symbols
    {
        public const string Namespace = "XlaGen";
        public const string XlaModelAttribute = "XlaGen.XlaModelAttribute";
        public const string ParamAttribute = "XlaGen.ParamAttribute";
        public const string ForwardAttribute = "XlaGen.ForwardAttribute";
        public const string LossAttribute = "XlaGen.LossAttribute";
        public const string ShapeAttribute = "XlaGen.ShapeAttribute";
        public const string ManifestParamAttribute = "XlaGen.Generated.XlaModelParamAttribute";
        public const string ManifestForwardAttribute = "XlaGen.Generated.XlaModelForwardAttribute";

        public static string FullName(this ISymbol symbol) =>
            symbol.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "");

        public static AttributeData? FindAttribute(this ISymbol symbol, string fullName) =>
            symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass != null && a.AttributeClass.FullName() == fullName);

        public static IEnumerable<AttributeData> FindAttributes(this ISymbol symbol, string fullName) =>
            symbol.GetAttributes().Where(a => a.AttributeClass != null && a.AttributeClass.FullName() == fullName);

        public static bool HasAttribute(this ISymbol symbol, string fullName) => symbol.FindAttribute(fullName) != null;

        /// <summary>True for XlaGen.Tensor&lt;T&gt;.</summary>
        public static bool IsTensorType(ITypeSymbol? type) =>
            type is INamedTypeSymbol n && n.IsGenericType && n.OriginalDefinition.FullName() == "XlaGen.Tensor<T>";

        /// <summary>True for the types whose members are the tensor surface.</summary>
        public static bool IsSurfaceType(INamedTypeSymbol? type)
        {
            if (type == null) return false;
            var name = type.OriginalDefinition.FullName();
            return name == "XlaGen.Tensor<T>" || name == "XlaGen.Tensor" || name == "XlaGen.Nn" || name == "XlaGen.Losses";
        }

        public static bool IsModelType(ITypeSymbol? type) => type is INamedTypeSymbol n && n.HasAttribute(XlaModelAttribute);

        /// <summary>The element type of Tensor&lt;T&gt; for T, or null when T is not a supported element type.</summary>
        public static ElementType? ElementTypeOf(ITypeSymbol t)
        {
            switch (t.SpecialType)
            {
                case SpecialType.System_Single: return ElementType.F32;
                case SpecialType.System_Double: return ElementType.F64;
                case SpecialType.System_Int32: return ElementType.S32;
                case SpecialType.System_Int64: return ElementType.S64;
                case SpecialType.System_Boolean: return ElementType.Pred;
                case SpecialType.System_SByte: return ElementType.S8;
                case SpecialType.System_Int16: return ElementType.S16;
                case SpecialType.System_Byte: return ElementType.U8;
                case SpecialType.System_UInt16: return ElementType.U16;
                case SpecialType.System_UInt32: return ElementType.U32;
                case SpecialType.System_UInt64: return ElementType.U64;
            }
            return t.FullName() == "System.Half" ? ElementType.F16 : (ElementType?)null;
        }

        /// <summary>The C# keyword or type name for an element type (float, int, bool, System.Half).</summary>
        public static string ClrName(ElementType t)
        {
            switch (t)
            {
                case ElementType.F32: return "float";
                case ElementType.F64: return "double";
                case ElementType.S32: return "int";
                case ElementType.S64: return "long";
                case ElementType.Pred: return "bool";
                case ElementType.S8: return "sbyte";
                case ElementType.S16: return "short";
                case ElementType.U8: return "byte";
                case ElementType.U16: return "ushort";
                case ElementType.U32: return "uint";
                case ElementType.U64: return "ulong";
                case ElementType.F16: return "global::System.Half";
                default: return t.ToString();
            }
        }

        /// <summary>The element type of a Tensor&lt;T&gt; type symbol, or null.</summary>
        public static ElementType? TensorElementType(ITypeSymbol? type) =>
            IsTensorType(type) ? ElementTypeOf(((INamedTypeSymbol)type!).TypeArguments[0]) : null;

        public static LocationInfo? ToInfo(this Location? location)
        {
            if (location == null || !location.IsInSource) return null;
            var span = location.GetLineSpan();
            return new LocationInfo(location.SourceTree!.FilePath, location.SourceSpan.Start, location.SourceSpan.Length,
                span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
        }

        public static DiagnosticInfo Diagnostic(DiagnosticDescriptorRef d, Location? location, params string[] args) =>
            new DiagnosticInfo(d.Id, location.ToInfo(), args.ToEquatableArray());
    }

    /// <summary>A descriptor by id, so parsing code names descriptors without holding Roslyn objects in specs.</summary>
    readonly struct DiagnosticDescriptorRef
    {
        public DiagnosticDescriptorRef(string id) { Id = id; }

        public string Id { get; }

        public static implicit operator DiagnosticDescriptorRef(DiagnosticDescriptor d) => new DiagnosticDescriptorRef(d.Id);
    }
}
