namespace XlaGen
{
    /// <summary>What the prediction a loss observes for metrics is (<c>Losses.Observe</c>; the built-in losses observe
    /// their own arguments): it tells the metrics chosen in <c>Compile(optimizer, metrics)</c> how to read it.</summary>
    public enum PredictionKind
    {
        /// <summary>Unnormalised class scores [..., classes]; the target is a class index per row (an integer tensor without
        /// the class axis) or a one-hot/soft target of the prediction's shape. Softmax gives probabilities.</summary>
        ClassLogits = 0,

        /// <summary>Class probabilities [..., classes] (each row sums to 1); targets as for <see cref="ClassLogits"/>.</summary>
        ClassProbabilities = 1,

        /// <summary>Independent binary logits (sigmoid gives the probability), the target 0/1 of the same shape.</summary>
        BinaryLogits = 2,

        /// <summary>Independent binary probabilities in [0, 1], the target 0/1 of the same shape.</summary>
        BinaryProbabilities = 3,

        /// <summary>Real values (regression), the target of the same shape.</summary>
        Values = 4,
    }
}
