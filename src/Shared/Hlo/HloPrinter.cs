using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using XlaGen.Ops;

namespace XlaGen.Hlo
{
    /// <summary>
    /// Prints modules in XLA's HLO text syntax (what XLA's HloModule::ToString writes and its parser reads):
    /// header with entry_computation_layout, callees before callers, ENTRY last, one instruction a line with
    /// its shape and layout, ROOT on the root, attributes in XLA's order, metadata last.
    /// </summary>
    public static class HloPrinter
    {
        /// <summary>The whole module as HLO text, starting with its <c>HloModule</c> header line (with input_output_alias
        /// and entry_computation_layout). Names XLA would not accept are sanitised.</summary>
        /// <param name="module">The module to print.</param>
        /// <param name="includeMetadata">Whether to print each instruction's metadata (op name, source file and line); true by default.</param>
        public static string Print(HloModule module, bool includeMetadata = true)
        {
            var sb = new StringBuilder();
            // Names as XLA would accept them (HloNames): the proto reader accepts any string as a name.
            var names = new HloNames.ModuleNames(module.Computations);
            var moduleName = HloNames.Sanitize(module.Name);
            sb.Append("HloModule ").Append(moduleName.Length == 0 ? "module" : moduleName);
            if (module.InputOutputAliases.Count > 0)
            {
                sb.Append(", input_output_alias={ ");
                sb.Append(string.Join(", ", module.InputOutputAliases.Select(a =>
                    $"{{{Join(a.OutputIndex)}}}: ({a.ParameterNumber}, {{{Join(a.ParameterIndex)}}}, {(a.MustAlias ? "must-alias" : "may-alias")})")));
                sb.Append(" }");
            }
            // As XLA writes it: layouts on arrays, none on scalars (f32[], not f32[]{}).
            sb.Append(", entry_computation_layout={(");
            var ps = module.Entry.Parameters;
            for (int i = 0; i < ps.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                AppendShape(sb, ps[i].Shape);
            }
            sb.Append(")->");
            AppendShape(sb, module.Entry.Root.Shape);
            sb.Append("}\n");
            foreach (var c in module.Computations)
            {
                sb.Append('\n');
                AppendComputation(sb, c, c == module.Entry, includeMetadata, names);
            }
            return sb.ToString();
        }

        /// <summary>One computation in HLO text, without the module header.</summary>
        /// <param name="computation">The computation to print.</param>
        /// <param name="isEntry">Whether to mark it <c>ENTRY</c>; false by default.</param>
        /// <param name="includeMetadata">Whether to print each instruction's metadata; true by default.</param>
        public static string Print(HloComputation computation, bool isEntry = false, bool includeMetadata = true)
        {
            var sb = new StringBuilder();
            AppendComputation(sb, computation, isEntry, includeMetadata, new HloNames.ModuleNames(new[] { computation }));
            return sb.ToString();
        }

        static void AppendComputation(StringBuilder sb, HloComputation c, bool isEntry, bool includeMetadata, HloNames.ModuleNames names)
        {
            if (isEntry) sb.Append("ENTRY ");
            sb.Append('%').Append(names.Of(c)).Append(" (");
            var ps = c.Parameters;
            for (int i = 0; i < ps.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(names.Of(ps[i])).Append(": ");
                ps[i].Shape.Append(sb, includeLayout: false);
            }
            sb.Append(") -> ");
            c.Root.Shape.Append(sb, includeLayout: false);
            sb.Append(" {\n");
            foreach (var ins in c.Instructions)
            {
                sb.Append("  ");
                AppendInstruction(sb, ins, ins == c.Root, includeMetadata, names);
                sb.Append('\n');
            }
            sb.Append("}\n");
        }

        /// <summary>One instruction as its line of HLO text (<c>%name = shape opcode(operands), attributes, metadata={…}</c>), without ROOT.</summary>
        public static string Print(HloInstruction instruction) =>
            AppendInstruction(new StringBuilder(), instruction, false, true, new HloNames.ModuleNames(System.Array.Empty<HloComputation>())).ToString();

        static StringBuilder AppendInstruction(StringBuilder sb, HloInstruction ins, bool isRoot, bool includeMetadata, HloNames.ModuleNames names)
        {
            if (isRoot) sb.Append("ROOT ");
            sb.Append('%').Append(names.Of(ins)).Append(" = ");
            AppendShape(sb, ins.Shape);
            sb.Append(' ').Append(ins.Opcode).Append('(');
            var a = ins.Attributes;
            switch (ins.Opcode)
            {
                case "parameter":
                    sb.Append(a.ParameterNumber.ToString(CultureInfo.InvariantCulture));
                    break;
                case "constant":
                    a.Literal?.AppendText(sb);
                    break;
                default:
                    sb.Append(string.Join(", ", ins.Operands.Select(o => "%" + names.Of(o))));
                    break;
            }
            sb.Append(')');
            var attrs = new List<string>();
            if (OpCatalogue.TryGet(ins.Opcode, out var op))
            {
                foreach (var key in op.TextAttributes)
                {
                    var text = FormatAttribute(key, ins);
                    if (text != null) attrs.Add(key + "=" + text);
                }
                var keys = op.CalledComputationKeys;
                if (ins.Opcode == "while" && ins.CalledComputations.Count == 2)
                {
                    attrs.Add("condition=%" + names.Of(ins.CalledComputations[1]));
                    attrs.Add("body=%" + names.Of(ins.CalledComputations[0]));
                }
                else
                {
                    for (int i = 0; i < keys.Count && i < ins.CalledComputations.Count; i++)
                        attrs.Add(keys[i] + "=%" + names.Of(ins.CalledComputations[i]));
                }
            }
            if (includeMetadata && ins.Metadata != null && !ins.Metadata.IsEmpty) attrs.Add("metadata={" + FormatMetadata(ins.Metadata) + "}");
            foreach (var t in attrs) sb.Append(", ").Append(t);
            return sb;
        }

        static void AppendShape(StringBuilder sb, Shape s)
        {
            if (s.IsTuple)
            {
                AppendTuple(sb, s);
                return;
            }
            // XLA omits the layout of scalars: f32[] rather than f32[]{}.
            s.Append(sb, includeLayout: !s.IsScalar);
        }

        static void AppendTuple(StringBuilder sb, Shape s)
        {
            sb.Append('(');
            for (int i = 0; i < s.TupleShapes.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                AppendShape(sb, s.TupleShapes[i]);
            }
            sb.Append(')');
        }

        /// <summary>The text of one attribute, or null when the instruction leaves it at its default.</summary>
        static string? FormatAttribute(string key, HloInstruction ins)
        {
            var a = ins.Attributes;
            switch (key)
            {
                case "dimensions":
                    if (a.Dimensions == null) return ins.Opcode == "broadcast" ? "{}" : null;
                    return "{" + Join(a.Dimensions) + "}";
                case "iota_dimension":
                    return a.Dimensions != null && a.Dimensions.Length == 1 ? a.Dimensions[0].ToString(CultureInfo.InvariantCulture) : null;
                case "slice":
                    return a.Slice == null ? null : "{" + string.Join(", ", a.Slice.Select(s =>
                        s.Stride == 1 ? $"[{s.Start}:{s.Limit}]" : $"[{s.Start}:{s.Limit}:{s.Stride}]")) + "}";
                case "padding":
                    return a.Padding == null ? null : string.Join("x", a.Padding.Select(p =>
                        p.Interior == 0 ? $"{p.Low}_{p.High}" : $"{p.Low}_{p.High}_{p.Interior}"));
                case "index":
                    return a.TupleIndex.ToString(CultureInfo.InvariantCulture);
                case "direction":
                    return a.ComparisonDirection;
                case "type":
                    return a.ComparisonType;
                case "lhs_batch_dims":
                    return a.Dot == null || a.Dot.LhsBatch.Length == 0 ? null : "{" + Join(a.Dot.LhsBatch) + "}";
                case "lhs_contracting_dims":
                    return a.Dot == null ? null : "{" + Join(a.Dot.LhsContracting) + "}";
                case "rhs_batch_dims":
                    return a.Dot == null || a.Dot.RhsBatch.Length == 0 ? null : "{" + Join(a.Dot.RhsBatch) + "}";
                case "rhs_contracting_dims":
                    return a.Dot == null ? null : "{" + Join(a.Dot.RhsContracting) + "}";
                case "operand_precision":
                    return a.OperandPrecision == null || a.OperandPrecision.All(p => p == "default") ? null : "{" + string.Join(",", a.OperandPrecision) + "}";
                case "is_stable":
                    return a.IsStable ? "true" : null;
                case "kind":
                    return a.FusionKind;
                case "window":
                    return a.Window == null ? null : "{" + FormatWindow(a.Window) + "}";
                case "dim_labels":
                    return a.Convolution == null ? null : FormatDimLabels(a.Convolution);
                case "feature_group_count":
                    return a.FeatureGroupCount == 1 ? null : a.FeatureGroupCount.ToString(CultureInfo.InvariantCulture);
                case "batch_group_count":
                    return a.BatchGroupCount == 1 ? null : a.BatchGroupCount.ToString(CultureInfo.InvariantCulture);
                case "offset_dims":
                    return a.Gather == null ? null : "{" + Join(a.Gather.OffsetDims) + "}";
                case "collapsed_slice_dims":
                    return a.Gather == null ? null : "{" + Join(a.Gather.CollapsedSliceDims) + "}";
                case "start_index_map":
                    return a.Gather == null ? null : "{" + Join(a.Gather.StartIndexMap) + "}";
                case "operand_batching_dims":
                    return a.Gather == null || a.Gather.OperandBatchingDims.Length == 0 ? null : "{" + Join(a.Gather.OperandBatchingDims) + "}";
                case "start_indices_batching_dims":
                    return a.Gather == null || a.Gather.StartIndicesBatchingDims.Length == 0 ? null : "{" + Join(a.Gather.StartIndicesBatchingDims) + "}";
                case "index_vector_dim":
                    if (ins.Opcode == "scatter") return a.Scatter?.IndexVectorDim.ToString(CultureInfo.InvariantCulture);
                    return a.Gather?.IndexVectorDim.ToString(CultureInfo.InvariantCulture);
                case "slice_sizes":
                    return a.GatherSliceSizes == null ? null : "{" + Join(a.GatherSliceSizes) + "}";
                case "update_window_dims":
                    return a.Scatter == null ? null : "{" + Join(a.Scatter.UpdateWindowDims) + "}";
                case "inserted_window_dims":
                    return a.Scatter == null ? null : "{" + Join(a.Scatter.InsertedWindowDims) + "}";
                case "scatter_dims_to_operand_dims":
                    return a.Scatter == null ? null : "{" + Join(a.Scatter.ScatterDimsToOperandDims) + "}";
                case "input_batching_dims":
                    return a.Scatter == null || a.Scatter.InputBatchingDims.Length == 0 ? null : "{" + Join(a.Scatter.InputBatchingDims) + "}";
                case "scatter_indices_batching_dims":
                    return a.Scatter == null || a.Scatter.ScatterIndicesBatchingDims.Length == 0 ? null : "{" + Join(a.Scatter.ScatterIndicesBatchingDims) + "}";
                case "indices_are_sorted":
                    return a.IndicesAreSorted ? "true" : null;
                case "unique_indices":
                    return a.UniqueIndices ? "true" : null;
                case "algorithm":
                    return a.RngAlgorithm;
                case "custom_call_target":
                    return a.CustomCallTarget == null ? null : Quote(a.CustomCallTarget);
                case "dynamic_slice_sizes":
                    return a.DynamicSliceSizes == null ? null : "{" + Join(a.DynamicSliceSizes) + "}";
                case "channel_id":
                    return a.ChannelId > 0 ? I(a.ChannelId) : null;
                case "replica_groups":
                    // XLA prints the groups of a collective always, {} for "all replicas".
                    return "{" + string.Join(",", (a.ReplicaGroups ?? new long[0][]).Select(g => "{" + Join(g) + "}")) + "}";
                case "use_global_device_ids":
                    return a.UseGlobalDeviceIds ? "true" : null;
                case "parameter_replication":
                    return a.ParameterReplication == null ? null : "{" + string.Join(",", a.ParameterReplication.Select(r => r ? "true" : "false")) + "}";
                default:
                    return null;
            }
        }

        /// <summary>XLA's window_util::ToString: size always; stride, pad, lhs_dilate, rhs_dilate, rhs_reversal when not default.</summary>
        public static string FormatWindow(IReadOnlyList<WindowDimension> window)
        {
            if (window.Count == 0) return "";
            var parts = new List<string> { "size=" + string.Join("x", window.Select(w => I(w.Size))) };
            if (window.Any(w => w.Stride != 1)) parts.Add("stride=" + string.Join("x", window.Select(w => I(w.Stride))));
            if (window.Any(w => w.PaddingLow != 0 || w.PaddingHigh != 0))
                parts.Add("pad=" + string.Join("x", window.Select(w => I(w.PaddingLow) + "_" + I(w.PaddingHigh))));
            if (window.Any(w => w.BaseDilation != 1)) parts.Add("lhs_dilate=" + string.Join("x", window.Select(w => I(w.BaseDilation))));
            if (window.Any(w => w.WindowDilation != 1)) parts.Add("rhs_dilate=" + string.Join("x", window.Select(w => I(w.WindowDilation))));
            if (window.Any(w => w.WindowReversal)) parts.Add("rhs_reversal=" + string.Join("x", window.Select(w => w.WindowReversal ? "1" : "0")));
            return string.Join(" ", parts);
        }

        /// <summary>dim_labels: b/f (batch, feature) and spatial digits for input and output, i/o and digits for the kernel.</summary>
        public static string FormatDimLabels(ConvolutionDimensionNumbers d)
        {
            string Labels(long a, char ca, long b, char cb, long[] spatial)
            {
                var chars = Enumerable.Repeat('?', spatial.Length + 2).ToArray();
                void Put(long at, char c)
                {
                    if (at >= 0 && at < chars.Length) chars[at] = c;
                }
                Put(a, ca);
                Put(b, cb);
                for (int i = 0; i < spatial.Length; i++) Put(spatial[i], (char)('0' + i));
                return new string(chars);
            }
            return Labels(d.InputBatchDimension, 'b', d.InputFeatureDimension, 'f', d.InputSpatialDimensions) + "_" +
                Labels(d.KernelInputFeatureDimension, 'i', d.KernelOutputFeatureDimension, 'o', d.KernelSpatialDimensions) + "->" +
                Labels(d.OutputBatchDimension, 'b', d.OutputFeatureDimension, 'f', d.OutputSpatialDimensions);
        }

        static string I(long x) => x.ToString(CultureInfo.InvariantCulture);

        /// <summary>The fields of <paramref name="m"/> that are set, as HLO text writes them inside <c>metadata={…}</c>:
        /// <c>op_type="…" op_name="…" source_file="…" source_line=N</c>, separated by spaces; empty when none is set.</summary>
        public static string FormatMetadata(OpMetadata m)
        {
            var parts = new List<string>();
            if (m.OpType != null) parts.Add("op_type=" + Quote(m.OpType));
            if (m.OpName != null) parts.Add("op_name=" + Quote(m.OpName));
            if (m.SourceFile != null) parts.Add("source_file=" + Quote(m.SourceFile));
            if (m.SourceLine != 0) parts.Add("source_line=" + m.SourceLine.ToString(CultureInfo.InvariantCulture));
            return string.Join(" ", parts);
        }

        /// <summary><paramref name="s"/> as an HLO string literal: in double quotes, with quotes, backslashes, newlines and tabs escaped.</summary>
        public static string Quote(string s)
        {
            var sb = new StringBuilder("\"");
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\t': sb.Append("\\t"); break;
                    default: sb.Append(c); break;
                }
            }
            return sb.Append('"').ToString();
        }

        static string Join(IEnumerable<long> xs) => string.Join(",", xs.Select(x => x.ToString(CultureInfo.InvariantCulture)));
    }
}
