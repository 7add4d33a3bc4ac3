using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using XlaGen.Generator.Diagnostics;
using XlaGen.Generator.Model;
using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>One parameter of a model, in program order (sub-model parameters carry a dotted path).</summary>
    sealed class ParamSlot
    {
        public ParamSlot(string path, IFieldSymbol? field, ElementType type, long[] dims, string init, double value, bool trainable = true)
        {
            Trainable = trainable;
            Path = path;
            Field = field;
            Type = type;
            Dims = dims;
            Init = init;
            Value = value;
        }

        public string Path { get; }

        public IFieldSymbol? Field { get; }

        public ElementType Type { get; }

        public long[] Dims { get; }

        public string Init { get; }

        public double Value { get; }

        public Shape Shape => Shape.Array(Type, Dims);

        /// <summary>False for [Param(Trainable = false)]: no gradient; layers such as BatchNorm update it in the train step.</summary>
        public bool Trainable { get; }
    }

    /// <summary>A model class and, recursively, its sub-models: where every parameter lives. Built from source
    /// (same compilation) or from the manifest attributes the generator wrote into a referenced assembly.</summary>
    sealed class ModelLayout
    {
        public ModelLayout(INamedTypeSymbol type, string prefix, bool fromMetadata)
        {
            Type = type;
            Prefix = prefix;
            FromMetadata = fromMetadata;
        }

        public INamedTypeSymbol Type { get; }

        public string Prefix { get; }

        public bool FromMetadata { get; }

        /// <summary>All parameters, own and sub-models', in member order.</summary>
        public List<ParamSlot> AllParams { get; } = new List<ParamSlot>();

        public Dictionary<IFieldSymbol, ParamSlot> ParamFields { get; } = new Dictionary<IFieldSymbol, ParamSlot>(SymbolEqualityComparer.Default);

        public Dictionary<IFieldSymbol, ModelLayout> SubModels { get; } = new Dictionary<IFieldSymbol, ModelLayout>(SymbolEqualityComparer.Default);

        /// <summary>For a model from metadata: its forward programs (method → input count, symbolic HLO text).</summary>
        public Dictionary<string, (int InputCount, string Hlo)> ManifestForwards { get; } = new Dictionary<string, (int, string)>();

        /// <summary>Builds the layout of <paramref name="type"/>, reporting bad parameters. Returns null on a cycle.</summary>
        public static ModelLayout Build(INamedTypeSymbol type, string prefix, Compilation compilation, List<DiagnosticInfo> diagnostics, List<INamedTypeSymbol> visiting)
        {
            bool fromMetadata = !SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, compilation.Assembly);
            var layout = new ModelLayout(type, prefix, fromMetadata);
            if (fromMetadata)
            {
                ReadManifest(layout);
                return layout;
            }
            visiting.Add(type);
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            {
                if (field.IsStatic || field.IsConst) continue;
                var param = field.FindAttribute(Symbols.ParamAttribute);
                if (param != null)
                {
                    var slot = ReadParam(field, param, prefix, diagnostics);
                    if (slot != null)
                    {
                        layout.AllParams.Add(slot);
                        layout.ParamFields[field] = slot;
                    }
                    continue;
                }
                if (field.Type is INamedTypeSymbol ft && Symbols.IsModelType(ft))
                {
                    var location = field.Locations.FirstOrDefault();
                    if (visiting.Any(v => SymbolEqualityComparer.Default.Equals(v, ft)))
                    {
                        diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, location, field.Name, ft.Name,
                            "contains this model again (a model cannot contain itself, directly or through its sub-models)"));
                        continue;
                    }
                    var sub = Build(ft, prefix + field.Name + ".", compilation, diagnostics, visiting);
                    if (sub.FromMetadata && sub.ManifestForwards.Count == 0 && sub.AllParams.Count == 0)
                    {
                        diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, location, field.Name, ft.Name,
                            "comes from an assembly built without the XlaGen generator (it carries no [XlaModelParam]/[XlaModelForward] manifest); reference XlaGen.Generator as an analyzer in that project"));
                        continue;
                    }
                    layout.SubModels[field] = sub;
                    layout.AllParams.AddRange(sub.AllParams);
                }
            }
            visiting.RemoveAt(visiting.Count - 1);
            return layout;
        }

        static ParamSlot? ReadParam(IFieldSymbol field, AttributeData attr, string prefix, List<DiagnosticInfo> diagnostics)
        {
            var location = field.Locations.FirstOrDefault();
            var type = Symbols.TensorElementType(field.Type);
            if (type == null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, location,
                    $"[Param] field '{field.Name}' has type '{field.Type.ToDisplayString()}'; a parameter must be a Tensor<T> with T one of float, double, int, long, bool, sbyte, short, byte, ushort, uint, ulong, Half"));
                return null;
            }
            var dims = new List<long>();
            if (attr.ConstructorArguments.Length == 1 && attr.ConstructorArguments[0].Kind == TypedConstantKind.Array)
            {
                foreach (var d in attr.ConstructorArguments[0].Values)
                {
                    if (d.Value is int i) dims.Add(i);
                }
            }
            var attrLocation = attr.ApplicationSyntaxReference?.GetSyntax().GetLocation() ?? location;
            if (dims.Any(d => d <= 0))
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamShapeMustBeConstant, attrLocation, field.Name,
                    $"has shape [{string.Join(",", dims)}]; every dimension must be a positive constant"));
                return null;
            }
            var tooLarge = TooLarge(dims, type.Value);
            if (tooLarge != null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamTooLarge, attrLocation, field.Name, $"[{string.Join(",", dims)}]", tooLarge));
                return null;
            }
            string init = "Zeros";
            double value = 0;
            bool trainable = true;
            foreach (var named in attr.NamedArguments)
            {
                if (named.Key == "Trainable" && named.Value.Value is bool t) trainable = t;
                if (named.Key == "Init" && named.Value.Value is int e && named.Value.Type is INamedTypeSymbol enumType)
                {
                    init = enumType.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, e))?.Name ?? "Zeros";
                }
                else if (named.Key == "Value" && named.Value.Value != null)
                {
                    value = System.Convert.ToDouble(named.Value.Value, CultureInfo.InvariantCulture);
                }
            }
            return new ParamSlot(prefix + field.Name, field, type.Value, dims.ToArray(), init, value, trainable);
        }

        /// <summary>The .NET array limit (Array.MaxLength): host tensors and the CPU executor hold a parameter in one array.</summary>
        const long ArrayMaxLength = 0x7FFFFFC7;

        /// <summary>Why a parameter of these dims cannot exist at run time (its element count or byte size overflows a
        /// long, or exceeds one .NET array), or null.</summary>
        static string? TooLarge(List<long> dims, ElementType type)
        {
            long count = 1;
            foreach (var d in dims)
            {
                if (count > long.MaxValue / d) return "has more elements than a 64-bit count can hold";
                count *= d;
            }
            long size = type.ByteSize();
            var countText = count.ToString(CultureInfo.InvariantCulture);
            if (count > long.MaxValue / System.Math.Max(size, 1)) return $"has {countText} elements, whose byte size overflows a 64-bit count";
            if (count > ArrayMaxLength)
            {
                return $"has {countText} elements ({(count * size).ToString(CultureInfo.InvariantCulture)} bytes of {type.TextName()}), more than one .NET array holds " +
                    $"({ArrayMaxLength.ToString(CultureInfo.InvariantCulture)} elements); split it into smaller parameters";
            }
            return null;
        }

        static void ReadManifest(ModelLayout layout)
        {
            foreach (var a in layout.Type.FindAttributes(Symbols.ManifestParamAttribute))
            {
                if (a.ConstructorArguments.Length != 4) continue;
                var path = a.ConstructorArguments[0].Value as string ?? "";
                var shapeText = a.ConstructorArguments[1].Value as string ?? "";
                var init = a.ConstructorArguments[2].Value as string ?? "Zeros";
                var value = a.ConstructorArguments[3].Value is double d ? d : 0;
                bool trainable = !a.NamedArguments.Any(n => n.Key == "Trainable" && n.Value.Value is false);
                var shape = ParseShape(shapeText);
                if (shape == null) continue;
                layout.AllParams.Add(new ParamSlot(layout.Prefix + path, null, shape.ElementType, shape.ConcreteDims(), init, value, trainable));
            }
            foreach (var a in layout.Type.FindAttributes(Symbols.ManifestForwardAttribute))
            {
                if (a.ConstructorArguments.Length != 3) continue;
                var method = a.ConstructorArguments[0].Value as string ?? "";
                var count = a.ConstructorArguments[1].Value is int c ? c : 0;
                var hlo = a.ConstructorArguments[2].Value as string ?? "";
                layout.ManifestForwards[method] = (count, hlo);
            }
        }

        /// <summary>Parses "f32[784,256]".</summary>
        static Shape? ParseShape(string text)
        {
            int open = text.IndexOf('[');
            if (open < 0 || !text.EndsWith("]", System.StringComparison.Ordinal)) return null;
            if (!ElementTypes.TryParse(text.Substring(0, open), out var t)) return null;
            var inner = text.Substring(open + 1, text.Length - open - 2);
            var dims = inner.Length == 0 ? new Dim[0] : inner.Split(',').Select(Dim.Parse).ToArray();
            return Shape.Array(t, dims);
        }
    }
}
