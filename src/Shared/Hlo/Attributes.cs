using System.Collections.Generic;

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
            return c;
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
    public static class AttributeKeys
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
        };
    }
}
