using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>[Shape("B", 784)] patterns: numbers are fixed dims, strings are symbols bound by the first use.</summary>
    static class ShapePattern
    {
        /// <summary>The pattern of <paramref name="symbol"/>'s [Shape] (a parameter, or a method's return value), as text
        /// items ("B", "784"); an item that is neither a positive int nor an identifier is returned as "?" + its text.</summary>
        public static string[]? Read(ISymbol symbol, out Location? location) => Read(symbol.GetAttributes(), out location);

        public static string[]? ReadReturn(IMethodSymbol method, out Location? location) => Read(method.GetReturnTypeAttributes(), out location);

        static string[]? Read(IEnumerable<AttributeData> attributes, out Location? location)
        {
            location = null;
            var attr = attributes.FirstOrDefault(a => a.AttributeClass != null && a.AttributeClass.FullName() == Symbols.ShapeAttribute);
            if (attr == null) return null;
            location = attr.ApplicationSyntaxReference?.GetSyntax().GetLocation();
            var items = new List<string>();
            if (attr.ConstructorArguments.Length == 1 && attr.ConstructorArguments[0].Kind == TypedConstantKind.Array)
            {
                foreach (var v in attr.ConstructorArguments[0].Values)
                {
                    switch (v.Value)
                    {
                        case int i when i > 0: items.Add(i.ToString(CultureInfo.InvariantCulture)); break;
                        case long l when l > 0: items.Add(l.ToString(CultureInfo.InvariantCulture)); break;
                        case string s when Dim.IsIdentifier(s): items.Add(s); break;
                        default: items.Add("?" + (v.Value?.ToString() ?? "null")); break;
                    }
                }
            }
            return items.ToArray();
        }

        public static string? FirstInvalid(string[] pattern) => pattern.FirstOrDefault(p => p.StartsWith("?", System.StringComparison.Ordinal));

        public static Dim[] ToDims(string[] pattern) => pattern.Select(Dim.Parse).ToArray();

        /// <summary>Checks <paramref name="actual"/> against the pattern, binding symbols; null when it fits, else what differs.</summary>
        public static string? Match(string[] pattern, Shape actual, Dictionary<string, Dim> bindings)
        {
            if (pattern.Length != actual.Rank) return $"rank {actual.Rank} instead of {pattern.Length}";
            for (int i = 0; i < pattern.Length; i++)
            {
                var got = actual.Dims[i];
                if (!Dim.TryParse(pattern[i], out var want)) return $"dimension {i} has an invalid pattern '{pattern[i]}'";
                if (!want.IsConstant && want.Factor == 1 && !want.Symbols.Contains("*"))
                {
                    if (bindings.TryGetValue(want.Symbols, out var bound))
                    {
                        if (bound != got) return $"dimension {i} is {got} but {want.Symbols} is already {bound}";
                    }
                    else bindings[want.Symbols] = got;
                    continue;
                }
                var expected = want.Substitute(bindings);
                if (expected != got) return $"dimension {i} is {got}, expected {expected}";
            }
            return null;
        }
    }
}
