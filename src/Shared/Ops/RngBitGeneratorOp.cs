using XlaGen.Hlo;

namespace XlaGen.Ops
{
    /// <summary>
    /// rng-bit-generator(state), algorithm=rng_three_fry|rng_philox|rng_default: a counter-based generator. The result
    /// is the declared tuple (new state, bits): the state is u64[n] (word 0 the key, the rest the counter) and comes back
    /// with the same shape; the bits are an unsigned integer array (XlaBuilder turns a signed or float request into the
    /// unsigned type of its width, so a module never holds anything else). Three-fry keeps a 64-bit counter (u64[2]);
    /// philox a 128-bit one (u64[3], or u64[2] whose counter is (word 1, word 0)). rng_default is philox, as XLA's CPU
    /// and GPU compilers expand it (RngBitGeneratorExpander(RNG_PHILOX)).
    /// </summary>
    internal sealed class RngBitGeneratorOp : OpDef
    {
        public RngBitGeneratorOp() : base("rng-bit-generator", OpCategory.Structural, 1, 1, "algorithm") { }

        public override bool TakesDeclaredShape => true;

        public static readonly string[] Algorithms = { "rng_default", "rng_three_fry", "rng_philox" };

        protected override Shape Infer(ShapeQuery q)
        {
            var state = q.Operand(0);
            if (!state.IsArray || state.ElementType != ElementType.U64 || state.Rank != 1 || !state.Dims[0].IsConstant)
                throw q.TypeError($"the state must be u64[n], not {state}");
            var algorithm = q.Attributes.RngAlgorithm ?? "rng_default";
            if (System.Array.IndexOf(Algorithms, algorithm) < 0)
                throw q.Error($"unknown algorithm '{algorithm}' (one of {string.Join(", ", Algorithms)})");
            long words = state.Dims[0].Value;
            if (algorithm == "rng_three_fry" && words != 2)
                throw q.Error($"rng_three_fry keeps its state in u64[2] (key, counter), not {state}");
            if (algorithm != "rng_three_fry" && words != 2 && words != 3)
                throw q.Error($"{algorithm} keeps its state in u64[3] (key, 128-bit counter) or u64[2], not {state}");
            var declared = q.RequireDeclared();
            if (!declared.IsTuple || declared.TupleShapes.Count != 2)
                throw q.Error($"the result must be a tuple (state, bits), not {declared}");
            var newState = declared.TupleShapes[0];
            var bits = declared.TupleShapes[1];
            if (!newState.Equals(state)) throw q.Error($"the new state {newState} must have the state's shape {state}");
            if (!bits.IsArray || !bits.ElementType.IsUnsignedInteger())
                throw q.TypeError($"the bits must be an array of u8, u16, u32 or u64, not {bits}");
            return Shape.Tuple(newState.WithLayout(null), bits.WithLayout(null));
        }
    }
}
