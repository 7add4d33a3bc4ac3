using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using XlaGen.Hlo;
using XlaGen.Ops;
using XlaGen.Surface;

namespace XlaGen.Generator.Parsing
{
    /// <summary>
    /// The tensor surface the generator understands: one entry per C# member of Tensor&lt;T&gt;, Tensor, Nn and Losses,
    /// each lowering through src/Shared/Surface (the same functions eager execution uses).
    /// Operators (+ - * / % &amp; | ^, unary - ! ~) are handled by <see cref="MethodCompiler"/> directly.
    /// </summary>
    static class SurfaceTable
    {
        /// <summary>Arguments of one surface call: for instance methods, argument 0 is the receiver.</summary>
        internal sealed class Call
        {
            public Call(MethodCompiler compiler, IInvocationOperation operation, Value?[] args, ITypeSymbol? typeArgument)
            {
                Compiler = compiler;
                Operation = operation;
                Args = args;
                TypeArgument = typeArgument;
            }

            public MethodCompiler Compiler { get; }

            public IInvocationOperation Operation { get; }

            public Value?[] Args { get; }

            public ITypeSymbol? TypeArgument { get; }

            public HloInstruction Tensor(int i)
            {
                if (Args[i] is TensorValue t) return t.Instruction;
                var like = Args.OfType<TensorValue>().FirstOrDefault() ?? throw new InvalidOperationException("no tensor argument");
                return Compiler.AsTensor(Args[i]!, like);
            }

            public int Int(int i, int fallback = 0) => Args.Length > i && Args[i] is ScalarValue s ? (int)s.Number : fallback;

            /// <summary>An optional int? argument: null when omitted or null.</summary>
            public int? NullableInt(int i) => Args.Length > i && Args[i] is ScalarValue s ? (int)s.Number : (int?)null;

            public double Double(int i, double fallback) => Args.Length > i && Args[i] is ScalarValue s ? s.Number : fallback;

            /// <summary>A required argument that must be a build-time number (a literal, a const, arithmetic on them).</summary>
            public double ConstantDouble(int i, string member, string name) => Args.Length > i && Args[i] is ScalarValue s ? s.Number
                : throw new ShapeException($"{member}: {name} must be a number known at build time (a literal, a const or a constructor argument), not a tensor");

            public int[] Ints(int i) => Args.Length > i && Args[i] is IntArrayValue a ? a.Items : new int[0];

            public HloInstruction[] Tensors(int i) => Args.Length > i && Args[i] is TensorArrayValue a ? a.Items : new HloInstruction[0];

            public XlaGen.Padding PaddingArg(int i) => (XlaGen.Padding)Int(i, (int)XlaGen.Padding.Valid);

            /// <summary>Argument <paramref name="i"/> as a scalar of <paramref name="like"/>'s element type, or <paramref name="fallback"/> when omitted.</summary>
            public HloInstruction ScalarLike(HloBuilder b, int i, HloInstruction like, double fallback) =>
                Args.Length > i && Args[i] != null ? Compiler.AsTensor(Args[i]!, new TensorValue(like)) : b.Constant(like.Shape.ElementType, fallback);
        }

        sealed class Entry
        {
            public Entry(string opType, Func<HloBuilder, Call, HloInstruction> lower)
            {
                OpType = opType;
                Lower = lower;
            }

            public string OpType { get; }

            public Func<HloBuilder, Call, HloInstruction> Lower { get; }
        }

        /// <summary>BatchNorm: the moving statistics must be non-trainable parameters; in a training program their new
        /// values are recorded as state updates the train step writes back.</summary>
        static HloInstruction BatchNorm(HloBuilder b, Call c)
        {
            var meanPath = c.Compiler.StatePath(c.Tensor(3), "BatchNorm", "movingMean");
            var variancePath = c.Compiler.StatePath(c.Tensor(4), "BatchNorm", "movingVariance");
            var mode = c.Compiler.Training;
            var r = Lowering.BatchNorm(b, c.Tensor(0), c.Tensor(1), c.Tensor(2), c.Tensor(3), c.Tensor(4), c.Double(5, 0.99), c.Double(6, 1e-3), mode?.Flag());
            if (mode != null && r.NewMean != null && r.NewVariance != null)
            {
                mode.Update(meanPath, r.NewMean, "BatchNorm");
                mode.Update(variancePath, r.NewVariance, "BatchNorm");
            }
            return r.Output;
        }

        static readonly Dictionary<string, Entry> Entries = new Dictionary<string, Entry>(StringComparer.Ordinal)
        {
            ["Tensor.MatMul"] = new Entry("MatMul", (b, c) => Lowering.MatMul(b, c.Tensor(0), c.Tensor(1))),
            ["Tensor.Sum"] = new Entry("Sum", (b, c) => Lowering.Sum(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Mean"] = new Entry("Mean", (b, c) => Lowering.Mean(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Max"] = new Entry("Max", (b, c) => Lowering.Max(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Min"] = new Entry("Min", (b, c) => Lowering.Min(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Reshape"] = new Entry("Reshape", (b, c) => Lowering.Reshape(b, c.Tensor(0), c.Ints(1).Select(d => (Dim)d).ToArray())),
            ["Tensor.Transpose"] = new Entry("Transpose", (b, c) => Lowering.Transpose(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Exp"] = new Entry("Exp", (b, c) => b.Exp(c.Tensor(0))),
            ["Tensor.Log"] = new Entry("Log", (b, c) => b.Log(c.Tensor(0))),
            ["Tensor.Sqrt"] = new Entry("Sqrt", (b, c) => b.Sqrt(c.Tensor(0))),
            ["Tensor.Rsqrt"] = new Entry("Rsqrt", (b, c) => b.Rsqrt(c.Tensor(0))),
            ["Tensor.Abs"] = new Entry("Abs", (b, c) => b.Abs(c.Tensor(0))),
            ["Tensor.Tanh"] = new Entry("Tanh", (b, c) => b.Tanh(c.Tensor(0))),
            ["Tensor.Square"] = new Entry("Square", (b, c) => b.Multiply(c.Tensor(0), c.Tensor(0))),
            ["Tensor.Pow"] = new Entry("Pow", (b, c) => Lowering.Binary(b, "power", c.Tensor(0), c.Tensor(1), "Pow")),
            ["Tensor.Maximum"] = new Entry("Maximum", (b, c) => Lowering.Binary(b, "maximum", c.Tensor(0), c.Tensor(1), "Maximum")),
            ["Tensor.Minimum"] = new Entry("Minimum", (b, c) => Lowering.Binary(b, "minimum", c.Tensor(0), c.Tensor(1), "Minimum")),
            ["Tensor.Greater"] = new Entry("Greater", (b, c) => Lowering.Compare(b, "GT", c.Tensor(0), c.Tensor(1))),
            ["Tensor.GreaterOrEqual"] = new Entry("GreaterOrEqual", (b, c) => Lowering.Compare(b, "GE", c.Tensor(0), c.Tensor(1))),
            ["Tensor.Less"] = new Entry("Less", (b, c) => Lowering.Compare(b, "LT", c.Tensor(0), c.Tensor(1))),
            ["Tensor.LessOrEqual"] = new Entry("LessOrEqual", (b, c) => Lowering.Compare(b, "LE", c.Tensor(0), c.Tensor(1))),
            ["Tensor.ElementwiseEquals"] = new Entry("ElementwiseEquals", (b, c) => Lowering.Compare(b, "EQ", c.Tensor(0), c.Tensor(1))),
            ["Tensor.ElementwiseNotEquals"] = new Entry("ElementwiseNotEquals", (b, c) => Lowering.Compare(b, "NE", c.Tensor(0), c.Tensor(1))),
            ["Tensor.Cast"] = new Entry("Cast", (b, c) => b.Convert(c.Tensor(0), ElementTypeOf(c.TypeArgument))),
            ["Tensor.Sign"] = new Entry("Sign", (b, c) => Lowering.Sign(b, c.Tensor(0))),
            ["Tensor.Floor"] = new Entry("Floor", (b, c) => Lowering.Floor(b, c.Tensor(0))),
            ["Tensor.Ceil"] = new Entry("Ceil", (b, c) => Lowering.Ceil(b, c.Tensor(0))),
            ["Tensor.Clamp"] = new Entry("Clamp", (b, c) => Lowering.Clamp(b, c.Tensor(0), c.Tensor(1), c.Tensor(2))),
            ["Tensor.Var"] = new Entry("Var", (b, c) => Lowering.Var(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Std"] = new Entry("Std", (b, c) => Lowering.Std(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Slice"] = new Entry("Slice", (b, c) => Lowering.Slice(b, c.Tensor(0), c.Int(1), c.Int(2), c.NullableInt(3), c.Int(4, 1))),
            ["Tensor.Pad"] = new Entry("Pad", (b, c) => Lowering.Pad(b, c.Tensor(0), c.Ints(1), c.Ints(2), c.ScalarLike(b, 3, c.Tensor(0), 0))),
            ["Tensor.Reverse"] = new Entry("Reverse", (b, c) => Lowering.Reverse(b, c.Tensor(0), c.Ints(1))),
            ["Tensor.Flatten"] = new Entry("Flatten", (b, c) => Lowering.Flatten(b, c.Tensor(0))),
            ["Tensor.Take"] = new Entry("Take", (b, c) => Lowering.Take(b, c.Tensor(0), c.Tensor(1), c.Int(2))),
            ["Tensor.DynamicSlice"] = new Entry("DynamicSlice", (b, c) => Lowering.DynamicSlice(b, c.Tensor(0), c.Tensor(1), c.Ints(2))),
            ["Tensor.DynamicUpdateSlice"] = new Entry("DynamicUpdateSlice", (b, c) => Lowering.DynamicUpdateSlice(b, c.Tensor(0), c.Tensor(1), c.Tensor(2))),
            ["Tensor.Concat"] = new Entry("Concat", (b, c) => Lowering.Concat(b, c.Int(0), c.Tensors(1))),
            ["Tensor.Stack"] = new Entry("Stack", (b, c) => Lowering.Stack(b, c.Int(0), c.Tensors(1))),
            ["Nn.Relu"] = new Entry("Relu", (b, c) => Lowering.Relu(b, c.Tensor(0))),
            ["Nn.Sigmoid"] = new Entry("Sigmoid", (b, c) => Lowering.Sigmoid(b, c.Tensor(0))),
            ["Nn.Tanh"] = new Entry("Tanh", (b, c) => b.Tanh(c.Tensor(0))),
            ["Nn.Softmax"] = new Entry("Softmax", (b, c) => Lowering.Softmax(b, c.Tensor(0), c.Int(1, -1))),
            ["Nn.LogSoftmax"] = new Entry("LogSoftmax", (b, c) => Lowering.LogSoftmax(b, c.Tensor(0), c.Int(1, -1))),
            ["Nn.Where"] = new Entry("Where", (b, c) => Lowering.Where(b, c.Tensor(0), c.Tensor(1), c.Tensor(2))),
            ["Nn.LeakyRelu"] = new Entry("LeakyRelu", (b, c) => Lowering.LeakyRelu(b, c.Tensor(0), c.Double(1, 0.01))),
            ["Nn.Elu"] = new Entry("Elu", (b, c) => Lowering.Elu(b, c.Tensor(0), c.Double(1, 1))),
            ["Nn.Dropout"] = new Entry("Dropout", (b, c) => Lowering.Dropout(b, c.Tensor(0), c.ConstantDouble(1, "Dropout", "rate"), c.Compiler.Training)),
            ["Nn.Gelu"] = new Entry("Gelu", (b, c) => Lowering.Gelu(b, c.Tensor(0))),
            ["Nn.Softplus"] = new Entry("Softplus", (b, c) => Lowering.Softplus(b, c.Tensor(0))),
            ["Nn.Silu"] = new Entry("Silu", (b, c) => Lowering.Silu(b, c.Tensor(0))),
            ["Nn.BatchNorm"] = new Entry("BatchNorm", BatchNorm),
            ["Nn.CausalMask"] = new Entry("CausalMask", (b, c) => Lowering.CausalMask(b, c.Tensor(0))),
            ["Nn.LayerNorm"] = new Entry("LayerNorm", (b, c) => Lowering.LayerNorm(b, c.Tensor(0), c.Tensor(1), c.Tensor(2), c.Double(3, 1e-5))),
            ["Nn.Embedding"] = new Entry("Embedding", (b, c) => Lowering.Embedding(b, c.Tensor(0), c.Tensor(1))),
            ["Nn.OneHot"] = new Entry("OneHot", (b, c) => Lowering.OneHot(b, c.Tensor(0), c.Int(1))),
            ["Nn.Conv2D"] = new Entry("Conv2D", (b, c) => Lowering.Conv2D(b, c.Tensor(0), c.Tensor(1), c.Int(2, 1), c.PaddingArg(3), c.Int(4, 1), c.Int(5, 1))),
            ["Nn.MaxPool2D"] = new Entry("MaxPool2D", (b, c) => Lowering.MaxPool2D(b, c.Tensor(0), c.Int(1), c.NullableInt(2), c.PaddingArg(3))),
            ["Nn.AvgPool2D"] = new Entry("AvgPool2D", (b, c) => Lowering.AvgPool2D(b, c.Tensor(0), c.Int(1), c.NullableInt(2), c.PaddingArg(3))),
            ["Nn.GlobalAvgPool2D"] = new Entry("GlobalAvgPool2D", (b, c) => Lowering.GlobalAvgPool2D(b, c.Tensor(0))),
            ["Losses.SparseSoftmaxCrossEntropy"] = new Entry("SparseSoftmaxCrossEntropy", (b, c) =>
            {
                var rows = c.Tensor(0).Shape.Rank == 2 ? c.Tensor(0).Shape.Dims[0] : (Dim?)null;
                var weights = rows is Dim r ? c.Compiler.Training?.SampleWeight(r) : null;   // FitOptions.ClassWeights, per example
                var result = LossLowering.SparseSoftmaxCrossEntropy(b, c.Tensor(0), c.Tensor(1), c.Compiler.Metrics, weights);
                c.Compiler.SparseLabels.Add((c.Tensor(1), c.Tensor(0).Shape, "SparseSoftmaxCrossEntropy"));   // Fit checks the labels' range
                return Observed(c, result, PredictionKind.ClassLogits);
            }),
            ["Losses.SoftmaxCrossEntropy"] = new Entry("SoftmaxCrossEntropy", (b, c) => Observed(c, LossLowering.SoftmaxCrossEntropy(b, c.Tensor(0), c.Tensor(1), c.Compiler.Metrics), PredictionKind.ClassLogits)),
            ["Losses.MeanSquaredError"] = new Entry("MeanSquaredError", (b, c) => Observed(c, LossLowering.MeanSquaredError(b, c.Tensor(0), c.Tensor(1), c.Compiler.Metrics), PredictionKind.Values)),
            ["Losses.BinaryCrossEntropyWithLogits"] = new Entry("BinaryCrossEntropyWithLogits", (b, c) => Observed(c, LossLowering.BinaryCrossEntropyWithLogits(b, c.Tensor(0), c.Tensor(1), c.Compiler.Metrics), PredictionKind.BinaryLogits)),
            ["Losses.Observe"] = new Entry("Observe", (b, c) =>
            {
                var kind = (PredictionKind)c.Int(2, -1);
                if (c.Args.Length <= 2 || !(c.Args[2] is ScalarValue) || !System.Enum.IsDefined(typeof(PredictionKind), kind))
                    throw new ShapeException("Observe: the kind must be a PredictionKind known at build time (PredictionKind.ClassLogits, …)");
                Observation.Check("Observe", c.Tensor(0).Shape, c.Tensor(1).Shape, kind);
                c.Compiler.Observations.Add(new Observation(c.Tensor(0), c.Tensor(1), kind, @explicit: true));
                return c.Tensor(0);
            }),
            ["Losses.L2"] = new Entry("L2", (b, c) => LossLowering.L2(b, c.Tensor(0))),
        };

        /// <summary>Records a built-in loss's (prediction, target) for the metrics chosen at Compile and returns its loss.</summary>
        static HloInstruction Observed(Call c, HloInstruction loss, PredictionKind kind)
        {
            c.Compiler.Observations.Add(new Observation(c.Tensor(0), c.Tensor(1), kind, @explicit: false));
            return loss;
        }

        /// <summary>The surface members the generator compiles ("Tensor.MatMul", "Nn.Relu", …), for docs and tests.</summary>
        public static IEnumerable<string> Members => Entries.Keys.OrderBy(k => k, StringComparer.Ordinal);

        static ElementType ElementTypeOf(ITypeSymbol? t) =>
            (t == null ? null : Symbols.ElementTypeOf(t)) ?? throw new Ops.ShapeException($"Cast: '{t?.ToDisplayString()}' is not a tensor element type", isElementTypeError: true);

        static string Key(IMethodSymbol m)
        {
            var type = m.ContainingType.Name;
            return type + "." + m.Name;
        }

        public static Value? Invoke(MethodCompiler compiler, IInvocationOperation inv)
        {
            var m = inv.TargetMethod;
            if (!Entries.TryGetValue(Key(m), out var entry))
            {
                compiler.Unsupported(inv, $"'{m.ContainingType.Name}.{m.Name}' (not part of the compiled tensor surface: {string.Join(", ", Members)})");
                return null;
            }
            var args = new List<Value?>();
            if (!m.IsStatic)
            {
                var receiver = inv.Instance == null ? null : compiler.Eval(inv.Instance);
                if (receiver == null) return null;
                args.Add(receiver);
            }
            var rest = compiler.Arguments(inv);
            if (rest == null) return null;
            args.AddRange(rest);
            if (args.All(a => !(a is TensorValue) && !(a is TensorArrayValue)))
            {
                compiler.Unsupported(inv, $"'{m.Name}' without a tensor argument");
                return null;
            }
            var typeArgument = m.TypeArguments.Length > 0 ? m.TypeArguments[m.TypeArguments.Length - 1] : null;
            var call = new Call(compiler, inv, args.ToArray(), typeArgument);
            return compiler.Lower(inv, entry.OpType, b => entry.Lower(b, call));
        }
    }
}
