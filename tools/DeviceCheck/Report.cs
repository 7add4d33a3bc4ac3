using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XlaGen.DeviceCheck;

/// <summary>The whole report, written as JSON (snake_case) to --out.</summary>
sealed class Report
{
    public string Tool { get; set; } = "xlagen-device-check";
    public string XlagenVersion { get; set; } = "";
    public string StartedUtc { get; set; } = "";
    public double Seconds { get; set; }
    public string DeviceSpec { get; set; } = "";
    public string ReferenceSpec { get; set; } = "";
    public DeviceSection? Device { get; set; }
    public SuiteSection? Conformance { get; set; }
    public SuiteSection? Corpus { get; set; }
    public StepSection? TrainStep { get; set; }
    public List<PeakMemoryRow> PeakMemory { get; set; } = new();
    public TrainingSection? Training { get; set; }
    public ReplicasSection? Replicas { get; set; }
    /// <summary>One line per failed check (the details are in the sections).</summary>
    public List<string> Failures { get; set; } = new();
    public bool Passed { get; set; }
    /// <summary>"running" while parts remain (the file is rewritten after each), then "finished".</summary>
    public string State { get; set; } = "running";
}

sealed class DeviceSection
{
    public string Platform { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Version { get; set; } = "";
    public string Description { get; set; } = "";
    public double OpenSeconds { get; set; }
    public string ReferencePlatform { get; set; } = "";
}

/// <summary>The conformance cases or the corpus value cases: each run on the device and on the reference, each result
/// compared with the stated values, and the device's with the reference's (1e-5 relative for floats, exact otherwise).</summary>
sealed class SuiteSection
{
    public string? Skipped { get; set; }
    public string? Source { get; set; }
    public int Cases { get; set; }
    public int Passed { get; set; }
    public int Failed { get; set; }
    /// <summary>Cases not started because the time budget (--budget-seconds) ran out.</summary>
    public int NotRun { get; set; }
    public double DeviceSeconds { get; set; }
    public double ReferenceSeconds { get; set; }
    public string DeviceVsReferenceTolerance { get; set; } = "";
    public List<string> DeviceErrors { get; set; } = new();
    public List<string> ReferenceErrors { get; set; } = new();
    public List<string> DeviceVsExpected { get; set; } = new();
    public List<string> ReferenceVsExpected { get; set; } = new();
    public List<string> DeviceVsReference { get; set; } = new();
    /// <summary>The slowest cases on the device (compile, transfers and run), "name: ms".</summary>
    public List<string> SlowestOnDevice { get; set; } = new();
}

/// <summary>The MLP's compiled train step executed back to back on device-resident buffers, as JAX's jitted step is.</summary>
sealed class StepSection
{
    public string Program { get; set; } = "";
    public int BatchSize { get; set; }
    public string Data { get; set; } = "";
    public double CompileMs { get; set; }
    public int WarmupSteps { get; set; }
    public int TimedSteps { get; set; }
    public double MedianStepMs { get; set; }
    public double BestStepMs { get; set; }
    public double MeanStepMs { get; set; }
    public double P90StepMs { get; set; }
    public double SamplesPerS { get; set; }
    /// <summary>Wall time per step of as many steps again queued without waiting, then one download of the step counter.</summary>
    public double PipelinedStepMs { get; set; }
    /// <summary>How each timed step waited for its results.</summary>
    public string Sync { get; set; } = "";
    public string? Error { get; set; }
}

sealed class PeakMemoryRow
{
    public string Program { get; set; } = "";
    /// <summary>Our CPU plan's estimate (the reference device's PeakMemoryBytes).</summary>
    public long ReferenceBytes { get; set; }
    /// <summary>The device executable's PeakMemoryBytes (PJRT: its compiled memory stats); 0 when it does not say.</summary>
    public long DeviceBytes { get; set; }
    /// <summary>Where the device's number came from (PJRT: which compiled memory stats), when it says.</summary>
    public string? DeviceSource { get; set; }
    /// <summary>device / reference, when both are known.</summary>
    public double? Ratio { get; set; }
    public string? Error { get; set; }
}

/// <summary>Replicas on a PJRT client's devices (<see cref="ReplicasCheck"/>): one row per replica count.</summary>
sealed class ReplicasSection
{
    public string? Skipped { get; set; }
    public List<ReplicasRow> Rows { get; set; } = new();
}

sealed class ReplicasRow
{
    public int Replicas { get; set; }
    public List<int> DeviceAssignment { get; set; } = new();
    /// <summary>"ok", or what the all-reduce got wrong.</summary>
    public string AllReduce { get; set; } = "";
    public double Loss { get; set; }
    /// <summary>The replicated MLP's weights after the steps against the CPU replicas', relative to the largest weight.</summary>
    public double MaxWeightDifference { get; set; }
    public string? Error { get; set; }
}

sealed class TrainingSection
{
    public string? Skipped { get; set; }
    public string Model { get; set; } = "";
    public int Epochs { get; set; }
    public int BatchSize { get; set; }
    public string Optimizer { get; set; } = "";
    public int Seed { get; set; }
    public double FitSeconds { get; set; }
    public double SamplesPerS { get; set; }
    public double TestAccuracy { get; set; }
    public double TestLoss { get; set; }
    public double TargetAccuracy { get; set; }
    public List<EpochRow> PerEpoch { get; set; } = new();
    public string? Error { get; set; }
}

sealed class EpochRow
{
    public int Epoch { get; set; }
    public double Loss { get; set; }
    public double Accuracy { get; set; }
    public double Seconds { get; set; }
    public double SamplesPerS { get; set; }
}

[JsonSerializable(typeof(Report))]
sealed partial class ReportJson : JsonSerializerContext
{
    // Plain "+" and non-ASCII in device names and versions, not \u escapes: the report is read by people too.
    static readonly ReportJson Readable = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Writes the report to a temporary file beside <paramref name="path"/> and renames it over, so a run
    /// killed mid-write leaves the previous complete report.</summary>
    public static void Write(Report report, string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(report, Readable.Report));
        File.Move(temp, full, overwrite: true);
    }
}
