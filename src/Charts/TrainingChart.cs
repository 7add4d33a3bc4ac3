using XlaGen.Checkpoints;
using ScottPlot;

namespace XlaGen.Training;

/// <summary>
/// Learning curves as a PNG (ScottPlot 5 on SkiaSharp; headless, no display or system libraries needed on Linux):
/// the loss on the left, the other metrics on the right, training solid and validation dashed (open markers) in
/// the same colour.
/// </summary>
public static class TrainingChart
{
    /// <summary>
    /// Whether SkiaSharp finds any font. Without one (a minimal Linux image with nothing under /usr/share/fonts) the
    /// chart is still drawn, but without titles, labels or tick numbers; install a font package (fonts-dejavu-core).
    /// </summary>
    public static bool CanDrawText => SkiaSharp.SKTypeface.Default.GlyphCount > 0;

    /// <summary>Draws <paramref name="history"/> into a <paramref name="width"/>×<paramref name="height"/> PNG at <paramref name="path"/> (replaced atomically).</summary>
    /// <param name="history">The training run to draw: the loss on the left, the other metrics (if any) on the right.</param>
    /// <param name="path">The PNG file to write; an existing file is replaced atomically.</param>
    /// <param name="width">The image width in pixels, at least 200; 1000 by default.</param>
    /// <param name="height">The image height in pixels, at least 150; 450 by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="history"/> or <paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or <paramref name="history"/> has no epochs.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The image is smaller than 200×150.</exception>
    public static void SavePng(History history, string path, int width = 1000, int height = 450)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (history.Epochs.Count == 0) throw new ArgumentException("the history has no epochs to draw", nameof(history));
        if (width < 200 || height < 150)
            throw new ArgumentOutOfRangeException(nameof(width), $"a {width}×{height} chart is too small to read; use at least 200×150");

        var multiplot = new Multiplot { Layout = new ScottPlot.MultiplotLayouts.Columns() };
        multiplot.Subplots.RemoveAt(0); // a new Multiplot starts with one empty plot
        multiplot.AddPlot(LossPlot(history));
        var names = history.MetricNames.Union(history.ValidationMetricNames).ToList();
        if (names.Count > 0) multiplot.AddPlot(MetricsPlot(history, names));

        var image = multiplot.Render(width, height);
        var png = image.GetImageBytes(ImageFormat.Png);
        AtomicFile.Write(path, output => output.Write(png));
    }

    static Plot LossPlot(History history)
    {
        var plot = NewPlot("Loss", "loss");
        var color = Colors.Category10[0];
        AddCurve(plot, history.Epochs.Select(e => (e.Epoch, (double?)e.Loss)), "train", color, dashed: false);
        if (history.HasValidation)
            AddCurve(plot, history.Epochs.Select(e => (e.Epoch, e.ValidationLoss)), "validation", color, dashed: true);
        plot.ShowLegend(Alignment.UpperRight); // loss falls: the upper right is usually empty
        return plot;
    }

    static Plot MetricsPlot(History history, List<string> names)
    {
        var plot = names.Count == 1 ? NewPlot(Capitalise(names[0]), names[0]) : NewPlot("Metrics", "value");
        for (int i = 0; i < names.Count; i++)
        {
            var name = names[i];
            var color = Colors.Category10[(i + 1) % Colors.Category10.Length];
            AddCurve(plot, history.Epochs.Select(e => (e.Epoch, e.Metrics.TryGetValue(name, out var v) ? v : (double?)null)), name, color, dashed: false);
            AddCurve(plot, history.Epochs.Select(e => (e.Epoch, e.ValidationMetrics != null && e.ValidationMetrics.TryGetValue(name, out var v) ? v : (double?)null)),
                "val_" + name, color, dashed: true);
        }
        plot.ShowLegend(Alignment.LowerRight); // accuracy-like metrics rise: the lower right is usually empty
        return plot;
    }

    static Plot NewPlot(string title, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        return plot;
    }

    /// <summary>One curve; epochs without a (finite) value are left out, and a curve with no points is not drawn.</summary>
    static void AddCurve(Plot plot, IEnumerable<(int Epoch, double? Value)> points, string label, Color color, bool dashed)
    {
        var kept = points.Where(p => p.Value is { } v && double.IsFinite(v)).ToList();
        if (kept.Count == 0) return;
        var scatter = plot.Add.Scatter(kept.Select(p => (double)p.Epoch).ToArray(), kept.Select(p => p.Value!.Value).ToArray(), color);
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = 6;
        if (dashed)
        {
            scatter.LinePattern = LinePattern.Dashed;
            scatter.MarkerShape = MarkerShape.OpenCircle; // legends draw lines solid; the marker tells the curves apart there
        }
    }

    static string Capitalise(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..];
}
