using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using XlaGen.Data;
using XlaGen.Tests.Models;
using XlaGen.Training;

namespace XlaGen.Tests;

/// <summary>
/// The TensorBoard callback after a real Fit: every event file is decoded here field by field — the TFRecord framing
/// with both masked CRC-32Cs (computed by a bitwise CRC-32C of this test, checked against published vectors), the
/// Event and Summary protos by TensorFlow's field numbers — and its values are those the Fit returned.
/// </summary>
public class TensorBoardTests
{
    // ── an independent CRC-32C (bitwise, no table) and its check values ──

    static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }

    [Fact]
    public void TheTestsCrc32CGivesThePublishedValues()
    {
        Assert.Equal(0xE3069283u, Crc32C(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0x8A9136AAu, Crc32C(new byte[32]));                                   // RFC 3720 B.4
        Assert.Equal(0x62A8AB43u, Crc32C(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    // ── decoding ──

    sealed record Value(string Tag, float? Simple, string? PluginName, int DataClass, int Dtype, List<byte[]> Strings, bool ScalarShape);

    sealed record Event(double WallTime, long Step, string? FileVersion, List<Value>? Summary);

    /// <summary>The records of a TFRecord file; each length and payload must carry its masked CRC-32C.</summary>
    static List<byte[]> Records(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var records = new List<byte[]>();
        int at = 0;
        while (at < bytes.Length)
        {
            Assert.True(bytes.Length - at >= 12, $"{path}: a record header is cut short at byte {at}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
            Assert.Equal(Masked(bytes.AsSpan(at, 8)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)));
            at += 12;
            Assert.True((ulong)(bytes.Length - at) >= length + 4, $"{path}: record data is cut short at byte {at}");
            var data = bytes.AsSpan(at, (int)length).ToArray();
            at += (int)length;
            Assert.Equal(Masked(data), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
            at += 4;
            records.Add(data);
        }
        return records;
    }

    static Event DecodeEvent(byte[] data)
    {
        var input = new CodedInputStream(data);
        double wall = 0;
        long step = 0;
        string? version = null;
        List<Value>? summary = null;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (1 << 3) | 1: wall = input.ReadDouble(); break;             // wall_time = 1, double
                case (2 << 3) | 0: step = input.ReadInt64(); break;              // step = 2, int64
                case (3 << 3) | 2: version = input.ReadString(); break;          // file_version = 3
                case (5 << 3) | 2: summary = DecodeSummary(input.ReadBytes()); break;  // summary = 5
                default: Assert.Fail($"Event has an unexpected field {tag >> 3} (wire type {tag & 7})"); break;
            }
        }
        return new Event(wall, step, version, summary);
    }

    static List<Value> DecodeSummary(ByteString bytes)
    {
        var values = new List<Value>();
        var input = new CodedInputStream(bytes.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            Assert.Equal((1u << 3) | 2, tag);                                    // repeated Value value = 1
            values.Add(DecodeValue(input.ReadBytes()));
        }
        return values;
    }

    static Value DecodeValue(ByteString bytes)
    {
        var input = new CodedInputStream(bytes.ToByteArray());
        string name = "";
        float? simple = null;
        string? plugin = null;
        int dataClass = 0, dtype = 0;
        var strings = new List<byte[]>();
        bool scalarShape = false;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (1 << 3) | 2: name = input.ReadString(); break;             // tag = 1
                case (2 << 3) | 5: simple = input.ReadFloat(); break;            // simple_value = 2, float
                case (9 << 3) | 2:                                               // metadata = 9: SummaryMetadata
                {
                    var m = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint t;
                    while ((t = m.ReadTag()) != 0)
                    {
                        if (t == ((1 << 3) | 2))                                 // plugin_data = 1 { plugin_name = 1 }
                        {
                            var p = new CodedInputStream(m.ReadBytes().ToByteArray());
                            Assert.Equal((1u << 3) | 2, p.ReadTag());
                            plugin = p.ReadString();
                        }
                        else if (t == ((4 << 3) | 0)) dataClass = m.ReadEnum();  // data_class = 4
                        else Assert.Fail($"SummaryMetadata has an unexpected field {t >> 3}");
                    }
                    break;
                }
                case (8 << 3) | 2:                                               // tensor = 8: TensorProto
                {
                    var tp = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint t;
                    while ((t = tp.ReadTag()) != 0)
                    {
                        if (t == ((1 << 3) | 0)) dtype = tp.ReadEnum();          // dtype = 1
                        else if (t == ((2 << 3) | 2)) scalarShape = tp.ReadBytes().Length == 0;  // tensor_shape = 2, no dims
                        else if (t == ((8 << 3) | 2)) strings.Add(tp.ReadBytes().ToByteArray());  // string_val = 8
                        else Assert.Fail($"TensorProto has an unexpected field {t >> 3}");
                    }
                    break;
                }
                default: Assert.Fail($"Summary.Value has an unexpected field {tag >> 3} (wire type {tag & 7})"); break;
            }
        }
        return new Value(name, simple, plugin, dataClass, dtype, strings, scalarShape);
    }

    static List<Event> ReadEvents(string path) => Records(path).Select(DecodeEvent).ToList();

    /// <summary>Records every StepMetrics Fit reports, to compare the batch_ scalars with.</summary>
    sealed class StepRecorder : ITrainingCallback
    {
        public List<StepMetrics> Steps { get; } = new();

        public void OnEpochEnd(ModelRunner model, EpochMetrics metrics, TrainingControl control) { }

        public void OnStepMetrics(ModelRunner model, StepMetrics metrics, TrainingControl control) => Steps.Add(metrics);
    }

    [Fact]
    public void AFitWritesEventFilesWithTheValuesOfItsHistory()
    {
        var rng = new Random(5);
        Tensor<double> X(int n) => new(new long[] { n, 6 }, Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
        Tensor<int> Y(int n) => new(new long[] { n }, Enumerable.Range(0, n).Select(_ => rng.Next(3)).ToArray());
        var (x, y, vx, vy) = (X(110), Y(110), X(40), Y(40));
        var logDir = Path.Combine(Path.GetTempPath(), "xlagen-tensorboard-" + Guid.NewGuid().ToString("N"));
        double before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 1;
        using var model = TinyNet.Create(seed: 2);
        var schedule = LearningRate.StepDecay(0.1, every: 4, factor: 0.5);
        model.Compile(new Sgd(schedule));
        using var board = new TensorBoard(logDir);
        var steps = new StepRecorder();
        // 110 rows in batches of 20: five full batches and one of 10 (two train-step programs), metrics read every 2 steps.
        var history = model.Fit(x, y, new FitOptions
        {
            Epochs = 3, BatchSize = 20, MetricsEvery = 2, Verbose = false, Shuffle = true,
            Validation = new Dataset(vx, vy), Callbacks = new ITrainingCallback[] { board, steps },
        });
        double after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + 1;
        Assert.Equal(3, history.Epochs.Count);

        // One file per run folder, named as TensorFlow names them.
        var trainFiles = Directory.GetFiles(Path.Combine(logDir, "train"));
        var validationFiles = Directory.GetFiles(Path.Combine(logDir, "validation"));
        Assert.Single(trainFiles);
        Assert.Single(validationFiles);
        Assert.Equal(new[] { trainFiles[0], validationFiles[0] }, board.Files);
        var namePattern = $@"^events\.out\.tfevents\.\d{{10}}\.{System.Text.RegularExpressions.Regex.Escape(Environment.MachineName)}$";
        Assert.Matches(namePattern, Path.GetFileName(trainFiles[0]));
        Assert.Matches(namePattern, Path.GetFileName(validationFiles[0]));

        var train = ReadEvents(trainFiles[0]);
        var validation = ReadEvents(validationFiles[0]);
        foreach (var events in new[] { train, validation })
        {
            Assert.Equal("brain.Event:2", events[0].FileVersion);
            Assert.Null(events[0].Summary);
            Assert.All(events, e => Assert.InRange(e.WallTime, before, after));
            Assert.All(events.Skip(1), e => Assert.NotNull(e.Summary));
        }

        // Epoch scalars: at step epoch - 1, equal to the History (as float, the type of simple_value).
        float Scalar(List<Event> events, string tag, long step) =>
            events.Where(e => e.Summary != null && e.Step == step).SelectMany(e => e.Summary!).Single(v => v.Tag == tag).Simple!.Value;
        foreach (var epoch in history.Epochs)
        {
            long step = epoch.Epoch - 1;
            Assert.Equal((float)epoch.Loss, Scalar(train, "epoch_loss", step));
            Assert.Equal((float)epoch.Metrics["accuracy"], Scalar(train, "epoch_accuracy", step));
            Assert.Equal((float)schedule.At(6L * epoch.Epoch), Scalar(train, "epoch_learning_rate", step));
            Assert.Equal((float)epoch.ValidationLoss!.Value, Scalar(validation, "epoch_loss", step));
            Assert.Equal((float)epoch.ValidationMetrics!["accuracy"], Scalar(validation, "epoch_accuracy", step));
        }
        Assert.Equal(3 * 2, validation.SelectMany(e => e.Summary ?? new()).Count());

        // Batch scalars: every metrics read (steps 2, 4, 6 of each epoch), at the global step, with the learning rate of
        // that step: 0.1 · 0.5^⌊(step − 1) / 4⌋.
        var batchEvents = train.Where(e => e.Summary != null && e.Summary.Any(v => v.Tag == "batch_loss")).ToList();
        Assert.Equal(new long[] { 2, 4, 6, 8, 10, 12, 14, 16, 18 }, batchEvents.Select(e => e.Step));
        Assert.Equal(steps.Steps.Select(s => s.GlobalStep), batchEvents.Select(e => e.Step));
        foreach (var (e, s) in batchEvents.Zip(steps.Steps))
        {
            Assert.Equal((float)s.Loss, e.Summary!.Single(v => v.Tag == "batch_loss").Simple);
            Assert.Equal((float)s.Metrics["accuracy"], e.Summary!.Single(v => v.Tag == "batch_accuracy").Simple);
            Assert.Equal((float)(0.1 * Math.Pow(0.5, (e.Step - 1) / 4)), e.Summary!.Single(v => v.Tag == "batch_learning_rate").Simple);
            Assert.All(e.Summary!, v => Assert.Null(v.PluginName));
        }
        // The epoch-end read equals the epoch's History loss.
        foreach (var epoch in history.Epochs)
            Assert.Equal((float)epoch.Loss, batchEvents[epoch.Epoch * 3 - 1].Summary!.Single(v => v.Tag == "batch_loss").Simple);

        // The train step's HLO, once per program (batch 20 and the last batch of 10), as a text-plugin string tensor.
        var texts = train.Where(e => e.Summary != null).SelectMany(e => e.Summary!).Where(v => v.PluginName != null).ToList();
        Assert.Equal(new[] { "train_step_hlo/20", "train_step_hlo/10" }, texts.Select(v => v.Tag));
        foreach (var (v, batch) in texts.Zip(new[] { 20, 10 }))
        {
            Assert.Equal("text", v.PluginName);
            Assert.Equal(2, v.DataClass);   // DATA_CLASS_TENSOR
            Assert.Equal(7, v.Dtype);       // DT_STRING
            Assert.True(v.ScalarShape);
            var expected = TrainingPrograms.TrainStep(TinyNet.BuildLossProgram(batch), TinyNet.LossDefinition, TinyNet.ParameterSpecs, new Sgd(schedule), batch).ToString();
            Assert.Equal("```\n" + expected + "\n```", Encoding.UTF8.GetString(v.Strings.Single()));
        }
        Directory.Delete(logDir, recursive: true);
    }

    [Fact]
    public void EveryFitStartsNewFilesAndOnlyEpochScalarsWhenAsked()
    {
        var rng = new Random(9);
        var x = new Tensor<double>(new long[] { 40, 6 }, Enumerable.Range(0, 240).Select(_ => rng.NextDouble()).ToArray());
        var y = new Tensor<int>(new long[] { 40 }, Enumerable.Range(0, 40).Select(_ => rng.Next(3)).ToArray());
        var logDir = Path.Combine(Path.GetTempPath(), "xlagen-tensorboard-" + Guid.NewGuid().ToString("N"));
        using var model = TinyNet.Create(seed: 1);
        model.Compile(new Adam(1e-2));
        using var board = new TensorBoard(logDir, stepScalars: false, writeProgram: false);
        var options = new FitOptions { Epochs = 2, BatchSize = 10, MetricsEvery = 1, Verbose = false, Callbacks = new ITrainingCallback[] { board } };
        var first = model.Fit(x, y, options);
        var second = model.Fit(x, y, options);
        Assert.Equal(2, board.Files.Count);
        Assert.False(Directory.Exists(Path.Combine(logDir, "validation")));
        var all = board.Files.Select(ReadEvents).ToList();
        foreach (var (events, history) in all.Zip(new[] { first, second }))
        {
            var summaries = events.Skip(1).ToList();
            Assert.Equal(history.Epochs.Select(e => (long)e.Epoch - 1), summaries.Select(e => e.Step));
            Assert.Equal(history.Epochs.Select(e => (float)e.Loss), summaries.Select(e => e.Summary!.Single(v => v.Tag == "epoch_loss").Simple!.Value));
            Assert.DoesNotContain(summaries.SelectMany(e => e.Summary!), v => v.Tag.StartsWith("batch_", StringComparison.Ordinal) || v.PluginName != null);
        }
        Assert.Equal(new long[] { 2, 3 }, all[1].Skip(1).Select(e => e.Step));   // the second Fit continues at epoch 3
        Directory.Delete(logDir, recursive: true);
    }
}
