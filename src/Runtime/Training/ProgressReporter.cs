using System.Globalization;
using System.Text;

namespace XlaGen.Training;

/// <summary>
/// Training progress for people. In a terminal: one Keras-like bar per epoch, redrawn in place with '\r' at most
/// every <see cref="RedrawInterval"/>:
/// <c>Epoch 3/10 [=========>....................] 23040/60000 - 45,210 samples/s - ETA 0:01 - loss 0.4213 - accuracy 0.8512</c>,
/// replaced at the end of the epoch by its summary. Redirected (a log file, CI): a plain line each time another
/// tenth of the epoch is done, then one summary line per epoch.
/// </summary>
internal sealed class ProgressReporter : IDisposable
{
    const int BarWidth = 30;

    readonly TextWriter output;
    readonly TimeProvider time;
    readonly int? maxLineLength;
    readonly object gate = new();
    readonly StringBuilder line = new();

    int epoch, epochs;
    long totalSamples;
    long epochStarted;
    long lastDraw;
    bool drawn;
    bool barOpen;
    int lastLineLength;
    int lastTenth;

    /// <param name="output">Where the progress goes.</param>
    /// <param name="interactive">Redraw a bar in place; null: only when <paramref name="output"/> is the console's
    /// output (or error) stream and that stream is not redirected.</param>
    public ProgressReporter(TextWriter output, bool? interactive = null) : this(output, interactive, TimeProvider.System)
    {
    }

    /// <param name="output">Where the progress goes.</param>
    /// <param name="interactive">As in the other constructor.</param>
    /// <param name="time">The clock for rates, ETA and redraw throttling (tests pass a fake).</param>
    public ProgressReporter(TextWriter output, bool? interactive, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(time);
        this.output = output;
        this.time = time;
        bool isConsole = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
            || ReferenceEquals(output, Console.Error) && !Console.IsErrorRedirected;
        Interactive = interactive ?? isConsole;
        if (Interactive && isConsole) maxLineLength = ConsoleWidth() - 1; // a wrapped line cannot be redrawn with '\r'
    }

    /// <summary>Whether the bar is redrawn in place (otherwise plain lines are written).</summary>
    public bool Interactive { get; }

    /// <summary>The least time between two redraws of the bar (default 100 ms).</summary>
    public TimeSpan RedrawInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    static int ConsoleWidth()
    {
        try
        {
            int w = Console.WindowWidth;
            return w > 20 ? w : 120;
        }
        catch (IOException)
        {
            return 120;
        }
        catch (PlatformNotSupportedException)
        {
            return 120;
        }
    }

    /// <summary>Epoch <paramref name="epoch"/> of <paramref name="epochs"/> (1-based) begins; it will process <paramref name="totalSamples"/> examples.</summary>
    public void StartEpoch(int epoch, int epochs, long totalSamples)
    {
        lock (gate)
        {
            if (barOpen) EndLine();
            this.epoch = epoch;
            this.epochs = epochs;
            this.totalSamples = Math.Max(0, totalSamples);
            epochStarted = time.GetTimestamp();
            lastTenth = 0;
            drawn = false;
            if (Interactive) Draw(0, null, epochStarted);
        }
    }

    /// <summary>
    /// <paramref name="samplesDone"/> examples of the epoch are done; <paramref name="metrics"/> are the running
    /// values to show ("loss", "accuracy" …). Cheap to call every step: it writes only when a redraw is due.
    /// </summary>
    public void Update(long samplesDone, IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        lock (gate)
        {
            long now = time.GetTimestamp();
            if (Interactive)
            {
                if (drawn && time.GetElapsedTime(lastDraw, now) < RedrawInterval) return;
                Draw(samplesDone, metrics, now);
                return;
            }
            if (totalSamples <= 0 || samplesDone >= totalSamples) return; // the summary line covers the end
            int tenth = (int)(samplesDone * 10 / totalSamples);
            if (tenth <= lastTenth) return;
            lastTenth = tenth;
            line.Clear();
            line.Append(CultureInfo.InvariantCulture, $"Epoch {epoch}/{epochs} - {samplesDone}/{totalSamples} ({samplesDone * 100 / totalSamples}%)");
            AppendRateAndEta(samplesDone, now);
            AppendMetrics(metrics, prefix: "");
            output.Write(line.Append('\n'));
            output.Flush();
        }
    }

    /// <summary>The epoch is over: its summary (with validation results) replaces the bar or follows the plain lines.</summary>
    public void EndEpoch(EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        lock (gate)
        {
            line.Clear();
            var epochText = epochs > 0 ? $"Epoch {metrics.Epoch}/{epochs}" : $"Epoch {metrics.Epoch}";
            if (Interactive)
            {
                line.Append(epochText).Append(' ');
                AppendBar(totalSamples, totalSamples);
                line.Append(CultureInfo.InvariantCulture, $" {totalSamples}/{totalSamples}");
            }
            else
            {
                line.Append(epochText).Append(CultureInfo.InvariantCulture, $" - {totalSamples} samples");
            }
            line.Append(" - ").Append(History.FormatDuration(metrics.Duration));
            line.Append(" - ").Append(metrics.SamplesPerSecond.ToString("N0", CultureInfo.InvariantCulture)).Append(" samples/s");
            line.Append(" - loss ").Append(History.Metric(metrics.Loss));
            AppendMetrics(metrics.Metrics, prefix: "", skipLoss: true);
            if (metrics.ValidationLoss is { } validationLoss) line.Append(" - val_loss ").Append(History.Metric(validationLoss));
            if (metrics.ValidationMetrics != null) AppendMetrics(metrics.ValidationMetrics, prefix: "val_", skipLoss: true);
            if (Interactive)
            {
                WriteInPlace();
                EndLine();
            }
            else
            {
                output.Write(line.Append('\n'));
                output.Flush();
            }
        }
    }

    void Draw(long samplesDone, IReadOnlyDictionary<string, double>? metrics, long now)
    {
        line.Clear();
        line.Append(CultureInfo.InvariantCulture, $"Epoch {epoch}/{epochs} ");
        AppendBar(samplesDone, totalSamples);
        var total = totalSamples.ToString(CultureInfo.InvariantCulture);
        line.Append(' ').Append(samplesDone.ToString(CultureInfo.InvariantCulture).PadLeft(total.Length)).Append('/').Append(total);
        AppendRateAndEta(samplesDone, now);
        if (metrics != null) AppendMetrics(metrics, prefix: "");
        WriteInPlace();
        lastDraw = now;
        drawn = true;
    }

    /// <summary>Keras' bar: '=' for the part done, '>' at its head while the epoch runs, '.' for the rest.</summary>
    void AppendBar(long done, long total)
    {
        int filled = total > 0 ? (int)(BarWidth * Math.Clamp(done, 0, total) / total) : 0;
        line.Append('[');
        if (filled > 0)
        {
            line.Append('=', filled - 1);
            line.Append(done < total ? '>' : '=');
        }
        line.Append('.', BarWidth - filled).Append(']');
    }

    void AppendRateAndEta(long samplesDone, long now)
    {
        double seconds = time.GetElapsedTime(epochStarted, now).TotalSeconds;
        if (samplesDone <= 0 || seconds <= 0) return;
        double rate = samplesDone / seconds;
        line.Append(" - ").Append(rate.ToString("N0", CultureInfo.InvariantCulture)).Append(" samples/s");
        if (totalSamples > samplesDone)
        {
            long eta = (long)Math.Ceiling((totalSamples - samplesDone) / rate);
            line.Append(" - ETA ").Append(eta < 3600
                ? string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}", eta / 60, eta % 60)
                : string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}:{2:00}", eta / 3600, eta / 60 % 60, eta % 60));
        }
    }

    void AppendMetrics(IReadOnlyDictionary<string, double> metrics, string prefix, bool skipLoss = false)
    {
        // "loss" first, like Keras, then the rest in the dictionary's order.
        if (!skipLoss && metrics.TryGetValue("loss", out var loss)) line.Append(" - ").Append(prefix).Append("loss ").Append(History.Metric(loss));
        foreach (var (name, value) in metrics)
            if (name != "loss") line.Append(" - ").Append(prefix).Append(name).Append(' ').Append(History.Metric(value));
    }

    /// <summary>Overwrites the current terminal line: '\r', the text, and spaces over what a longer previous text left.</summary>
    void WriteInPlace()
    {
        if (maxLineLength is { } max && line.Length > max) line.Length = max;
        int length = line.Length;
        if (lastLineLength > length) line.Append(' ', lastLineLength - length);
        output.Write('\r');
        output.Write(line);
        output.Flush();
        lastLineLength = length;
        barOpen = true;
    }

    void EndLine()
    {
        output.Write('\n');
        output.Flush();
        barOpen = false;
        lastLineLength = 0;
    }

    /// <summary>Ends an unfinished bar line, so whatever is printed next starts on a line of its own.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (barOpen) EndLine();
        }
    }
}
