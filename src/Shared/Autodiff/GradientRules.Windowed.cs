using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Autodiff
{
    /// <summary>
    /// Rules for the windowed and indexed ops: convolution (JAX's _conv_general_dilated_transpose_lhs/rhs),
    /// reduce-window (add: pad + reduce-window of the cotangent; max/min: select-and-scatter), select-and-scatter
    /// (the cotangent gathered back at the selected positions), gather (scatter-add), scatter (add and replace
    /// combiners), dynamic-slice and dynamic-update-slice. Index operands are integers and get no cotangent.
    /// </summary>
    internal static partial class GradientRules
    {
        static partial void AddWindowedAndIndexed(Dictionary<string, GradientRule> rules)
        {
            rules["convolution"] = Convolution;
            rules["reduce-window"] = ReduceWindow;
            rules["select-and-scatter"] = SelectAndScatter;
            rules["gather"] = Gather;
            rules["scatter"] = Scatter;
            rules["dynamic-slice"] = (c, y, dy) =>
            {
                var starts = y.Operands.Skip(1).ToArray();
                var dx = c.B.AddInstruction("dynamic-update-slice", new[] { c.Zeros(y.Operand(0).Shape), dy }.Concat(starts).ToArray());
                return new HloInstruction?[] { dx };
            };
            rules["dynamic-update-slice"] = (c, y, dy) =>
            {
                var update = y.Operand(1);
                var starts = y.Operands.Skip(2).ToArray();
                var dOperand = c.B.AddInstruction("dynamic-update-slice", new[] { dy, c.Zeros(update.Shape) }.Concat(starts).ToArray());
                var sizes = update.Shape.Dims.Select(d => d.Value).ToArray();
                var dUpdate = c.B.AddInstruction("dynamic-slice", new[] { dy }.Concat(starts).ToArray(), new HloAttributes { DynamicSliceSizes = sizes });
                return new HloInstruction?[] { dOperand, dUpdate };
            };
        }

        // ---- convolution ----

        /// <summary>XLA's dilated size of <paramref name="n"/> elements with <paramref name="dilation"/> (0 stays 0).</summary>
        static long Dilate(long n, long dilation) => n == 0 ? 0 : 1 + dilation * (n - 1);

        /// <summary>JAX's (batch, feature, spatial…) view of each operand's dimension numbers; the kernel's is (out, in, spatial…).</summary>
        static long[] LhsSpec(ConvolutionDimensionNumbers d) => new[] { d.InputBatchDimension, d.InputFeatureDimension }.Concat(d.InputSpatialDimensions).ToArray();

        static long[] RhsSpec(ConvolutionDimensionNumbers d) => new[] { d.KernelOutputFeatureDimension, d.KernelInputFeatureDimension }.Concat(d.KernelSpatialDimensions).ToArray();

        static long[] OutSpec(ConvolutionDimensionNumbers d) => new[] { d.OutputBatchDimension, d.OutputFeatureDimension }.Concat(d.OutputSpatialDimensions).ToArray();

        /// <summary>Swaps the first two entries of a spec (JAX's _conv_spec_transpose).</summary>
        static long[] SwapSpec(long[] s) => new[] { s[1], s[0] }.Concat(s.Skip(2)).ToArray();

        static ConvolutionDimensionNumbers Numbers(long[] lhs, long[] rhs, long[] output) => new ConvolutionDimensionNumbers
        {
            InputBatchDimension = lhs[0],
            InputFeatureDimension = lhs[1],
            InputSpatialDimensions = lhs.Skip(2).ToArray(),
            KernelOutputFeatureDimension = rhs[0],
            KernelInputFeatureDimension = rhs[1],
            KernelSpatialDimensions = rhs.Skip(2).ToArray(),
            OutputBatchDimension = output[0],
            OutputFeatureDimension = output[1],
            OutputSpatialDimensions = output.Skip(2).ToArray(),
        };

        static long[] Sizes(HloInstruction x, IEnumerable<long> dims) => dims.Select(d => x.Shape.Dims[(int)d].Value).ToArray();

        static HloInstruction?[] Convolution(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var a = y.Attributes;
            var dn = a.Convolution!;
            var window = a.Window ?? new WindowDimension[0];
            var lhs = y.Operand(0);
            var rhs = y.Operand(1);
            if (!y.Shape.ElementType.IsFloatingPoint()) return new HloInstruction?[] { null, null };
            // a reversed window is the same convolution with the kernel reversed along those dims
            var reversed = Enumerable.Range(0, window.Length).Where(i => window[i].WindowReversal).Select(i => dn.KernelSpatialDimensions[i]).ToArray();
            var plain = window.Select(w => w with { WindowReversal = false }).ToArray();
            var kernel = reversed.Length == 0 ? rhs : c.B.AddInstruction("reverse", new[] { rhs }, new HloAttributes { Dimensions = reversed });
            var dl = lhs.Shape.ElementType.IsFloatingPoint() ? ConvTransposeLhs(c, dy, lhs, kernel, plain, dn, a.FeatureGroupCount, a.BatchGroupCount) : null;
            HloInstruction? dr = null;
            if (rhs.Shape.ElementType.IsFloatingPoint())
            {
                dr = ConvTransposeRhs(c, dy, lhs, rhs, plain, dn, a.FeatureGroupCount, a.BatchGroupCount);
                if (reversed.Length > 0) dr = c.B.AddInstruction("reverse", new[] { dr }, new HloAttributes { Dimensions = reversed });
            }
            return new[] { dl, dr };
        }

        static HloInstruction Conv(GradientContext c, HloInstruction lhs, HloInstruction rhs, WindowDimension[] window, ConvolutionDimensionNumbers dn,
            long featureGroups, long batchGroups) =>
            c.B.AddInstruction("convolution", new[] { lhs, rhs }, new HloAttributes
            {
                Window = window,
                Convolution = dn,
                FeatureGroupCount = featureGroups,
                BatchGroupCount = batchGroups,
            });

        /// <summary>The input's cotangent: the output cotangent convolved with the reversed kernel whose in/out feature
        /// roles are swapped; strides become lhs dilation and vice versa (JAX's _conv_general_dilated_transpose_lhs).</summary>
        static HloInstruction ConvTransposeLhs(GradientContext c, HloInstruction g, HloInstruction lhs, HloInstruction rhs, WindowDimension[] window,
            ConvolutionDimensionNumbers dn, long featureGroups, long batchGroups)
        {
            var lhsSpec = LhsSpec(dn);
            var rhsSpec = RhsSpec(dn);
            var outSpec = OutSpec(dn);
            var kernel = rhs;
            long groups = featureGroups;
            if (featureGroups > 1 || batchGroups > 1)
            {
                // move the group axis out of the kernel's output features into its input features
                long n = Math.Max(featureGroups, batchGroups);
                kernel = ReshapeAxisInto(c, rhsSpec[0], rhsSpec[1], ReshapeAxisOutOf(c, rhsSpec[0], n, kernel));
                groups = n;
            }
            var inSpatial = Sizes(lhs, dn.InputSpatialDimensions);
            var kSpatial = Sizes(kernel, dn.KernelSpatialDimensions);
            var outSpatial = Sizes(g, dn.OutputSpatialDimensions);
            var transposed = new WindowDimension[window.Length];
            for (int i = 0; i < window.Length; i++)
            {
                var w = window[i];
                long lhsDilated = Dilate(inSpatial[i], w.BaseDilation);
                long rhsDilated = Dilate(kSpatial[i], w.WindowDilation);
                long outDilated = Dilate(outSpatial[i], w.Stride);
                long before = rhsDilated - w.PaddingLow - 1;
                long after = lhsDilated + rhsDilated - 1 - outDilated - before;
                transposed[i] = new WindowDimension(kSpatial[i], w.BaseDilation, before, after, w.WindowDilation, w.Stride);
            }
            var reversedKernel = window.Length == 0 ? kernel
                : c.B.AddInstruction("reverse", new[] { kernel }, new HloAttributes { Dimensions = dn.KernelSpatialDimensions.ToArray() });
            var outNumbers = Numbers(outSpec, SwapSpec(rhsSpec), lhsSpec);
            var result = Conv(c, g, reversedKernel, transposed, outNumbers, groups, 1);
            if (batchGroups > 1)
                result = ReshapeAxisInto(c, lhsSpec[1], lhsSpec[0], ReshapeAxisOutOf(c, lhsSpec[1], batchGroups, result));
            return result;
        }

        /// <summary>The kernel's cotangent: the input convolved with the output cotangent as kernel, batch and feature
        /// roles swapped; feature groups become batch groups and vice versa (JAX's _conv_general_dilated_transpose_rhs).</summary>
        static HloInstruction ConvTransposeRhs(GradientContext c, HloInstruction g, HloInstruction lhs, HloInstruction rhs, WindowDimension[] window,
            ConvolutionDimensionNumbers dn, long featureGroups, long batchGroups)
        {
            var inSpatial = Sizes(lhs, dn.InputSpatialDimensions);
            var kSpatial = Sizes(rhs, dn.KernelSpatialDimensions);
            var outSpatial = Sizes(g, dn.OutputSpatialDimensions);
            var transposed = new WindowDimension[window.Length];
            for (int i = 0; i < window.Length; i++)
            {
                var w = window[i];
                long lhsDilated = Dilate(inSpatial[i], w.BaseDilation);
                long rhsDilated = Dilate(kSpatial[i], w.WindowDilation);
                long outDilated = Dilate(outSpatial[i], w.Stride);
                long high = outDilated - lhsDilated + rhsDilated - w.PaddingLow - 1;
                transposed[i] = new WindowDimension(outSpatial[i], w.WindowDilation, w.PaddingLow, high, w.Stride, w.BaseDilation);
            }
            var numbers = Numbers(SwapSpec(LhsSpec(dn)), SwapSpec(OutSpec(dn)), SwapSpec(RhsSpec(dn)));
            long fg = 1, bg = 1;
            if (batchGroups > 1) fg = batchGroups;
            else if (featureGroups > 1) bg = featureGroups;
            return Conv(c, lhs, g, transposed, numbers, fg, bg);
        }

        /// <summary>Splits dim <paramref name="src"/> into (<paramref name="size"/>, rest), the new axis major (JAX's _reshape_axis_out_of).</summary>
        static HloInstruction ReshapeAxisOutOf(GradientContext c, long src, long size, HloInstruction x)
        {
            var dims = x.Shape.Dims.ToList();
            var n = dims[(int)src].Value;
            dims[(int)src] = n / size;
            dims.Insert((int)src, size);
            return c.B.Reshape(x, dims.ToArray());
        }

        /// <summary>Merges dim <paramref name="src"/> into dim <paramref name="dst"/> (numbered without src) as its major
        /// part (JAX's _reshape_axis_into).</summary>
        static HloInstruction ReshapeAxisInto(GradientContext c, long src, long dst, HloInstruction x)
        {
            int rank = x.Shape.Rank;
            var perm = Enumerable.Range(0, rank).Where(i => i != src).Select(i => (long)i).ToList();
            perm.Insert((int)dst, src);
            var dims = x.Shape.Dims.Where((_, i) => i != src).ToList();
            dims[(int)dst] = dims[(int)dst].Value * x.Shape.Dims[(int)src].Value;
            var moved = perm.Select((p, i) => p == i).All(b => b) ? x : c.B.Transpose(x, perm.ToArray());
            return c.B.Reshape(moved, dims.ToArray());
        }

        // ---- reduce-window and select-and-scatter ----

        static HloInstruction?[] ReduceWindow(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 2)
                throw new GradientException(y, $"no gradient rule for a variadic reduce-window ({y.Describe()}); only single-input add/maximum/minimum windows are differentiable");
            var x = y.Operand(0);
            var init = y.Operand(1);
            var window = y.Attributes.Window!;
            var reducer = ReducerOpcode(y.CalledComputations[0]);
            var all = Enumerable.Range(0, y.Shape.Rank).Select(i => (long)i).ToArray();
            switch (reducer)
            {
                case "add":
                {
                    // the transpose of a window sum: pad the cotangent (strides become interior padding) and sum windows again
                    var padding = new PaddingDimension[window.Length];
                    var sum = new WindowDimension[window.Length];
                    for (int i = 0; i < window.Length; i++)
                    {
                        var w = window[i];
                        if (Ops.WindowShapes.IsIdentity(w))
                        {
                            // a dimension the window leaves alone (the batch, channels) may be symbolic: nothing to undo there
                            padding[i] = new PaddingDimension(0, 0, 0);
                            sum[i] = w;
                            continue;
                        }
                        long lhsDilated = Dilate(x.Shape.Dims[i].Value, w.BaseDilation);
                        long rhsDilated = Dilate(w.Size, w.WindowDilation);
                        long outDilated = Dilate(dy.Shape.Dims[i].Value, w.Stride);
                        long before = rhsDilated - w.PaddingLow - 1;
                        long after = lhsDilated + rhsDilated - 1 - outDilated - before;
                        padding[i] = new PaddingDimension(before, after, w.Stride - 1);
                        sum[i] = new WindowDimension(w.Size, w.BaseDilation, 0, 0, w.WindowDilation, 1);
                    }
                    var padded = c.B.AddInstruction("pad", new[] { dy, c.Scalar(dy, 0) }, new HloAttributes { Padding = padding });
                    var dx = c.B.AddInstruction("reduce-window", new[] { padded, c.Scalar(dy, 0) }, new HloAttributes { Window = sum },
                        called: new[] { c.B.ScalarComputation("add", dy.Shape.ElementType) });
                    // every output adds the init value once
                    var dInit = init.Opcode == "constant" ? null : c.B.ReduceSum(dy, all);
                    return new[] { dx, dInit };
                }
                case "maximum":
                case "minimum":
                {
                    bool max = reducer == "maximum";
                    var g = dy;
                    HloInstruction? dInit = null;
                    if (!IsConstant(init, max ? double.NegativeInfinity : double.PositiveInfinity))
                    {
                        // an output that equals a non-identity init came from the init, not from the window
                        var fromInit = c.B.Compare(y, c.B.BroadcastScalar(init, y.Shape.Dims.ToArray()), "EQ");
                        g = c.B.Select(fromInit, c.Zeros(dy.Shape), dy);
                        dInit = c.B.ReduceSum(c.B.Select(fromInit, dy, c.Zeros(dy.Shape)), all);
                    }
                    var type = x.Shape.ElementType;
                    var select = c.B.CreateSubBuilder(max ? "select_ge" : "select_le");
                    var p0 = select.Parameter(Shape.Scalar(type), "a");
                    var p1 = select.Parameter(Shape.Scalar(type), "b");
                    var selectComputation = select.Build(select.Compare(p0, p1, max ? "GE" : "LE"));
                    var dx = c.B.AddInstruction("select-and-scatter", new[] { x, g, c.Scalar(dy, 0) }, new HloAttributes { Window = window },
                        called: new[] { selectComputation, c.B.ScalarComputation("add", type) });
                    return new[] { dx, dInit };
                }
                default:
                    throw new GradientException(y, $"no gradient rule for reduce-window with the reducer %{y.CalledComputations[0].Name} ({y.Describe()}); add, maximum and minimum windows are differentiable");
            }
        }

        static bool IsConstant(HloInstruction x, double value)
        {
            if (x.Opcode != "constant" || x.Attributes.Literal?.Data == null || x.Attributes.Literal.Data.Length != 1) return false;
            var v = x.Attributes.Literal.Data.GetValue(0);
            return v is double d ? d.Equals(value) : v is float f && ((double)f).Equals(value);
        }

        /// <summary>select-and-scatter with an add scatter is linear in source and init: the source's cotangent is the
        /// cotangent read back at each window's selected position (a variadic reduce-window carrying (value,
        /// cotangent, valid) that replays the selection), the init's is the sum of the cotangent. The result is piecewise
        /// constant in the operand (only which element is selected depends on it), so the operand gets none.</summary>
        static HloInstruction?[] SelectAndScatter(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var scatter = y.CalledComputations[1];
            if (ReducerOpcode(scatter) != "add")
                throw new GradientException(y, $"no gradient rule for select-and-scatter with the scatter %{scatter.Name} ({y.Describe()}); only an add scatter is differentiable");
            var operand = y.Operand(0);
            var type = operand.Shape.ElementType;
            var sub = c.B.CreateSubBuilder("select_gather");
            var av = sub.Parameter(Shape.Scalar(type), "a_value");
            var at = sub.Parameter(Shape.Scalar(type), "a_cotangent");
            var aok = sub.Parameter(Shape.Scalar(ElementType.Pred), "a_valid");
            var bv = sub.Parameter(Shape.Scalar(type), "b_value");
            var bt = sub.Parameter(Shape.Scalar(type), "b_cotangent");
            var bok = sub.Parameter(Shape.Scalar(ElementType.Pred), "b_valid");
            var keep = sub.Inline(y.CalledComputations[0], new[] { av, bv });
            // take b when it is a real element and a is not, or when select(a, b) lets b replace a
            var takeB = sub.Binary("and", bok, sub.Binary("or", sub.Unary("not", aok), sub.Unary("not", keep)));
            var reducer = sub.Build(sub.Tuple(sub.Select(takeB, bv, av), sub.Select(takeB, bt, at), sub.Binary("or", aok, bok)));
            var valid = c.B.Full(ElementType.Pred, 1, operand.Shape.Dims.ToArray());
            var gathered = c.B.AddInstruction("reduce-window",
                new[] { operand, dy, valid, c.Scalar(dy, 0), c.Scalar(dy, 0), c.B.Constant(ElementType.Pred, 0) },
                new HloAttributes { Window = y.Attributes.Window }, called: new[] { reducer });
            var dSource = c.B.GetTupleElement(gathered, 1);
            var dInit = y.Operand(2).Opcode == "constant" ? null : c.B.ReduceSum(dy, Enumerable.Range(0, dy.Shape.Rank).Select(i => (long)i).ToArray());
            return new[] { null, dSource, dInit };
        }

        // ---- gather and scatter ----

        /// <summary>gather: the cotangent is scatter-added back where each slice came from, with the indices clamped as
        /// gather clamped them (scatter would skip an out-of-range window instead).</summary>
        static HloInstruction?[] Gather(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            var operand = y.Operand(0);
            var indices = y.Operand(1);
            var g = y.Attributes.Gather!;
            var sizes = y.Attributes.GatherSliceSizes!;
            var upper = g.StartIndexMap.Select(d => operand.Shape.Dims[(int)d].Value - sizes[d]).ToArray();
            var clamped = ClampIndices(c, indices, g.IndexVectorDim, upper);
            var numbers = new ScatterDimensionNumbers
            {
                UpdateWindowDims = g.OffsetDims,
                InsertedWindowDims = g.CollapsedSliceDims,
                ScatterDimsToOperandDims = g.StartIndexMap,
                IndexVectorDim = g.IndexVectorDim,
                InputBatchingDims = g.OperandBatchingDims,
                ScatterIndicesBatchingDims = g.StartIndicesBatchingDims,
            };
            var dx = c.B.AddInstruction("scatter", new[] { c.Zeros(operand.Shape), clamped, dy }, new HloAttributes { Scatter = numbers, IndicesAreSorted = y.Attributes.IndicesAreSorted },
                called: new[] { c.B.ScalarComputation("add", dy.Shape.ElementType) });
            return new HloInstruction?[] { dx, null };
        }

        /// <summary>The index vectors with component k clamped into [0, upper[k]].</summary>
        static HloInstruction ClampIndices(GradientContext c, HloInstruction indices, long vectorDim, long[] upper)
        {
            var type = indices.Shape.ElementType;
            var hi = UpperBounds(c, indices, vectorDim, upper);
            return c.B.AddInstruction("clamp", new[] { c.B.Constant(type, 0), indices, hi });
        }

        /// <summary>upper[k] at every index vector component k, in the shape of <paramref name="indices"/> (a scalar when
        /// the vectors have one implicit component).</summary>
        static HloInstruction UpperBounds(GradientContext c, HloInstruction indices, long vectorDim, long[] upper)
        {
            var type = indices.Shape.ElementType;
            if (vectorDim == indices.Shape.Rank) return c.B.Constant(type, upper[0]);
            var vector = c.B.Constant(Literal.FromDoubles(Shape.Array(type, new Dim[] { upper.Length }), upper.Select(u => (double)u).ToArray()));
            return c.B.Broadcast(vector, indices.Shape.Dims.ToArray(), new[] { vectorDim });
        }

        static HloInstruction?[] Scatter(GradientContext c, HloInstruction y, HloInstruction dy)
        {
            if (y.Operands.Count != 3)
                throw new GradientException(y, $"no gradient rule for a variadic scatter ({y.Describe()}); only single-input add and replace scatters are differentiable");
            var operand = y.Operand(0);
            var indices = y.Operand(1);
            var updates = y.Operand(2);
            var s = y.Attributes.Scatter!;
            var combiner = y.CalledComputations[0];
            var windowDims = Enumerable.Range(0, operand.Shape.Rank).Where(d => !s.InsertedWindowDims.Contains(d) && !s.InputBatchingDims.Contains(d)).ToArray();
            var sizes = Enumerable.Repeat(1L, operand.Shape.Rank).ToArray();
            for (int i = 0; i < windowDims.Length; i++) sizes[windowDims[i]] = updates.Shape.Dims[(int)s.UpdateWindowDims[i]].Value;
            var numbers = new GatherDimensionNumbers
            {
                OffsetDims = s.UpdateWindowDims,
                CollapsedSliceDims = s.InsertedWindowDims,
                StartIndexMap = s.ScatterDimsToOperandDims,
                IndexVectorDim = s.IndexVectorDim,
                OperandBatchingDims = s.InputBatchingDims,
                StartIndicesBatchingDims = s.ScatterIndicesBatchingDims,
            };
            HloInstruction GatherBack(HloInstruction from) =>
                c.B.AddInstruction("gather", new[] { from, indices }, new HloAttributes { Gather = numbers, GatherSliceSizes = sizes, IndicesAreSorted = y.Attributes.IndicesAreSorted });
            var zeros = c.Zeros(updates.Shape);
            if (ReducerOpcode(combiner) == "add")
            {
                // the operand passes straight through; each update receives the cotangent where its window landed,
                // or nothing when the window was out of range and skipped
                var upper = s.ScatterDimsToOperandDims.Select(d => operand.Shape.Dims[(int)d].Value - sizes[d]).ToArray();
                var type = indices.Shape.ElementType;
                var ok = c.B.Binary("and",
                    c.B.Compare(indices, c.B.Full(type, 0, indices.Shape.Dims.ToArray()), "GE"),
                    c.B.Compare(indices, Broadcasted(c, UpperBounds(c, indices, s.IndexVectorDim, upper), indices.Shape), "LE"));
                if (s.IndexVectorDim < indices.Shape.Rank) ok = c.B.Reduce(ok, "and", 1, s.IndexVectorDim);
                var scatterDims = Enumerable.Range(0, updates.Shape.Rank).Where(d => !s.UpdateWindowDims.Contains(d)).Select(d => (long)d).ToArray();
                var mask = c.B.Broadcast(ok, updates.Shape.Dims.ToArray(), scatterDims);
                return new HloInstruction?[] { dy, null, c.B.Select(mask, GatherBack(dy), zeros) };
            }
            if (combiner.Parameters.Count == 2 && combiner.Root == combiner.Parameters[1])
            {
                // replace: overwritten operand elements get no cotangent; of several updates of one element only the
                // one applied last does, found by scattering each update element's id the same way and reading it back
                var replace = ReplaceComputation(c, dy.Shape.ElementType);
                var dOperand = c.B.AddInstruction("scatter", new[] { dy, indices, zeros }, new HloAttributes { Scatter = s }, called: new[] { replace });
                long count = updates.Shape.ElementCount;
                var ids = c.B.Reshape(c.B.Iota(Shape.Array(ElementType.S32, new Dim[] { count }), 0), updates.Shape.Dims.ToArray());
                var owners = c.B.AddInstruction("scatter", new[] { c.B.Full(ElementType.S32, -1, operand.Shape.Dims.ToArray()), indices, ids },
                    new HloAttributes { Scatter = s }, called: new[] { ReplaceComputation(c, ElementType.S32) });
                var won = c.B.Compare(GatherBack(owners), ids, "EQ");
                return new HloInstruction?[] { dOperand, null, c.B.Select(won, GatherBack(dy), zeros) };
            }
            throw new GradientException(y, $"no gradient rule for scatter with the combiner %{combiner.Name} ({y.Describe()}); add and replace scatters are differentiable");
        }

        static HloInstruction Broadcasted(GradientContext c, HloInstruction x, Shape like) =>
            x.Shape.IsScalar ? c.B.BroadcastScalar(x, like.Dims.ToArray()) : x;

        /// <summary>The combiner (old, new) -> new of <paramref name="type"/>.</summary>
        static HloComputation ReplaceComputation(GradientContext c, ElementType type)
        {
            var sub = c.B.CreateSubBuilder("replace_" + type.TextName());
            sub.Parameter(Shape.Scalar(type), "old");
            var update = sub.Parameter(Shape.Scalar(type), "new");
            return sub.Build(update);
        }
    }
}
