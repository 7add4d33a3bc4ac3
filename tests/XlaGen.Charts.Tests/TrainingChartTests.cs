using System.Buffers.Binary;
using XlaGen.Training;

namespace XlaGen.Charts.Tests;

public sealed class TrainingChartTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "xlagen-chart-tests", Guid.NewGuid().ToString("N"));

    public TrainingChartTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.True(png.Length > 1000, $"a {png.Length}-byte PNG is too small to hold a chart");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    /// <summary>Three epochs with an accuracy metric and validation.</summary>
    static History ThreeEpochs()
    {
        var h = new History();
        h.Epochs.Add(new EpochMetrics(1, 0.51234, new Dictionary<string, double> { ["accuracy"] = 0.8234 }, 0.45, new Dictionary<string, double> { ["accuracy"] = 0.84 },
            TimeSpan.FromSeconds(2.14), 28037.4));
        h.Epochs.Add(new EpochMetrics(2, 0.37, new Dictionary<string, double> { ["accuracy"] = 0.8651 }, 0.4012, new Dictionary<string, double> { ["accuracy"] = 0.8561 },
            TimeSpan.FromSeconds(65), 45210.2));
        h.Epochs.Add(new EpochMetrics(3, 0.33, new Dictionary<string, double> { ["accuracy"] = 0.88 }, 0.39,
            new Dictionary<string, double> { ["accuracy"] = 0.861 }, TimeSpan.FromSeconds(2), 40000));
        return h;
    }

    [Fact]
    public void WritesAPngOfTheRequestedSize()
    {
        var history = ThreeEpochs();
        var path = Path.Combine(dir, "training.png");

        TrainingChart.SavePng(history, path);

        Assert.Equal((1000, 450), PngSize(File.ReadAllBytes(path)));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir));
    }

    [Fact]
    public void ALossOnlyHistoryWithoutValidationStillDraws()
    {
        var history = new History();
        history.Epochs.Add(new EpochMetrics(1, 1.5, new Dictionary<string, double>(), null, null, TimeSpan.FromSeconds(1), 100));
        var path = Path.Combine(dir, "loss.png");
        TrainingChart.SavePng(history, path, width: 640, height: 480);
        Assert.Equal((640, 480), PngSize(File.ReadAllBytes(path)));
    }

    [Fact]
    public void CanDrawTextWhenTheSystemHasFonts()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the font check reads /usr/share/fonts");
        bool fonts = Directory.Exists("/usr/share/fonts") &&
            Directory.EnumerateFiles("/usr/share/fonts", "*.ttf", SearchOption.AllDirectories).Any();
        Assert.Equal(fonts, TrainingChart.CanDrawText);
    }

    [Fact]
    public void AnEmptyHistoryIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainingChart.SavePng(new History(), Path.Combine(dir, "x.png")));
        Assert.StartsWith("the history has no epochs to draw", e.Message);
        Assert.Empty(Directory.GetFiles(dir));
    }
}
