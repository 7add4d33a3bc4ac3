using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using XlaGen.Training.TensorBoardProtos;

namespace XlaGen.Training;

/// <summary>
/// Keras' TensorBoard callback: writes TensorBoard event files under <see cref="LogDir"/> while Fit runs, one run per
/// folder as Keras lays them out — <c>train/</c> and <c>validation/</c> — each holding
/// <c>events.out.tfevents.&lt;unix seconds&gt;.&lt;hostname&gt;</c>:
/// <list type="bullet">
/// <item><c>train/</c>: <c>epoch_loss</c>, <c>epoch_&lt;metric&gt;</c> and <c>epoch_learning_rate</c> (the rate the next step
/// uses) at step = epoch − 1 (Keras' 0-based epoch index); with <see cref="StepScalars"/>, <c>batch_loss</c>,
/// <c>batch_&lt;metric&gt;</c> (the epoch's running means, as Keras' batch logs) and <c>batch_learning_rate</c> (the rate of
/// the last step) at the global optimizer step, each time Fit reads the metrics (every <see cref="FitOptions.MetricsEvery"/>
/// steps and at each epoch's end; MetricsEvery = 1 for every step); and the HLO text of each train-step program, once, as
/// a text summary tagged <c>train_step_hlo/&lt;symbolic dim values&gt;</c> (TensorBoard's Text tab; the text is a fenced
/// markdown code block).</item>
/// <item><c>validation/</c>: <c>epoch_loss</c> and <c>epoch_&lt;metric&gt;</c> on the validation data.</item>
/// </list>
/// Each file is a TFRecord stream (length, masked CRC-32C of the length, an <c>Event</c> proto, masked CRC-32C of the
/// proto; protos/tensorboard has the messages with TensorFlow's field numbers), starting with <c>file_version:
/// "brain.Event:2"</c>, flushed after every event so a running TensorBoard sees them at once. Files are closed at the
/// end of Fit (or by <see cref="Dispose"/>); another Fit with the same callback starts new files.
/// </summary>
public sealed class TensorBoard : ITrainingCallback, IDisposable
{
    EventFileWriter? train, validation;
    readonly HashSet<string> programsWritten = new(StringComparer.Ordinal);
    readonly List<string> files = new();

    /// <param name="logDir">The run's folder (created when missing); point <c>tensorboard --logdir</c> at it or its parent.</param>
    /// <param name="stepScalars">Also write the batch_ scalars each time Fit reads the metrics mid-epoch.</param>
    /// <param name="writeProgram">Record the train step's HLO text.</param>
    public TensorBoard(string logDir, bool stepScalars = true, bool writeProgram = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(logDir);
        LogDir = logDir;
        StepScalars = stepScalars;
        WriteProgram = writeProgram;
    }

    /// <summary>The run's folder; the event files go into its train/ and validation/ subfolders.</summary>
    public string LogDir { get; }

    /// <summary>Whether batch_ scalars are written each time Fit reads the metrics mid-epoch.</summary>
    public bool StepScalars { get; }

    /// <summary>Whether the train step's HLO text is recorded as a text summary.</summary>
    public bool WriteProgram { get; }

    /// <summary>The event files written so far, in the order they were created.</summary>
    public IReadOnlyList<string> Files => files;

    /// <summary>Writes the batch_ scalars (with <see cref="StepScalars"/>) at the global optimizer step, and the HLO of any train-step program not yet written.</summary>
    public void OnStepMetrics(ModelRunner model, StepMetrics metrics, TrainingControl control)
    {
        var writer = Train();
        WritePrograms(model, writer);
        if (!StepScalars) return;
        var values = new List<(string, double)> { ("batch_loss", metrics.Loss) };
        values.AddRange(metrics.Metrics.Select(m => ("batch_" + m.Key, m.Value)));
        values.Add(("batch_learning_rate", metrics.LearningRate));
        writer.WriteScalars(metrics.GlobalStep, values);
    }

    /// <summary>Writes the epoch_ scalars at step epoch − 1: the training ones under train/ (with the learning rate of the next step) and the validation ones under validation/.</summary>
    public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control)
    {
        var writer = Train();
        WritePrograms(model, writer);
        long step = metrics.Epoch - 1;
        var values = new List<(string, double)> { ("epoch_loss", metrics.Loss) };
        values.AddRange(metrics.Metrics.Select(m => ("epoch_" + m.Key, m.Value)));
        if (model.Optimizer != null) values.Add(("epoch_learning_rate", model.Optimizer.LearningRate.At(model.Step)));
        writer.WriteScalars(step, values);
        if (metrics.ValidationLoss is double validationLoss)
        {
            validation ??= Open("validation");
            var v = new List<(string, double)> { ("epoch_loss", validationLoss) };
            v.AddRange((metrics.ValidationMetrics ?? new Dictionary<string, double>()).Select(m => ("epoch_" + m.Key, m.Value)));
            validation.WriteScalars(step, v);
        }
    }

    /// <summary>Closes the event files, as <see cref="Dispose"/>.</summary>
    public void OnTrainEnd(ModelRunner model, History history) => Dispose();

    /// <summary>Closes the open event files (the next Fit starts new ones).</summary>
    public void Dispose()
    {
        train?.Dispose();
        validation?.Dispose();
        train = validation = null;
        programsWritten.Clear();
    }

    EventFileWriter Train() => train ??= Open("train");

    EventFileWriter Open(string run)
    {
        var writer = EventFileWriter.Create(Path.Combine(LogDir, run));
        files.Add(writer.Path);
        return writer;
    }

    void WritePrograms(ModelRunner model, EventFileWriter writer)
    {
        if (!WriteProgram) return;
        foreach (var (bindings, program) in model.TrainStepPrograms)
        {
            if (!programsWritten.Add(bindings)) continue;
            writer.WriteText(model.Step, "train_step_hlo/" + (bindings.Length == 0 ? "static" : bindings), "```\n" + program + "\n```");
        }
    }
}

/// <summary>One TensorBoard event file: TFRecord framing around <c>Event</c> protos, <c>brain.Event:2</c> first.</summary>
internal sealed class EventFileWriter : IDisposable
{
    public const string FileVersion = "brain.Event:2";

    readonly FileStream stream;

    EventFileWriter(string path, FileStream stream)
    {
        Path = path;
        this.stream = stream;
    }

    public string Path { get; }

    /// <summary>Creates <c>events.out.tfevents.&lt;unix seconds&gt;.&lt;hostname&gt;</c> in <paramref name="folder"/>
    /// (with a .1, .2 … suffix when a file of that name exists already) and writes the file_version event.</summary>
    public static EventFileWriter Create(string folder)
    {
        Directory.CreateDirectory(folder);
        long seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string host = Environment.MachineName;
        string baseName = System.IO.Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"events.out.tfevents.{seconds}.{host}"));
        for (int attempt = 0; ; attempt++)
        {
            string path = attempt == 0 ? baseName : string.Create(CultureInfo.InvariantCulture, $"{baseName}.{attempt}");
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            }
            catch (IOException) when (File.Exists(path) && attempt < 1000)
            {
                continue;
            }
            var writer = new EventFileWriter(path, stream);
            writer.Write(new Event { WallTime = Now(), FileVersion = FileVersion });
            return writer;
        }
    }

    static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    public void WriteScalars(long step, IEnumerable<(string Tag, double Value)> values)
    {
        var summary = new Summary();
        foreach (var (tag, value) in values) summary.Value.Add(new Summary.Types.Value { Tag = tag, SimpleValue = (float)value });
        Write(new Event { WallTime = Now(), Step = step, Summary = summary });
    }

    public void WriteText(long step, string tag, string text)
    {
        var tensor = new TensorProto { Dtype = DataType.DtString, TensorShape = new TensorShapeProto() };
        tensor.StringVal.Add(ByteString.CopyFrom(text, Encoding.UTF8));
        var value = new Summary.Types.Value
        {
            Tag = tag,
            Metadata = new SummaryMetadata
            {
                PluginData = new SummaryMetadata.Types.PluginData { PluginName = "text" },
                DataClass = DataClass.Tensor,
            },
            Tensor = tensor,
        };
        Write(new Event { WallTime = Now(), Step = step, Summary = new Summary { Value = { value } } });
    }

    void Write(Event e)
    {
        byte[] data = e.ToByteArray();
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
        stream.Flush();
    }

    public void Dispose() => stream.Dispose();
}
