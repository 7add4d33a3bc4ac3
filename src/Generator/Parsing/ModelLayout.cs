using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
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

    /// <summary>Where a configured sub-model is created: the <c>new</c> with its constant arguments, and its dotted name.</summary>
    sealed class InstanceSite
    {
        public InstanceSite(IObjectCreationOperation creation, string name)
        {
            Creation = creation;
            Name = name;
        }

        public IObjectCreationOperation Creation { get; }

        /// <summary>The instance's dotted path without the trailing dot (d1, blocks.0, blocks.0.dense).</summary>
        public string Name { get; }

        public Location Location => Creation.Syntax.GetLocation();

        /// <summary>"Sub-model 'd1' (new(784, 0))": how messages about this instance start.</summary>
        public string Describe()
        {
            var text = string.Join(" ", Creation.Syntax.ToString().Split(new[] { ' ', '\n', '\r', '\t' }, System.StringSplitOptions.RemoveEmptyEntries));
            if (text.Length > 60) text = text.Substring(0, 57) + "...";
            return $"'{Name}' ({text})";
        }
    }

    /// <summary>A model class and, recursively, its sub-models: where every parameter lives. Built from source
    /// (same compilation) or from the manifest attributes the generator wrote into a referenced assembly. A layout is one
    /// instance: a sub-model created with constant arguments (<c>Dense d1 = new(784, 256)</c>) has the shapes and the
    /// build-time constants those arguments give (<see cref="Constants"/>), and each array element is an instance of its own.</summary>
    sealed class ModelLayout
    {
        public ModelLayout(INamedTypeSymbol type, string prefix, bool fromMetadata, InstanceSite? site, Compilation compilation)
        {
            Compilation = compilation;
            Type = type;
            Prefix = prefix;
            FromMetadata = fromMetadata;
            Site = site;
        }

        public INamedTypeSymbol Type { get; }

        /// <summary>The compilation whose syntax trees hold the class: the model's own, or the side compilation of a
        /// configurable sub-model from another assembly (<see cref="ModelSource"/>).</summary>
        public Compilation Compilation { get; }

        public string Prefix { get; }

        public bool FromMetadata { get; }

        /// <summary>The <c>new</c> that created this instance with arguments, or null (the model itself, or a sub-model
        /// created without arguments).</summary>
        public InstanceSite? Site { get; }

        /// <summary>The class has no constructor callable without arguments and no <c>new</c> gave it some: it is a
        /// configurable layer that only exists as a sub-model, so it has no programs of its own.</summary>
        public bool NeedsArguments { get; private set; }

        /// <summary>This instance's build-time values: constructor parameters, fields and properties (see <see cref="InstanceConstants"/>).</summary>
        public IReadOnlyDictionary<ISymbol, Value> Constants { get; private set; } = new Dictionary<ISymbol, Value>(SymbolEqualityComparer.Default);

        /// <summary>All parameters, own and sub-models', in member order.</summary>
        public List<ParamSlot> AllParams { get; } = new List<ParamSlot>();

        public Dictionary<IFieldSymbol, ParamSlot> ParamFields { get; } = new Dictionary<IFieldSymbol, ParamSlot>(SymbolEqualityComparer.Default);

        public Dictionary<IFieldSymbol, ModelLayout> SubModels { get; } = new Dictionary<IFieldSymbol, ModelLayout>(SymbolEqualityComparer.Default);

        /// <summary>Array fields of sub-models (<c>ResBlock[] blocks = { new(128), new(128) }</c>): one instance per element.</summary>
        public Dictionary<IFieldSymbol, List<ModelLayout>> SubModelArrays { get; } = new Dictionary<IFieldSymbol, List<ModelLayout>>(SymbolEqualityComparer.Default);

        /// <summary>For a model from metadata: its forward programs (method → input count, symbolic HLO text).</summary>
        public Dictionary<string, (int InputCount, string Hlo)> ManifestForwards { get; } = new Dictionary<string, (int, string)>();

        /// <summary>Builds the layout of <paramref name="type"/>, reporting bad parameters. <paramref name="site"/> is the
        /// <c>new</c> that creates this instance (its arguments evaluated in <paramref name="outer"/>, the creating instance's
        /// constants), null for the model itself.</summary>
        public static ModelLayout Build(INamedTypeSymbol type, string prefix, Compilation compilation, List<DiagnosticInfo> diagnostics, List<INamedTypeSymbol> visiting,
            InstanceSite? site = null, IReadOnlyDictionary<ISymbol, Value>? outer = null, CancellationToken cancellation = default)
        {
            bool fromMetadata = !SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, compilation.Assembly);
            if (fromMetadata && ModelSource.FromSource(type, compilation) is var (sourceType, sideCompilation))
            {
                // A class with constructor parameters from another assembly: compiled per instance from its recorded source.
                return Build(sourceType, prefix, sideCompilation, diagnostics, visiting, site, outer, cancellation);
            }
            var layout = new ModelLayout(type, prefix, fromMetadata, site, compilation);
            if (fromMetadata)
            {
                ReadManifest(layout);
                return layout;
            }
            bool root = prefix.Length == 0 && site == null;
            if (root) CheckParamNames(type, diagnostics);
            var instance = InstanceConstants.Evaluate(type, site?.Creation, outer, compilation, cancellation);
            layout.Constants = instance.Values;
            if (site == null && instance.Constructor == null && type.InstanceConstructors.Length > 0)
            {
                layout.NeedsArguments = true;
                return layout;
            }
            foreach (var (argument, parameter) in instance.NonConstantArguments)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ConstructorArgumentNotConstant, argument.Syntax.GetLocation(),
                    argument.Syntax.ToString(), parameter.Name, site!.Name, type.Name));
            }
            visiting.Add(type);
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            {
                if (field.IsStatic || field.IsConst) continue;
                var param = field.FindAttribute(Symbols.ParamAttribute);
                if (param != null)
                {
                    var slot = ReadParam(field, param, prefix, diagnostics, layout, instance, root);
                    if (slot != null)
                    {
                        layout.AllParams.Add(slot);
                        layout.ParamFields[field] = slot;
                    }
                    continue;
                }
                var location = field.Locations.FirstOrDefault();
                instance.Creations.TryGetValue(field, out var creation);
                if (field.Type is INamedTypeSymbol ft && Symbols.IsModelType(ft))
                {
                    var sub = BuildSub(ft, prefix + field.Name, creation as IObjectCreationOperation, field, location, compilation, diagnostics, visiting, instance, cancellation);
                    if (sub == null) continue;
                    layout.SubModels[field] = sub;
                    layout.AllParams.AddRange(sub.AllParams);
                }
                else if (field.Type is IArrayTypeSymbol { ElementType: INamedTypeSymbol et } && Symbols.IsModelType(et))
                {
                    if (!(creation is IArrayCreationOperation { Initializer: { } initializer }))
                    {
                        diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, location, field.Name, et.Name + "[]",
                            $"is an array that is not created with its elements; write '{et.Name}[] {field.Name} = {{ new(…), new(…) }};' so its length and each element's arguments are known at build time"));
                        continue;
                    }
                    var elements = new List<ModelLayout>();
                    var values = initializer.ElementValues;
                    for (int i = 0; i < values.Length; i++)
                    {
                        var element = values[i] is IConversionOperation { Conversion.IsImplicit: true } c ? c.Operand : values[i];
                        if (!(element is IObjectCreationOperation elementCreation))
                        {
                            diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, values[i].Syntax.GetLocation(), $"{field.Name}[{i}]", et.Name,
                                $"is not created with new here; each element of a sub-model array must be written as new(…) with constant arguments"));
                            continue;
                        }
                        var sub = BuildSub(et, prefix + field.Name + "." + i.ToString(CultureInfo.InvariantCulture), elementCreation, field, location, compilation, diagnostics, visiting, instance, cancellation);
                        if (sub == null) continue;
                        elements.Add(sub);
                        layout.AllParams.AddRange(sub.AllParams);
                    }
                    if (elements.Count == values.Length) layout.SubModelArrays[field] = elements;
                }
            }
            visiting.RemoveAt(visiting.Count - 1);
            return layout;
        }

        static ModelLayout? BuildSub(INamedTypeSymbol type, string path, IObjectCreationOperation? creation, IFieldSymbol field, Location? location, Compilation compilation,
            List<DiagnosticInfo> diagnostics, List<INamedTypeSymbol> visiting, InstanceConstants outer, CancellationToken cancellation)
        {
            if (visiting.Any(v => SymbolEqualityComparer.Default.Equals(v, type)))
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, location, field.Name, type.Name,
                    "contains this model again (a model cannot contain itself, directly or through its sub-models)"));
                return null;
            }
            // A creation with arguments configures the instance; new() without arguments is the default instance, as no initializer.
            var site = creation != null && creation.Arguments.Any(a => a.ArgumentKind == ArgumentKind.Explicit) || creation?.Initializer != null
                ? new InstanceSite(creation!, path) : null;
            var sub = Build(type, path + ".", compilation, diagnostics, visiting, site, outer.Values, cancellation);
            if (sub.FromMetadata && sub.ManifestForwards.Count == 0 && sub.AllParams.Count == 0)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, location, field.Name, type.Name,
                    "comes from an assembly built without the XlaGen generator (it carries no [XlaModelParam]/[XlaModelForward] manifest); reference XlaGen.Generator as an analyzer in that project"));
                return null;
            }
            if (sub.NeedsArguments)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelNotCompiled, creation?.Syntax.GetLocation() ?? location, field.Name, type.Name,
                    $"needs constructor arguments (it has no constructor callable without them); create it with constant arguments, e.g. '{type.Name} {field.Name} = new(…);'"));
                return null;
            }
            return sub;
        }

        /// <summary>XG0020 on a [Param] whose dimension names nothing the class has (checked once, on the class itself).</summary>
        static void CheckParamNames(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics)
        {
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            {
                var attr = field.FindAttribute(Symbols.ParamAttribute);
                if (attr == null) continue;
                foreach (var name in DimArguments(attr).OfType<string>())
                {
                    if (NameExists(type, name)) continue;
                    var names = type.InstanceConstructors.SelectMany(c => c.Parameters).Select(p => p.Name)
                        .Concat(type.GetMembers().Where(m => !m.IsImplicitlyDeclared && (m is IFieldSymbol { IsConst: false } || m is IPropertySymbol) && !m.HasAttribute(Symbols.ParamAttribute)).Select(m => m.Name))
                        .Where(n => !n.StartsWith("<", System.StringComparison.Ordinal)).Distinct().ToList();
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamDimensionUnknown, AttributeLocation(field, attr), field.Name, type.Name, name,
                        $"which is neither a constructor parameter nor a field or property of '{type.Name}'" + (names.Count == 0 ? "" : $" (it has {string.Join(", ", names)})")));
                }
            }
        }

        static bool NameExists(INamedTypeSymbol type, string name) =>
            type.InstanceConstructors.Any(c => c.Parameters.Any(p => p.Name == name))
            || type.GetMembers(name).Any(m => !m.IsStatic && (m is IFieldSymbol || m is IPropertySymbol));

        /// <summary>The dims as written: ints and names (strings); anything else as null.</summary>
        static List<object?> DimArguments(AttributeData attr)
        {
            var dims = new List<object?>();
            if (attr.ConstructorArguments.Length == 1 && attr.ConstructorArguments[0].Kind == TypedConstantKind.Array)
            {
                foreach (var d in attr.ConstructorArguments[0].Values) dims.Add(d.Kind == TypedConstantKind.Array ? null : d.Value);
            }
            return dims;
        }

        static Location? AttributeLocation(IFieldSymbol field, AttributeData attr) =>
            attr.ApplicationSyntaxReference?.GetSyntax().GetLocation() ?? field.Locations.FirstOrDefault();

        /// <summary>The value of dimension <paramref name="name"/> in this instance: the constructor's parameter of that
        /// name, else the field or property.</summary>
        static Value? Resolve(INamedTypeSymbol type, InstanceConstants instance, string name)
        {
            var parameter = instance.Constructor?.Parameters.FirstOrDefault(p => p.Name == name);
            if (parameter != null && instance.Values.TryGetValue(parameter, out var pv)) return pv;
            foreach (var m in type.GetMembers(name))
            {
                if (instance.Values.TryGetValue(m, out var mv)) return mv;
            }
            return null;
        }

        static ParamSlot? ReadParam(IFieldSymbol field, AttributeData attr, string prefix, List<DiagnosticInfo> diagnostics, ModelLayout layout, InstanceConstants instance, bool root)
        {
            var location = field.Locations.FirstOrDefault();
            var type = Symbols.TensorElementType(field.Type);
            if (type == null)
            {
                diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.UnsupportedParameterType, location,
                    $"[Param] field '{field.Name}' has type '{field.Type.ToDisplayString()}'; a parameter must be a Tensor<T> with T one of float, double, int, long, bool, sbyte, short, byte, ushort, uint, ulong, Half"));
                return null;
            }
            var attrLocation = AttributeLocation(field, attr);
            var site = layout.Site;
            var dims = new List<long>();
            bool named = false;
            foreach (var d in DimArguments(attr))
            {
                if (d is int i)
                {
                    dims.Add(i);
                    continue;
                }
                if (!(d is string name))
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamShapeMustBeConstant, attrLocation, field.Name,
                        $"has the dimension '{d ?? "null"}'; every dimension must be an int or the name of a constructor parameter, field or property"));
                    return null;
                }
                named = true;
                var value = Resolve(layout.Type, instance, name);
                if (value is ScalarValue s && s.IsIntegral && !s.IsBool)
                {
                    dims.Add((long)s.Number);
                    continue;
                }
                if (!NameExists(layout.Type, name)) return null;   // XG0020, reported on the class itself
                if (site != null && instance.NonConstantArguments.Count > 0) return null;   // XG0021 on the argument says why
                var why = value == null ? "which has no build-time value" : $"whose build-time value {ScalarMath.Text((ScalarValue)value)} is not an integer";
                if (site != null)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelInstanceInvalid, site.Location, site.Describe(),
                        $"leaves [Param] field '{field.Name}' of '{layout.Type.Name}' without a shape: its dimension '{name}' names a member {why} in this instance"));
                }
                else
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamDimensionUnknown, attrLocation, field.Name, layout.Type.Name, name,
                        $"{why} (set it from a constant or a constructor parameter, in its initializer or the constructor)"));
                }
                return null;
            }
            var shapeText = $"[{string.Join(",", dims)}]";
            bool fromInstance = named && site != null;
            if (dims.Any(d => d <= 0))
            {
                if (fromInstance)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelInstanceInvalid, site!.Location, site.Describe(),
                        $"gives [Param] field '{field.Name}' of '{layout.Type.Name}' the shape {shapeText}; every dimension must be positive"));
                }
                else
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamShapeMustBeConstant, attrLocation, field.Name,
                        $"has shape {shapeText}; every dimension must be a positive constant"));
                }
                return null;
            }
            var tooLarge = TooLarge(dims, type.Value);
            if (tooLarge != null)
            {
                if (fromInstance)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.SubModelInstanceInvalid, site!.Location, site.Describe(),
                        $"gives [Param] field '{field.Name}' of '{layout.Type.Name}' the shape {shapeText}, which {tooLarge}"));
                }
                else if (root || !named)
                {
                    diagnostics.Add(Symbols.Diagnostic(DiagnosticDescriptors.ParamTooLarge, attrLocation, field.Name, shapeText, tooLarge));
                }
                return null;
            }
            string init = "Zeros";
            double initValue = 0;
            bool trainable = true;
            foreach (var namedArgument in attr.NamedArguments)
            {
                if (namedArgument.Key == "Trainable" && namedArgument.Value.Value is bool t) trainable = t;
                if (namedArgument.Key == "Init" && namedArgument.Value.Value is int e && namedArgument.Value.Type is INamedTypeSymbol enumType)
                {
                    init = enumType.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, e))?.Name ?? "Zeros";
                }
                else if (namedArgument.Key == "Value" && namedArgument.Value.Value != null)
                {
                    initValue = System.Convert.ToDouble(namedArgument.Value.Value, CultureInfo.InvariantCulture);
                }
            }
            return new ParamSlot(prefix + field.Name, field, type.Value, dims.ToArray(), init, initValue, trainable);
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
