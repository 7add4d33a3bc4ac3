using XlaGen.Data;

namespace XlaGen.Training;

/// <summary>The per-example weights column a train step takes when its loss weighs examples
/// (<see cref="LossDefinition.HasSampleWeight"/>): Keras' class weights looked up by each row's label, or ones.</summary>
static class SampleWeights
{
    /// <summary>Ones for <paramref name="rows"/> examples.</summary>
    public static Tensor<float> Ones(long rows)
    {
        var data = new float[rows];
        Array.Fill(data, 1f);
        return new Tensor<float>(new[] { rows }, data);
    }

    /// <summary>The weight of each row of <paramref name="data"/>: <paramref name="classWeights"/>[label] (1 for a class the
    /// dictionary leaves out), where the label is the sparse cross-entropy's class-index input. Throws an ArgumentException
    /// naming the problem: a loss that does not weigh examples, no label input, a class outside the range, a negative or
    /// non-finite weight, a label outside the range.</summary>
    public static Tensor<float> FromClassWeights(string where, LossDefinition loss, Dataset data, IReadOnlyDictionary<int, double> classWeights)
    {
        if (!loss.HasSampleWeight)
            throw new ArgumentException($"{where}: ClassWeights weigh the examples of a sparse cross-entropy over the batch (Losses.SparseSoftmaxCrossEntropy(logits [B, classes], labels [B])), "
                + $"but the [Loss] method {loss.Method} has none", nameof(classWeights));
        var ranges = loss.LabelRanges.Where(r => r.Loss == "SparseSoftmaxCrossEntropy").Select(r => (r.Input, r.Classes)).Distinct().ToList();
        if (ranges.Count != 1)
            throw new ArgumentException($"{where}: ClassWeights look up each example's class in the labels input of {loss.Method}'s sparse cross-entropy, but "
                + (ranges.Count == 0 ? "its labels are computed, not an input" : $"it has {ranges.Count} label inputs ({string.Join(", ", ranges.Select(r => loss.Inputs[r.Input].Name))})"), nameof(classWeights));
        var (input, classes) = ranges[0];
        var table = new float[classes];
        Array.Fill(table, 1f);
        foreach (var (c, w) in classWeights)
        {
            if (c < 0 || c >= classes) throw new ArgumentException($"{where}: ClassWeights name class {c}, outside the {classes} classes [0, {classes}) of {loss.Method}", nameof(classWeights));
            if (!double.IsFinite(w) || w < 0) throw new ArgumentException($"{where}: the weight of class {c} is {w}; class weights must be finite and not negative", nameof(classWeights));
            table[c] = (float)w;
        }
        var labels = data.Columns[input];
        if (labels.Shape.Count != 1)
            throw new ArgumentException($"{where}: ClassWeights need one label per example, but '{loss.Inputs[input].Name}' is {labels.ShapeText}", nameof(classWeights));
        var weights = new float[labels.Shape[0]];
        var values = labels.Data;
        for (int i = 0; i < weights.Length; i++)
        {
            long label = Convert.ToInt64(values.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            if (label < 0 || label >= classes)
                throw new ArgumentException($"{where}: label '{loss.Inputs[input].Name}' at row {i} is {label}, outside [0, {classes}); class weights cannot be looked up", nameof(classWeights));
            weights[i] = table[label];
        }
        return new Tensor<float>(new long[] { weights.Length }, weights);
    }
}
