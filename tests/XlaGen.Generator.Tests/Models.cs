namespace XlaGen.Tests;

/// <summary>Model sources the generator tests compile.</summary>
public static class Models
{
    public const string FashionMlp = """
        using XlaGen;

        namespace Samples;

        [XlaModel]
        public partial class FashionMlp
        {
            [Param(784, 256, Init = Init.GlorotUniform)] Tensor<float> w1;
            [Param(256)] Tensor<float> b1;
            [Param(256, 10, Init = Init.GlorotUniform)] Tensor<float> w2;
            [Param(10)] Tensor<float> b2;

            [Forward(Default = true)]
            public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
                => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

            [Forward]
            public Tensor<float> Probabilities([Shape("B", 784)] Tensor<float> x) => Nn.Softmax(Logits(x));
        }
        """;

    public const string Encoder = """
        using XlaGen;

        namespace Samples;

        [XlaModel]
        public partial class Encoder
        {
            [Param(784, 32, Init = Init.HeUniform)] Tensor<float> w;
            [Param(32)] Tensor<float> b;

            [Forward]
            public Tensor<float> Encode([Shape("N", 784)] Tensor<float> x) => Nn.Relu(x.MatMul(w) + b);
        }
        """;

    public const string Autoencoder = """
        using XlaGen;

        namespace Samples;

        [XlaModel]
        public partial class Autoencoder
        {
            Encoder encoder = new();
            [Param(32, 784, Init = Init.GlorotUniform)] Tensor<float> wd;
            [Param(784)] Tensor<float> bd;

            [Forward(Default = true)]
            public Tensor<float> Reconstruct([Shape("B", 784)] Tensor<float> x)
                => Nn.Sigmoid(encoder.Encode(x).MatMul(wd) + bd);

            [Forward]
            public Tensor<float> Error([Shape("B", 784)] Tensor<float> x)
            {
                var d = Reconstruct(x) - x;
                return (d * d).Mean(1);
            }
        }
        """;

    public const string Classifier = """
        using XlaGen;

        namespace Samples;

        [XlaModel]
        public partial class Classifier
        {
            [Param(784, 64, Init = Init.HeNormal)] Tensor<float> w1;
            [Param(64)] Tensor<float> b1;
            [Param(64, 10, Init = Init.GlorotUniform)] Tensor<float> w2;

            [Forward]
            public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x) => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2);

            [Loss]
            public Tensor<float> Loss([Shape("B", 784)] Tensor<float> x, [Shape("B")] Tensor<int> labels)
                => Losses.SparseSoftmaxCrossEntropy(Logits(x), labels) + 1e-4f * Losses.L2(w1);
        }
        """;
}
