using Google.Protobuf;
using XlaGen.Hlo;
using WireType = Google.Protobuf.WireFormat.WireType;

namespace XlaGen.Tests.Hlo;

/// <summary>
/// Decodes what <see cref="HloProto.Write"/> produces tag by tag with CodedInputStream, so the field numbers and
/// wire types are checked against OpenXLA's numbering independently of the generated classes.
/// </summary>
public class HloProtoWireTests
{
    sealed record Field(int Number, WireType Type, ulong Varint, ByteString Bytes);

    static List<Field> Decode(ByteString message)
    {
        var fields = new List<Field>();
        var input = message.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var type = WireFormat.GetTagWireType(tag);
            int number = WireFormat.GetTagFieldNumber(tag);
            switch (type)
            {
                case WireType.Varint: fields.Add(new Field(number, type, input.ReadUInt64(), ByteString.Empty)); break;
                case WireType.LengthDelimited: fields.Add(new Field(number, type, 0, input.ReadBytes())); break;
                case WireType.Fixed32: fields.Add(new Field(number, type, input.ReadFixed32(), ByteString.Empty)); break;
                case WireType.Fixed64: fields.Add(new Field(number, type, input.ReadFixed64(), ByteString.Empty)); break;
                default: throw new InvalidOperationException($"unexpected wire type {type}");
            }
        }
        return fields;
    }

    static int[] Numbers(List<Field> fields) => fields.Select(f => f.Number).Distinct().OrderBy(n => n).ToArray();

    static Field One(List<Field> fields, int number, WireType type)
    {
        var f = Assert.Single(fields, x => x.Number == number);
        Assert.Equal(type, f.Type);
        return f;
    }

    static string Str(List<Field> fields, int number) => One(fields, number, WireType.LengthDelimited).Bytes.ToStringUtf8();

    static ulong Var(List<Field> fields, int number) => One(fields, number, WireType.Varint).Varint;

    static List<Field> Sub(List<Field> fields, int number) => Decode(One(fields, number, WireType.LengthDelimited).Bytes);

    /// <summary>A packed repeated varint field (proto3 packs repeated scalars).</summary>
    static long[] Packed(List<Field> fields, int number)
    {
        var input = One(fields, number, WireType.LengthDelimited).Bytes.CreateCodedInput();
        var r = new List<long>();
        while (!input.IsAtEnd) r.Add(input.ReadInt64());
        return r.ToArray();
    }

    static float[] PackedFloats(List<Field> fields, int number)
    {
        var input = One(fields, number, WireType.LengthDelimited).Bytes.CreateCodedInput();
        var r = new List<float>();
        while (!input.IsAtEnd) r.Add(input.ReadFloat());
        return r.ToArray();
    }

    const string Module = """
        HloModule wire, input_output_alias={ {0}: (0, {}, must-alias) }

        add_f32 {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }

        ENTRY main {
          x = f32[2,3]{0,1} parameter(0), metadata={op_type="Dense" op_name="fc" source_file="M.cs" source_line=9}
          y = f32[3,2] parameter(1)
          c = f32[2,3]{0,1} constant({ {1, 2, 3}, {4, 5, 6} })
          d = f32[2,2] dot(x, y), lhs_contracting_dims={1}, rhs_contracting_dims={0}, operand_precision={high,default}
          r = f32[2] reduce(d, f32[] constant(0)), dimensions={1}, to_apply=add_f32
          p = pred[2] compare(r, r), direction=LT, type=TOTALORDER
          sl = f32[1,3] slice(c), slice={[1:2], [0:3:1]}
          pd = f32[4,3] pad(sl, f32[] constant(0)), padding=1_2x0_0
          t = (f32[2], pred[2]) tuple(r, p)
          g = pred[2] get-tuple-element(t), index=1
          neg = f32[2,3]{0,1} negate(x)
          ROOT out = (f32[2,3]{0,1}, pred[2], f32[4,3]) tuple(neg, g, pd)
        }
        """;

    static List<Field> Instruction(List<Field> computation, string name) =>
        computation.Where(f => f.Number == 2).Select(f => Decode(f.Bytes)).Single(i => Str(i, 1) == name);

    [Fact]
    public void ModuleComputationAndInstructionFieldNumbers()
    {
        var bytes = HloProto.Write(HloTextParser.Parse(Module));
        var module = Decode(ByteString.CopyFrom(bytes));

        // HloModuleProto: name=1, entry_computation_name=2, computations=3, host_program_shape=4, entry_computation_id=6,
        // input_output_alias=8; id=5 is 0 and so absent.
        Assert.Equal(new[] { 1, 2, 3, 4, 6, 8 }, Numbers(module));
        Assert.Equal("wire", Str(module, 1));
        Assert.Equal("main", Str(module, 2));
        Assert.Equal(16ul, Var(module, 6));
        var computations = module.Where(f => f.Number == 3).Select(f => Decode(f.Bytes)).ToList();
        Assert.Equal(2, computations.Count);

        // HloComputationProto: name=1, instructions=2, program_shape=4, id=5, root_id=6; callees first.
        var adder = computations[0];
        Assert.Equal(new[] { 1, 2, 4, 5, 6 }, Numbers(adder));
        Assert.Equal("add_f32", Str(adder, 1));
        Assert.Equal(3, adder.Count(f => f.Number == 2));
        Assert.Equal(2ul, Var(adder, 5));
        Assert.Equal(2ul, Var(adder, 6));
        var main = computations[1];
        Assert.Equal("main", Str(main, 1));
        Assert.Equal(16ul, Var(main, 5));
        Assert.Equal(16ul, Var(main, 6));

        // ProgramShapeProto: parameters=1, result=2, parameter_names=3.
        var programShape = Sub(main, 4);
        Assert.Equal(new[] { 1, 2, 3 }, Numbers(programShape));
        Assert.Equal(new[] { "x", "y" }, programShape.Where(f => f.Number == 3).Select(f => f.Bytes.ToStringUtf8()));
        var host = Sub(module, 4);
        Assert.Equal(new[] { "p0", "p1" }, host.Where(f => f.Number == 3).Select(f => f.Bytes.ToStringUtf8()));

        // HloInstructionProto name=1, opcode=2, shape=3, metadata=7, id=35; parameter_number=9 is 0 for x.
        var x = Instruction(main, "x");
        Assert.Equal(new[] { 1, 2, 3, 7, 35 }, Numbers(x));
        Assert.Equal("parameter", Str(x, 2));
        Assert.Equal(3ul, Var(x, 35));
        // ShapeProto: element_type=2 (F32 = 11), dimensions=3 (packed), layout=5 → LayoutProto minor_to_major=1.
        var shape = Sub(x, 3);
        Assert.Equal(new[] { 2, 3, 5 }, Numbers(shape));
        Assert.Equal(11ul, Var(shape, 2));
        Assert.Equal(new long[] { 2, 3 }, Packed(shape, 3));
        var layout = Sub(shape, 5);
        Assert.Equal(new[] { 1, 16 }, Numbers(layout));   // minor_to_major=1, tail_padding_alignment_in_elements=16 (1, as XLA writes it)
        Assert.Equal(new long[] { 0, 1 }, Packed(layout, 1));
        Assert.Equal(1ul, Var(layout, 16));
        // OpMetadata: op_type=1, op_name=2, source_file=3, source_line=4.
        var metadata = Sub(x, 7);
        Assert.Equal(new[] { 1, 2, 3, 4 }, Numbers(metadata));
        Assert.Equal(("Dense", "fc", "M.cs", 9ul), (Str(metadata, 1), Str(metadata, 2), Str(metadata, 3), Var(metadata, 4)));

        Assert.Equal(1ul, Var(Instruction(main, "y"), 9));   // parameter_number=9

        // literal=8 → LiteralProto shape=1, f32s=8 (packed floats), in the order of the layout {0,1} (column-major).
        var c = Instruction(main, "c");
        Assert.Equal(new[] { 1, 2, 3, 8, 35 }, Numbers(c));
        var literal = Sub(c, 8);
        Assert.Equal(new[] { 1, 8 }, Numbers(literal));
        Assert.Equal(new long[] { 0, 1 }, Packed(Sub(Sub(literal, 1), 5), 1));
        Assert.Equal(new[] { 1f, 4, 2, 5, 3, 6 }, PackedFloats(literal, 8));

        // operand_ids=36 (packed), dot_dimension_numbers=30 {lhs_contracting=1, rhs_contracting=2}, precision_config=51 {operand_precision=1: HIGH=1, DEFAULT=0}.
        var d = Instruction(main, "d");
        Assert.Equal(new[] { 1, 2, 3, 30, 35, 36, 51 }, Numbers(d));
        Assert.Equal(new long[] { 3, 4 }, Packed(d, 36));
        var dot = Sub(d, 30);
        Assert.Equal(new[] { 1, 2 }, Numbers(dot));
        Assert.Equal(new long[] { 1 }, Packed(dot, 1));
        Assert.Equal(new long[] { 0 }, Packed(dot, 2));
        Assert.Equal(new long[] { 1, 0 }, Packed(Sub(d, 51), 1));

        // dimensions=14, called_computation_ids=38.
        var r = Instruction(main, "r");
        Assert.Equal(new[] { 1, 2, 3, 14, 35, 36, 38 }, Numbers(r));
        Assert.Equal(new long[] { 1 }, Packed(r, 14));
        Assert.Equal(new long[] { 2 }, Packed(r, 38));

        // comparison_direction=63, comparison_type=72 (strings).
        var p = Instruction(main, "p");
        Assert.Equal(new[] { 1, 2, 3, 35, 36, 63, 72 }, Numbers(p));
        Assert.Equal(("LT", "TOTALORDER"), (Str(p, 63), Str(p, 72)));

        // slice_dimensions=17 {start=1, limit=2, stride=3}, one message per dimension.
        var sl = Instruction(main, "sl");
        var slices = sl.Where(f => f.Number == 17).Select(f => Decode(f.Bytes)).ToList();
        Assert.Equal(2, slices.Count);
        Assert.Equal((1ul, 2ul, 1ul), (Var(slices[0], 1), Var(slices[0], 2), Var(slices[0], 3)));
        Assert.Equal(new[] { 2, 3 }, Numbers(slices[1]));   // start 0 is absent

        // padding_config=21 → dimensions=1 {edge_padding_low=1, edge_padding_high=2, interior_padding=3}.
        var padDims = Sub(Instruction(main, "pd"), 21).Where(f => f.Number == 1).Select(f => Decode(f.Bytes)).ToList();
        Assert.Equal((1ul, 2ul), (Var(padDims[0], 1), Var(padDims[0], 2)));
        Assert.Empty(padDims[1]);

        Assert.Equal(1ul, Var(Instruction(main, "g"), 13));   // tuple_index=13

        // input_output_alias=8 → entries=1 {output_shape_index=1, parameter_number=2 (0: absent), kind=4 (MUST_ALIAS=2)}.
        var alias = Decode(One(Sub(module, 8), 1, WireType.LengthDelimited).Bytes);
        Assert.Equal(new[] { 1, 4 }, Numbers(alias));
        Assert.Equal(new long[] { 0 }, Packed(alias, 1));
        Assert.Equal(2ul, Var(alias, 4));
    }

    static List<Field> FirstWithOpcode(HloModule m, string opcode)
    {
        var module = Decode(ByteString.CopyFrom(HloProto.Write(m)));
        return module.Where(f => f.Number == 3).SelectMany(c => Decode(c.Bytes).Where(f => f.Number == 2)).Select(f => Decode(f.Bytes)).First(i => Str(i, 2) == opcode);
    }

    [Fact]
    public void WindowedOpFieldNumbers()
    {
        var m = SampleModules.Get("windowed");
        // convolution: window=15, convolution_dimension_numbers=16, feature_group_count=50, batch_group_count=58, precision_config=51.
        var conv = FirstWithOpcode(m, "convolution");
        Assert.Equal(new[] { 1, 2, 3, 15, 16, 35, 36, 50, 51, 58 }, Numbers(conv));
        Assert.Equal((2ul, 1ul), (Var(conv, 50), Var(conv, 58)));
        // Window.dimensions=1 → WindowDimension size=1, stride=2, padding_low=3, padding_high=4, window_dilation=5, base_dilation=6, window_reversal=7.
        var w0 = Decode(Sub(conv, 15).First(f => f.Number == 1).Bytes);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 7 }, Numbers(w0));
        Assert.Equal((3ul, 2ul, 1ul, 1ul, 2ul, 1ul, 1ul), (Var(w0, 1), Var(w0, 2), Var(w0, 3), Var(w0, 4), Var(w0, 5), Var(w0, 6), Var(w0, 7)));
        // ConvolutionDimensionNumbers: kernel_input_feature=3, kernel_output_feature=4, kernel_spatial=6, input_batch=7 (0: absent),
        // input_feature=8, output_batch=9 (absent), output_feature=10, input_spatial=11, output_spatial=12.
        var dn = Sub(conv, 16);
        Assert.Equal(new[] { 3, 4, 6, 8, 10, 11, 12 }, Numbers(dn));
        Assert.Equal((2ul, 3ul, 3ul, 3ul), (Var(dn, 3), Var(dn, 4), Var(dn, 8), Var(dn, 10)));
        Assert.Equal(new long[] { 0, 1 }, Packed(dn, 6));
        Assert.Equal(new long[] { 1, 2 }, Packed(dn, 11));
        Assert.Equal(new long[] { 1, 2 }, Packed(dn, 12));
        Assert.Equal(new long[] { 1, 2 }, Packed(Sub(conv, 51), 1));   // HIGH=1, HIGHEST=2

        // select-and-scatter: called_computation_ids=38 in XLA's order [select, scatter].
        Assert.Equal(2, Packed(FirstWithOpcode(m, "select-and-scatter"), 38).Length);
        // dynamic-slice: dynamic_slice_sizes=20.
        Assert.Equal(new long[] { 1, 2, 2, 4 }, Packed(FirstWithOpcode(m, "dynamic-slice"), 20));
    }

    [Fact]
    public void GatherScatterAndControlFieldNumbers()
    {
        var gs = SampleModules.Get("gather_scatter");
        // gather: gather_dimension_numbers=33 {offset_dims=1, collapsed_slice_dims=2, start_index_map=3, index_vector_dim=4},
        // gather_slice_sizes=34, indices_are_sorted=67.
        var gather = FirstWithOpcode(gs, "gather");
        Assert.Equal(new[] { 1, 2, 3, 33, 34, 35, 36, 67 }, Numbers(gather));
        var gd = Sub(gather, 33);
        Assert.Equal(new[] { 1, 2, 3, 4 }, Numbers(gd));
        Assert.Equal(1ul, Var(gd, 4));
        Assert.Equal(new long[] { 1, 3 }, Packed(gather, 34));
        Assert.Equal(1ul, Var(gather, 67));
        // scatter: scatter_dimension_numbers=48 {update_window_dims=1, inserted_window_dims=2, scatter_dims_to_operand_dims=3, index_vector_dim=4}, unique_indices=69.
        var scatter = FirstWithOpcode(gs, "scatter");
        Assert.Equal(new[] { 1, 2, 3, 35, 36, 38, 48, 69 }, Numbers(scatter));
        Assert.Equal(new[] { 1, 2, 3, 4 }, Numbers(Sub(scatter, 48)));
        // batching dims: operand_batching_dims=5, start_indices_batching_dims=6.
        var batched = gs.AllInstructions.Where(i => i.Opcode == "gather").Skip(1).First();
        var second = Decode(ByteString.CopyFrom(HloProto.Write(gs))).Where(f => f.Number == 3).SelectMany(c => Decode(c.Bytes).Where(f => f.Number == 2))
            .Select(f => Decode(f.Bytes)).Single(i => Str(i, 1) == batched.Name);
        Assert.Equal(new[] { 2, 3, 4, 5, 6 }, Numbers(Sub(second, 33)));

        var control = SampleModules.Get("control");
        var sort = FirstWithOpcode(control, "sort");
        Assert.Equal(1ul, Var(sort, 60));                       // is_stable=60
        Assert.Equal("kLoop", Str(FirstWithOpcode(control, "fusion"), 11));   // fusion_kind=11
        Assert.Equal(new long[] { 0 }, Packed(FirstWithOpcode(control, "iota"), 14));
        // while: called_computation_ids = [body, condition] (kBodyComputationIndex = 0).
        var loop = control.AllInstructions.Single(i => i.Opcode == "while");
        Assert.Equal(new[] { loop.CalledComputations[0].Id, loop.CalledComputations[1].Id }, Packed(FirstWithOpcode(control, "while"), 38));
        Assert.Equal("body", loop.CalledComputations[0].Name);
        var fused = Decode(ByteString.CopyFrom(HloProto.Write(control))).Where(f => f.Number == 3).Select(f => Decode(f.Bytes)).Single(c => Str(c, 1) == "fused");
        Assert.Equal(1ul, Var(fused, 7));                       // is_fusion_computation=7
    }

    const string Collectives = """
        HloModule collectives

        add_f32 {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }

        ENTRY main {
          x = f32[4] parameter(0)
          ar = f32[4] all-reduce(x), channel_id=5, replica_groups={{0,1},{2,3}}, use_global_device_ids=true, to_apply=add_f32
          all = f32[4] all-reduce(x), replica_groups={}, to_apply=add_f32
          id = u32[] replica-id()
          ROOT t = (f32[4], f32[4], u32[]) tuple(ar, all, id)
        }
        """;

    /// <summary>As XLA's HloCollectiveInstruction::ToProto: channel_id=26, use_global_device_ids=71, the groups in
    /// collective_device_list=87 {replica_groups=1 {replica_ids=1}}, constrain_layout=56 false (absent on the wire).</summary>
    [Fact]
    public void AllReduceFieldNumbers()
    {
        var module = Decode(ByteString.CopyFrom(HloProto.Write(HloTextParser.Parse(Collectives))));
        var main = module.Where(f => f.Number == 3).Select(f => Decode(f.Bytes)).Last();
        var ar = Instruction(main, "ar");
        Assert.Equal("all-reduce", Str(ar, 2));
        Assert.Equal(5ul, Var(ar, 26));
        Assert.Equal(1ul, Var(ar, 71));
        Assert.DoesNotContain(ar, f => f.Number == 56 || f.Number == 49);
        var list = Sub(ar, 87);
        var groups = list.Where(f => f.Number == 1).Select(f => Packed(Decode(f.Bytes), 1)).ToList();
        Assert.Equal(new[] { new long[] { 0, 1 }, new long[] { 2, 3 } }, groups);
        Assert.Single(ar, f => f.Number == 38);   // called_computation_ids: the reducer
        var all = Instruction(main, "all");
        Assert.Empty(Sub(all, 87));                // an empty CollectiveDeviceListProto: all replicas
        Assert.DoesNotContain(all, f => f.Number == 26 || f.Number == 71);
        var id = Instruction(main, "id");
        Assert.Equal("replica-id", Str(id, 2));
    }

    const string GatherScatter = """
        HloModule gather_scatter

        add_f32 {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }

        ENTRY main {
          x = f32[4,2] parameter(0)
          ag = f32[4,4] all-gather(x), channel_id=7, replica_groups={{0,1},{2,3}}, dimensions={1}
          rs = f32[2,2] reduce-scatter(x), replica_groups={{1,0},{3,2}}, dimensions={0}, to_apply=add_f32
          all = f32[16,2] all-gather(x), replica_groups={}, dimensions={0}
          ROOT t = (f32[4,4], f32[2,2], f32[16,2]) tuple(ag, rs, all)
        }
        """;

    /// <summary>As XLA's HloAllGatherInstruction / HloReduceScatterInstruction::ToProto: the gather or scatter dimension in
    /// dimensions=14, the groups in collective_device_list=87, channel_id=26; the reducer as a called computation; a
    /// stated result with replica_groups={} kept; and the text and proto read back to the same module.</summary>
    [Fact]
    public void AllGatherAndReduceScatterFieldNumbers()
    {
        var parsed = HloTextParser.Parse(GatherScatter);
        var main = Decode(ByteString.CopyFrom(HloProto.Write(parsed))).Where(f => f.Number == 3).Select(f => Decode(f.Bytes)).Last();
        var ag = Instruction(main, "ag");
        Assert.Equal("all-gather", Str(ag, 2));
        Assert.Equal(new long[] { 1 }, Packed(ag, 14));
        Assert.Equal(7ul, Var(ag, 26));
        Assert.Equal(new[] { new long[] { 0, 1 }, new long[] { 2, 3 } }, Sub(ag, 87).Where(f => f.Number == 1).Select(f => Packed(Decode(f.Bytes), 1)).ToList());
        var rs = Instruction(main, "rs");
        Assert.Equal("reduce-scatter", Str(rs, 2));
        Assert.Equal(new[] { new long[] { 1, 0 }, new long[] { 3, 2 } }, Sub(rs, 87).Where(f => f.Number == 1).Select(f => Packed(Decode(f.Bytes), 1)).ToList());
        Assert.Single(rs, f => f.Number == 38);
        Assert.Empty(Sub(Instruction(main, "all"), 87));
        var text = HloPrinter.Print(parsed);
        Assert.Equal(text, HloPrinter.Print(HloProto.FromProto(HloProto.ToProto(parsed))));
        Assert.Equal(text, HloPrinter.Print(HloTextParser.Parse(text)));
        Assert.Contains("f32[16,2]{1,0} all-gather(%x), dimensions={0}, replica_groups={}", text);
    }

    /// <summary>As XLA's CollectiveDeviceList::FromProto: the legacy replica_groups=49 when present, else 87, whose
    /// iota form is expanded ([2,2]&lt;=[2,2]T(1,0) is {{0,2},{1,3}}).</summary>
    [Fact]
    public void AllReduceGroupsAreReadFromTheLegacyFieldAndTheIotaForm()
    {
        var proto = HloProto.ToProto(HloTextParser.Parse(Collectives));
        var ar = proto.Computations.Last().Instructions.Single(i => i.Name == "ar");
        ar.CollectiveDeviceList = null;
        ar.ReplicaGroups.Add(new Xla.ReplicaGroup { ReplicaIds = { 3, 2 } });
        ar.ReplicaGroups.Add(new Xla.ReplicaGroup { ReplicaIds = { 1, 0 } });
        Assert.Contains("replica_groups={{3,2},{1,0}}", HloPrinter.Print(HloProto.FromProto(proto)));
        ar.ReplicaGroups.Clear();
        ar.CollectiveDeviceList = new Xla.CollectiveDeviceListProto
        {
            IotaReplicaGroupList = new Xla.IotaReplicaGroupListProto { NumReplicaGroups = 2, NumDevicesPerGroup = 2, IotaReshapeDims = { 2, 2 }, IotaTransposePerm = { 1, 0 } },
        };
        Assert.Contains("replica_groups={{0,2},{1,3}}", HloPrinter.Print(HloProto.FromProto(proto)));
        ar.CollectiveDeviceList.IotaReplicaGroupList.NumDevicesPerGroup = 3;
        var e = Assert.Throws<HloProtoException>(() => HloProto.FromProto(proto));
        Assert.Contains("iota replica groups [2,3] hold 6 ids but <=[2,2] makes 4", e.Message);
    }

    const string Replicated = """
        HloModule replicated

        ENTRY main {
          w = f32[4] parameter(0), parameter_replication={true}
          t = (f32[4], s32[]) parameter(1), parameter_replication={false,true}
          x = f32[4] parameter(2)
          ROOT s = f32[4] add(w, x)
        }
        """;

    /// <summary>parameter_replication=61 {replicated_at_leaf_buffers=1, packed bools}, one per leaf buffer; absent when
    /// not set; read back to the same text (XLA's HloParameterInstruction and its printer).</summary>
    [Fact]
    public void ParameterReplicationFieldNumbersAndText()
    {
        var module = HloTextParser.Parse(Replicated);
        var main = Decode(ByteString.CopyFrom(HloProto.Write(module))).Where(f => f.Number == 3).Select(f => Decode(f.Bytes)).Last();
        Assert.Equal(new long[] { 1 }, Packed(Sub(Instruction(main, "w"), 61), 1));
        Assert.Equal(new long[] { 0, 1 }, Packed(Sub(Instruction(main, "t"), 61), 1));
        Assert.DoesNotContain(Instruction(main, "x"), f => f.Number == 61);
        var text = HloPrinter.Print(HloProto.FromProto(HloProto.ToProto(module)));
        Assert.Contains("parameter(0), parameter_replication={true}", text);
        Assert.Contains("parameter(1), parameter_replication={false,true}", text);
        Assert.Contains("f32[4]{0} parameter(2)\n", text.Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("w = f32[4] parameter(0), parameter_replication={true,true}", "parameter_replication has 2 entries, but f32[4] has 1 leaf buffer(s)")]
    [InlineData("w = f32[4] parameter(0), parameter_replication={yes}", "parameter_replication entry 0 is 'yes': each must be true or false")]
    public void BadParameterReplicationIsAnErrorThatSaysWhy(string line, string message)
    {
        var e = Assert.ThrowsAny<Exception>(() => HloTextParser.Parse($"HloModule m\n\nENTRY main {{\n  {line}\n  ROOT n = f32[4] negate(w)\n}}\n"));
        Assert.Contains(message, e.Message);
    }
}
