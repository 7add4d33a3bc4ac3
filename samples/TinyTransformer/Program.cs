using System.Diagnostics;
using System.Globalization;
using System.Text;
using TinyTransformerSample;
using XlaGen;
using XlaGen.Data;
using XlaGen.Training;

// A character-level transformer language model trained on the English fortune cookies Debian ships (package fortunes),
// with its programs compiled at build time. It prints the loss per epoch, a loss curve, and generated text.
//   samples/TinyTransformer/run.sh [--epochs N] [--windows N] [--batch N] [--lr X] [--seed N] [--temperature T]
var options = Options.Parse(args);
var corpus = Corpus.Load(options.FortunesDirectory);
Console.WriteLine($"XlaGen {typeof(Devices).Assembly.GetName().Version} | {Environment.ProcessorCount} cores");
Console.WriteLine($"Corpus: {corpus.Files} fortune files from {options.FortunesDirectory}, {corpus.Text.Length:N0} characters");

var (ids, next) = corpus.Windows(options.Windows, options.Seed);
var split = options.Windows * 9 / 10;
var train = new Dataset(Rows(ids, 0, split), Rows(next, 0, split));
var validation = new Dataset(Rows(ids, split, options.Windows), Rows(next, split, options.Windows));

using var model = CharTransformer.Create(Devices.Cpu(), options.Seed);
Console.WriteLine($"CharTransformer: {model.ParameterCount:N0} parameters, context {CharTransformer.Context}, vocabulary {CharTransformer.Vocabulary}");
long steps = options.Epochs * ((split + options.Batch - 1) / options.Batch);
model.Compile(new Adam(LearningRate.CosineWithWarmup(options.LearningRate, warmupSteps: Math.Min(100, steps / 10), steps)));

var curve = new LossCurve();
var sampler = new SampleEachEpoch(options);
var clock = Stopwatch.StartNew();
var history = model.Fit(train, new FitOptions
{
    Epochs = options.Epochs,
    BatchSize = options.Batch,
    Validation = validation,
    MetricsEvery = 25,
    Callbacks = new ITrainingCallback[] { curve, sampler },
});
Console.WriteLine();
Console.WriteLine(history.ToTable());
Console.WriteLine();
Console.WriteLine("Training loss (running mean within each epoch), every 25 steps:");
Console.WriteLine(curve.Plot(width: 60, height: 12));
Console.WriteLine($"Final validation loss {history.Epochs[^1].ValidationLoss:F3} nats per character " +
    $"(a uniform guess is {Math.Log(CharTransformer.Vocabulary):F3}); {clock.Elapsed.TotalSeconds:F0} s");
Console.WriteLine();
Console.WriteLine("Generated from \"The \":");
Console.WriteLine(sampler.Generate(model, "The ", 400));
return 0;

static Tensor<int> Rows(Tensor<int> t, int from, int to) =>
    new(new long[] { to - from, t.Shape[1] }, t.Data.AsSpan(from * (int)t.Shape[1], (to - from) * (int)t.Shape[1]).ToArray());

/// <summary>The fortunes as one text over 96 symbols: printable ASCII (32–126) and newline; anything else becomes '?'.</summary>
sealed class Corpus
{
    public required string Text { get; init; }

    public required int Files { get; init; }

    public static Corpus Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory} does not exist: install the Debian package fortunes (samples/TinyTransformer/run.sh does it)");
        var files = Directory.GetFiles(directory).Where(f => Path.GetExtension(f) == "" && !File.GetAttributes(f).HasFlag(FileAttributes.ReparsePoint))
            .Order(StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        foreach (var f in files)
        {
            // fortune files separate entries with lines holding a single '%'
            foreach (var line in File.ReadLines(f, Encoding.Latin1)) text.Append(line == "%" ? "\n" : line + "\n");
        }
        if (text.Length < 10_000) throw new InvalidDataException($"{directory} holds only {text.Length} characters of fortunes");
        return new Corpus { Text = text.ToString(), Files = files.Count };
    }

    public static int Encode(char c) => c == '\n' ? 95 : c >= ' ' && c <= '~' ? c - ' ' : '?' - ' ';

    public static char Decode(int id) => id == 95 ? '\n' : (char)(id + ' ');

    /// <summary><paramref name="count"/> windows at seeded random offsets: 64 characters and the 64 that follow each.</summary>
    public (Tensor<int> Ids, Tensor<int> Next) Windows(int count, int seed)
    {
        const int T = CharTransformer.Context;
        var rng = new SplitMix64((ulong)seed);
        var ids = new int[count * T];
        var next = new int[count * T];
        for (int w = 0; w < count; w++)
        {
            int start = (int)(rng.NextUInt64() % (ulong)(Text.Length - T - 1));
            for (int t = 0; t < T; t++)
            {
                ids[w * T + t] = Encode(Text[start + t]);
                next[w * T + t] = Encode(Text[start + t + 1]);
            }
        }
        return (new Tensor<int>(new long[] { count, T }, ids), new Tensor<int>(new long[] { count, T }, next));
    }
}

/// <summary>The running training loss each time Fit reads it, for the curve.</summary>
sealed class LossCurve : ITrainingCallback
{
    readonly List<double> points = new();

    public void OnMetricsRead(ModelRunner model, int epoch, long step, double loss, TrainingControl control) => points.Add(loss);

    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) { }

    /// <summary>A text plot: one column per reading (resampled to the width), the loss axis labelled.</summary>
    public string Plot(int width, int height)
    {
        if (points.Count == 0) return "(no readings)";
        var cols = Enumerable.Range(0, Math.Min(width, points.Count)).Select(i => points[i * points.Count / Math.Min(width, points.Count)]).ToArray();
        double lo = cols.Min(), hi = cols.Max();
        if (hi - lo < 1e-9) hi = lo + 1;
        var sb = new StringBuilder();
        for (int r = 0; r < height; r++)
        {
            double level = hi - (hi - lo) * r / (height - 1);
            sb.Append(level.ToString("F2", CultureInfo.InvariantCulture).PadLeft(6)).Append(" |");
            foreach (var v in cols) sb.Append(Math.Abs(v - level) <= (hi - lo) / (2 * (height - 1)) ? '*' : ' ');
            sb.AppendLine();
        }
        sb.Append("       +").Append(new string('-', cols.Length)).Append($"> {points.Count} readings");
        return sb.ToString();
    }
}

/// <summary>Prints a line of generated text after every epoch.</summary>
sealed class SampleEachEpoch(Options options) : ITrainingCallback
{
    readonly SplitMix64 rng = new((ulong)options.Seed + 1);

    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control)
    {
        var text = Generate((CharTransformer.Runner)model, "The ", 120).Replace("\n", " / ");
        Console.WriteLine($"  epoch {metrics.Epoch} sample: {text}");
    }

    /// <summary>Continues <paramref name="prompt"/> by <paramref name="length"/> characters, sampling each from the
    /// softmax of the last position's scores at the chosen temperature (the window slides over the last 64).</summary>
    public string Generate(CharTransformer.Runner model, string prompt, int length)
    {
        const int T = CharTransformer.Context;
        var ids = new List<int>(prompt.Select(Corpus.Encode));
        for (int n = 0; n < length; n++)
        {
            // left-pad with newlines: the model saw fortunes start after one
            var window = Enumerable.Repeat(95, Math.Max(0, T - ids.Count)).Concat(ids.Skip(Math.Max(0, ids.Count - T))).ToArray();
            var logits = model.Predict(new Tensor<int>(new long[] { 1, T }, window));
            var last = logits.Data.AsSpan((T - 1) * CharTransformer.Vocabulary, CharTransformer.Vocabulary);
            double max = double.NegativeInfinity;
            foreach (var v in last) max = Math.Max(max, v);
            var weights = new double[last.Length];
            double sum = 0;
            for (int i = 0; i < last.Length; i++) sum += weights[i] = Math.Exp((last[i] - max) / options.Temperature);
            double u = rng.NextDouble() * sum;
            int pick = 0;
            while (pick < weights.Length - 1 && (u -= weights[pick]) > 0) pick++;
            ids.Add(pick);
        }
        return new string(ids.Select(Corpus.Decode).ToArray());
    }
}

sealed record Options(int Epochs, int Windows, int Batch, double LearningRate, int Seed, double Temperature, string FortunesDirectory)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(6, 16384, 32, 3e-3, 7, 0.8, "/usr/share/games/fortunes");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--epochs" => o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--windows" => o with { Windows = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--batch" => o with { Batch = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--lr" => o with { LearningRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--temperature" => o with { Temperature = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--fortunes" => o with { FortunesDirectory = Next() },
                _ => throw new ArgumentException($"unknown option {args[i]} (use --epochs, --windows, --batch, --lr, --seed, --temperature, --fortunes)"),
            };
        }
        if (o.Windows < 100) throw new ArgumentException("--windows must be at least 100");
        return o;
    }
}
