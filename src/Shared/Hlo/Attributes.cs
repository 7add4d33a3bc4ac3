using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>
    /// The op-specific fields of an instruction, named and shaped after HloInstructionProto so the proto
    /// mapping is one field to one field. An op uses the subset its catalogue entry lists.
    /// </summary>
    public sealed class HloAttributes
    {
        /// <summary>parameter_number (parameter).</summary>
        public long ParameterNumber { get; set; }

        /// <summary>tuple_index (get-tuple-element).</summary>
        public long TupleIndex { get; set; }

        /// <summary>dimensions: broadcast mapping, transpose permutation, reduce/reverse axes, concatenate and iota dimension.</summary>
        public long[]? Dimensions { get; set; }

        /// <summary>slice_dimensions (slice).</summary>
        public SliceDimension[]? Slice { get; set; }

        /// <summary>dot_dimension_numbers (dot).</summary>
        public DotDimensionNumbers? Dot { get; set; }

        /// <summary>operand_precision of precision_config (dot, convolution), as XLA's enum names: default, high, highest.</summary>
        public string[]? OperandPrecision { get; set; }

        /// <summary>comparison_direction: EQ NE LT LE GT GE (compare).</summary>
        public string? ComparisonDirection { get; set; }

        /// <summary>comparison_type: FLOAT TOTALORDER SIGNED UNSIGNED, or null for the default of the element type.</summary>
        public string? ComparisonType { get; set; }

        /// <summary>literal (constant).</summary>
        public Literal? Literal { get; set; }

        /// <summary>padding_config (pad).</summary>
        public PaddingDimension[]? Padding { get; set; }

        /// <summary>window (reduce-window, select-and-scatter, convolution).</summary>
        public WindowDimension[]? Window { get; set; }

        /// <summary>convolution_dimension_numbers.</summary>
        public ConvolutionDimensionNumbers? Convolution { get; set; }

        public long FeatureGroupCount { get; set; } = 1;

        public long BatchGroupCount { get; set; } = 1;

        public GatherDimensionNumbers? Gather { get; set; }

        /// <summary>dynamic_slice_sizes (dynamic-slice): the size of the slice along each operand dimension.</summary>
        public long[]? DynamicSliceSizes { get; set; }

        public long[]? GatherSliceSizes { get; set; }

        public ScatterDimensionNumbers? Scatter { get; set; }

        public bool IndicesAreSorted { get; set; }

        public bool UniqueIndices { get; set; }

        /// <summary>is_stable (sort).</summary>
        public bool IsStable { get; set; }

        /// <summary>fusion_kind (fusion), as XLA spells it: kLoop, kInput, kOutput, kCustom.</summary>
        public string? FusionKind { get; set; }

        /// <summary>The fusion kinds XLA knows (HloInstruction::FusionKind); readers refuse any other, as XLA's do.</summary>
        public static readonly string[] FusionKinds = { "kLoop", "kInput", "kOutput", "kCustom" };

        /// <summary>rng_algorithm (rng-bit-generator): rng_default, rng_three_fry, rng_philox.</summary>
        public string? RngAlgorithm { get; set; }

        /// <summary>custom_call_target (custom-call).</summary>
        public string? CustomCallTarget { get; set; }

        /// <summary>replica_groups (all-reduce): the groups of replica ids that reduce together, each group in the
        /// order its reduction runs. Null or empty means one group of all replicas. The iota form XLA also writes
        /// (<c>[2,2]&lt;=[4]</c>, collective_device_list.iota_replica_group_list) is expanded when read.</summary>
        public long[][]? ReplicaGroups { get; set; }

        /// <summary>channel_id (collectives): 0 means none; XLA treats a non-positive id as absent.</summary>
        public long ChannelId { get; set; }

        /// <summary>use_global_device_ids (all-reduce): replica_groups hold flattened replica·partition ids; needs a channel_id.</summary>
        public bool UseGlobalDeviceIds { get; set; }

        public HloAttributes Clone()
        {
            var c = (HloAttributes)MemberwiseClone();
            c.Dimensions = (long[]?)Dimensions?.Clone();
            c.Slice = (SliceDimension[]?)Slice?.Clone();
            c.Padding = (PaddingDimension[]?)Padding?.Clone();
            c.Window = (WindowDimension[]?)Window?.Clone();
            c.GatherSliceSizes = (long[]?)GatherSliceSizes?.Clone();
            c.DynamicSliceSizes = (long[]?)DynamicSliceSizes?.Clone();
            c.OperandPrecision = (string[]?)OperandPrecision?.Clone();
            c.ReplicaGroups = ReplicaGroups?.Select(g => (long[])g.Clone()).ToArray();
            return c;
        }
    }

    /// <summary>Replica groups in XLA's iota form (IotaReplicaGroupList): the ids 0..n-1 reshaped to
    /// <c>reshapeDims</c>, transposed by <c>transposePerm</c>, read row-major into <c>groups</c> groups of
    /// <c>perGroup</c>. Text <c>[2,2]&lt;=[4]</c> is {{0,1},{2,3}}; <c>[2,2]&lt;=[2,2]T(1,0)</c> is {{0,2},{1,3}}.</summary>
    internal static class IotaReplicaGroups
    {
        /// <summary>Expands the iota form, or throws <see cref="System.ArgumentException"/> saying what does not fit.</summary>
        public static long[][] Expand(long groups, long perGroup, long[] reshapeDims, long[]? transposePerm)
        {
            const long Limit = 1 << 20;   // ids a module may list; more is a malformed (or hostile) module
            if (groups <= 0 || perGroup <= 0) throw new System.ArgumentException($"iota replica groups [{groups},{perGroup}] must have positive sizes");
            if (groups > Limit || perGroup > Limit || groups * perGroup > Limit)
                throw new System.ArgumentException($"iota replica groups [{groups},{perGroup}] name more than {Limit} replicas");
            long total = 1;
            foreach (var d in reshapeDims)
            {
                if (d <= 0 || d > Limit) throw new System.ArgumentException($"iota replica group dimension {d} must be from 1 to {Limit}");
                total *= d;
                if (total > Limit) throw new System.ArgumentException($"iota replica groups <=[{string.Join(",", reshapeDims)}] name more than {Limit} replicas");
            }
            if (reshapeDims.Length == 0) total = groups * perGroup;
            if (total != groups * perGroup)
                throw new System.ArgumentException($"iota replica groups [{groups},{perGroup}] hold {groups * perGroup} ids but <=[{string.Join(",", reshapeDims)}] makes {total}");
            var dims = reshapeDims.Length == 0 ? new[] { total } : reshapeDims;
            var perm = transposePerm == null || transposePerm.Length == 0 ? Enumerable.Range(0, dims.Length).Select(i => (long)i).ToArray() : transposePerm;
            if (perm.Length != dims.Length || perm.OrderBy(x => x).Where((x, i) => x != i).Any())
                throw new System.ArgumentException($"iota replica group transpose T({string.Join(",", perm)}) is not a permutation of {dims.Length} dimensions");
            // Row-major strides of the reshaped iota; walking the transposed array row-major reads ids in group order.
            var strides = new long[dims.Length];
            long st = 1;
            for (int i = dims.Length - 1; i >= 0; i--)
            {
                strides[i] = st;
                st *= dims[i];
            }
            var tdims = perm.Select(p => dims[p]).ToArray();
            var index = new long[dims.Length];
            var ids = new long[total];
            for (long k = 0; k < total; k++)
            {
                long id = 0;
                for (int i = 0; i < tdims.Length; i++) id += index[i] * strides[perm[i]];
                ids[k] = id;
                for (int i = tdims.Length - 1; i >= 0; i--)
                {
                    if (++index[i] < tdims[i]) break;
                    index[i] = 0;
                }
            }
            var r = new long[groups][];
            for (long g = 0; g < groups; g++) r[g] = ids.Skip((int)(g * perGroup)).Take((int)perGroup).ToArray();
            return r;
        }
    }

    /// <summary>One dimension of a slice: [Start:Limit:Stride]. Start and Limit may be symbolic (slicing a [B,…] array whole along B).</summary>
    public sealed record SliceDimension(Dim Start, Dim Limit, long Stride);

    public sealed record PaddingDimension(long Low, long High, long Interior);

    public sealed record WindowDimension(
        long Size, long Stride = 1, long PaddingLow = 0, long PaddingHigh = 0,
        long WindowDilation = 1, long BaseDilation = 1, bool WindowReversal = false);

    public sealed class DotDimensionNumbers
    {
        public DotDimensionNumbers(long[] lhsContracting, long[] rhsContracting, long[]? lhsBatch = null, long[]? rhsBatch = null)
        {
            LhsContracting = lhsContracting;
            RhsContracting = rhsContracting;
            LhsBatch = lhsBatch ?? new long[0];
            RhsBatch = rhsBatch ?? new long[0];
        }

        public long[] LhsContracting { get; }

        public long[] RhsContracting { get; }

        public long[] LhsBatch { get; }

        public long[] RhsBatch { get; }
    }

    public sealed class ConvolutionDimensionNumbers
    {
        public long InputBatchDimension { get; set; }

        public long InputFeatureDimension { get; set; }

        public long[] InputSpatialDimensions { get; set; } = new long[0];

        public long KernelInputFeatureDimension { get; set; }

        public long KernelOutputFeatureDimension { get; set; }

        public long[] KernelSpatialDimensions { get; set; } = new long[0];

        public long OutputBatchDimension { get; set; }

        public long OutputFeatureDimension { get; set; }

        public long[] OutputSpatialDimensions { get; set; } = new long[0];
    }

    public sealed class GatherDimensionNumbers
    {
        public long[] OffsetDims { get; set; } = new long[0];

        public long[] CollapsedSliceDims { get; set; } = new long[0];

        public long[] StartIndexMap { get; set; } = new long[0];

        public long IndexVectorDim { get; set; }

        public long[] OperandBatchingDims { get; set; } = new long[0];

        public long[] StartIndicesBatchingDims { get; set; } = new long[0];
    }

    public sealed class ScatterDimensionNumbers
    {
        public long[] UpdateWindowDims { get; set; } = new long[0];

        public long[] InsertedWindowDims { get; set; } = new long[0];

        public long[] ScatterDimsToOperandDims { get; set; } = new long[0];

        public long IndexVectorDim { get; set; }

        public long[] InputBatchingDims { get; set; } = new long[0];

        public long[] ScatterIndicesBatchingDims { get; set; } = new long[0];
    }

    /// <summary>OpMetadata: where an instruction came from. source_file/source_line point at the user's C#.</summary>
    public sealed record OpMetadata(string? OpType = null, string? OpName = null, string? SourceFile = null, int SourceLine = 0)
    {
        public bool IsEmpty => OpType == null && OpName == null && SourceFile == null && SourceLine == 0;
    }

    /// <summary>One entry of input_output_alias: output tuple index ← parameter (donation).</summary>
    public sealed record InputOutputAlias(long[] OutputIndex, long ParameterNumber, long[] ParameterIndex, bool MustAlias = false);

    /// <summary>The op-specific fields of an instruction that the text printer and parser know, in XLA's print order.</summary>
    internal static class AttributeKeys
    {
        public static readonly IReadOnlyList<string> All = new[]
        {
            "dimensions", "iota_dimension", "slice", "padding", "index", "direction", "type",
            "lhs_batch_dims", "lhs_contracting_dims", "rhs_batch_dims", "rhs_contracting_dims",
            "window", "dim_labels", "feature_group_count", "batch_group_count", "operand_precision",
            "offset_dims", "collapsed_slice_dims", "start_index_map", "operand_batching_dims",
            "start_indices_batching_dims", "index_vector_dim", "slice_sizes", "indices_are_sorted",
            "update_window_dims", "inserted_window_dims", "scatter_dims_to_operand_dims",
            "input_batching_dims", "scatter_indices_batching_dims", "unique_indices", "is_stable",
            "kind", "algorithm", "custom_call_target", "dynamic_slice_sizes",
            "channel_id", "replica_groups", "use_global_device_ids",
        };
    }
}
