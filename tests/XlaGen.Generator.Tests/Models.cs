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

            [Forward]
            public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
                => Nn.Relu(x.MatMul(w1) + b1).MatMul(w2) + b2;

            [Forward]
            public Tensor<float> Probabilities([Shape("B", 784)] Tensor<float> x) => Nn.Softmax(Logits(x));
        }
        """;
}
