using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// convolution(lhs, rhs), window={…}, dim_labels=…: XLA's ConvGeneralDilated (ShapeInference::InferConvolveShape).
    /// The dimension numbers say which lhs/rhs/output dims are batch, feature and spatial; the window (one entry
    /// per spatial dim) must match the kernel's spatial sizes. Output: batch = lhs batch / batch_group_count,
    /// feature = kernel output features, spatial = the window positions over the lhs spatial dims.
    /// lhs features = kernel input features × feature_group_count.
    /// </summary>
    internal sealed class ConvolutionOp : OpDef
    {
        public ConvolutionOp() : base("convolution", OpCategory.Structural, 2, 2,
            "window", "dim_labels", "feature_group_count", "batch_group_count", "operand_precision") { }

        protected override Shape Infer(ShapeQuery q)
        {
            q.RequireArray(0);
            q.RequireArray(1);
            var lhs = q.Operand(0);
            var rhs = q.Operand(1);
            var dn = q.Attributes.Convolution ?? throw q.Error("missing convolution dimension numbers (dim_labels=…)");
            var window = q.Attributes.Window ?? new WindowDimension[0];
            long fgc = q.Attributes.FeatureGroupCount;
            long bgc = q.Attributes.BatchGroupCount;
            if (fgc < 1) throw q.Error($"feature_group_count {fgc} must be at least 1");
            if (bgc < 1) throw q.Error($"batch_group_count {bgc} must be at least 1");
            if (fgc > 1 && bgc > 1) throw q.Error($"feature_group_count ({fgc}) and batch_group_count ({bgc}) cannot both be above 1");

            int spatial = dn.InputSpatialDimensions.Length;
            if (dn.KernelSpatialDimensions.Length != spatial || dn.OutputSpatialDimensions.Length != spatial)
                throw q.Error($"input, kernel and output have {spatial}, {dn.KernelSpatialDimensions.Length} and {dn.OutputSpatialDimensions.Length} spatial dimensions; they must agree");
            if (window.Length != spatial) throw q.Error($"the window has {window.Length} dimensions for {spatial} spatial dimensions");
            if (lhs.Rank != spatial + 2) throw q.Error($"lhs {lhs} must have rank {spatial + 2} (batch, feature and {spatial} spatial dimensions)");
            if (rhs.Rank != spatial + 2) throw q.Error($"rhs {rhs} must have rank {spatial + 2} (input feature, output feature and {spatial} spatial dimensions)");
            CheckPermutation(q, "input", new[] { dn.InputBatchDimension, dn.InputFeatureDimension }.Concat(dn.InputSpatialDimensions).ToList(), lhs.Rank);
            CheckPermutation(q, "kernel", new[] { dn.KernelInputFeatureDimension, dn.KernelOutputFeatureDimension }.Concat(dn.KernelSpatialDimensions).ToList(), rhs.Rank);
            CheckPermutation(q, "output", new[] { dn.OutputBatchDimension, dn.OutputFeatureDimension }.Concat(dn.OutputSpatialDimensions).ToList(), lhs.Rank);
            WindowShapes.Validate(q, window);

            var type = lhs.ElementType;
            if (q.Declared != null) type = q.Declared.ElementType;   // a preferred result type, as XLA allows (s8 x s8 -> s32)
            else if (lhs.ElementType != rhs.ElementType) throw q.Error($"element types differ: {lhs} and {rhs} (convert one operand first)");

            var batch = lhs.Dims[(int)dn.InputBatchDimension];
            var inFeatures = lhs.Dims[(int)dn.InputFeatureDimension];
            var kernelIn = rhs.Dims[(int)dn.KernelInputFeatureDimension];
            var kernelOut = rhs.Dims[(int)dn.KernelOutputFeatureDimension];
            if (inFeatures != kernelIn * fgc)
                throw q.Error($"lhs has {inFeatures} input features but the kernel has {kernelIn} × feature_group_count {fgc}");
            if (!Dim.TryDivide(kernelOut, fgc, out _))
                throw q.Error($"kernel output features {kernelOut} are not divisible by feature_group_count {fgc}");
            if (!Dim.TryDivide(kernelOut, bgc, out _))
                throw q.Error($"kernel output features {kernelOut} are not divisible by batch_group_count {bgc}");
            if (!Dim.TryDivide(batch, bgc, out var outBatch))
                throw q.Error($"lhs batch {batch} is not divisible by batch_group_count {bgc}");

            var outDims = new Dim[lhs.Rank];
            outDims[dn.OutputBatchDimension] = outBatch;
            outDims[dn.OutputFeatureDimension] = kernelOut;
            for (int i = 0; i < spatial; i++)
            {
                var k = rhs.Dims[(int)dn.KernelSpatialDimensions[i]];
                if (k != window[i].Size)
                    throw q.Error($"window dimension {i} has size {window[i].Size} but kernel spatial dimension {dn.KernelSpatialDimensions[i]} of {rhs} is {k}");
                outDims[dn.OutputSpatialDimensions[i]] = WindowShapes.OutputSize(q, lhs.Dims[(int)dn.InputSpatialDimensions[i]], window[i], i);
            }
            return Shape.Array(type, outDims);
        }

        static void CheckPermutation(ShapeQuery q, string what, IReadOnlyList<long> dims, int rank)
        {
            var seen = new HashSet<long>();
            foreach (var d in dims)
            {
                if (d < 0 || d >= rank) throw q.Error($"{what} dimension number {d} is out of range for rank {rank}");
                if (!seen.Add(d)) throw q.Error($"{what} dimension number {d} is used twice (dimension numbers {{{string.Join(",", dims)}}})");
            }
        }
    }
}
