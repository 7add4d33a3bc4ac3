namespace XlaGen.Layers;

/// <summary>Keras' BatchNormalization(axis=-1): over every axis but the last, gamma ones, beta zeros, momentum 0.99,
/// epsilon 1e-3. The moving mean and variance are non-trainable parameters the train step updates (Nn.BatchNorm); Predict
/// and Evaluate use them.</summary>
[XlaModel]
public partial class BatchNorm(int features, double momentum = 0.99, double epsilon = 1e-3)
{
    /// <summary>Keras' class name, as its layers are auto-named (<c>batch_normalization</c>, <c>batch_normalization_1</c> …); see <see cref="KerasNames"/>.</summary>
    public const string KerasName = "batch_normalization";

    [Param("features", Init = Init.Ones)] Tensor<float> gamma;
    [Param("features")] Tensor<float> beta;
    [Param("features", Trainable = false)] Tensor<float> movingMean;
    [Param("features", Init = Init.Ones, Trainable = false)] Tensor<float> movingVariance;

    /// <summary>Normalises <paramref name="x"/> per feature (its last axis): in a train step with the batch's statistics,
    /// which also update the moving mean and variance with <c>momentum</c>; in Predict and Evaluate with the moving
    /// statistics. Then scales by gamma and shifts by beta; the shape is unchanged.</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.BatchNorm(x, gamma, beta, movingMean, movingVariance, momentum, epsilon);
}

/// <summary>Keras' Dropout(rate): in train steps each element is kept with probability 1 − rate and scaled by
/// 1 / (1 − rate); the identity in Predict and Evaluate (Nn.Dropout).</summary>
[XlaModel]
public partial class Dropout(double rate)
{
    /// <summary>In a train step, zeroes each element with probability <c>rate</c> and scales the rest by 1 / (1 − rate); elsewhere returns <paramref name="x"/> unchanged.</summary>
    public Tensor<float> Call(Tensor<float> x) => Nn.Dropout(x, rate);
}
