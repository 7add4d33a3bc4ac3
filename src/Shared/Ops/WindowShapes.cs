using System.Collections.Generic;
using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// XLA's window arithmetic (ShapeInference::InferWindowOutputShape, window_util::StridedBound), shared by
    /// convolution, reduce-window and select-and-scatter: the base is dilated and padded, the window dilated, and
    /// the result counts the strided window positions that fit.
    /// </summary>
    internal static class WindowShapes
    {
        /// <summary>True when the window leaves a dimension as it is (size 1, stride 1, no padding or dilation).</summary>
        public static bool IsIdentity(WindowDimension w) =>
            w.Size == 1 && w.Stride == 1 && w.PaddingLow == 0 && w.PaddingHigh == 0 && w.BaseDilation == 1 && w.WindowDilation == 1;

        /// <summary>Checks the window's own fields, naming the first bad one.</summary>
        public static void Validate(ShapeQuery q, IReadOnlyList<WindowDimension> window)
        {
            for (int i = 0; i < window.Count; i++)
            {
                var w = window[i];
                if (w.Size <= 0) throw q.Error($"window dimension {i}: size {w.Size} must be positive");
                if (w.Stride <= 0) throw q.Error($"window dimension {i}: stride {w.Stride} must be positive");
                if (w.BaseDilation < 1) throw q.Error($"window dimension {i}: base (lhs) dilation {w.BaseDilation} must be at least 1");
                if (w.WindowDilation < 1) throw q.Error($"window dimension {i}: window (rhs) dilation {w.WindowDilation} must be at least 1");
            }
        }

        /// <summary>The number of window positions along a base dimension of size <paramref name="baseSize"/>.</summary>
        public static Dim OutputSize(ShapeQuery q, Dim baseSize, WindowDimension w, int dimension)
        {
            if (IsIdentity(w)) return baseSize;
            if (!baseSize.IsConstant)
                throw q.Error($"window dimension {dimension} changes the symbolic size {baseSize}; only a size-1, stride-1 window without padding or dilation may slide over a symbolic dimension");
            long size = baseSize.Value;
            long dilatedBase = size == 0 ? 0 : (size - 1) * w.BaseDilation + 1;
            long padded = dilatedBase + w.PaddingLow + w.PaddingHigh;
            long dilatedWindow = (w.Size - 1) * w.WindowDilation + 1;
            if (padded < 0) throw q.Error($"window dimension {dimension}: padding {w.PaddingLow}_{w.PaddingHigh} removes more than the {dilatedBase} elements there are");
            return dilatedWindow > padded ? 0 : (padded - dilatedWindow) / w.Stride + 1;
        }
    }
}
