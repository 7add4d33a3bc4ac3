using System.Diagnostics;
using System.Globalization;
using XlaGen;
using XlaGen.Data;
using XlaGen.DeviceCheck;

// The device check (issue 8, item 9): scripts/device-check.sh runs this on the GPU machine as
//   xlagen-device-check --device pjrt:PLUGIN --reference cpu --corpus DIR --data DIR --out FILE.json --epochs 10
// See Options.Usage for every argument, bench/README.md ("Device check") for what it reports.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Options options;
try
{
    options = Options.Parse(args);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"xlagen-device-check: {e.Message}");
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

var total = Stopwatch.StartNew();
var log = Console.Out;
var report = new Report
{
    XlagenVersion = typeof(Devices).Assembly.GetName().Version?.ToString() ?? "?",
    StartedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
    DeviceSpec = options.Device,
    ReferenceSpec = options.Reference,
};
bool OutOfTime() => options.BudgetSeconds > 0 && total.Elapsed.TotalSeconds >= options.BudgetSeconds;
void Save()
{
    report.Seconds = Math.Round(total.Elapsed.TotalSeconds, 3);
    if (options.Out != null) ReportJson.Write(report, options.Out);
}

IDevice device, reference;
var clock = Stopwatch.StartNew();
try
{
    device = DeviceResolver.Open(options.Device);
    report.Device = new DeviceSection { OpenSeconds = Math.Round(clock.Elapsed.TotalSeconds, 3) };
    reference = DeviceResolver.Open(options.Reference);
}
catch (Exception e)
{
    Console.Error.WriteLine($"xlagen-device-check: cannot open the device: {e.GetType().Name}: {e.Message}");
    report.Failures.Add($"opening the devices failed: {e.Message}");
    report.State = "finished";
    Save();
    return 2;
}
report.Device.Platform = device.Info.Platform;
report.Device.Kind = device.Info.DeviceKind;
report.Device.Version = device.Info.Version;
try
{
    report.Device.Description = DeviceResolver.Describe(device);
}
catch (Exception e)
{
    report.Device.Description = $"Describe() failed: {e.GetType().Name}: {e.Message}";
    report.Failures.Add(report.Device.Description);
}
report.Device.ReferencePlatform = reference.Info.Platform;
log.WriteLine($"== device {options.Device} (reference {options.Reference})");
log.WriteLine(report.Device.Description);
Save();

try
{
    // (c, d) the MLP first (step timing, peak memory, training), so a run stopped by its time limit has them; then the
    // case suites, which stop at --budget-seconds and report the cases they did not reach.
    FashionMnist.Split? train = null, test = null;
    string? dataProblem = null;
    if (options.Data == null) dataProblem = "no --data folder given";
    else if (!FashionMnist.IsInstalled(options.Data)) dataProblem = $"--data {options.Data} does not hold the four Fashion-MNIST .gz files";
    else
    {
        clock.Restart();
        try
        {
            train = FashionMnist.LoadTrain(options.Data);
            test = FashionMnist.LoadTest(options.Data);
            log.WriteLine($"== Fashion-MNIST: {train.Count} training and {test.Count} test images ({clock.Elapsed.TotalSeconds:F1} s)");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            train = test = null;
            dataProblem = $"reading Fashion-MNIST from {options.Data} failed: {e.Message}";
            report.Failures.Add(dataProblem);
        }
    }
    log.WriteLine($"== MLP train step: {options.WarmupSteps} warm-up and {options.TimedSteps} timed steps, batch {MlpCheck.BatchSize}");
    (report.TrainStep, report.PeakMemory) = MlpCheck.TimeStep(device, reference, train, options.WarmupSteps, options.TimedSteps);
    if (report.TrainStep.Error != null) report.Failures.Add($"train step timing failed: {report.TrainStep.Error}");
    else log.WriteLine($"  median {report.TrainStep.MedianStepMs:F3} ms, best {report.TrainStep.BestStepMs:F3} ms, {report.TrainStep.SamplesPerS:F0} samples/s; queued without waiting {report.TrainStep.PipelinedStepMs:F3} ms/step (compile {report.TrainStep.CompileMs:F0} ms; {report.TrainStep.Sync})");
    foreach (var row in report.PeakMemory)
    {
        log.WriteLine(row.Error != null ? $"  peak memory {row.Program}: {row.Error}"
            : $"  peak memory {row.Program}: reference {row.ReferenceBytes:N0} B, device {row.DeviceBytes:N0} B{(row.Ratio is { } r ? $" (x{r:F2})" : "")}{(row.DeviceSource != null ? $" [{row.DeviceSource}]" : "")}");
        if (row.Error != null) report.Failures.Add($"peak memory of {row.Program}: {row.Error}");
    }
    Save();

    if (options.SkipTrain) report.Training = new TrainingSection { Skipped = "--skip-train" };
    else if (train == null || test == null) report.Training = new TrainingSection { Skipped = dataProblem };
    else
    {
        log.WriteLine($"== training: {options.Epochs} epochs on {options.Device}");
        clock.Restart();
        report.Training = MlpCheck.Train(device, train, test, options.Epochs, log);
        if (report.Training.Error != null) report.Failures.Add($"training failed: {report.Training.Error}");
        else
        {
            log.WriteLine($"  test accuracy {report.Training.TestAccuracy:P2} (target {MlpCheck.TargetAccuracy:P0}), {report.Training.SamplesPerS:F0} samples/s over {report.Training.FitSeconds:F1} s");
            if (report.Training.TestAccuracy < MlpCheck.TargetAccuracy)
                report.Failures.Add($"test accuracy {report.Training.TestAccuracy:P2} after {options.Epochs} epochs is below {MlpCheck.TargetAccuracy:P0}");
        }
    }
    if (report.Training.Skipped != null) log.WriteLine($"== training skipped: {report.Training.Skipped}");
    Save();

    // (e) replicas on the PJRT client's devices (issue 11): the all-reduce and the replicated train step
    log.WriteLine($"== replicas: all-reduce and {ReplicasCheck.Steps} replicated MLP steps on {options.Device}");
    report.Replicas = ReplicasCheck.Run(device, log);
    if (report.Replicas.Skipped != null) log.WriteLine($"  skipped: {report.Replicas.Skipped}");
    foreach (var row in report.Replicas.Rows)
    {
        if (row.Error != null) report.Failures.Add($"{row.Replicas} replica(s): {row.Error}");
    }
    Save();

    // (a) the conformance suite
    log.WriteLine($"== conformance: every case on {options.Device} and on {options.Reference}");
    report.Conformance = SuiteCheck.Run("conformance", SuiteCheck.Conformance(), device, reference, log, OutOfTime);
    report.Conformance.Source = "tests/XlaGen.Conformance";
    PrintSuite("conformance", report.Conformance);
    Save();

    // (b) the xla-corpus value cases
    if (options.Corpus == null)
    {
        report.Corpus = new SuiteSection { Skipped = "no --corpus folder given" };
    }
    else
    {
        log.WriteLine($"== xla-corpus: every case with stated values in {options.Corpus}");
        try
        {
            report.Corpus = SuiteCheck.Run("corpus", SuiteCheck.Corpus(options.Corpus), device, reference, log, OutOfTime);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            report.Corpus = new SuiteSection();
            report.Corpus.DeviceErrors.Add($"reading the corpus failed: {e.Message}");
            report.Corpus.Failed = 1;
        }
        report.Corpus.Source = options.Corpus;
    }
    PrintSuite("corpus", report.Corpus);
    Save();
}
catch (Exception e)
{
    // A bug of the check itself, or a device failing in a way no part caught: keep what was measured and say where it stopped.
    log.WriteLine($"== the check stopped: {e}");
    report.Failures.Add($"the check stopped: {e.GetType().Name}: {e.Message}");
}

AddSuiteFailures("conformance", report.Conformance);
AddSuiteFailures("corpus", report.Corpus);
report.Passed = report.Failures.Count == 0;
report.State = "finished";
Save();
// A PJRT device owns its client: release it (and the GPU memory it holds) before exit. Disposing the shared CPU device does nothing.
device.Dispose();
if (!ReferenceEquals(reference, device)) reference.Dispose();
log.WriteLine();
log.WriteLine(report.Passed ? $"PASSED in {total.Elapsed.TotalSeconds:F1} s" : $"FAILED ({report.Failures.Count}) in {total.Elapsed.TotalSeconds:F1} s:");
foreach (var f in report.Failures) log.WriteLine("  " + f);
if (options.Out != null) log.WriteLine($"report: {Path.GetFullPath(options.Out)}");
return report.Passed ? 0 : 1;

void PrintSuite(string title, SuiteSection s)
{
    if (s.Skipped != null)
    {
        log.WriteLine($"== {title} skipped: {s.Skipped}");
        return;
    }
    log.WriteLine($"  {title}: {s.Passed}/{s.Cases} passed, {s.Failed} failed{(s.NotRun > 0 ? $", {s.NotRun} not run (time budget)" : "")} (device {s.DeviceSeconds:F1} s, reference {s.ReferenceSeconds:F1} s)");
    foreach (var (what, list) in Lists(s))
    {
        foreach (var m in list) log.WriteLine($"  [{what}] {m}");
    }
}

void AddSuiteFailures(string title, SuiteSection? s)
{
    if (s == null) return;
    if (s.NotRun > 0) report.Failures.Add($"{title}: {s.NotRun} of {s.Cases} cases not run (the --budget-seconds {options.BudgetSeconds} ran out)");
    foreach (var (what, list) in Lists(s))
    {
        if (list.Count > 0) report.Failures.Add($"{title}: {list.Count} {what}");
    }
}

static IEnumerable<(string, List<string>)> Lists(SuiteSection s) => new[]
{
    ("device errors", s.DeviceErrors), ("reference errors", s.ReferenceErrors), ("device vs expected", s.DeviceVsExpected),
    ("reference vs expected", s.ReferenceVsExpected), ("device vs reference", s.DeviceVsReference),
};
