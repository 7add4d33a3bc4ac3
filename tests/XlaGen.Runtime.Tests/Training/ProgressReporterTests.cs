using XlaGen.Training;

namespace XlaGen.Tests.Training;

public class ProgressReporterTests
{
    sealed class ManualClock : TimeProvider
    {
        long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => ticks;

        public void Advance(double seconds) => ticks += TimeSpan.FromSeconds(seconds).Ticks;
    }

    static Dictionary<string, double> Running(double loss, double accuracy) => new() { ["loss"] = loss, ["accuracy"] = accuracy };

    static EpochMetrics Epoch3() => new(3, 0.4, new Dictionary<string, double> { ["accuracy"] = 0.86 }, 0.45,
        new Dictionary<string, double> { ["accuracy"] = 0.84 }, TimeSpan.FromSeconds(1.3), 46153.8);

    [Fact]
    public void InteractiveRedrawsOneKerasLikeBarInPlace()
    {
        var output = new StringWriter();
        var clock = new ManualClock();
        using var progress = new ProgressReporter(output, interactive: true, clock);

        progress.StartEpoch(3, 10, 60000);
        Assert.Equal("\rEpoch 3/10 [..............................]     0/60000", output.ToString());

        output.GetStringBuilder().Clear();
        clock.Advance(0.5);
        progress.Update(23040, Running(0.4213, 0.8512));
        var bar = "\rEpoch 3/10 [==========>...................] 23040/60000 - 46,080 samples/s - ETA 0:01 - loss 0.4213 - accuracy 0.8512";
        Assert.Equal(bar, output.ToString());

        output.GetStringBuilder().Clear();
        clock.Advance(0.05);
        progress.Update(24000, Running(0.42, 0.85));
        Assert.Equal("", output.ToString()); // 50 ms after the last redraw: too soon

        clock.Advance(0.06);
        progress.Update(26000, new Dictionary<string, double> { ["loss"] = 0.41 });
        // Shorter than the previous line: trailing spaces blank out the rest of it.
        var shorter = "\rEpoch 3/10 [============>.................] 26000/60000 - 42,623 samples/s - ETA 0:01 - loss 0.4100";
        Assert.Equal(shorter.PadRight(bar.Length), output.ToString());

        output.GetStringBuilder().Clear();
        clock.Advance(0.7);
        progress.EndEpoch(Epoch3());
        Assert.Equal("\rEpoch 3/10 [==============================] 60000/60000 - 1.3s - 46,154 samples/s - loss 0.4000 - accuracy 0.8600 - val_loss 0.4500 - val_accuracy 0.8400\n",
            output.ToString());
    }

    [Fact]
    public void InteractiveRedrawsAtMostTenTimesASecond()
    {
        var output = new StringWriter();
        var clock = new ManualClock();
        var progress = new ProgressReporter(output, interactive: true, clock);
        progress.StartEpoch(1, 1, 100_000);
        for (int step = 1; step <= 200; step++)
        {
            clock.Advance(0.005); // a step every 5 ms, for one second
            progress.Update(step * 500, Running(1, 0));
        }
        int redraws = output.ToString().Count(c => c == '\r');
        Assert.InRange(redraws, 10, 11); // the first bar, then one per 100 ms
    }

    [Fact]
    public void DisposingEndsAnUnfinishedBarLine()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, interactive: true, new ManualClock());
        progress.StartEpoch(1, 5, 10);
        progress.Dispose();
        Assert.EndsWith("\n", output.ToString());
        progress.Dispose();
        Assert.Single(output.ToString(), c => c == '\n');
    }

    [Fact]
    public void RedirectedOutputGetsPlainLinesEveryTenthAndASummary()
    {
        var output = new StringWriter();
        var clock = new ManualClock();
        var progress = new ProgressReporter(output, interactive: false, clock);
        progress.StartEpoch(3, 10, 60000);
        foreach (var done in new[] { 3000, 5999, 6000, 9000, 21000, 59000, 60000 })
        {
            clock.Advance(0.1);
            progress.Update(done, Running(0.5, 0.8));
        }
        clock.Advance(0.2);
        progress.EndEpoch(Epoch3());

        Assert.Equal(new[]
        {
            "Epoch 3/10 - 6000/60000 (10%) - 20,000 samples/s - ETA 0:03 - loss 0.5000 - accuracy 0.8000",
            "Epoch 3/10 - 21000/60000 (35%) - 42,000 samples/s - ETA 0:01 - loss 0.5000 - accuracy 0.8000",
            "Epoch 3/10 - 59000/60000 (98%) - 98,333 samples/s - ETA 0:01 - loss 0.5000 - accuracy 0.8000",
            "Epoch 3/10 - 60000 samples - 1.3s - 46,154 samples/s - loss 0.4000 - accuracy 0.8600 - val_loss 0.4500 - val_accuracy 0.8400",
        }, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\r', output.ToString());
    }

    [Fact]
    public void AWriterThatIsNotTheConsoleIsNotInteractiveByDefault()
    {
        Assert.False(new ProgressReporter(new StringWriter()).Interactive);
        Assert.True(new ProgressReporter(new StringWriter(), interactive: true).Interactive);
    }
}
