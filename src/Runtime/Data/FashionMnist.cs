namespace XlaGen.Data;

/// <summary>
/// Fashion-MNIST (Zalando, 28×28 grey images of 10 clothing classes) from the gzip IDX files that Debian's
/// package dataset-fashion-mnist installs under /usr/share/datasets/fashion-mnist.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files, used when FASHION_MNIST_DIR is not set.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The names of the 10 classes, indexed by label (0 is "T-shirt/top", 9 is "Ankle boot").</summary>
    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>Images as f32[N,784] scaled to [0,1], labels as s32[N].</summary>
    public sealed record Split(Tensor<float> Images, Tensor<int> Labels)
    {
        /// <summary>The number of examples (60,000 in the training split, 10,000 in the test split).</summary>
        public int Count => (int)Labels.Shape[0];
    }

    /// <summary>The folder the loaders read by default: the FASHION_MNIST_DIR environment variable when set and not empty, else <see cref="DefaultDirectory"/>.</summary>
    public static string Directory => Environment.GetEnvironmentVariable("FASHION_MNIST_DIR") is { Length: > 0 } d ? d : DefaultDirectory;

    /// <summary>Whether the data set is in <paramref name="directory"/> (null: <see cref="Directory"/>), judged by t10k-images-idx3-ubyte.gz being there.</summary>
    public static bool IsInstalled(string? directory = null) =>
        File.Exists(Path.Combine(directory ?? Directory, "t10k-images-idx3-ubyte.gz"));

    /// <summary>Reads the training split (train-images/labels-idx*-ubyte.gz) from <paramref name="directory"/> (null: <see cref="Directory"/>).</summary>
    /// <exception cref="FileNotFoundException">The data set is not installed there.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX, or the images are not [N,28,28], or the labels do not match them or are outside 0 to 9.</exception>
    public static Split LoadTrain(string? directory = null) => Load(directory ?? Directory, "train");

    /// <summary>Reads the test split (t10k-images/labels-idx*-ubyte.gz) from <paramref name="directory"/> (null: <see cref="Directory"/>).</summary>
    /// <exception cref="FileNotFoundException">The data set is not installed there.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX, or the images are not [N,28,28], or the labels do not match them or are outside 0 to 9.</exception>
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
