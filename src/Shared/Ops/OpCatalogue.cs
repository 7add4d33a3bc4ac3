using System;
using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Ops
{
    /// <summary>
    /// The op catalogue, keyed by HLO opcode. Elementwise ops are one line each; structural ops have a class
    /// each. Kernels (CPU executor) and gradient rules are tables keyed by the same opcode; a test walks this
    /// catalogue and fails when an op lacks any of them.
    /// </summary>
    internal static class OpCatalogue
    {
        static readonly Dictionary<string, OpDef> ByOpcode = Build();

        static Dictionary<string, OpDef> Build()
        {
            var ops = new OpDef[]
            {
                // sources
                new ParameterOp(),
                new ConstantOp(),
                new IotaOp(),
                new GetDimensionSizeOp(),

                // elementwise unary
                new UnaryOp("negate", TypeClass.Numeric),
                new UnaryOp("abs", TypeClass.Numeric),
                new UnaryOp("sign", TypeClass.Numeric),
                new UnaryOp("exponential", TypeClass.Float),
                new UnaryOp("log", TypeClass.Float),
                new UnaryOp("sqrt", TypeClass.Float),
                new UnaryOp("rsqrt", TypeClass.Float),
                new UnaryOp("tanh", TypeClass.Float),
                new UnaryOp("logistic", TypeClass.Float),
                new UnaryOp("floor", TypeClass.Float),
                new UnaryOp("ceil", TypeClass.Float),
                new UnaryOp("not", TypeClass.IntegerOrPred),
                new ConvertOp(),
                new CopyOp(),

                // elementwise binary
                new BinaryOp("add", TypeClass.Numeric),
                new BinaryOp("subtract", TypeClass.Numeric),
                new BinaryOp("multiply", TypeClass.Numeric),
                new BinaryOp("divide", TypeClass.Numeric),
                new BinaryOp("maximum", TypeClass.Numeric),
                new BinaryOp("minimum", TypeClass.Numeric),
                new BinaryOp("power", TypeClass.Numeric),
                new BinaryOp("remainder", TypeClass.Numeric),
                new BinaryOp("and", TypeClass.IntegerOrPred),
                new BinaryOp("or", TypeClass.IntegerOrPred),
                new BinaryOp("xor", TypeClass.IntegerOrPred),
                new CompareOp(),
                new SelectOp(),
                new ClampOp(),

                // structural
                new BroadcastOp(),
                new ReshapeOp(),
                new BitcastOp(),
                new TransposeOp(),
                new ReverseOp(),
                new SliceOp(),
                new ConcatenateOp(),
                new PadOp(),
                new DotOp(),
                new ReduceOp(),
                new ConvolutionOp(),
                new GatherOp(),
                new ScatterOp(),
                new ReduceWindowOp(),
                new SelectAndScatterOp(),
                new DynamicSliceOp(),
                new DynamicUpdateSliceOp(),
                new RngBitGeneratorOp(),

                // control
                new TupleOp(),
                new GetTupleElementOp(),
                new CallOp("call", "to_apply"),
                new CallOp("fusion", "calls", "kind"),
                new MapOp(),
                new WhileOp(),
                new SortOp(),

                // collectives
                new AllReduceOp(),
                new ReplicaIdOp(),
            };
            var d = new Dictionary<string, OpDef>(StringComparer.Ordinal);
            foreach (var op in ops) d.Add(op.Opcode, op);
            return d;
        }

        public static IReadOnlyCollection<OpDef> All => ByOpcode.Values;

        public static IEnumerable<string> Opcodes => ByOpcode.Keys.OrderBy(k => k, StringComparer.Ordinal);

        public static bool TryGet(string opcode, out OpDef op) => ByOpcode.TryGetValue(opcode, out op!);

        public static OpDef Get(string opcode) =>
            ByOpcode.TryGetValue(opcode, out var op) ? op : throw new ShapeException($"unknown opcode '{opcode}' (XlaGen supports: {string.Join(", ", Opcodes)})");
    }
}
