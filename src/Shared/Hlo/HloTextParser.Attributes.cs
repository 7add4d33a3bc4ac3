using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace XlaGen.Hlo
{
    // Attribute values of the HLO text reader: slice, padding, window, dim_labels, dot and gather/scatter
    // dimension lists, each into its HloAttributes field.
    sealed partial class HloTextReader
    {
        // ---------------- op attributes ----------------

        void ReadAttribute(string opcode, string key, HloAttributes a)
        {
            switch (key)
            {
                case "dimensions": a.Dimensions = ReadIntegerList(key); break;
                case "iota_dimension": a.Dimensions = new[] { ReadInteger(key) }; break;
                case "slice": a.Slice = ReadSlice(); break;
                case "padding": a.Padding = ReadPadding(); break;
                case "index": a.TupleIndex = ReadInteger(key); break;
                case "direction": a.ComparisonDirection = ReadWord("a comparison direction (EQ, NE, LT, LE, GT, GE)"); break;
                case "type": a.ComparisonType = ReadWord("a comparison type (FLOAT, TOTALORDER, SIGNED, UNSIGNED)"); break;
                case "lhs_batch_dims": a.Dot = WithDot(a.Dot, lhsBatch: ReadIntegerList(key)); break;
                case "lhs_contracting_dims": a.Dot = WithDot(a.Dot, lhsContracting: ReadIntegerList(key)); break;
                case "rhs_batch_dims": a.Dot = WithDot(a.Dot, rhsBatch: ReadIntegerList(key)); break;
                case "rhs_contracting_dims": a.Dot = WithDot(a.Dot, rhsContracting: ReadIntegerList(key)); break;
                case "operand_precision": a.OperandPrecision = ReadWordList(key); break;
                case "window": a.Window = ReadWindow(); break;
                case "dim_labels": a.Convolution = ReadDimLabels(); break;
                case "feature_group_count": a.FeatureGroupCount = ReadInteger(key); break;
                case "batch_group_count": a.BatchGroupCount = ReadInteger(key); break;
                case "offset_dims": Gather(a).OffsetDims = ReadIntegerList(key); break;
                case "collapsed_slice_dims": Gather(a).CollapsedSliceDims = ReadIntegerList(key); break;
                case "start_index_map": Gather(a).StartIndexMap = ReadIntegerList(key); break;
                case "operand_batching_dims": Gather(a).OperandBatchingDims = ReadIntegerList(key); break;
                case "start_indices_batching_dims": Gather(a).StartIndicesBatchingDims = ReadIntegerList(key); break;
                case "slice_sizes": a.GatherSliceSizes = ReadIntegerList(key); break;
                case "update_window_dims": Scatter(a).UpdateWindowDims = ReadIntegerList(key); break;
                case "inserted_window_dims": Scatter(a).InsertedWindowDims = ReadIntegerList(key); break;
                case "scatter_dims_to_operand_dims": Scatter(a).ScatterDimsToOperandDims = ReadIntegerList(key); break;
                case "input_batching_dims": Scatter(a).InputBatchingDims = ReadIntegerList(key); break;
                case "scatter_indices_batching_dims": Scatter(a).ScatterIndicesBatchingDims = ReadIntegerList(key); break;
                case "index_vector_dim":
                    if (opcode == "scatter") Scatter(a).IndexVectorDim = ReadInteger(key);
                    else Gather(a).IndexVectorDim = ReadInteger(key);
                    break;
                case "indices_are_sorted": a.IndicesAreSorted = ReadBool(key); break;
                case "unique_indices": a.UniqueIndices = ReadBool(key); break;
                case "is_stable": a.IsStable = ReadBool(key); break;
                case "kind":
                {
                    int at = pos;
                    a.FusionKind = ReadWord("a fusion kind (kLoop, kInput, kOutput, kCustom)");
                    if (Array.IndexOf(HloAttributes.FusionKinds, a.FusionKind) < 0)
                        throw Error($"unknown fusion kind '{a.FusionKind}': expected one of {string.Join(", ", HloAttributes.FusionKinds)}", at);
                    break;
                }
                case "algorithm": a.RngAlgorithm = ReadWord("an rng algorithm"); break;
                case "custom_call_target": a.CustomCallTarget = ReadString(); break;
                case "dynamic_slice_sizes": a.DynamicSliceSizes = ReadIntegerList(key); break;
                case "channel_id": a.ChannelId = ReadInteger(key); break;
                case "replica_groups": a.ReplicaGroups = ReadReplicaGroups(); break;
                case "use_global_device_ids": a.UseGlobalDeviceIds = ReadBool(key); break;
                case "parameter_replication": a.ParameterReplication = ReadWordList(key).Select((w, i) => w switch
                {
                    "true" => true,
                    "false" => false,
                    _ => throw Error($"parameter_replication entry {i} is '{Shorten(w)}': each must be true or false", pos),
                }).ToArray(); break;
                default: SkipValue(); break;
            }
        }

        static GatherDimensionNumbers Gather(HloAttributes a) => a.Gather ??= new GatherDimensionNumbers();

        static ScatterDimensionNumbers Scatter(HloAttributes a) => a.Scatter ??= new ScatterDimensionNumbers();

        static DotDimensionNumbers WithDot(DotDimensionNumbers? d, long[]? lhsContracting = null, long[]? rhsContracting = null,
            long[]? lhsBatch = null, long[]? rhsBatch = null) =>
            new DotDimensionNumbers(
                lhsContracting ?? d?.LhsContracting ?? new long[0],
                rhsContracting ?? d?.RhsContracting ?? new long[0],
                lhsBatch ?? d?.LhsBatch,
                rhsBatch ?? d?.RhsBatch);

        /// <summary>{{0,1},{2,3}}, {} (all replicas), or XLA's iota form [2,2]&lt;=[4] / [2,2]&lt;=[2,2]T(1,0).</summary>
        long[][] ReadReplicaGroups()
        {
            SkipTrivia();
            int at = pos;
            if (Peek == '[')
            {
                var shape = ReadBracketList("the [groups,size] of iota replica groups", '[', ']');
                if (shape.Length != 2) throw Error($"iota replica groups need [groups,size], found {shape.Length} numbers", at);
                Expect("<=", "in iota replica groups [groups,size]<=[dims]");
                var dims = ReadBracketList("the reshape dims of iota replica groups", '[', ']');
                long[]? perm = null;
                if (TryConsume("T")) perm = ReadBracketList("the transpose of iota replica groups", '(', ')');
                try
                {
                    return IotaReplicaGroups.Expand(shape[0], shape[1], dims, perm);
                }
                catch (ArgumentException e)
                {
                    throw Error(e.Message, at);
                }
            }
            Expect("{", "to open replica_groups={{...},...}");
            var groups = new List<long[]>();
            if (TryConsume("}")) return groups.ToArray();
            do groups.Add(ReadIntegerList("a replica group"));
            while (TryConsume(","));
            Expect("}", "to close replica_groups");
            return groups.ToArray();
        }

        long[] ReadBracketList(string what, char open, char close)
        {
            Expect(open.ToString(), $"to open {what}");
            var r = new List<long>();
            if (TryConsume(close.ToString())) return r.ToArray();
            do r.Add(ReadInteger(what));
            while (TryConsume(","));
            Expect(close.ToString(), $"to close {what}");
            return r.ToArray();
        }

        /// <summary>{[0:2], [1:B], [0:8:2]}</summary>
        SliceDimension[] ReadSlice()
        {
            Expect("{", "to open slice={[start:limit], ...}");
            var r = new List<SliceDimension>();
            if (TryConsume("}")) return r.ToArray();
            do
            {
                Expect("[", "to open a slice range [start:limit]");
                var startDim = ReadSliceBound(":");
                Expect(":", "between the start and limit of a slice range");
                var limit = ReadSliceBound(":]");
                long stride = 1;
                if (TryConsume(":")) stride = ReadInteger("a slice stride");
                Expect("]", "to close a slice range");
                r.Add(new SliceDimension(startDim, limit, stride));
            }
            while (TryConsume(","));
            Expect("}", "to close slice={...}");
            return r.ToArray();
        }

        Dim ReadSliceBound(string stops)
        {
            SkipTrivia();
            int start = pos;
            while (pos < s.Length && stops.IndexOf(s[pos]) < 0 && s[pos] != '\n') pos++;
            var text = s.Substring(start, pos - start).Trim();
            if (!Dim.TryParse(text, out var d)) throw Error($"expected a slice bound (a number or a symbolic size), found '{text}'", start);
            return d;
        }

        /// <summary>0_0x1_1_2: low_high[_interior] per dimension, joined by 'x'.</summary>
        PaddingDimension[] ReadPadding()
        {
            SkipTrivia();
            int at = pos;
            var text = ReadToken("a padding like 0_0x1_1");
            var r = new List<PaddingDimension>();
            foreach (var part in text.Split('x'))
            {
                var n = SplitIntegers(part, '_', at, "padding low_high[_interior]");
                if (n.Length != 2 && n.Length != 3) throw Error($"padding '{part}' must be low_high or low_high_interior", at);
                r.Add(new PaddingDimension(n[0], n[1], n.Length == 3 ? n[2] : 0));
            }
            return r.ToArray();
        }

        long[] SplitIntegers(string text, char separator, int at, string what)
        {
            var parts = text.Split(separator);
            var r = new long[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!long.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out r[i]))
                    throw Error($"expected {what}, found '{text}'", at);
            }
            return r;
        }

        /// <summary>{size=3x3 stride=2x2 pad=1_1x1_1 lhs_dilate=1x1 rhs_dilate=1x1 rhs_reversal=0x0}</summary>
        WindowDimension[] ReadWindow()
        {
            Expect("{", "to open window={size=...}");
            var fields = new Dictionary<string, KeyValuePair<string, int>>(StringComparer.Ordinal);
            while (!TryConsume("}"))
            {
                if (AtEnd) throw Error("window is not closed with '}'");
                SkipTrivia();
                int keyAt = pos;
                var key = ReadWord("a window field (size, stride, pad, lhs_dilate, rhs_dilate, rhs_reversal)");
                Expect("=", $"after the window field '{key}'");
                SkipTrivia();
                int at = pos;
                var value = ReadToken($"the window {key}");
                if (fields.ContainsKey(key)) throw Error($"window field '{key}' appears twice", keyAt);
                fields[key] = new KeyValuePair<string, int>(value, at);
            }
            if (fields.Count == 0) return new WindowDimension[0];
            if (!fields.TryGetValue("size", out var size)) throw Error("a window needs size=...");
            int rank = size.Key.Split('x').Length;
            long[] Field(string key, long fallback)
            {
                if (!fields.TryGetValue(key, out var f)) return Enumerable.Repeat(fallback, rank).ToArray();
                var v = SplitIntegers(f.Key, 'x', f.Value, $"window {key} values joined by 'x'");
                if (v.Length != rank) throw Error($"window {key} has {v.Length} values for {rank} dimensions", f.Value);
                return v;
            }
            foreach (var key in fields.Keys)
            {
                if (key != "size" && key != "stride" && key != "pad" && key != "lhs_dilate" && key != "rhs_dilate" && key != "rhs_reversal")
                    throw Error($"unknown window field '{key}'", fields[key].Value);
            }
            var sizes = Field("size", 0);
            var strides = Field("stride", 1);
            var lhsDilate = Field("lhs_dilate", 1);
            var rhsDilate = Field("rhs_dilate", 1);
            var reversal = Field("rhs_reversal", 0);
            var pads = new long[rank, 2];
            if (fields.TryGetValue("pad", out var pad))
            {
                var groups = pad.Key.Split('x');
                if (groups.Length != rank) throw Error($"window pad has {groups.Length} values for {rank} dimensions", pad.Value);
                for (int i = 0; i < rank; i++)
                {
                    var lh = SplitIntegers(groups[i], '_', pad.Value, "window padding low_high");
                    if (lh.Length != 2) throw Error($"window padding '{groups[i]}' must be low_high", pad.Value);
                    pads[i, 0] = lh[0];
                    pads[i, 1] = lh[1];
                }
            }
            var r = new WindowDimension[rank];
            for (int i = 0; i < rank; i++)
                r[i] = new WindowDimension(sizes[i], strides[i], pads[i, 0], pads[i, 1], rhsDilate[i], lhsDilate[i], reversal[i] != 0);
            return r;
        }

        /// <summary>dim_labels=b01f_01io->b01f: input, kernel and output dimension roles.</summary>
        ConvolutionDimensionNumbers ReadDimLabels()
        {
            SkipTrivia();
            int at = pos;
            var text = ReadToken("dim_labels like b01f_01io->b01f");
            int arrow = text.IndexOf("->", StringComparison.Ordinal);
            int underscore = text.IndexOf('_');
            if (arrow < 0 || underscore < 0 || underscore > arrow)
                throw Error($"dim_labels '{text}' must look like b01f_01io->b01f", at);
            var input = text.Substring(0, underscore);
            var kernel = text.Substring(underscore + 1, arrow - underscore - 1);
            var output = text.Substring(arrow + 2);
            var cd = new ConvolutionDimensionNumbers();
            long[] Labels(string labels, char a, char b, out long posA, out long posB)
            {
                posA = labels.IndexOf(a);
                posB = labels.IndexOf(b);
                int spatial = labels.Length - 2;
                var sp = Enumerable.Repeat(-1L, Math.Max(spatial, 0)).ToArray();
                for (int i = 0; i < labels.Length; i++)
                {
                    char c = labels[i];
                    if (c == a || c == b) continue;
                    int d = c - '0';
                    if (d < 0 || d >= sp.Length || sp[d] >= 0) throw Error($"dim_labels '{text}': '{labels}' needs {a}, {b} and the digits 0..{spatial - 1} once each", at);
                    sp[d] = i;
                }
                if (posA < 0 || posB < 0 || labels.LastIndexOf(a) != posA || labels.LastIndexOf(b) != posB)
                    throw Error($"dim_labels '{text}': '{labels}' needs {a}, {b} and the digits 0..{spatial - 1} once each", at);
                return sp;
            }
            cd.InputSpatialDimensions = Labels(input, 'b', 'f', out var ib, out var iff);
            cd.InputBatchDimension = ib;
            cd.InputFeatureDimension = iff;
            cd.KernelSpatialDimensions = Labels(kernel, 'i', 'o', out var ki, out var ko);
            cd.KernelInputFeatureDimension = ki;
            cd.KernelOutputFeatureDimension = ko;
            cd.OutputSpatialDimensions = Labels(output, 'b', 'f', out var ob, out var of);
            cd.OutputBatchDimension = ob;
            cd.OutputFeatureDimension = of;
            if (cd.InputSpatialDimensions.Length != cd.KernelSpatialDimensions.Length || cd.InputSpatialDimensions.Length != cd.OutputSpatialDimensions.Length)
                throw Error($"dim_labels '{text}': input, kernel and output must have the same number of spatial dimensions", at);
            return cd;
        }
    }
}
