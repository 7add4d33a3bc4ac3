using XlaGen.Checkpoints;
using System.Globalization;
using System.Text;

namespace XlaGen.Training;

/// <summary>What one epoch of training measured. Epochs are numbered from 1.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="Loss">The mean training loss over the epoch.</param>
/// <param name="Metrics">Training metrics other than the loss (for example "accuracy"), averaged over the epoch.</param>
/// <param name="ValidationLoss">The loss on the validation data after the epoch, when there is validation data.</param>
/// <param name="ValidationMetrics">The same metrics on the validation data, keyed without a "val_" prefix.</param>
/// <param name="Duration">The epoch's wall time, validation included.</param>
/// <param name="SamplesPerSecond">Training examples per second of that time.</param>
public sealed record EpochMetrics(
    int Epoch,
    double Loss,
    IReadOnlyDictionary<string, double> Metrics,
    double? ValidationLoss,
    IReadOnlyDictionary<string, double>? ValidationMetrics,
    TimeSpan Duration,
    double SamplesPerSecond);

/// <summary>The per-epoch record of a training run (Keras' History), printable as a table and savable as CSV.</summary>
public sealed class History
{
    /// <summary>One entry per completed epoch, in order; Fit appends to it.</summary>
    public List<EpochMetrics> Epochs { get; } = new();

    /// <summary>Training metric names in the order they first appear.</summary>
    public IReadOnlyList<string> MetricNames => Names(e => e.Metrics);

    /// <summary>Validation metric names (without "val_") in the order they first appear.</summary>
    public IReadOnlyList<string> ValidationMetricNames => Names(e => e.ValidationMetrics);

    /// <summary>Whether any epoch has a validation loss.</summary>
    public bool HasValidation => Epochs.Any(e => e.ValidationLoss.HasValue);

    List<string> Names(Func<EpochMetrics, IReadOnlyDictionary<string, double>?> select)
    {
        var names = new List<string>();
        foreach (var e in Epochs)
            if (select(e) is { } metrics)
                foreach (var name in metrics.Keys)
                    if (!names.Contains(name)) names.Add(name);
        return names;
    }

    /// <summary>One column of the table and the CSV: a header and a value per epoch (null when the epoch lacks it).</summary>
    sealed record Column(string Header, string CsvHeader, Func<EpochMetrics, double?> Value, Func<double, string> Format);

    List<Column> Columns()
    {
        var columns = new List<Column>
        {
            new("epoch", "epoch", e => e.Epoch, v => v.ToString("0", CultureInfo.InvariantCulture)),
            new("loss", "loss", e => e.Loss, Metric),
        };
        foreach (var name in MetricNames)
            columns.Add(new(name, name, e => e.Metrics.TryGetValue(name, out var v) ? v : null, Metric));
        if (HasValidation) columns.Add(new("val_loss", "val_loss", e => e.ValidationLoss, Metric));
        foreach (var name in ValidationMetricNames)
            columns.Add(new("val_" + name, "val_" + name, e => e.ValidationMetrics != null && e.ValidationMetrics.TryGetValue(name, out var v) ? v : null, Metric));
        columns.Add(new("time", "seconds", e => e.Duration.TotalSeconds, s => FormatDuration(TimeSpan.FromSeconds(s))));
        columns.Add(new("samples/s", "samples_per_second", e => e.SamplesPerSecond, v => v.ToString("N0", CultureInfo.InvariantCulture)));
        return columns;
    }

    internal static string Metric(double v) => double.IsNaN(v) ? "nan" : v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>Seconds with a decimal below a minute ("4.2s"), m:ss below an hour ("1:05"), then h:mm:ss.</summary>
    internal static string FormatDuration(TimeSpan t)
    {
        if (t.TotalSeconds < 60) return t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
        long s = (long)Math.Round(t.TotalSeconds);
        return s < 3600
            ? string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}", s / 60, s % 60)
            : string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}:{2:00}", s / 3600, s / 60 % 60, s % 60);
    }

    /// <summary>
    /// An aligned text table, one row per epoch: epoch, loss, each metric, val_loss and validation metrics (when
    /// there are any), time and samples/s. Values an epoch lacks show as "-".
    /// </summary>
    public string ToTable()
    {
        var columns = Columns();
        var cells = new List<string[]> { columns.Select(c => c.Header).ToArray() };
        foreach (var e in Epochs)
            cells.Add(columns.Select(c => c.Value(e) is { } v ? c.Format(v) : "-").ToArray());
        var widths = columns.Select((_, i) => cells.Max(row => row[i].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in cells)
        {
            for (int i = 0; i < row.Length; i++)
            {
                if (i > 0) text.Append("  ");
                text.Append(row[i].PadLeft(widths[i]));
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// Writes the history as CSV (RFC 4180; invariant culture, full precision, empty where an epoch lacks a
    /// value; columns as in <see cref="ToTable"/>, time as "seconds"), replacing <paramref name="path"/> atomically
    /// (Checkpoints.AtomicFile: an IO error is a CheckpointException naming the path; any previous file stays).
    /// </summary>
    public void SaveCsv(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var columns = Columns();
        var text = new StringBuilder();
        text.AppendJoin(',', columns.Select(c => Quote(c.CsvHeader))).Append('\n');
        foreach (var e in Epochs)
            text.AppendJoin(',', columns.Select(c => c.Value(e) is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "")).Append('\n');

        var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString());
        AtomicFile.Write(path, output => output.Write(bytes));
    }

    static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
