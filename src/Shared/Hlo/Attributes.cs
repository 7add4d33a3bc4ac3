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

        /// <summary>feature_group_count (convolution): the number of groups the input features are split into (grouped and
        /// depthwise convolution). 1, the default, is an ordinary convolution.</summary>
        public long FeatureGroupCount { get; set; } = 1;

        /// <summary>batch_group_count (convolution): the number of groups the batch is split into, as XLA writes the filter
        /// gradient of a grouped convolution. 1, the default, means no batch grouping.</summary>
        public long BatchGroupCount { get; set; } = 1;

        /// <summary>gather_dimension_numbers (gather).</summary>
        public GatherDimensionNumbers? Gather { get; set; }

        /// <summary>dynamic_slice_sizes (dynamic-slice): the size of the slice along each operand dimension.</summary>
        public long[]? DynamicSliceSizes { get; set; }

        /// <summary>slice_sizes (gather): the size of the slice gathered at each index, one entry per operand dimension.</summary>
        public long[]? GatherSliceSizes { get; set; }

        /// <summary>scatter_dimension_numbers (scatter).</summary>
        public ScatterDimensionNumbers? Scatter { get; set; }

        /// <summary>indices_are_sorted (gather, scatter): the caller promises the indices are sorted, which lets XLA pick a
        /// faster lowering; the result is unspecified if they are not.</summary>
        public bool IndicesAreSorted { get; set; }

        /// <summary>unique_indices (scatter): the caller promises no two indices update the same element, so the updates may
        /// run in parallel; the result is unspecified if they do.</summary>
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

        /// <summary>parameter_replication (parameter): per leaf buffer of the parameter's shape, whether every replica
        /// receives the same data there (the caller's promise, as in XLA, whose HloReplicationAnalysis starts from it).
        /// Null: no leaf is said to be replicated.</summary>
        public bool[]? ParameterReplication { get; set; }

        /// <summary>A copy that shares no arrays with this one: the array-valued fields (dimensions, slice, padding, window,
        /// slice sizes, precisions, replica groups) are copied; the literal and the dot, convolution, gather and scatter
        /// dimension numbers are shared, not copied.</summary>
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
            c.ParameterReplication = (bool[]?)ParameterReplication?.Clone();
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

    /// <summary>One dimension of a pad's padding_config: <c>Low</c>_<c>High</c>_<c>Interior</c> in HLO text.</summary>
    /// <param name="Low">Elements of padding before the first element; negative trims instead.</param>
    /// <param name="High">Elements of padding after the last element; negative trims instead.</param>
    /// <param name="Interior">Elements of padding between each pair of elements (0 or more).</param>
    public sealed record PaddingDimension(long Low, long High, long Interior);

    /// <summary>One dimension of a window (reduce-window, select-and-scatter, convolution), as XLA's WindowDimension: the
    /// window's size and stride over the input, the padding added to the input, and the dilations.</summary>
    /// <param name="Size">Elements the window covers along this dimension.</param>
    /// <param name="Stride">Elements the window moves between two outputs; 1 by default.</param>
    /// <param name="PaddingLow">Elements of padding added before the input; 0 by default.</param>
    /// <param name="PaddingHigh">Elements of padding added after the input; 0 by default.</param>
    /// <param name="WindowDilation">Dilation of the window (atrous convolution): 1, the default, is none.</param>
    /// <param name="BaseDilation">Dilation of the input (transposed convolution): 1, the default, is none.</param>
    /// <param name="WindowReversal">Whether the window is applied reversed (XLA's window_reversal); false by default.</param>
    public sealed record WindowDimension(
        long Size, long Stride = 1, long PaddingLow = 0, long PaddingHigh = 0,
        long WindowDilation = 1, long BaseDilation = 1, bool WindowReversal = false);

    /// <summary>dot_dimension_numbers of a dot: which dimensions of each operand are contracted (summed over) and which are
    /// batch dimensions. The result's dimensions are the batch dimensions, then the left operand's free dimensions, then
    /// the right operand's.</summary>
    public sealed class DotDimensionNumbers
    {
        /// <summary>Dimension numbers with the given contracting dimensions and, optionally, batch dimensions.</summary>
        /// <param name="lhsContracting">The left operand's contracting dimensions.</param>
        /// <param name="rhsContracting">The right operand's contracting dimensions, pairwise with <paramref name="lhsContracting"/>.</param>
        /// <param name="lhsBatch">The left operand's batch dimensions; null means none.</param>
        /// <param name="rhsBatch">The right operand's batch dimensions, pairwise with <paramref name="lhsBatch"/>; null means none.</param>
        public DotDimensionNumbers(long[] lhsContracting, long[] rhsContracting, long[]? lhsBatch = null, long[]? rhsBatch = null)
        {
            LhsContracting = lhsContracting;
            RhsContracting = rhsContracting;
            LhsBatch = lhsBatch ?? new long[0];
            RhsBatch = rhsBatch ?? new long[0];
        }

        /// <summary>lhs_contracting_dimensions: the left operand's dimensions that are summed over.</summary>
        public long[] LhsContracting { get; }

        /// <summary>rhs_contracting_dimensions: the right operand's dimensions that are summed over, pairwise with <see cref="LhsContracting"/>.</summary>
        public long[] RhsContracting { get; }

        /// <summary>lhs_batch_dimensions: the left operand's batch dimensions (empty when there are none).</summary>
        public long[] LhsBatch { get; }

        /// <summary>rhs_batch_dimensions: the right operand's batch dimensions, pairwise with <see cref="LhsBatch"/> (empty when there are none).</summary>
        public long[] RhsBatch { get; }
    }

    /// <summary>convolution_dimension_numbers: which dimension of the input, kernel and output holds the batch, the
    /// features and each spatial axis. XlaGen's own layers use NHWC inputs and outputs and HWIO kernels (dim_labels
    /// <c>b01f_01io->b01f</c>).</summary>
    public sealed class ConvolutionDimensionNumbers
    {
        /// <summary>The input's batch dimension (N).</summary>
        public long InputBatchDimension { get; set; }

        /// <summary>The input's feature (channel) dimension.</summary>
        public long InputFeatureDimension { get; set; }

        /// <summary>The input's spatial dimensions, in the order the window's dimensions refer to them.</summary>
        public long[] InputSpatialDimensions { get; set; } = new long[0];

        /// <summary>The kernel's input-feature dimension (I of HWIO).</summary>
        public long KernelInputFeatureDimension { get; set; }

        /// <summary>The kernel's output-feature dimension (O of HWIO).</summary>
        public long KernelOutputFeatureDimension { get; set; }

        /// <summary>The kernel's spatial dimensions, pairwise with <see cref="InputSpatialDimensions"/>.</summary>
        public long[] KernelSpatialDimensions { get; set; } = new long[0];

        /// <summary>The output's batch dimension.</summary>
        public long OutputBatchDimension { get; set; }

        /// <summary>The output's feature (channel) dimension.</summary>
        public long OutputFeatureDimension { get; set; }

        /// <summary>The output's spatial dimensions, pairwise with <see cref="InputSpatialDimensions"/>.</summary>
        public long[] OutputSpatialDimensions { get; set; } = new long[0];
    }

    /// <summary>gather_dimension_numbers, with XLA's meaning of each field (see XLA's operation semantics for gather).</summary>
    public sealed class GatherDimensionNumbers
    {
        /// <summary>offset_dims: the dimensions of the result that index into each gathered slice.</summary>
        public long[] OffsetDims { get; set; } = new long[0];

        /// <summary>collapsed_slice_dims: operand dimensions whose slice size is 1 and that the result drops.</summary>
        public long[] CollapsedSliceDims { get; set; } = new long[0];

        /// <summary>start_index_map: the operand dimension each component of an index vector gives the start of.</summary>
        public long[] StartIndexMap { get; set; } = new long[0];

        /// <summary>index_vector_dim: the dimension of the start indices that holds the index vectors; equal to their rank
        /// when every index is a scalar.</summary>
        public long IndexVectorDim { get; set; }

        /// <summary>operand_batching_dims: operand dimensions that are batch dimensions (gathered one-to-one with <see cref="StartIndicesBatchingDims"/>).</summary>
        public long[] OperandBatchingDims { get; set; } = new long[0];

        /// <summary>start_indices_batching_dims: the start indices' batch dimensions, pairwise with <see cref="OperandBatchingDims"/>.</summary>
        public long[] StartIndicesBatchingDims { get; set; } = new long[0];
    }

    /// <summary>scatter_dimension_numbers, with XLA's meaning of each field (see XLA's operation semantics for scatter).</summary>
    public sealed class ScatterDimensionNumbers
    {
        /// <summary>update_window_dims: the dimensions of the updates that index into each window written.</summary>
        public long[] UpdateWindowDims { get; set; } = new long[0];

        /// <summary>inserted_window_dims: operand dimensions of size-1 windows that the updates leave out.</summary>
        public long[] InsertedWindowDims { get; set; } = new long[0];

        /// <summary>scatter_dims_to_operand_dims: the operand dimension each component of an index vector gives the start of.</summary>
        public long[] ScatterDimsToOperandDims { get; set; } = new long[0];

        /// <summary>index_vector_dim: the dimension of the scatter indices that holds the index vectors; equal to their rank
        /// when every index is a scalar.</summary>
        public long IndexVectorDim { get; set; }

        /// <summary>input_batching_dims: operand dimensions that are batch dimensions (paired with <see cref="ScatterIndicesBatchingDims"/>).</summary>
        public long[] InputBatchingDims { get; set; } = new long[0];

        /// <summary>scatter_indices_batching_dims: the scatter indices' batch dimensions, pairwise with <see cref="InputBatchingDims"/>.</summary>
        public long[] ScatterIndicesBatchingDims { get; set; } = new long[0];
    }

    /// <summary>OpMetadata: where an instruction came from. source_file/source_line point at the user's C#.</summary>
    public sealed record OpMetadata(string? OpType = null, string? OpName = null, string? SourceFile = null, int SourceLine = 0)
    {
        /// <summary>Whether no field is set, so the instruction carries no metadata at all.</summary>
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
            "channel_id", "replica_groups", "use_global_device_ids", "parameter_replication",
        };
    }
}
