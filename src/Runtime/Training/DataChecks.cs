using System.Globalization;
using XlaGen.Data;
using XlaGen.Hlo;

namespace XlaGen.Training;

/// <summary>Host-side checks of training data that run before any step: class indices in range, inputs finite. A bad
/// value throws an ArgumentException naming the data, input, row (and column), the value and what was expected.</summary>
static class DataChecks
{
    /// <summary>Every label column of <paramref name="loss"/>'s sparse losses holds values in [0, classes).</summary>
    public static void CheckLabels(string where, string dataName, LossDefinition loss, IReadOnlyList<Tensor> columns, string offSwitch)
    {
        foreach (var range in loss.LabelRanges)
        {
            if (range.Input >= columns.Count) continue;   // Bind reports the column count
            var column = columns[range.Input];
            var name = loss.Inputs[range.Input].Name;
            var (row, value) = FirstOutOfRange(column, range.Classes);
            if (row < 0) continue;
            throw new ArgumentException(
                $"{where}: {dataName} label '{name}' at row {row.ToString(CultureInfo.InvariantCulture)} is {value.ToString(CultureInfo.InvariantCulture)}, " +
                $"outside the valid range [0, {range.Classes.ToString(CultureInfo.InvariantCulture)}) of {range.Loss} ({range.Classes.ToString(CultureInfo.InvariantCulture)} classes); " +
                $"no step ran. Fix the labels, or {offSwitch} to skip this check");
        }
    }

    static (long Row, long Value) FirstOutOfRange(Tensor column, long classes)
    {
        long rowSize = column.Shape.Count == 0 ? 1 : Math.Max(1, column.ElementCount / Math.Max(1, column.Shape[0]));
        switch (column.Data)
        {
            case int[] a:
                for (long i = 0; i < column.ElementCount; i++) if ((uint)a[i] >= (ulong)classes) return (i / rowSize, a[i]);
                break;
            case long[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] < 0 || a[i] >= classes) return (i / rowSize, a[i]);
                break;
            case short[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] < 0 || a[i] >= classes) return (i / rowSize, a[i]);
                break;
            case sbyte[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] < 0 || a[i] >= classes) return (i / rowSize, a[i]);
                break;
            case byte[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] >= classes) return (i / rowSize, a[i]);
                break;
            case ushort[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] >= classes) return (i / rowSize, a[i]);
                break;
            case uint[] a:
                for (long i = 0; i < column.ElementCount; i++) if (a[i] >= classes) return (i / rowSize, a[i]);
                break;
        }
        return (-1, 0);
    }

    /// <summary>Every floating-point column is free of NaN and ±Inf.</summary>
    public static void CheckFinite(string where, string dataName, LossDefinition loss, IReadOnlyList<Tensor> columns, string onSwitch)
    {
        for (int c = 0; c < columns.Count && c < loss.Inputs.Count; c++)
        {
            var column = columns[c];
            long index = column.Data switch
            {
                float[] f => FirstNonFinite(f.AsSpan(0, (int)column.ElementCount)),
                double[] d => FirstNonFinite(d.AsSpan(0, (int)column.ElementCount)),
                _ => -1,
            };
            if (index < 0) continue;
            long rowSize = column.Shape.Count == 0 ? 1 : Math.Max(1, column.ElementCount / Math.Max(1, column.Shape[0]));
            double value = column.Data is float[] fs ? fs[index] : ((double[])column.Data)[index];
            var text = double.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
            throw new ArgumentException(
                $"{where}: {dataName} input '{loss.Inputs[c].Name}' ({column.ShapeText}) at row {(index / rowSize).ToString(CultureInfo.InvariantCulture)}, " +
                $"column {(index % rowSize).ToString(CultureInfo.InvariantCulture)} (flat index within the row) is {text}; no step ran " +
                $"(this check is on because {onSwitch})");
        }
    }

    static long FirstNonFinite<T>(ReadOnlySpan<T> values) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++) if (!T.IsFinite(values[i])) return i;
        return -1;
    }
}
