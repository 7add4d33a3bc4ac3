using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Ops;

namespace XlaGen.Hlo
{
    /// <summary>
    /// Builds one computation of a module; sub-builders (reducers, loop bodies) share the module's ids, names and
    /// computation list. Every instruction is shape-checked by the op catalogue as it is added, so a bad program
    /// fails at the line that builds it with a <see cref="ShapeException"/>. Works with symbolic dims (the
    /// generator) and with concrete dims (the programs the runtime builds).
    /// </summary>
    public sealed class HloBuilder
    {
        sealed class ModuleContext
        {
            public long NextId = 1;
            public readonly HashSet<string> Names = new HashSet<string>(StringComparer.Ordinal);
            // XLA keeps computation and instruction names apart: a computation %add may hold an instruction %add.
            public readonly HashSet<string> ComputationNames = new HashSet<string>(StringComparer.Ordinal);
            public readonly List<HloComputation> Computations = new List<HloComputation>();
            public readonly Dictionary<string, HloComputation> Shared = new Dictionary<string, HloComputation>(StringComparer.Ordinal);
        }

        readonly ModuleContext context;
        readonly HloComputation computation;
        readonly string moduleName;
        bool built;

        /// <summary>Starts a module; this builder builds its entry computation.</summary>
        public HloBuilder(string moduleName, string entryName = "main")
            : this(new ModuleContext(), moduleName, entryName)
        {
        }

        HloBuilder(ModuleContext context, string moduleName, string computationName)
        {
            this.context = context;
            this.moduleName = moduleName;
            computation = new HloComputation(0, UniqueName(context.ComputationNames, computationName));
        }

        /// <summary>Metadata given to every instruction added from now on (op name, C# file and line).</summary>
        public OpMetadata? Metadata { get; set; }

        /// <summary>The computation this builder builds; its <see cref="HloComputation.Root"/> is set by <see cref="Build"/>.</summary>
        public HloComputation Computation => computation;

        /// <summary>The parameters added so far, in parameter-number order.</summary>
        public IReadOnlyList<HloInstruction> Parameters => computation.Parameters;

        /// <summary>A builder for another computation of the same module (a reducer, a loop body).</summary>
        public HloBuilder CreateSubBuilder(string name) => new HloBuilder(context, moduleName, name);

        string UniqueName(string name) => UniqueName(context.Names, name);

        static string UniqueName(HashSet<string> names, string name)
        {
            if (string.IsNullOrEmpty(name)) name = "v";
            if (names.Add(name)) return name;
            for (int i = 1; ; i++)
            {
                var candidate = name + "." + i;
                if (names.Add(candidate)) return candidate;
            }
        }

        /// <summary>Adds an instruction after checking it against the op catalogue. <paramref name="declared"/> is the
        /// result shape for ops that take one (parameter, reshape, broadcast, convert, iota); for others, when given,
        /// it must match what the catalogue infers (it may carry a layout, or the result type of a mixed-type dot).</summary>
        public HloInstruction AddInstruction(string opcode, IReadOnlyList<HloInstruction> operands, HloAttributes? attributes = null,
            Shape? declared = null, IReadOnlyList<HloComputation>? called = null, string? name = null)
        {
            if (built) throw new InvalidOperationException($"computation %{computation.Name} is already built");
            attributes ??= new HloAttributes();
            foreach (var o in operands)
            {
                if (o.Parent != computation)
                    throw new ArgumentException($"{opcode}: operand {o.Describe()} belongs to computation %{o.Parent?.Name}, not %{computation.Name}");
            }
            var op = OpCatalogue.Get(opcode);
            var inferred = op.InferShape(new ShapeQuery(opcode, operands.Select(o => o.Shape).ToList(), attributes, called, declared));
            Shape shape = inferred;
            if (declared != null)
            {
                if (!declared.Equals(inferred)) throw new ShapeException($"{opcode}: the program says the result is {declared} but it is {inferred}");
                shape = declared;
            }
            long id = context.NextId++;
            var instruction = new HloInstruction(id, UniqueName(name ?? opcode + "." + id), opcode, shape, operands, attributes, called, Metadata);
            return computation.Add(instruction);
        }

        HloInstruction Add(string opcode, params HloInstruction[] operands) => AddInstruction(opcode, operands);

        // ---- sources ----

        /// <summary>Adds the next parameter (parameter_number is the count of parameters so far) of <paramref name="shape"/>.
        /// <paramref name="name"/> is made unique within the module (x, x.1, …).</summary>
        /// <exception cref="InvalidOperationException">The computation is already built.</exception>
        public HloInstruction Parameter(Shape shape, string name)
        {
            int number = computation.Parameters.Count;
            return AddInstruction("parameter", new HloInstruction[0], new HloAttributes { ParameterNumber = number }, shape, name: name);
        }

        /// <summary>Adds the next parameter, an array of <paramref name="type"/> with <paramref name="dims"/> (row-major).</summary>
        /// <exception cref="ArgumentException"><paramref name="type"/> is not an array type, or a dim is negative.</exception>
        public HloInstruction Parameter(ElementType type, Dim[] dims, string name) => Parameter(Shape.Array(type, dims), name);

        /// <summary>Adds a constant holding <paramref name="literal"/>; its shape is the literal's. A null
        /// <paramref name="name"/> names it constant.N.</summary>
        public HloInstruction Constant(Literal literal, string? name = null) =>
            AddInstruction("constant", new HloInstruction[0], new HloAttributes { Literal = literal }, name: name);

        /// <summary>A scalar constant of <paramref name="type"/> (converted as XLA's convert would).</summary>
        public HloInstruction Constant(ElementType type, double value) => Constant(Literal.ScalarOf(type, value));

        /// <summary>iota: an array of <paramref name="shape"/> whose elements count 0, 1, 2, … along <paramref name="dimension"/>
        /// and are constant along the others.</summary>
        /// <exception cref="ShapeException"><paramref name="dimension"/> is not a dimension of <paramref name="shape"/>.</exception>
        public HloInstruction Iota(Shape shape, long dimension) =>
            AddInstruction("iota", new HloInstruction[0], new HloAttributes { Dimensions = new[] { dimension } }, shape);

        /// <summary>The size of dimension <paramref name="dimension"/> of <paramref name="x"/> as s32[]: a constant when
        /// the size is known, get-dimension-size when it is symbolic (build time).</summary>
        public HloInstruction DimensionSize(HloInstruction x, long dimension)
        {
            var d = x.Shape.Dims[(int)dimension];
            if (d.IsConstant) return Constant(ElementType.S32, d.Value);
            return AddInstruction("get-dimension-size", new[] { x }, new HloAttributes { Dimensions = new[] { dimension } });
        }

        // ---- elementwise ----

        /// <summary>Adds a one-operand instruction by its HLO opcode (negate, exponential, floor, …), shape-checked by the op catalogue.</summary>
        /// <exception cref="ShapeException">The opcode does not take one operand of this shape, or is unknown.</exception>
        public HloInstruction Unary(string opcode, HloInstruction x) => Add(opcode, x);

        /// <summary>Adds a two-operand instruction by its HLO opcode (add, maximum, and, …), shape-checked by the op catalogue.</summary>
        /// <exception cref="ShapeException">The operands' shapes do not fit the opcode, or the opcode is unknown.</exception>
        public HloInstruction Binary(string opcode, HloInstruction x, HloInstruction y) => Add(opcode, x, y);

        /// <summary>Elementwise <paramref name="x"/> + <paramref name="y"/> (both of one shape; no implicit broadcasting).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Add(HloInstruction x, HloInstruction y) => Add("add", x, y);

        /// <summary>Elementwise <paramref name="x"/> − <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Subtract(HloInstruction x, HloInstruction y) => Add("subtract", x, y);

        /// <summary>Elementwise <paramref name="x"/> × <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Multiply(HloInstruction x, HloInstruction y) => Add("multiply", x, y);

        /// <summary>Elementwise <paramref name="x"/> / <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Divide(HloInstruction x, HloInstruction y) => Add("divide", x, y);

        /// <summary>Elementwise maximum of <paramref name="x"/> and <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Maximum(HloInstruction x, HloInstruction y) => Add("maximum", x, y);

        /// <summary>Elementwise minimum of <paramref name="x"/> and <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Minimum(HloInstruction x, HloInstruction y) => Add("minimum", x, y);

        /// <summary>Elementwise <paramref name="x"/> raised to <paramref name="y"/> (both of one shape).</summary>
        /// <exception cref="ShapeException">The operands' shapes differ.</exception>
        public HloInstruction Power(HloInstruction x, HloInstruction y) => Add("power", x, y);

        /// <summary>Elementwise −<paramref name="x"/>.</summary>
        public HloInstruction Negate(HloInstruction x) => Add("negate", x);

        /// <summary>Elementwise absolute value of <paramref name="x"/>.</summary>
        public HloInstruction Abs(HloInstruction x) => Add("abs", x);

        /// <summary>Elementwise e to the <paramref name="x"/> (HLO exponential).</summary>
        public HloInstruction Exp(HloInstruction x) => Add("exponential", x);

        /// <summary>Elementwise natural logarithm of <paramref name="x"/>.</summary>
        public HloInstruction Log(HloInstruction x) => Add("log", x);

        /// <summary>Elementwise square root of <paramref name="x"/>.</summary>
        public HloInstruction Sqrt(HloInstruction x) => Add("sqrt", x);

        /// <summary>Elementwise 1/√<paramref name="x"/>.</summary>
        public HloInstruction Rsqrt(HloInstruction x) => Add("rsqrt", x);

        /// <summary>Elementwise hyperbolic tangent of <paramref name="x"/>.</summary>
        public HloInstruction Tanh(HloInstruction x) => Add("tanh", x);

        /// <summary>Elementwise sigmoid 1/(1+e^−<paramref name="x"/>) (HLO logistic).</summary>
        public HloInstruction Logistic(HloInstruction x) => Add("logistic", x);

        /// <summary>Elementwise comparison of two operands of one shape, giving pred of the same dims.</summary>
        /// <param name="x">The left operand.</param>
        /// <param name="y">The right operand, of <paramref name="x"/>'s shape.</param>
        /// <param name="direction">EQ, NE, LT, LE, GT or GE.</param>
        /// <param name="type">comparison_type (FLOAT, TOTALORDER, SIGNED, UNSIGNED); null for the element type's default.</param>
        /// <exception cref="ShapeException">The shapes differ, or the direction or type is not one XLA knows.</exception>
        public HloInstruction Compare(HloInstruction x, HloInstruction y, string direction, string? type = null) =>
            AddInstruction("compare", new[] { x, y }, new HloAttributes { ComparisonDirection = direction, ComparisonType = type });

        /// <summary>Elementwise <paramref name="predicate"/> ? <paramref name="onTrue"/> : <paramref name="onFalse"/>; the
        /// predicate is pred of the branches' dims (or a scalar pred).</summary>
        /// <exception cref="ShapeException">The shapes do not fit.</exception>
        public HloInstruction Select(HloInstruction predicate, HloInstruction onTrue, HloInstruction onFalse) => Add("select", predicate, onTrue, onFalse);

        /// <summary>Converts <paramref name="x"/> elementwise to <paramref name="type"/> (XLA's convert); returns <paramref name="x"/>
        /// itself when it already has that type.</summary>
        public HloInstruction Convert(HloInstruction x, ElementType type) =>
            x.Shape.ElementType == type ? x : AddInstruction("convert", new[] { x }, null, x.Shape.WithElementType(type));

        // ---- structural ----

        /// <summary>broadcast: operand dim i becomes result dim <paramref name="dimensions"/>[i].</summary>
        public HloInstruction Broadcast(HloInstruction x, Dim[] resultDims, long[] dimensions) =>
            AddInstruction("broadcast", new[] { x }, new HloAttributes { Dimensions = dimensions }, Shape.Array(x.Shape.ElementType, resultDims));

        /// <summary>Broadcasts a scalar to <paramref name="resultDims"/>.</summary>
        public HloInstruction BroadcastScalar(HloInstruction scalar, Dim[] resultDims) => Broadcast(scalar, resultDims, new long[0]);

        /// <summary>A scalar constant broadcast to <paramref name="dims"/> (a scalar when dims is empty).</summary>
        public HloInstruction Full(ElementType type, double value, Dim[] dims)
        {
            var c = Constant(type, value);
            return dims.Length == 0 ? c : BroadcastScalar(c, dims);
        }

        /// <summary>Reshapes <paramref name="x"/> to <paramref name="dims"/>, reading and writing the elements in row-major order;
        /// returns <paramref name="x"/> itself when its dims already are <paramref name="dims"/>.</summary>
        /// <exception cref="ShapeException">The element counts differ.</exception>
        public HloInstruction Reshape(HloInstruction x, params Dim[] dims) =>
            x.Shape.Dims.SequenceEqual(dims) ? x : AddInstruction("reshape", new[] { x }, null, Shape.Array(x.Shape.ElementType, dims));

        /// <summary>Permutes the dimensions of <paramref name="x"/>: result dimension i is operand dimension <paramref name="permutation"/>[i].</summary>
        /// <exception cref="ShapeException"><paramref name="permutation"/> is not a permutation of the operand's dimensions.</exception>
        public HloInstruction Transpose(HloInstruction x, params long[] permutation) =>
            AddInstruction("transpose", new[] { x }, new HloAttributes { Dimensions = permutation });

        /// <summary>A static slice of <paramref name="x"/>: one [start:limit:stride] range per dimension.</summary>
        /// <exception cref="ShapeException">The ranges do not fit the operand.</exception>
        public HloInstruction Slice(HloInstruction x, SliceDimension[] ranges) =>
            AddInstruction("slice", new[] { x }, new HloAttributes { Slice = ranges });

        /// <summary>Joins <paramref name="operands"/> (same element type, equal dims except <paramref name="dimension"/>) end to end along <paramref name="dimension"/>.</summary>
        /// <exception cref="ShapeException">The operands do not fit together.</exception>
        public HloInstruction Concatenate(long dimension, params HloInstruction[] operands) =>
            AddInstruction("concatenate", operands, new HloAttributes { Dimensions = new[] { dimension } });

        /// <summary>A general dot product (XLA DotGeneral): contracts and batches the dimensions <paramref name="numbers"/> names.</summary>
        /// <param name="lhs">The left operand.</param>
        /// <param name="rhs">The right operand.</param>
        /// <param name="numbers">Which dimensions are contracted and which are batch dimensions.</param>
        /// <param name="resultType">The result's element type when it differs from the operands' (a mixed-type dot, such as
        /// bf16 × bf16 → f32); null for the operands' type.</param>
        /// <exception cref="ShapeException">The contracted or batch dimensions do not match.</exception>
        public HloInstruction Dot(HloInstruction lhs, HloInstruction rhs, DotDimensionNumbers numbers, ElementType? resultType = null)
        {
            Shape? declared = null;
            if (resultType != null)
            {
                var inferred = OpCatalogue.Get("dot").InferShape(new ShapeQuery("dot", new[] { lhs.Shape, rhs.Shape }, new HloAttributes { Dot = numbers }, null, Shape.Scalar(resultType.Value)));
                declared = inferred;
            }
            return AddInstruction("dot", new[] { lhs, rhs }, new HloAttributes { Dot = numbers }, declared);
        }

        /// <summary>Matrix product over the last dim of <paramref name="lhs"/> and the first of <paramref name="rhs"/>.</summary>
        public HloInstruction MatMul(HloInstruction lhs, HloInstruction rhs) =>
            Dot(lhs, rhs, new DotDimensionNumbers(new long[] { lhs.Shape.Rank - 1 }, new long[] { 0 }));

        /// <summary>Reduces <paramref name="x"/> over <paramref name="dimensions"/> with <paramref name="reducer"/>, a scalar
        /// computation (a, b) → c, starting from the scalar <paramref name="init"/>. The reduced dimensions are dropped.</summary>
        /// <exception cref="ShapeException">The dimensions, the initial value or the reducer do not fit.</exception>
        public HloInstruction Reduce(HloInstruction x, HloInstruction init, long[] dimensions, HloComputation reducer) =>
            AddInstruction("reduce", new[] { x, init }, new HloAttributes { Dimensions = dimensions }, called: new[] { reducer });

        /// <summary>Reduces with a scalar binary op (add, maximum, minimum, multiply, and, or) from <paramref name="init"/>.</summary>
        public HloInstruction Reduce(HloInstruction x, string opcode, double init, params long[] dimensions)
        {
            var type = x.Shape.ElementType;
            return Reduce(x, Constant(type, init), dimensions, ScalarComputation(opcode, type));
        }

        /// <summary>The sum of <paramref name="x"/> over <paramref name="dimensions"/>, which are dropped.</summary>
        public HloInstruction ReduceSum(HloInstruction x, params long[] dimensions) => Reduce(x, "add", 0, dimensions);

        /// <summary>all-reduce of <paramref name="xs"/> (one element type) with a scalar binary op across the replicas of
        /// each group (null: one group of all replicas). One operand gives an array, several a tuple.</summary>
        public HloInstruction AllReduce(IReadOnlyList<HloInstruction> xs, string opcode = "add", long[][]? replicaGroups = null, long channelId = 0)
        {
            if (xs.Count == 0) throw new ArgumentException("all-reduce needs at least one operand");
            var attributes = new HloAttributes { ReplicaGroups = replicaGroups, ChannelId = channelId };
            return AddInstruction("all-reduce", xs, attributes, called: new[] { ScalarComputation(opcode, xs[0].Shape.ElementType) });
        }

        /// <summary>all-gather of <paramref name="xs"/> along <paramref name="dimension"/> across the replicas of each group
        /// (groups of equal size, listed: the size sets the result's dimension). One operand gives an array, several a tuple.</summary>
        public HloInstruction AllGather(IReadOnlyList<HloInstruction> xs, long dimension, long[][] replicaGroups, long channelId = 0)
        {
            if (xs.Count == 0) throw new ArgumentException("all-gather needs at least one operand");
            return AddInstruction("all-gather", xs, new HloAttributes { Dimensions = new[] { dimension }, ReplicaGroups = replicaGroups, ChannelId = channelId });
        }

        /// <summary>reduce-scatter of <paramref name="xs"/> (one element type) with a scalar binary op, split along
        /// <paramref name="dimension"/> into one block per member of each group (groups of equal size, listed).</summary>
        public HloInstruction ReduceScatter(IReadOnlyList<HloInstruction> xs, long dimension, long[][] replicaGroups, string opcode = "add", long channelId = 0)
        {
            if (xs.Count == 0) throw new ArgumentException("reduce-scatter needs at least one operand");
            var attributes = new HloAttributes { Dimensions = new[] { dimension }, ReplicaGroups = replicaGroups, ChannelId = channelId };
            return AddInstruction("reduce-scatter", xs, attributes, called: new[] { ScalarComputation(opcode, xs[0].Shape.ElementType) });
        }

        /// <summary>replica-id(): this replica's id, u32[].</summary>
        public HloInstruction ReplicaId() => AddInstruction("replica-id", Array.Empty<HloInstruction>(), new HloAttributes());

        /// <summary>The maximum of <paramref name="x"/> over <paramref name="dimensions"/>, which are dropped; starts from <see cref="Lowest"/>.</summary>
        public HloInstruction ReduceMax(HloInstruction x, params long[] dimensions) => Reduce(x, "maximum", Lowest(x.Shape.ElementType), dimensions);

        /// <summary>The minimum of <paramref name="x"/> over <paramref name="dimensions"/>, which are dropped; starts from <see cref="Highest"/>.</summary>
        public HloInstruction ReduceMin(HloInstruction x, params long[] dimensions) => Reduce(x, "minimum", Highest(x.Shape.ElementType), dimensions);

        /// <summary>The identity of maximum: -inf for floats, the smallest value for integers.</summary>
        public static double Lowest(ElementType t)
        {
            switch (t)
            {
                case ElementType.S8: return sbyte.MinValue;
                case ElementType.S16: return short.MinValue;
                case ElementType.S32: return int.MinValue;
                case ElementType.S64: return long.MinValue;
                case ElementType.Pred: return 0;
                default: return t.IsUnsignedInteger() ? 0 : double.NegativeInfinity;
            }
        }

        /// <summary>The identity of minimum: +inf for floats, the largest value for integers.</summary>
        public static double Highest(ElementType t)
        {
            switch (t)
            {
                case ElementType.S8: return sbyte.MaxValue;
                case ElementType.S16: return short.MaxValue;
                case ElementType.S32: return int.MaxValue;
                case ElementType.S64: return long.MaxValue;
                case ElementType.U8: return byte.MaxValue;
                case ElementType.U16: return ushort.MaxValue;
                case ElementType.U32: return uint.MaxValue;
                case ElementType.U64: return ulong.MaxValue;
                case ElementType.Pred: return 1;
                default: return double.PositiveInfinity;
            }
        }

        /// <summary>A tuple of <paramref name="elements"/> (the usual root of a program with several results).</summary>
        public HloInstruction Tuple(params HloInstruction[] elements) => Add("tuple", elements);

        /// <summary>rng-bit-generator: the tuple (new state, bits of <paramref name="bits"/>' shape) from a u64[n] state.
        /// <paramref name="algorithm"/> is rng_three_fry, rng_philox or rng_default (philox on XLA's CPU and GPU).</summary>
        public HloInstruction RngBitGenerator(HloInstruction state, Shape bits, string algorithm) =>
            AddInstruction("rng-bit-generator", new[] { state }, new HloAttributes { RngAlgorithm = algorithm }, Shape.Tuple(state.Shape.WithLayout(null), bits));

        /// <summary>Element <paramref name="index"/> (from 0) of <paramref name="tuple"/>.</summary>
        /// <exception cref="ShapeException"><paramref name="tuple"/> is not a tuple, or <paramref name="index"/> is out of range.</exception>
        public HloInstruction GetTupleElement(HloInstruction tuple, long index) =>
            AddInstruction("get-tuple-element", new[] { tuple }, new HloAttributes { TupleIndex = index });

        /// <summary>The module's shared computation (a, b) -> a op b on scalars, created once (named like add_f32).</summary>
        public HloComputation ScalarComputation(string opcode, ElementType type)
        {
            var key = opcode + "_" + type.TextName();
            if (context.Shared.TryGetValue(key, out var existing)) return existing;
            var sub = CreateSubBuilder(key);
            var a = sub.Parameter(Shape.Scalar(type), "lhs");
            var b = sub.Parameter(Shape.Scalar(type), "rhs");
            var c = sub.Build(sub.Binary(opcode, a, b));
            context.Shared[key] = c;
            return c;
        }

        /// <summary>Copies <paramref name="callee"/>'s instructions into this computation with its parameters
        /// replaced by <paramref name="arguments"/>, and returns the copy of its root. Computations it calls are
        /// added to this module (once). Metadata of the copies is kept. <paramref name="symbols"/> renames the
        /// callee's symbolic dims to the caller's (N → B) in the shapes the callee states.</summary>
        public HloInstruction Inline(HloComputation callee, IReadOnlyList<HloInstruction> arguments, IReadOnlyDictionary<string, Dim>? symbols = null,
            Func<OpMetadata?, OpMetadata?>? metadata = null)
        {
            var ps = callee.Parameters;
            if (ps.Count != arguments.Count) throw new ArgumentException($"%{callee.Name} takes {ps.Count} arguments, {arguments.Count} given");
            Shape Map(Shape s) => symbols == null ? s : s.Substitute(symbols);
            var map = new Dictionary<HloInstruction, HloInstruction>();
            var zeros = new HashSet<HloInstruction>();
            for (int i = 0; i < ps.Count; i++)
            {
                if (!Map(ps[i].Shape).Equals(arguments[i].Shape))
                    throw new ShapeException($"argument {i} of %{callee.Name} must be {Map(ps[i].Shape)}, got {arguments[i].Shape}");
                map[ps[i]] = arguments[i];
            }
            var saved = Metadata;
            try
            {
                foreach (var ins in callee.Instructions)
                {
                    if (ins.Opcode == "parameter") continue;
                    Metadata = metadata != null ? metadata(ins.Metadata) : ins.Metadata ?? saved;
                    var operands = ins.Operands.Select(o => map[o]).ToList();
                    if (ins.Opcode == "get-dimension-size")
                    {
                        map[ins] = DimensionSize(operands[0], ins.Attributes.Dimensions![0]);
                        continue;
                    }
                    if (ins.Opcode == "select" && ConstantPredicate(operands[0]) is bool chosen && operands[1].Shape.Equals(Map(ins.Shape)))
                    {
                        // a select on a constant predicate is the branch it picks (the eval step's training = false)
                        var picked = chosen ? operands[1] : operands[2];
                        if (IsZeroFill(picked)) zeros.Add(picked);
                        map[ins] = picked;
                        continue;
                    }
                    if (FoldZero(ins, operands, Map(ins.Shape), zeros) is HloInstruction folded)
                    {
                        map[ins] = folded;
                        continue;
                    }
                    var called = ins.CalledComputations.Select(Import).ToList();
                    var declared = OpCatalogue.Get(ins.Opcode).TakesDeclaredShape || ins.Opcode == "dot" || ins.Opcode == "convolution" ? Map(ins.Shape) : null;
                    map[ins] = AddInstruction(ins.Opcode, operands, ins.Attributes.Clone(), declared, called);
                }
            }
            finally
            {
                Metadata = saved;
            }
            return map[callee.Root];
        }

        /// <summary>
        /// Structural zeros. A select on a constant predicate that picks a zero fill (a gradient rule's zero cotangent for
        /// the branch not taken: BatchNorm's inference branch in the train step, where <c>training = true</c>) makes that
        /// fill a known zero, and what is computed from known zeros alone folds as a symbolic zero does in reverse-mode
        /// differentiation: x·0 and 0/x are 0, x ± 0 is x, 0 − x is −x, and a sum, dot, convolution, broadcast, reshape,
        /// transpose, convert or pad (with a zero pad value) of 0 is 0. The folded program computes the derivative of the
        /// branch taken, as a program traced with the flag known would; it differs from the unfolded one only where the
        /// branch not taken produced inf or NaN (0·inf is NaN in IEEE arithmetic) or in the sign of a zero. Only zeros that
        /// come from a folded select fold: a zero the user multiplies by in the program keeps IEEE semantics.
        /// Returns the folded value (a known zero is recorded in <paramref name="zeros"/>), or null to build the instruction.
        /// </summary>
        HloInstruction? FoldZero(HloInstruction ins, IReadOnlyList<HloInstruction> operands, Shape shape, HashSet<HloInstruction> zeros)
        {
            if (zeros.Count == 0 || !shape.IsArray || !operands.Any(zeros.Contains)) return null;
            bool Z(int i) => zeros.Contains(operands[i]);
            HloInstruction Zero()
            {
                var z = Full(shape.ElementType, 0, shape.Dims.ToArray());
                zeros.Add(z);
                return z;
            }
            switch (ins.Opcode)
            {
                case "multiply":
                case "dot":
                case "convolution":
                    return Zero();
                case "divide":
                    return Z(0) ? Zero() : null;
                case "add":
                    if (Z(0) && Z(1)) return Zero();
                    return Z(0) ? operands[1] : operands[0];
                case "subtract":
                    if (Z(0) && Z(1)) return Zero();
                    return Z(1) ? operands[0] : Negate(operands[1]);
                case "negate":
                case "broadcast":
                case "reshape":
                case "transpose":
                case "convert":
                case "copy":
                    return Zero();
                case "select":
                    return Z(1) && Z(2) ? Zero() : null;
                case "pad":
                    return Z(0) && (Z(1) || IsZeroFill(operands[1])) ? Zero() : null;
                case "reduce" when operands.Count == 2 && Z(0) && IsZeroFill(operands[1]) && IsAddition(ins.CalledComputations[0]):
                    return Zero();
                default:
                    return null;
            }
        }

        /// <summary>A constant zero, or a broadcast of a scalar constant zero.</summary>
        static bool IsZeroFill(HloInstruction x)
        {
            if (x.Opcode == "broadcast" && x.Operands[0].Shape.IsScalar) x = x.Operands[0];
            if (x.Opcode != "constant" || !x.Shape.IsScalar) return false;
            return x.Attributes.Literal?.Data switch
            {
                float[] { Length: 1 } f => f[0] == 0,
                double[] { Length: 1 } d => d[0] == 0,
                _ => false,
            };
        }

        /// <summary>A reducer computing the sum of its two parameters.</summary>
        static bool IsAddition(HloComputation reducer) =>
            reducer.Root.Opcode == "add" && reducer.Root.Operands.Count == 2 && reducer.Root.Operands.All(o => o.Opcode == "parameter")
            && reducer.Root.Operands[0] != reducer.Root.Operands[1];

        /// <summary>The value of a pred constant, or of a broadcast of a scalar pred constant; null otherwise.</summary>
        static bool? ConstantPredicate(HloInstruction p)
        {
            if (p.Opcode == "broadcast" && p.Operands[0].Shape.IsScalar) p = p.Operands[0];
            if (p.Opcode != "constant" || !p.Shape.IsScalar || p.Shape.ElementType != ElementType.Pred) return null;
            return p.Attributes.Literal?.Data is bool[] { Length: 1 } v ? v[0] : (bool?)null;
        }

        /// <summary>Adds a computation of another module (and what it calls) to this module, once per name.</summary>
        public HloComputation Import(HloComputation other)
        {
            if (context.Computations.Contains(other)) return other;
            var key = "import:" + other.Name;
            if (context.Shared.TryGetValue(key, out var done)) return done;
            var sub = CreateSubBuilder(other.Name);
            var args = other.Parameters.Select(p => sub.Parameter(p.Shape, p.Name)).ToList();
            var c = sub.Build(sub.Inline(other, args));
            context.Shared[key] = c;
            return c;
        }

        /// <summary>Finishes a sub-computation with <paramref name="root"/> and adds it to the module.</summary>
        public HloComputation Build(HloInstruction root)
        {
            if (root.Parent != computation) throw new ArgumentException($"root {root.Describe()} is not in computation %{computation.Name}");
            built = true;
            computation.Root = root;
            computation.Id = context.NextId++;
            context.Computations.Add(computation);
            return computation;
        }

        /// <summary>Finishes the entry computation and returns the module (callees first, entry last).</summary>
        public HloModule BuildModule(HloInstruction root)
        {
            var entry = Build(root);
            return new HloModule(moduleName, context.Computations, entry);
        }
    }
}
