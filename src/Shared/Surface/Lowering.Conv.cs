using System;
using System.Globalization;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    // 2-D convolution and pooling in TensorFlow's layouts: NHWC activations, HWIO kernels.
    internal static partial class Lowering
    {
        /// <summary>The padding and output size of one spatial dimension (TensorFlow's rules: SAME gives ⌈n / stride⌉ outputs
        /// and puts the odd padding element after; VALID pads nothing).</summary>
        public static (long Low, long High, long Output) WindowPadding(long n, long window, long stride, long dilation, Padding padding)
        {
            long effective = (window - 1) * dilation + 1;
            if (padding == Padding.Valid) return (0, 0, n < effective ? 0 : (n - effective) / stride + 1);
            long output = (n + stride - 1) / stride;
            long total = Math.Max((output - 1) * stride + effective - n, 0);
            return (total / 2, total - total / 2, output);
        }

        /// <summary>
        /// 2-D convolution (cross-correlation, as every framework computes it) of NHWC input x [N,H,W,C] with an HWIO kernel
        /// [KH,KW,C/groups,O]: TensorFlow's tf.nn.conv2d layouts. Result [N,H',W',O]. groups &gt; 1 splits the channels
        /// into groups convolved separately (groups = C with O = C·m is a depthwise convolution).
        /// </summary>
        public static HloInstruction Conv2D(HloBuilder b, HloInstruction x, HloInstruction kernel, int stride, Padding padding, int dilation, int groups)
        {
            const string what = "Conv2D";
            var xs = x.Shape;
            var ks = kernel.Shape;
            if (xs.Rank != 4) throw new ShapeException($"{what}: the input must be NHWC [batch, height, width, channels], got {xs}");
            if (ks.Rank != 4) throw new ShapeException($"{what}: the kernel must be HWIO [height, width, input channels, output channels], got {ks}");
            if (xs.ElementType != ks.ElementType)
                throw new ShapeException($"{what}: input {xs} and kernel {ks} have different element types", isElementTypeError: true);
            if (stride < 1) throw new ShapeException($"{what}: stride {stride} must be at least 1");
            if (dilation < 1) throw new ShapeException($"{what}: dilation {dilation} must be at least 1");
            if (groups < 1) throw new ShapeException($"{what}: groups {groups} must be at least 1");
            for (int i = 0; i < 4; i++)
            {
                if (!ks.Dims[i].IsConstant) throw new ShapeException($"{what}: the kernel {ks} must have constant dimensions");
            }
            long kh = ks.Dims[0].Value, kw = ks.Dims[1].Value, kin = ks.Dims[2].Value, kout = ks.Dims[3].Value;
            var c = xs.Dims[3];
            if (groups == 1)
            {
                if (c != kin) throw new ShapeException($"{what}: input {xs} has {Channels(c)} but the kernel {ks} expects {kin} (HWIO)");
            }
            else
            {
                if (!c.IsConstant || c.Value % groups != 0)
                    throw new ShapeException($"{what}: groups={groups} must divide the {Channels(c)} of the input {xs}");
                if (c.Value / groups != kin)
                    throw new ShapeException($"{what}: with groups={groups} each group of input {xs} has {Channels(c.Value / groups)} but the kernel {ks} expects {kin} (HWIO: dim 2 is the channels of one group)");
                if (kout % groups != 0)
                    throw new ShapeException($"{what}: groups={groups} must divide the {kout} output channels of the kernel {ks}");
            }
            var window = new WindowDimension[2];
            for (int i = 0; i < 2; i++)
            {
                long k = i == 0 ? kh : kw;
                var n = xs.Dims[1 + i];
                if (!n.IsConstant)
                {
                    if (k == 1 && stride == 1) { window[i] = new WindowDimension(1); continue; }
                    throw new ShapeException($"{what}: the input {xs} needs a constant {(i == 0 ? "height" : "width")} for a {kh}×{kw} kernel with stride {stride}");
                }
                var (low, high, output) = WindowPadding(n.Value, k, stride, dilation, padding);
                if (output < 1) throw new ShapeException($"{what}: the {kh}×{kw} kernel{Dilated(dilation)} does not fit the {xs.Dims[1]}×{xs.Dims[2]} input {xs} with Padding.Valid");
                window[i] = new WindowDimension(k, stride, low, high, dilation);
            }
            var numbers = new ConvolutionDimensionNumbers
            {
                InputBatchDimension = 0,
                InputFeatureDimension = 3,
                InputSpatialDimensions = new long[] { 1, 2 },
                KernelInputFeatureDimension = 2,
                KernelOutputFeatureDimension = 3,
                KernelSpatialDimensions = new long[] { 0, 1 },
                OutputBatchDimension = 0,
                OutputFeatureDimension = 3,
                OutputSpatialDimensions = new long[] { 1, 2 },
            };
            return b.AddInstruction("convolution", new[] { x, kernel }, new HloAttributes { Window = window, Convolution = numbers, FeatureGroupCount = groups });
        }

        static string Channels(Dim d) => d.IsConstant && d.Value == 1 ? "1 channel" : $"{d} channels";

        static string Dilated(int dilation) => dilation == 1 ? "" : " (dilation " + dilation.ToString(CultureInfo.InvariantCulture) + ")";

        /// <summary>The window of a 2-D pool over NHWC input: identity over batch and channels.</summary>
        static WindowDimension[] PoolWindow(string what, Shape xs, int window, int stride, Padding padding, out long[][] valid)
        {
            if (xs.Rank != 4) throw new ShapeException($"{what}: the input must be NHWC [batch, height, width, channels], got {xs}");
            if (window < 1) throw new ShapeException($"{what}: window {window} must be at least 1");
            if (stride < 1) throw new ShapeException($"{what}: stride {stride} must be at least 1");
            var result = new WindowDimension[4];
            result[0] = new WindowDimension(1);
            result[3] = new WindowDimension(1);
            valid = new long[2][];
            for (int i = 0; i < 2; i++)
            {
                var n = xs.Dims[1 + i];
                if (!n.IsConstant)
                    throw new ShapeException($"{what}: the input {xs} needs a constant {(i == 0 ? "height" : "width")} to pool over it");
                var (low, high, output) = WindowPadding(n.Value, window, stride, 1, padding);
                if (output < 1) throw new ShapeException($"{what}: the {window}×{window} window does not fit the {xs.Dims[1]}×{xs.Dims[2]} input {xs} with Padding.Valid");
                result[1 + i] = new WindowDimension(window, stride, low, high);
                // how many real (unpadded) elements each output position's window covers
                valid[i] = new long[output];
                for (long o = 0; o < output; o++)
                {
                    long first = o * stride - low;
                    valid[i][o] = Math.Min(first + window, n.Value) - Math.Max(first, 0);
                }
            }
            return result;
        }

        /// <summary>Max over window×window patches of NHWC input (stride defaults to the window, as in Keras). With SAME
        /// padding, padded positions never win (they hold −∞).</summary>
        public static HloInstruction MaxPool2D(HloBuilder b, HloInstruction x, int window, int? stride, Padding padding)
        {
            var w = PoolWindow("MaxPool2D", x.Shape, window, stride ?? window, padding, out _);
            var t = x.Shape.ElementType;
            return b.AddInstruction("reduce-window", new[] { x, b.Constant(t, HloBuilder.Lowest(t)) }, new HloAttributes { Window = w },
                called: new[] { b.ScalarComputation("maximum", t) });
        }

        /// <summary>Mean over window×window patches of NHWC input. With SAME padding each output divides by the number of
        /// real elements its window covers, not the window size (TensorFlow's avg_pool; PyTorch's count_include_pad=False).</summary>
        public static HloInstruction AvgPool2D(HloBuilder b, HloInstruction x, int window, int? stride, Padding padding)
        {
            RequireFloat("AvgPool2D", x);
            var w = PoolWindow("AvgPool2D", x.Shape, window, stride ?? window, padding, out var valid);
            var t = x.Shape.ElementType;
            var sum = b.AddInstruction("reduce-window", new[] { x, b.Constant(t, 0) }, new HloAttributes { Window = w },
                called: new[] { b.ScalarComputation("add", t) });
            var dims = sum.Shape.Dims.ToArray();
            if (valid[0].All(v => v == window) && valid[1].All(v => v == window))
                return b.Divide(sum, b.BroadcastScalar(b.Constant(t, (double)window * window), dims));
            var counts = new double[valid[0].Length * valid[1].Length];
            for (int i = 0; i < valid[0].Length; i++)
            for (int j = 0; j < valid[1].Length; j++)
                counts[i * valid[1].Length + j] = valid[0][i] * valid[1][j];
            var table = b.Constant(Literal.FromDoubles(Shape.Array(t, new Dim[] { valid[0].Length, valid[1].Length }), counts));
            return b.Divide(sum, b.Broadcast(table, dims, new long[] { 1, 2 }));
        }

        /// <summary>The mean over height and width of NHWC input: [N,H,W,C] → [N,C].</summary>
        public static HloInstruction GlobalAvgPool2D(HloBuilder b, HloInstruction x)
        {
            if (x.Shape.Rank != 4) throw new ShapeException($"GlobalAvgPool2D: the input must be NHWC [batch, height, width, channels], got {x.Shape}");
            RequireFloat("GlobalAvgPool2D", x);
            return Mean(b, x, new[] { 1, 2 });
        }
    }
}
