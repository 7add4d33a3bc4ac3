using XlaGen.Training;

namespace XlaGen.Tests.Training;

public sealed class HistoryTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "xlagen-history-tests", Guid.NewGuid().ToString("N"));

    public HistoryTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    internal static History TwoEpochs()
    {
        var h = new History();
        h.Epochs.Add(new EpochMetrics(1, 0.51234, new Dictionary<string, double> { ["accuracy"] = 0.8234 }, 0.45, new Dictionary<string, double> { ["accuracy"] = 0.84 },
            TimeSpan.FromSeconds(2.14), 28037.4));
        h.Epochs.Add(new EpochMetrics(2, 0.37, new Dictionary<string, double> { ["accuracy"] = 0.8651 }, 0.4012, new Dictionary<string, double> { ["accuracy"] = 0.8561 },
            TimeSpan.FromSeconds(65), 45210.2));
        return h;
    }

    [Fact]
    public void TheTableAlignsEveryColumn()
    {
        Assert.Equal(
            "epoch    loss  accuracy  val_loss  val_accuracy  time  samples/s\n" +
            "    1  0.5123    0.8234    0.4500        0.8400  2.1s     28,037\n" +
            "    2  0.3700    0.8651    0.4012        0.8561  1:05     45,210\n",
            TwoEpochs().ToTable());
    }

    [Fact]
    public void WithoutValidationThereAreNoValidationColumnsAndMissingValuesShowAsADash()
    {
        var h = new History();
        h.Epochs.Add(new EpochMetrics(1, 2.5, new Dictionary<string, double>(), null, null, TimeSpan.FromSeconds(0.5), 1000));
        h.Epochs.Add(new EpochMetrics(2, double.NaN, new Dictionary<string, double> { ["mae"] = 1.25 }, null, null, TimeSpan.FromHours(1.5), 999.6));
        Assert.Equal(
            "epoch    loss     mae     time  samples/s\n" +
            "    1  2.5000       -     0.5s      1,000\n" +
            "    2     nan  1.2500  1:30:00      1,000\n",
            h.ToTable());
        Assert.False(h.HasValidation);
        Assert.Equal(new[] { "mae" }, h.MetricNames);
    }

    [Fact]
    public void TheCsvHasEveryColumnAtFullPrecision()
    {
        var path = Path.Combine(dir, "history.csv");
        File.WriteAllText(path, "old");
        TwoEpochs().SaveCsv(path);
        Assert.Equal(
            "epoch,loss,accuracy,val_loss,val_accuracy,seconds,samples_per_second\n" +
            "1,0.51234,0.8234,0.45,0.84,2.14,28037.4\n" +
            "2,0.37,0.8651,0.4012,0.8561,65,45210.2\n",
            File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir));
    }

    [Fact]
    public void CsvHeadersAreQuotedWhenTheyNeedIt()
    {
        var h = new History();
        h.Epochs.Add(new EpochMetrics(1, 1, new Dictionary<string, double> { ["f1, macro"] = 0.5, ["say \"hi\""] = 1 }, null, null, TimeSpan.Zero, 0));
        var path = Path.Combine(dir, "quoted.csv");
        h.SaveCsv(path);
        Assert.Equal("epoch,loss,\"f1, macro\",\"say \"\"hi\"\"\",seconds,samples_per_second", File.ReadAllLines(path)[0]);
    }
}
