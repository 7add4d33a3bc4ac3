namespace XlaGen.Data;

/// <summary>
/// Fashion-MNIST (Zalando, 28×28 grey images of 10 clothing classes) from the gzip IDX files that Debian's
/// package dataset-fashion-mnist installs under /usr/share/datasets/fashion-mnist.
/// </summary>
public static class FashionMnist
{
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>Images as f32[N,784] scaled to [0,1], labels as s32[N].</summary>
    public sealed record Split(Tensor<float> Images, Tensor<int> Labels)
    {
        public int Count => (int)Labels.Shape[0];
    }

    public static string Directory => Environment.GetEnvironmentVariable("FASHION_MNIST_DIR") is { Length: > 0 } d ? d : DefaultDirectory;

    public static bool IsInstalled(string? directory = null) =>
        File.Exists(Path.Combine(directory ?? Directory, "t10k-images-idx3-ubyte.gz"));

    public static Split LoadTrain(string? directory = null) => Load(directory ?? Directory, "train");

    public static Split LoadTest(string? directory = null) => Load(directory ?? Directory, "t10k");

    static Split Load(string directory, string prefix)
    {
        if (!IsInstalled(directory))
            throw new FileNotFoundException($"Fashion-MNIST is not in {directory}. Install it with: sudo apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR)");
        var images = (Tensor<byte>)Idx.Read(Path.Combine(directory, prefix + "-images-idx3-ubyte.gz"));
        var labels = (Tensor<byte>)Idx.Read(Path.Combine(directory, prefix + "-labels-idx1-ubyte.gz"));
        if (images.Rank != 3 || images.Shape[1] != 28 || images.Shape[2] != 28)
            throw new InvalidDataException($"{prefix} images have shape [{string.Join(",", images.Shape)}], expected [N,28,28]");
        if (labels.Rank != 1 || labels.Shape[0] != images.Shape[0])
            throw new InvalidDataException($"{prefix} has {images.Shape[0]} images but labels of shape [{string.Join(",", labels.Shape)}]");
        int n = (int)images.Shape[0];
        var pixels = new float[n * 784];
        var src = images.Data;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = src[i] / 255f;
        var classes = new int[n];
        for (int i = 0; i < n; i++)
        {
            classes[i] = labels.Data[i];
            if (classes[i] > 9) throw new InvalidDataException($"{prefix} label {i} is {classes[i]}, outside 0..9");
        }
        return new Split(new Tensor<float>(new long[] { n, 784 }, pixels), new Tensor<int>(new long[] { n }, classes));
    }
}
