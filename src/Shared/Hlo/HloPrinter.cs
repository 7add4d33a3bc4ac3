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
        public static string Print(HloModule module, bool includeMetadata = true)
        {
            var sb = new StringBuilder();
            sb.Append("HloModule ").Append(module.Name);
            if (module.InputOutputAliases.Count > 0)
            {
                sb.Append(", input_output_alias={ ");
                sb.Append(string.Join(", ", module.InputOutputAliases.Select(a =>
                    $"{{{Join(a.OutputIndex)}}}: ({a.ParameterNumber}, {{{Join(a.ParameterIndex)}}}, {(a.MustAlias ? "must-alias" : "may-alias")})")));
                sb.Append(" }");
            }
            sb.Append(", entry_computation_layout={(");
            var ps = module.Entry.Parameters;
            for (int i = 0; i < ps.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                ps[i].Shape.Append(sb, includeLayout: true);
            }
            sb.Append(")->");
            module.Entry.Root.Shape.Append(sb, includeLayout: true);
            sb.Append("}\n");
            foreach (var c in module.Computations)
            {
                sb.Append('\n');
                AppendComputation(sb, c, c == module.Entry, includeMetadata);
            }
            return sb.ToString();
        }

        public static string Print(HloComputation computation, bool isEntry = false, bool includeMetadata = true)
        {
            var sb = new StringBuilder();
            AppendComputation(sb, computation, isEntry, includeMetadata);
            return sb.ToString();
        }

        static void AppendComputation(StringBuilder sb, HloComputation c, bool isEntry, bool includeMetadata)
        {
            if (isEntry) sb.Append("ENTRY ");
            sb.Append('%').Append(c.Name).Append(" (");
            var ps = c.Parameters;
            for (int i = 0; i < ps.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(ps[i].Name).Append(": ");
                ps[i].Shape.Append(sb, includeLayout: false);
            }
            sb.Append(") -> ");
            c.Root.Shape.Append(sb, includeLayout: false);
            sb.Append(" {\n");
            foreach (var ins in c.Instructions)
            {
                sb.Append("  ");
                AppendInstruction(sb, ins, ins == c.Root, includeMetadata);
                sb.Append('\n');
            }
            sb.Append("}\n");
        }

        public static string Print(HloInstruction instruction) => AppendInstruction(new StringBuilder(), instruction, false, true).ToString();

        static StringBuilder AppendInstruction(StringBuilder sb, HloInstruction ins, bool isRoot, bool includeMetadata)
        {
            if (isRoot) sb.Append("ROOT ");
            sb.Append('%').Append(ins.Name).Append(" = ");
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
                    sb.Append(string.Join(", ", ins.Operands.Select(o => "%" + o.Name)));
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
                    attrs.Add("condition=%" + ins.CalledComputations[1].Name);
                    attrs.Add("body=%" + ins.CalledComputations[0].Name);
                }
                else
                {
                    for (int i = 0; i < keys.Count && i < ins.CalledComputations.Count; i++)
                        attrs.Add(keys[i] + "=%" + ins.CalledComputations[i].Name);
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
                default:
                    return null;
            }
        }

        public static string FormatMetadata(OpMetadata m)
        {
            var parts = new List<string>();
            if (m.OpType != null) parts.Add("op_type=" + Quote(m.OpType));
            if (m.OpName != null) parts.Add("op_name=" + Quote(m.OpName));
            if (m.SourceFile != null) parts.Add("source_file=" + Quote(m.SourceFile));
            if (m.SourceLine != 0) parts.Add("source_line=" + m.SourceLine.ToString(CultureInfo.InvariantCulture));
            return string.Join(" ", parts);
        }

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
