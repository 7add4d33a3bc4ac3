using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.Collections;
using P = Xla;

namespace XlaGen.Hlo;

// HloAttributes ↔ HloInstructionProto fields, and Literal ↔ LiteralProto: one field to one field.
public static partial class HloProto
{
    static readonly string[] PrecisionNames = { "default", "high", "highest" };
    static readonly string[] RngNames = { "rng_default", "rng_three_fry", "rng_philox" };

    // Ops whose `dimensions` field means something even when empty (scalar broadcast, rank-0 transpose, reduce over nothing).
    static readonly HashSet<string> DimensionsEvenWhenEmpty = new(StringComparer.Ordinal) { "broadcast", "transpose", "reverse", "reduce" };

    static void AttributesToProto(HloInstruction ins, P.HloInstructionProto p, string where)
    {
        var a = ins.Attributes;
        p.ParameterNumber = ins.Opcode == "parameter" ? a.ParameterNumber : 0;
        p.TupleIndex = ins.Opcode == "get-tuple-element" ? a.TupleIndex : 0;
        if (a.Literal != null) p.Literal = LiteralToProto(a.Literal, ins.Shape, where);
        if (a.Dimensions != null) p.Dimensions.AddRange(a.Dimensions);
        if (a.Slice != null)
        {
            foreach (var s in a.Slice)
            {
                if (!s.Start.IsConstant || !s.Limit.IsConstant)
                    throw new HloProtoException($"{where}: slice [{s.Start}:{s.Limit}] is symbolic; bind every symbolic dimension before serializing");
                p.SliceDimensions.Add(new P.HloInstructionProto.Types.SliceDimensions { Start = s.Start.Value, Limit = s.Limit.Value, Stride = s.Stride });
            }
        }
        if (a.Dot != null)
        {
            var d = new P.DotDimensionNumbers();
            d.LhsContractingDimensions.AddRange(a.Dot.LhsContracting);
            d.RhsContractingDimensions.AddRange(a.Dot.RhsContracting);
            d.LhsBatchDimensions.AddRange(a.Dot.LhsBatch);
            d.RhsBatchDimensions.AddRange(a.Dot.RhsBatch);
            p.DotDimensionNumbers = d;
        }
        if (a.OperandPrecision != null || ins.Opcode == "dot" || ins.Opcode == "convolution")
        {
            // XLA pads operand_precision to one entry per operand.
            var pc = new P.PrecisionConfig();
            var names = a.OperandPrecision ?? Enumerable.Repeat("default", ins.Operands.Count).ToArray();
            foreach (var n in names)
            {
                int k = Array.IndexOf(PrecisionNames, n);
                if (k < 0) throw new HloProtoException($"{where}: operand precision '{n}' is not one of {string.Join(", ", PrecisionNames)}");
                pc.OperandPrecision.Add((P.PrecisionConfig.Types.Precision)k);
            }
            p.PrecisionConfig = pc;
        }
        if (a.ComparisonDirection != null) p.ComparisonDirection = a.ComparisonDirection;
        if (a.ComparisonType != null) p.ComparisonType = a.ComparisonType;
        if (a.Padding != null)
        {
            var pc = new P.PaddingConfig();
            foreach (var d in a.Padding)
                pc.Dimensions.Add(new P.PaddingConfig.Types.PaddingConfigDimension { EdgePaddingLow = d.Low, EdgePaddingHigh = d.High, InteriorPadding = d.Interior });
            p.PaddingConfig = pc;
        }
        if (a.Window != null)
        {
            var w = new P.Window();
            foreach (var d in a.Window)
            {
                w.Dimensions.Add(new P.WindowDimension
                {
                    Size = d.Size, Stride = d.Stride, PaddingLow = d.PaddingLow, PaddingHigh = d.PaddingHigh,
                    WindowDilation = d.WindowDilation, BaseDilation = d.BaseDilation, WindowReversal = d.WindowReversal,
                });
            }
            p.Window = w;
        }
        if (a.Convolution != null)
        {
            var c = a.Convolution;
            var d = new P.ConvolutionDimensionNumbers
            {
                InputBatchDimension = c.InputBatchDimension, InputFeatureDimension = c.InputFeatureDimension,
                KernelInputFeatureDimension = c.KernelInputFeatureDimension, KernelOutputFeatureDimension = c.KernelOutputFeatureDimension,
                OutputBatchDimension = c.OutputBatchDimension, OutputFeatureDimension = c.OutputFeatureDimension,
            };
            d.InputSpatialDimensions.AddRange(c.InputSpatialDimensions);
            d.KernelSpatialDimensions.AddRange(c.KernelSpatialDimensions);
            d.OutputSpatialDimensions.AddRange(c.OutputSpatialDimensions);
            p.ConvolutionDimensionNumbers = d;
        }
        if (ins.Opcode == "convolution" || a.FeatureGroupCount != 1) p.FeatureGroupCount = a.FeatureGroupCount;
        if (ins.Opcode == "convolution" || a.BatchGroupCount != 1) p.BatchGroupCount = a.BatchGroupCount;
        if (a.Gather != null)
        {
            var g = new P.GatherDimensionNumbers { IndexVectorDim = a.Gather.IndexVectorDim };
            g.OffsetDims.AddRange(a.Gather.OffsetDims);
            g.CollapsedSliceDims.AddRange(a.Gather.CollapsedSliceDims);
            g.StartIndexMap.AddRange(a.Gather.StartIndexMap);
            g.OperandBatchingDims.AddRange(a.Gather.OperandBatchingDims);
            g.StartIndicesBatchingDims.AddRange(a.Gather.StartIndicesBatchingDims);
            p.GatherDimensionNumbers = g;
        }
        if (a.GatherSliceSizes != null) p.GatherSliceSizes.AddRange(a.GatherSliceSizes);
        if (a.Scatter != null)
        {
            var s = new P.ScatterDimensionNumbers { IndexVectorDim = a.Scatter.IndexVectorDim };
            s.UpdateWindowDims.AddRange(a.Scatter.UpdateWindowDims);
            s.InsertedWindowDims.AddRange(a.Scatter.InsertedWindowDims);
            s.ScatterDimsToOperandDims.AddRange(a.Scatter.ScatterDimsToOperandDims);
            s.InputBatchingDims.AddRange(a.Scatter.InputBatchingDims);
            s.ScatterIndicesBatchingDims.AddRange(a.Scatter.ScatterIndicesBatchingDims);
            p.ScatterDimensionNumbers = s;
        }
        if (a.DynamicSliceSizes != null) p.DynamicSliceSizes.AddRange(a.DynamicSliceSizes);
        p.IndicesAreSorted = a.IndicesAreSorted;
        p.UniqueIndices = a.UniqueIndices;
        p.IsStable = a.IsStable;
        if (a.FusionKind != null) p.FusionKind = a.FusionKind;
        if (a.CustomCallTarget != null) p.CustomCallTarget = a.CustomCallTarget;
        if (ins.Opcode is "all-reduce" or "all-gather" or "reduce-scatter")
        {
            // As XLA's HloCollectiveInstruction::ToProto: the groups in collective_device_list, constrain_layout written.
            var list = new P.CollectiveDeviceListProto();
            foreach (var g in a.ReplicaGroups ?? Array.Empty<long[]>())
            {
                var rg = new P.ReplicaGroup();
                rg.ReplicaIds.AddRange(g);
                list.ReplicaGroups.Add(rg);
            }
            p.CollectiveDeviceList = list;
            p.ConstrainLayout = false;
        }
        if (a.ChannelId > 0) p.ChannelId = a.ChannelId;
        p.UseGlobalDeviceIds = a.UseGlobalDeviceIds;
        if (ins.Opcode == "parameter" && a.ParameterReplication != null)
        {
            var r = new P.ParameterReplication();
            r.ReplicatedAtLeafBuffers.AddRange(a.ParameterReplication);
            p.ParameterReplication = r;
        }
        if (a.RngAlgorithm != null)
        {
            int k = Array.IndexOf(RngNames, a.RngAlgorithm);
            if (k < 0) throw new HloProtoException($"{where}: rng algorithm '{a.RngAlgorithm}' is not one of {string.Join(", ", RngNames)}");
            p.RngAlgorithm = (P.RandomAlgorithm)k;
        }
    }

    static HloAttributes AttributesFromProto(P.HloInstructionProto p, string where)
    {
        var a = new HloAttributes
        {
            ParameterNumber = p.ParameterNumber,
            TupleIndex = p.TupleIndex,
            IsStable = p.IsStable,
            IndicesAreSorted = p.IndicesAreSorted,
            UniqueIndices = p.UniqueIndices,
            // XLA reads 0 (absent) as 1.
            FeatureGroupCount = p.FeatureGroupCount == 0 ? 1 : p.FeatureGroupCount,
            BatchGroupCount = p.BatchGroupCount == 0 ? 1 : p.BatchGroupCount,
        };
        if (p.Dimensions.Count > 0 || DimensionsEvenWhenEmpty.Contains(p.Opcode)) a.Dimensions = p.Dimensions.ToArray();
        if (p.SliceDimensions.Count > 0) a.Slice = p.SliceDimensions.Select(s => new SliceDimension(s.Start, s.Limit, s.Stride == 0 ? 1 : s.Stride)).ToArray();
        if (p.DotDimensionNumbers != null)
        {
            var d = p.DotDimensionNumbers;
            a.Dot = new DotDimensionNumbers(d.LhsContractingDimensions.ToArray(), d.RhsContractingDimensions.ToArray(), d.LhsBatchDimensions.ToArray(), d.RhsBatchDimensions.ToArray());
        }
        if (p.PrecisionConfig != null && p.PrecisionConfig.OperandPrecision.Any(x => x != P.PrecisionConfig.Types.Precision.Default))
        {
            a.OperandPrecision = p.PrecisionConfig.OperandPrecision.Select(x =>
                (int)x >= 0 && (int)x < PrecisionNames.Length ? PrecisionNames[(int)x] : throw new HloProtoException($"{where}: unknown operand precision {(int)x}")).ToArray();
        }
        if (p.ComparisonDirection.Length > 0) a.ComparisonDirection = p.ComparisonDirection;
        if (p.ComparisonType.Length > 0) a.ComparisonType = p.ComparisonType;
        if (p.PaddingConfig != null) a.Padding = p.PaddingConfig.Dimensions.Select(d => new PaddingDimension(d.EdgePaddingLow, d.EdgePaddingHigh, d.InteriorPadding)).ToArray();
        if (p.Window != null)
        {
            // Proto3 drops zeros: stride and dilations of 0 mean "unset", which XLA reads as 1.
            a.Window = p.Window.Dimensions.Select(d => new WindowDimension(d.Size, d.Stride == 0 ? 1 : d.Stride, d.PaddingLow, d.PaddingHigh,
                d.WindowDilation == 0 ? 1 : d.WindowDilation, d.BaseDilation == 0 ? 1 : d.BaseDilation, d.WindowReversal)).ToArray();
        }
        if (p.ConvolutionDimensionNumbers != null)
        {
            var c = p.ConvolutionDimensionNumbers;
            a.Convolution = new ConvolutionDimensionNumbers
            {
                InputBatchDimension = c.InputBatchDimension, InputFeatureDimension = c.InputFeatureDimension, InputSpatialDimensions = c.InputSpatialDimensions.ToArray(),
                KernelInputFeatureDimension = c.KernelInputFeatureDimension, KernelOutputFeatureDimension = c.KernelOutputFeatureDimension,
                KernelSpatialDimensions = c.KernelSpatialDimensions.ToArray(),
                OutputBatchDimension = c.OutputBatchDimension, OutputFeatureDimension = c.OutputFeatureDimension, OutputSpatialDimensions = c.OutputSpatialDimensions.ToArray(),
            };
        }
        if (p.GatherDimensionNumbers != null)
        {
            var g = p.GatherDimensionNumbers;
            a.Gather = new GatherDimensionNumbers
            {
                OffsetDims = g.OffsetDims.ToArray(), CollapsedSliceDims = g.CollapsedSliceDims.ToArray(), StartIndexMap = g.StartIndexMap.ToArray(),
                IndexVectorDim = g.IndexVectorDim, OperandBatchingDims = g.OperandBatchingDims.ToArray(), StartIndicesBatchingDims = g.StartIndicesBatchingDims.ToArray(),
            };
        }
        if (p.GatherSliceSizes.Count > 0 || p.Opcode == "gather") a.GatherSliceSizes = p.GatherSliceSizes.ToArray();
        if (p.ScatterDimensionNumbers != null)
        {
            var s = p.ScatterDimensionNumbers;
            a.Scatter = new ScatterDimensionNumbers
            {
                UpdateWindowDims = s.UpdateWindowDims.ToArray(), InsertedWindowDims = s.InsertedWindowDims.ToArray(),
                ScatterDimsToOperandDims = s.ScatterDimsToOperandDims.ToArray(), IndexVectorDim = s.IndexVectorDim,
                InputBatchingDims = s.InputBatchingDims.ToArray(), ScatterIndicesBatchingDims = s.ScatterIndicesBatchingDims.ToArray(),
            };
        }
        if (p.DynamicSliceSizes.Count > 0 || p.Opcode == "dynamic-slice") a.DynamicSliceSizes = p.DynamicSliceSizes.ToArray();
        if (p.FusionKind.Length > 0)
        {
            if (Array.IndexOf(HloAttributes.FusionKinds, p.FusionKind) < 0)
                throw new HloProtoException($"{where}: unknown fusion kind '{(p.FusionKind.Length <= 40 ? p.FusionKind : p.FusionKind[..40] + "…")}': expected one of {string.Join(", ", HloAttributes.FusionKinds)}");
            a.FusionKind = p.FusionKind;
        }
        if (p.CustomCallTarget.Length > 0) a.CustomCallTarget = p.CustomCallTarget;
        a.ChannelId = p.ChannelId > 0 ? p.ChannelId : 0;
        a.UseGlobalDeviceIds = p.UseGlobalDeviceIds;
        // XLA: an empty list says nothing is replicated, the same as no field
        if (p.ParameterReplication is { ReplicatedAtLeafBuffers.Count: > 0 } replication) a.ParameterReplication = replication.ReplicatedAtLeafBuffers.ToArray();
        if (p.ReplicaGroups.Count > 0 || p.CollectiveDeviceList != null) a.ReplicaGroups = ReplicaGroupsFromProto(p, where);
        if (p.RngAlgorithm != P.RandomAlgorithm.RngDefault || p.Opcode == "rng-bit-generator")
        {
            int k = (int)p.RngAlgorithm;
            a.RngAlgorithm = k >= 0 && k < RngNames.Length ? RngNames[k] : throw new HloProtoException($"{where}: unknown rng algorithm {k}");
        }
        return a;
    }

    /// <summary>As XLA's CollectiveDeviceList::FromProto: the legacy replica_groups field when it is set, else
    /// collective_device_list (explicit groups, or the iota form expanded).</summary>
    static long[][] ReplicaGroupsFromProto(P.HloInstructionProto p, string where)
    {
        if (p.ReplicaGroups.Count > 0) return p.ReplicaGroups.Select(g => g.ReplicaIds.ToArray()).ToArray();
        var list = p.CollectiveDeviceList;
        if (list.IotaReplicaGroupList == null) return list.ReplicaGroups.Select(g => g.ReplicaIds.ToArray()).ToArray();
        var iota = list.IotaReplicaGroupList;
        try
        {
            return IotaReplicaGroups.Expand(iota.NumReplicaGroups, iota.NumDevicesPerGroup, iota.IotaReshapeDims.ToArray(),
                iota.IotaTransposePerm.Select(x => (long)x).ToArray());
        }
        catch (ArgumentException e)
        {
            throw new HloProtoException($"{where}: {e.Message}");
        }
    }

    // ---------------- literals ----------------

    /// <summary>XLA stores literal elements in the order of the literal's layout (major to minor); the IR keeps them
    /// row-major. Maps physical position → row-major index.</summary>
    static int[] PhysicalToLogical(long[] dims, long[] minorToMajor)
    {
        long total = 1;
        foreach (var d in dims) total *= d;
        var map = new int[total];
        int rank = dims.Length;
        var rowMajorStride = new long[rank];
        long st = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            rowMajorStride[i] = st;
            st *= dims[i];
        }
        var index = new long[rank];
        for (long p = 0; p < total; p++)
        {
            long logical = 0;
            for (int i = 0; i < rank; i++) logical += index[i] * rowMajorStride[i];
            map[p] = (int)logical;
            // advance the multi-index, minor-most dimension fastest
            for (int k = 0; k < rank; k++)
            {
                int d = (int)minorToMajor[k];
                if (++index[d] < dims[d]) break;
                index[d] = 0;
            }
        }
        return map;
    }

    static P.LiteralProto LiteralToProto(Literal literal, Shape instructionShape, string where)
    {
        if (literal.Shape.IsTuple)
        {
            var tp = new P.LiteralProto { Shape = ShapeToProto(literal.Shape, where) };
            for (int i = 0; i < literal.TupleElements.Count; i++)
            {
                var elementShape = instructionShape.IsTuple && i < instructionShape.TupleShapes.Count ? instructionShape.TupleShapes[i] : literal.TupleElements[i].Shape;
                tp.TupleLiterals.Add(LiteralToProto(literal.TupleElements[i], elementShape, where));
            }
            return tp;
        }
        // The literal takes the instruction's layout (XLA requires them to agree) and its elements go in that order.
        var shape = instructionShape.IsArray && instructionShape.Layout != null ? literal.Shape.WithLayout(instructionShape.Layout) : literal.Shape;
        var lp = new P.LiteralProto { Shape = ShapeToProto(shape, where) };
        var data = literal.Data!;
        int n = data.Length;
        var order = shape.HasDefaultLayout ? null : PhysicalToLogical(shape.ConcreteDims(), shape.EffectiveLayout());
        int At(int physical) => order == null ? physical : order[physical];
        switch (shape.ElementType)
        {
            case ElementType.Pred: { var v = (bool[])data; for (int i = 0; i < n; i++) lp.Preds.Add(v[At(i)]); break; }
            case ElementType.S32: { var v = (int[])data; for (int i = 0; i < n; i++) lp.S32S.Add(v[At(i)]); break; }
            case ElementType.S64: { var v = (long[])data; for (int i = 0; i < n; i++) lp.S64S.Add(v[At(i)]); break; }
            case ElementType.U32: { var v = (uint[])data; for (int i = 0; i < n; i++) lp.U32S.Add(v[At(i)]); break; }
            case ElementType.U64: { var v = (ulong[])data; for (int i = 0; i < n; i++) lp.U64S.Add(v[At(i)]); break; }
            case ElementType.F32: { var v = (float[])data; for (int i = 0; i < n; i++) lp.F32S.Add(v[At(i)]); break; }
            case ElementType.F64: { var v = (double[])data; for (int i = 0; i < n; i++) lp.F64S.Add(v[At(i)]); break; }
            case ElementType.S8: { var v = (sbyte[])data; var b = new byte[n]; for (int i = 0; i < n; i++) b[i] = (byte)v[At(i)]; lp.S8S = ByteString.CopyFrom(b); break; }
            case ElementType.U8: { var v = (byte[])data; var b = new byte[n]; for (int i = 0; i < n; i++) b[i] = v[At(i)]; lp.U8S = ByteString.CopyFrom(b); break; }
            case ElementType.S16: { var v = (short[])data; var b = new byte[2 * n]; for (int i = 0; i < n; i++) BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(2 * i), v[At(i)]); lp.S16S = ByteString.CopyFrom(b); break; }
            case ElementType.U16:
            case ElementType.F16:
            case ElementType.Bf16:
            {
                var v = (ushort[])data;
                var b = new byte[2 * n];
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), v[At(i)]);
                var bytes = ByteString.CopyFrom(b);
                if (shape.ElementType == ElementType.U16) lp.U16S = bytes;
                else if (shape.ElementType == ElementType.F16) lp.F16S = bytes;
                else lp.Bf16S = bytes;
                break;
            }
            default:
                throw new HloProtoException($"{where}: constants of type {shape.ElementType.TextName()} cannot be serialized");
        }
        return lp;
    }

    static Literal LiteralFromProto(P.LiteralProto lp, Shape instructionShape, string where)
    {
        var shape = lp.Shape != null ? ShapeFromProto(lp.Shape, where + " literal") : instructionShape;
        if (!shape.Equals(instructionShape))
            throw new HloProtoException($"{where}: the literal has shape {shape} but the instruction has {instructionShape}");
        if (shape.IsTuple)
        {
            if (lp.TupleLiterals.Count != shape.TupleShapes.Count)
                throw new HloProtoException($"{where}: the tuple literal has {lp.TupleLiterals.Count} elements but its shape {shape} has {shape.TupleShapes.Count}");
            return Literal.Tuple(lp.TupleLiterals.Select((e, i) => LiteralFromProto(e, shape.TupleShapes[i], where)).ToArray());
        }
        if (!shape.IsArray) throw new HloProtoException($"{where}: a literal cannot have the shape {shape}");
        long count = shape.ElementCount;
        var type = shape.ElementType;
        var order = shape.HasDefaultLayout ? null : PhysicalToLogical(shape.ConcreteDims(), shape.EffectiveLayout());
        int At(int physical) => order == null ? physical : order[physical];
        void RequireCount(long got, string field)
        {
            if (got != count) throw new HloProtoException($"{where}: the literal has {got} {field} values but shape {shape} needs {count}");
        }
        Array data;
        switch (type)
        {
            case ElementType.Pred: RequireCount(lp.Preds.Count, "preds"); data = Place<bool>(lp.Preds, At); break;
            case ElementType.S32: RequireCount(lp.S32S.Count, "s32s"); data = Place<int>(lp.S32S, At); break;
            case ElementType.S64: RequireCount(lp.S64S.Count, "s64s"); data = Place<long>(lp.S64S, At); break;
            case ElementType.U32: RequireCount(lp.U32S.Count, "u32s"); data = Place<uint>(lp.U32S, At); break;
            case ElementType.U64: RequireCount(lp.U64S.Count, "u64s"); data = Place<ulong>(lp.U64S, At); break;
            case ElementType.F32: RequireCount(lp.F32S.Count, "f32s"); data = Place<float>(lp.F32S, At); break;
            case ElementType.F64: RequireCount(lp.F64S.Count, "f64s"); data = Place<double>(lp.F64S, At); break;
            case ElementType.S8:
            {
                var b = lp.S8S.Span;
                RequireCount(b.Length, "s8s");
                var v = new sbyte[count];
                for (int i = 0; i < count; i++) v[At(i)] = (sbyte)b[i];
                data = v;
                break;
            }
            case ElementType.U8:
            {
                var b = lp.U8S.Span;
                RequireCount(b.Length, "u8s");
                var v = new byte[count];
                for (int i = 0; i < count; i++) v[At(i)] = b[i];
                data = v;
                break;
            }
            case ElementType.S16:
            {
                var b = lp.S16S.Span;
                if (b.Length % 2 != 0) throw new HloProtoException($"{where}: s16s holds an odd number of bytes ({b.Length})");
                RequireCount(b.Length / 2, "s16s");
                var v = new short[count];
                for (int i = 0; i < count; i++) v[At(i)] = BinaryPrimitives.ReadInt16LittleEndian(b.Slice(2 * i));
                data = v;
                break;
            }
            case ElementType.U16:
            case ElementType.F16:
            case ElementType.Bf16:
            {
                var field = type == ElementType.U16 ? lp.U16S : type == ElementType.F16 ? lp.F16S : lp.Bf16S;
                var name = type == ElementType.U16 ? "u16s" : type == ElementType.F16 ? "f16s" : "bf16s";
                var b = field.Span;
                if (b.Length % 2 != 0) throw new HloProtoException($"{where}: {name} holds an odd number of bytes ({b.Length})");
                RequireCount(b.Length / 2, name);
                var v = new ushort[count];
                for (int i = 0; i < count; i++) v[At(i)] = BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(2 * i));
                data = v;
                break;
            }
            default:
                throw new HloProtoException($"{where}: constants of type {type.TextName()} are not supported");
        }
        return Literal.Create(Shape.Array(type, shape.Dims.ToArray()), data);
    }

    static T[] Place<T>(RepeatedField<T> values, Func<int, int> at)
    {
        var v = new T[values.Count];
        for (int i = 0; i < v.Length; i++) v[at(i)] = values[i];
        return v;
    }
}
