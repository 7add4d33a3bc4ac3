using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Autodiff;
using XlaGen.Hlo;
using static XlaGen.Ops.ElementCost;
using static XlaGen.Ops.TypeClass;

namespace XlaGen.Ops
{
    /// <summary>
    /// The op catalogue, keyed by HLO opcode. Elementwise ops are one entry each, carrying their type class, cost class
    /// and gradient rule; structural ops have a class each, and their CPU kernels and gradient rules are tables keyed by
    /// the same opcode. Tests walk this catalogue and fail when an op lacks any of them.
    /// </summary>
    internal static class OpCatalogue
    {
        static readonly OpDef[] Entries = Build();

        static readonly Dictionary<string, OpDef> ByOpcode = Index(Entries);

        static readonly ElementwiseOpDef[] ElementwiseEntries = Entries.OfType<ElementwiseOpDef>().ToArray();

        static OpDef[] Build()
        {
            return new OpDef[]
            {
                // sources
                new ParameterOp(),
                new ConstantOp(),
                new IotaOp(),
                new GetDimensionSizeOp(),

                // elementwise: type class, cost per element, gradient rule (or why there is none). The CPU executor's
                // selection tables and threading grain and the gradient rules are derived from these entries.
                new UnaryOp("negate", Numeric, Cheap, (c, y, dy) => new[] { c.B.Negate(dy) }),
                new UnaryOp("abs", Numeric, Cheap, (c, y, dy) => new[] { c.B.Multiply(dy, c.B.Unary("sign", y.Operand(0))) }),
                new UnaryOp("sign", Numeric, Cheap, (c, y, dy) => new HloInstruction?[] { null }),
                new UnaryOp("exponential", Float, Costly, (c, y, dy) => new[] { c.B.Multiply(dy, y) }),
                new UnaryOp("exponential-minus-one", Float, Costly, (c, y, dy) => new[] { c.B.Multiply(dy, c.B.Add(y, c.Full(y, 1))) }),
                new UnaryOp("log", Float, Costly, (c, y, dy) => new[] { c.B.Divide(dy, y.Operand(0)) }),
                new UnaryOp("log-plus-one", Float, Costly, (c, y, dy) => new[] { c.B.Divide(dy, c.B.Add(y.Operand(0), c.Full(y, 1))) }),
                new UnaryOp("sqrt", Float, Costly, (c, y, dy) => new[] { c.B.Divide(c.B.Multiply(dy, c.Full(y, 0.5)), y) }),
                new UnaryOp("rsqrt", Float, Costly, (c, y, dy) => new[] { c.B.Multiply(dy, c.B.Multiply(c.Full(y, -0.5), c.B.Divide(y, y.Operand(0)))) }),
                new UnaryOp("tanh", Float, Costly, (c, y, dy) => new[] { c.B.Multiply(dy, c.B.Subtract(c.Full(y, 1), c.B.Multiply(y, y))) }),
                new UnaryOp("logistic", Float, Costly, (c, y, dy) => new[] { c.B.Multiply(dy, c.B.Multiply(y, c.B.Subtract(c.Full(y, 1), y))) }),
                new UnaryOp("floor", Float, Cheap, (c, y, dy) => new HloInstruction?[] { null }),
                new UnaryOp("ceil", Float, Cheap, (c, y, dy) => new HloInstruction?[] { null }),
                new UnaryOp("not", IntegerOrPred, Cheap, NoGradient.IntegerOrPred),
                new ConvertOp(ElementwiseGradients.Convert),
                new CopyOp((c, y, dy) => new[] { dy }),

                new BinaryOp("add", Numeric, Cheap, (c, y, dy) => new[] { dy, dy }),
                new BinaryOp("subtract", Numeric, Cheap, (c, y, dy) => new[] { dy, c.B.Negate(dy) }),
                new BinaryOp("multiply", Numeric, Cheap, (c, y, dy) => new[] { c.B.Multiply(dy, y.Operand(1)), c.B.Multiply(y.Operand(0), dy) }),
                new BinaryOp("divide", Numeric, Costly, (c, y, dy) => new[] { c.B.Divide(dy, y.Operand(1)), c.B.Negate(c.B.Divide(c.B.Multiply(dy, y), y.Operand(1))) }),
                new BinaryOp("maximum", Numeric, Cheap, ElementwiseGradients.Maximum),
                new BinaryOp("minimum", Numeric, Cheap, ElementwiseGradients.Minimum),
                new BinaryOp("power", Numeric, Costly, ElementwiseGradients.Power),
                new BinaryOp("remainder", Numeric, Costly, ElementwiseGradients.Remainder),
                new BinaryOp("and", IntegerOrPred, Cheap, NoGradient.IntegerOrPred),
                new BinaryOp("or", IntegerOrPred, Cheap, NoGradient.IntegerOrPred),
                new BinaryOp("xor", IntegerOrPred, Cheap, NoGradient.IntegerOrPred),
                new CompareOp(new NoGradient("its result is pred: piecewise constant, zero derivative almost everywhere, and no cotangent for pred values")),
                new SelectOp(ElementwiseGradients.Select),
                new ClampOp(ElementwiseGradients.Clamp),

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
                new AllGatherOp(),
                new ReduceScatterOp(),
                new ReplicaIdOp(),
            };
        }

        static Dictionary<string, OpDef> Index(OpDef[] ops)
        {
            var d = new Dictionary<string, OpDef>(StringComparer.Ordinal);
            foreach (var op in ops) d.Add(op.Opcode, op);
            return d;
        }

        public static IReadOnlyCollection<OpDef> All => Entries;

        /// <summary>The elementwise entries (unary, binary, convert, copy, compare, select, clamp) in catalogue order.</summary>
        public static IReadOnlyList<ElementwiseOpDef> Elementwise => ElementwiseEntries;

        public static IEnumerable<string> Opcodes => ByOpcode.Keys.OrderBy(k => k, StringComparer.Ordinal);

        public static bool TryGet(string opcode, out OpDef op) => ByOpcode.TryGetValue(opcode, out op!);

        public static OpDef Get(string opcode) =>
            ByOpcode.TryGetValue(opcode, out var op) ? op : throw new ShapeException($"unknown opcode '{opcode}' (XlaGen supports: {string.Join(", ", Opcodes)})");
    }
}
