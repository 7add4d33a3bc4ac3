using System.Linq;
using XlaGen.Hlo;

namespace XlaGen.Surface
{
    /// <summary>
    /// Where the random bits of a training program come from. A [Loss] method that draws (Dropout, noise) gets two
    /// parameters after the model's parameters: <c>rng</c> (u64[3]: a philox key and a 128-bit counter) and
    /// <c>training</c> (pred[]). Each draw is an rng-bit-generator on the current state, and the next draw continues
    /// from the state it returns, so the draws of one program never overlap. The train step passes the counter
    /// (low word: the replica, high word: the step number) and <c>training = true</c>, so every step draws fresh
    /// bits that depend only on the seed and the step (bitwise reproducible on every backend, and resumed exactly
    /// from a checkpoint, which saves the step); the evaluation step passes <c>training = false</c>, which the
    /// inliner folds away together with the draws. Forward programs (Predict) have no source: Dropout is the identity.
    /// </summary>
    public sealed class RandomBits
    {
        /// <summary>The state parameter's shape: key, counter low word, counter high word.</summary>
        public static readonly Shape StateShape = Shape.Array(ElementType.U64, 3);

        public const string StateName = "rng";

        public const string TrainingName = "training";

        /// <summary>Philox: XLA's default on CPU and GPU, with a 128-bit counter.</summary>
        public const string Algorithm = "rng_philox";

        readonly HloBuilder builder;
        HloInstruction? state;

        public RandomBits(HloBuilder builder)
        {
            this.builder = builder;
        }

        /// <summary>True once a draw added the rng and training parameters.</summary>
        public bool Used => state != null;

        /// <summary>The training flag (pred[]), a parameter of the program; null before the first draw.</summary>
        public HloInstruction? Training { get; private set; }

        /// <summary>32 random bits per element of <paramref name="shape"/> (u32 of its dims).</summary>
        public HloInstruction Draw(Shape shape)
        {
            if (state == null)
            {
                var saved = builder.Metadata;
                builder.Metadata = null;
                state = builder.Parameter(StateShape, StateName);
                Training = builder.Parameter(Shape.Scalar(ElementType.Pred), TrainingName);
                builder.Metadata = saved;
            }
            var r = builder.RngBitGenerator(state, Shape.Array(ElementType.U32, shape.Dims.ToArray()), Algorithm);
            state = builder.GetTupleElement(r, 0);
            return builder.GetTupleElement(r, 1);
        }
    }
}
