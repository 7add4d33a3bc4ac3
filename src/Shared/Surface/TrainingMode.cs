using System.Collections.Generic;
using System.Linq;
using XlaGen.Hlo;
using XlaGen.Ops;

namespace XlaGen.Surface
{
    /// <summary>
    /// What a training program ([Loss]) has that a forward program does not: random bits, a training flag and updates
    /// of non-trainable state.
    /// <list type="bullet">
    /// <item>A loss whose layers behave differently in training (Dropout, BatchNorm) gets two parameters after the
    /// model's: <c>rng</c> (u64[3]: a philox key and a 128-bit counter) and <c>training</c> (pred[]). Each draw is an
    /// rng-bit-generator on the current state and the next draw continues from the state it returns, so the draws of
    /// one program never overlap. The train step passes (key from the seed, counter low word: the replica, high word:
    /// the step) and <c>training = true</c>, so the bits depend only on the seed and the step (bitwise reproducible on
    /// every backend, resumed exactly from a checkpoint, which saves the step); the evaluation step passes
    /// <c>training = false</c>, which the inliner folds away together with the draws.</item>
    /// <item>Non-trainable parameters (<c>[Param(Trainable = false)]</c>, BatchNorm's moving statistics) that a layer
    /// updates: the loss program returns their new values after the gradients, and the train step writes them back.</item>
    /// </list>
    /// Forward programs (Predict) have no training mode: Dropout is the identity and BatchNorm uses its moving statistics.
    /// </summary>
    internal sealed class TrainingMode
    {
        /// <summary>The state parameter's shape: key, counter low word, counter high word.</summary>
        public static readonly Shape StateShape = Shape.Array(ElementType.U64, 3);

        public const string StateName = "rng";

        public const string TrainingName = "training";

        /// <summary>Philox: XLA's default on CPU and GPU, with a 128-bit counter.</summary>
        public const string Algorithm = "rng_philox";

        readonly HloBuilder builder;
        HloInstruction? state;
        readonly List<(string Path, HloInstruction Value)> updates = new List<(string, HloInstruction)>();

        public TrainingMode(HloBuilder builder)
        {
            this.builder = builder;
        }

        /// <summary>True once the rng and training parameters were added (a draw or a mode-dependent layer).</summary>
        public bool Used => state != null;

        /// <summary>The training flag (pred[]), added as a parameter (with the rng state before it) on first use.</summary>
        public HloInstruction Flag()
        {
            if (state == null)
            {
                var saved = builder.Metadata;
                builder.Metadata = null;
                state = builder.Parameter(StateShape, StateName);
                Training = builder.Parameter(Shape.Scalar(ElementType.Pred), TrainingName);
                builder.Metadata = saved;
            }
            return Training!;
        }

        /// <summary>The training flag; null before <see cref="Flag"/>.</summary>
        public HloInstruction? Training { get; private set; }

        /// <summary>32 random bits per element of <paramref name="shape"/> (u32 of its dims).</summary>
        public HloInstruction Draw(Shape shape)
        {
            Flag();
            var r = builder.RngBitGenerator(state!, Shape.Array(ElementType.U32, shape.Dims.ToArray()), Algorithm);
            state = builder.GetTupleElement(r, 0);
            return builder.GetTupleElement(r, 1);
        }

        /// <summary>Non-trainable parameters the program updates, by path, in the order first updated.</summary>
        public IReadOnlyList<(string Path, HloInstruction Value)> StateUpdates => updates;

        /// <summary>Records the new value of the non-trainable parameter <paramref name="path"/> after this step.</summary>
        public void Update(string path, HloInstruction value, string what)
        {
            if (updates.Any(u => u.Path == path))
                throw new ShapeException($"{what}: '{path}' is already updated by another layer in this step; each layer needs its own state");
            updates.Add((path, value));
        }

        public const string SampleWeightName = "sample_weight";

        /// <summary>The symbolic batch dimension every input of the loss starts with, when there is one.</summary>
        public Dim? Batch { get; set; }

        HloInstruction? sampleWeight;

        /// <summary>True once a loss function took per-example weights (the <c>sample_weight</c> parameter exists).</summary>
        public bool HasSampleWeight => sampleWeight != null;

        /// <summary>Per-example weights (f32[batch], a parameter named <c>sample_weight</c> added on first use) for a loss
        /// over <paramref name="rows"/> rows, or null when its rows are not the batch's examples (a sequence loss over
        /// [B·T] rows). The train step passes FitOptions.ClassWeights looked up by label, or ones; evaluation passes ones.</summary>
        public HloInstruction? SampleWeight(Dim rows)
        {
            if (!(Batch is Dim batch) || !rows.Equals(batch)) return null;
            if (sampleWeight == null)
            {
                var saved = builder.Metadata;
                builder.Metadata = null;
                sampleWeight = builder.Parameter(Shape.Array(ElementType.F32, batch), SampleWeightName);
                builder.Metadata = saved;
            }
            return sampleWeight;
        }
    }
}
