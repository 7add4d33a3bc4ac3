using System.Globalization;
using XlaGen.Data;
using XlaGen.Hlo;

namespace XlaGen.Training;

/// <summary>Host-side checks of training data that run before any step: class indices in range, inputs finite. A bad
/// value throws an ArgumentException naming the data, input, row (and column), the value and what was expected.
/// Slices of a dataset are read in place (no copy of their rows).</summary>
static class DataChecks
{
    /// <summary>A column's elements: <see cref="Length"/> elements of <see cref="Source"/> from <see cref="Start"/>.</summary>
    readonly record struct ColumnView(Tensor Source, long Start, long Length, long RowElements, long Rows)
    {
        public string ShapeText
        {
            get
            {
                var dims = Source.Shape.ToArray();
                dims[0] = Rows;
                return $"{Source.ElementType.TextName()}[{string.Join(",", dims.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";
            }
        }
    }

    public static void Check(string where, string dataName, LossDefinition loss, Dataset data, bool checkLabels, bool checkInputs, string labelsOff, string inputsOn)
    {
        var views = new ColumnView[data.ColumnCount];
        for (int c = 0; c < views.Length; c++)
        {
            var (source, start, length, rowElements) = data.ColumnView(c);
            views[c] = new ColumnView(source, start, length, rowElements, data.Count);
        }
        Check(where, dataName, loss, views, checkLabels, checkInputs, labelsOff, inputsOn);
    }

    public static void Check(string where, string dataName, LossDefinition loss, IReadOnlyList<Tensor> batch, bool checkLabels, bool checkInputs, string labelsOff, string inputsOn)
    {
        var views = batch.Select(t => t is null || t.Rank == 0 ? default
            : new ColumnView(t, 0, t.ElementCount, t.ElementCount / Math.Max(1, t.Shape[0]), t.Shape[0])).ToArray();
        Check(where, dataName, loss, views, checkLabels, checkInputs, labelsOff, inputsOn);
    }

    static void Check(string where, string dataName, LossDefinition loss, ColumnView[] columns, bool checkLabels, bool checkInputs, string labelsOff, string inputsOn)
    {
        if (checkLabels) CheckLabels(where, dataName, loss, columns, labelsOff);
        if (checkInputs) CheckFinite(where, dataName, loss, columns, inputsOn);
    }

    /// <summary>Every label column of <paramref name="loss"/>'s sparse losses holds values in [0, classes).</summary>
    static void CheckLabels(string where, string dataName, LossDefinition loss, ColumnView[] columns, string offSwitch)
    {
        foreach (var range in loss.LabelRanges)
        {
            if (range.Input >= columns.Length || columns[range.Input].Source is null) continue;   // Bind reports the column count
            var column = columns[range.Input];
            var (index, value) = FirstOutOfRange(column, range.Classes);
            if (index < 0) continue;
            var classes = range.Classes.ToString(CultureInfo.InvariantCulture);
            throw new ArgumentException(
                $"{where}: {dataName} label '{loss.Inputs[range.Input].Name}' at row {((index - column.Start) / column.RowElements).ToString(CultureInfo.InvariantCulture)} " +
                $"is {value.ToString(CultureInfo.InvariantCulture)}, outside the valid range [0, {classes}) of {range.Loss} ({classes} classes); " +
                $"no step ran. Fix the labels, or {offSwitch} to skip this check");
        }
    }

    static (long Index, long Value) FirstOutOfRange(ColumnView c, long classes)
    {
        long end = c.Start + c.Length;
        switch (c.Source.Data)
        {
            case int[] a:
                for (long i = c.Start; i < end; i++) if (a[i] < 0 || a[i] >= classes) return (i, a[i]);
                break;
            case long[] a:
                for (long i = c.Start; i < end; i++) if (a[i] < 0 || a[i] >= classes) return (i, a[i]);
                break;
            case short[] a:
                for (long i = c.Start; i < end; i++) if (a[i] < 0 || a[i] >= classes) return (i, a[i]);
                break;
            case sbyte[] a:
                for (long i = c.Start; i < end; i++) if (a[i] < 0 || a[i] >= classes) return (i, a[i]);
                break;
            case byte[] a:
                for (long i = c.Start; i < end; i++) if (a[i] >= classes) return (i, a[i]);
                break;
            case ushort[] a:
                for (long i = c.Start; i < end; i++) if (a[i] >= classes) return (i, a[i]);
                break;
            case uint[] a:
                for (long i = c.Start; i < end; i++) if (a[i] >= classes) return (i, a[i]);
                break;
        }
        return (-1, 0);
    }

    /// <summary>Every floating-point column is free of NaN and ±Inf.</summary>
    static void CheckFinite(string where, string dataName, LossDefinition loss, ColumnView[] columns, string onSwitch)
    {
        for (int c = 0; c < columns.Length && c < loss.Inputs.Count; c++)
        {
            var column = columns[c];
            if (column.Source is null) continue;
            int start = checked((int)column.Start), length = checked((int)column.Length);
            long index = column.Source.Data switch
            {
                float[] f => FirstNonFinite<float>(f.AsSpan(start, length)),
                double[] d => FirstNonFinite<double>(d.AsSpan(start, length)),
                _ => -1,
            };
            if (index < 0) continue;
            double value = column.Source.Data is float[] fs ? fs[start + index] : ((double[])column.Source.Data)[start + index];
            var text = double.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
            throw new ArgumentException(
                $"{where}: {dataName} input '{loss.Inputs[c].Name}' ({column.ShapeText}) at row {(index / column.RowElements).ToString(CultureInfo.InvariantCulture)}, " +
                $"column {(index % column.RowElements).ToString(CultureInfo.InvariantCulture)} (flat index within the row) is {text}; no step ran " +
                $"(this check is on because {onSwitch})");
        }
    }

    static long FirstNonFinite<T>(ReadOnlySpan<T> values) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++) if (!T.IsFinite(values[i])) return i;
        return -1;
    }
}
