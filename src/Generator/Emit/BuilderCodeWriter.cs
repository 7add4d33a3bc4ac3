using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Generator.Emit
{
    /// <summary>
    /// Writes C# that rebuilds an HLO module through HloBuilder, with symbolic dims turned into the program
    /// builder's int arguments. Every instruction is re-checked by the catalogue when the generated code runs.
    /// </summary>
    static class BuilderCodeWriter
    {
        const string Hlo = "global::XlaGen.Hlo.";

        public static void Write(CodeWriter w, HloModule module)
        {
            w.Line($"var __b = new {Hlo}HloBuilder({Quote(module.Name)}, {Quote(module.Entry.Name)});");
            var computationVars = new Dictionary<HloComputation, string>();
            foreach (var c in module.Computations)
            {
                if (c == module.Entry) continue;
                var name = "__c" + c.Id.ToString(CultureInfo.InvariantCulture);
                computationVars[c] = name;
                w.Line($"{Hlo}HloComputation {name};");
                w.Open("");
                w.Line($"var __s = __b.CreateSubBuilder({Quote(c.Name)});");
                var root = WriteInstructions(w, c, "__s", computationVars);
                w.Line($"{name} = __s.Build({root});");
                w.Close();
            }
            var entryRoot = WriteInstructions(w, module.Entry, "__b", computationVars);
            w.Line("__b.Metadata = null;");
            w.Line($"return __b.BuildModule({entryRoot});");
        }

        static string WriteInstructions(CodeWriter w, HloComputation c, string builder, Dictionary<HloComputation, string> computations)
        {
            var vars = new Dictionary<HloInstruction, string>();
            OpMetadata? current = null;
            var ordered = c.Instructions.Where(i => i.Opcode == "parameter").OrderBy(i => i.Attributes.ParameterNumber)
                .Concat(c.Instructions.Where(i => i.Opcode != "parameter"));
            foreach (var ins in ordered)
            {
                if (!Equals(ins.Metadata, current))
                {
                    current = ins.Metadata;
                    w.Line($"{builder}.Metadata = {MetadataExpression(current)};");
                }
                var v = "__v" + ins.Id.ToString(CultureInfo.InvariantCulture);
                vars[ins] = v;
                w.Line($"var {v} = {builder}.{Expression(ins, vars, computations)};");
            }
            return vars[c.Root];
        }

        static string Expression(HloInstruction ins, Dictionary<HloInstruction, string> vars, Dictionary<HloComputation, string> computations)
        {
            var a = ins.Attributes;
            switch (ins.Opcode)
            {
                case "parameter":
                    return $"Parameter({ShapeExpression(ins.Shape)}, {Quote(ins.Name)})";
                case "constant" when ins.Shape.IsScalar && ins.Shape.ElementType != ElementType.F16 && ins.Shape.ElementType != ElementType.Bf16:
                    return $"Constant({Hlo}ElementType.{ins.Shape.ElementType}, {DoubleLiteral(a.Literal!.GetDouble(0))})";
                case "get-dimension-size":
                    return $"DimensionSize({vars[ins.Operands[0]]}, {a.Dimensions![0]})";
            }
            var operands = ins.Operands.Count == 0 ? $"global::System.Array.Empty<{Hlo}HloInstruction>()" : "new[] { " + string.Join(", ", ins.Operands.Select(o => vars[o])) + " }";
            var args = new List<string> { Quote(ins.Opcode), operands };
            var attributes = AttributesExpression(ins);
            var declared = OpCatalogue.Get(ins.Opcode).TakesDeclaredShape ? ShapeExpression(ins.Shape) : null;
            var called = ins.CalledComputations.Count == 0 ? null : "new[] { " + string.Join(", ", ins.CalledComputations.Select(cc => computations[cc])) + " }";
            if (attributes != null || declared != null || called != null) args.Add(attributes ?? "null");
            if (declared != null || called != null) args.Add(declared ?? "null");
            if (called != null) args.Add(called);
            return $"AddInstruction({string.Join(", ", args)})";
        }

        static string? AttributesExpression(HloInstruction ins)
        {
            var a = ins.Attributes;
            var parts = new List<string>();
            if (a.Dimensions != null) parts.Add("Dimensions = " + Longs(a.Dimensions));
            if (a.Slice != null)
                parts.Add($"Slice = new[] {{ {string.Join(", ", a.Slice.Select(s => $"new {Hlo}SliceDimension({DimExpression(s.Start)}, {DimExpression(s.Limit)}, {s.Stride})"))} }}");
            if (a.Dot != null)
                parts.Add($"Dot = new {Hlo}DotDimensionNumbers({Longs(a.Dot.LhsContracting)}, {Longs(a.Dot.RhsContracting)}, {Longs(a.Dot.LhsBatch)}, {Longs(a.Dot.RhsBatch)})");
            if (a.ComparisonDirection != null) parts.Add("ComparisonDirection = " + Quote(a.ComparisonDirection));
            if (a.ComparisonType != null) parts.Add("ComparisonType = " + Quote(a.ComparisonType));
            if (ins.Opcode == "get-tuple-element") parts.Add("TupleIndex = " + a.TupleIndex.ToString(CultureInfo.InvariantCulture));
            if (a.Padding != null) parts.Add($"Padding = new[] {{ {string.Join(", ", a.Padding.Select(p => $"new {Hlo}PaddingDimension({p.Low}, {p.High}, {p.Interior})"))} }}");
            if (a.IsStable) parts.Add("IsStable = true");
            if (a.FusionKind != null) parts.Add("FusionKind = " + Quote(a.FusionKind));
            if (a.OperandPrecision != null) parts.Add("OperandPrecision = new[] { " + string.Join(", ", a.OperandPrecision.Select(Quote)) + " }");
            if (ins.Opcode == "constant") parts.Add("Literal = " + LiteralExpression(a.Literal!));
            if (a.Window != null) parts.Add($"Window = new[] {{ {string.Join(", ", a.Window.Select(WindowExpression))} }}");
            if (a.Convolution != null) parts.Add("Convolution = " + ConvolutionExpression(a.Convolution));
            if (a.FeatureGroupCount != 1) parts.Add("FeatureGroupCount = " + a.FeatureGroupCount.ToString(CultureInfo.InvariantCulture));
            if (a.BatchGroupCount != 1) parts.Add("BatchGroupCount = " + a.BatchGroupCount.ToString(CultureInfo.InvariantCulture));
            if (a.Gather != null) parts.Add("Gather = " + GatherExpression(a.Gather));
            if (a.GatherSliceSizes != null) parts.Add("GatherSliceSizes = " + Longs(a.GatherSliceSizes));
            if (a.Scatter != null) parts.Add("Scatter = " + ScatterExpression(a.Scatter));
            if (a.IndicesAreSorted) parts.Add("IndicesAreSorted = true");
            if (a.UniqueIndices) parts.Add("UniqueIndices = true");
            if (a.DynamicSliceSizes != null) parts.Add("DynamicSliceSizes = " + Longs(a.DynamicSliceSizes));
            if (a.RngAlgorithm != null) parts.Add("RngAlgorithm = " + Quote(a.RngAlgorithm));
            if (a.CustomCallTarget != null)
                throw new NotSupportedException($"the emitter does not write custom-call attributes ({ins.Describe()})");
            return parts.Count == 0 ? null : $"new {Hlo}HloAttributes {{ {string.Join(", ", parts)} }}";
        }

        static string WindowExpression(WindowDimension w) =>
            $"new {Hlo}WindowDimension({w.Size}, {w.Stride}, {w.PaddingLow}, {w.PaddingHigh}, {w.WindowDilation}, {w.BaseDilation}, {(w.WindowReversal ? "true" : "false")})";

        static string ConvolutionExpression(ConvolutionDimensionNumbers d) =>
            $"new {Hlo}ConvolutionDimensionNumbers {{ InputBatchDimension = {d.InputBatchDimension}, InputFeatureDimension = {d.InputFeatureDimension}, " +
            $"InputSpatialDimensions = {Longs(d.InputSpatialDimensions)}, KernelInputFeatureDimension = {d.KernelInputFeatureDimension}, " +
            $"KernelOutputFeatureDimension = {d.KernelOutputFeatureDimension}, KernelSpatialDimensions = {Longs(d.KernelSpatialDimensions)}, " +
            $"OutputBatchDimension = {d.OutputBatchDimension}, OutputFeatureDimension = {d.OutputFeatureDimension}, OutputSpatialDimensions = {Longs(d.OutputSpatialDimensions)} }}";

        static string GatherExpression(GatherDimensionNumbers g) =>
            $"new {Hlo}GatherDimensionNumbers {{ OffsetDims = {Longs(g.OffsetDims)}, CollapsedSliceDims = {Longs(g.CollapsedSliceDims)}, " +
            $"StartIndexMap = {Longs(g.StartIndexMap)}, IndexVectorDim = {g.IndexVectorDim}, OperandBatchingDims = {Longs(g.OperandBatchingDims)}, " +
            $"StartIndicesBatchingDims = {Longs(g.StartIndicesBatchingDims)} }}";

        static string ScatterExpression(ScatterDimensionNumbers s) =>
            $"new {Hlo}ScatterDimensionNumbers {{ UpdateWindowDims = {Longs(s.UpdateWindowDims)}, InsertedWindowDims = {Longs(s.InsertedWindowDims)}, " +
            $"ScatterDimsToOperandDims = {Longs(s.ScatterDimsToOperandDims)}, IndexVectorDim = {s.IndexVectorDim}, InputBatchingDims = {Longs(s.InputBatchingDims)}, " +
            $"ScatterIndicesBatchingDims = {Longs(s.ScatterIndicesBatchingDims)} }}";

        static string LiteralExpression(Literal literal)
        {
            var t = literal.Shape.ElementType;
            var clr = t == ElementType.F16 || t == ElementType.Bf16 ? "ushort" : Parsing.Symbols.ClrName(t);
            var values = new List<string>();
            for (long i = 0; i < literal.Data!.Length; i++)
            {
                var v = literal.Data.GetValue(i)!;
                values.Add(v switch
                {
                    float f => FloatLiteral(f),
                    double d => DoubleLiteral(d),
                    bool b => b ? "true" : "false",
                    _ => System.Convert.ToString(v, CultureInfo.InvariantCulture)!,
                });
            }
            return $"{Hlo}Literal.Create({ShapeExpression(literal.Shape)}, new {clr}[] {{ {string.Join(", ", values)} }})";
        }

        public static string ShapeExpression(Shape s)
        {
            if (s.IsTuple) return $"{Hlo}Shape.Tuple({string.Join(", ", s.TupleShapes.Select(ShapeExpression))})";
            var dims = s.Dims.Count == 0 ? "" : ", " + string.Join(", ", s.Dims.Select(DimExpression));
            return $"{Hlo}Shape.Array({Hlo}ElementType.{s.ElementType}{dims})";
        }

        /// <summary>784, B, 2 * B, B * T.</summary>
        public static string DimExpression(Dim d)
        {
            if (d.IsConstant) return d.Value.ToString(CultureInfo.InvariantCulture);
            var parts = d.SymbolNames.ToList();
            if (d.Factor != 1) parts.Insert(0, d.Factor.ToString(CultureInfo.InvariantCulture));
            return parts.Count == 1 ? parts[0] : "(" + string.Join(" * ", parts) + ")";
        }

        static string MetadataExpression(OpMetadata? m) =>
            m == null ? "null" : $"new {Hlo}OpMetadata({QuoteOrNull(m.OpType)}, {QuoteOrNull(m.OpName)}, {QuoteOrNull(m.SourceFile)}, {m.SourceLine})";

        static string Longs(long[] xs) => xs.Length == 0 ? "global::System.Array.Empty<long>()" : "new long[] { " + string.Join(", ", xs.Select(x => x.ToString(CultureInfo.InvariantCulture))) + " }";

        public static string DoubleLiteral(double d)
        {
            if (double.IsNaN(d)) return "double.NaN";
            if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
            if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
            var s = d.ToString("R", CultureInfo.InvariantCulture);
            return s.Contains(".") || s.Contains("E") ? s + "d" : s;
        }

        static string FloatLiteral(float f)
        {
            if (float.IsNaN(f)) return "float.NaN";
            if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
            if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
            return f.ToString("R", CultureInfo.InvariantCulture) + "f";
        }

        static string QuoteOrNull(string? s) => s == null ? "null" : Quote(s);

        public static string Quote(string s) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(s, quote: true);
    }
}
