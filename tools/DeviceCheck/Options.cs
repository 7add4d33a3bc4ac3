using System.Globalization;

namespace XlaGen.DeviceCheck;

/// <summary>The command line of the device check.</summary>
sealed record Options(
    string Device,
    string Reference,
    string? Corpus,
    string? Data,
    string? Out,
    int Epochs,
    bool SkipTrain,
    int WarmupSteps,
    int TimedSteps,
    int BudgetSeconds)
{
    public const string Usage = """
        xlagen-device-check [--device SPEC] [--reference SPEC] [--corpus DIR] [--data DIR] [--out FILE.json]
                            [--epochs N] [--skip-train] [--warmup-steps N] [--timed-steps N] [--budget-seconds N]
          --device SPEC      the device under test: cpu, pjrt, pjrt:/path/to/plugin.so (default cpu)
          --reference SPEC   the device it is compared with (default cpu, the embedded CPU executor)
          --corpus DIR       an xla-corpus folder (cases/, pb/): run every case with stated values
          --data DIR         the four Fashion-MNIST .gz files: train the MLP and time its step on real batches
          --out FILE.json    the report (also rewritten after every part, so a run cut short leaves what it did)
          --epochs N         training epochs (default 10, the sample's main job)
          --skip-train       skip the training run (the step timing and peak-memory comparison still run)
          --warmup-steps N   untimed train steps before timing (default 50)
          --timed-steps N    timed train steps (default 300, at least 200)
          --budget-seconds N after N seconds start no further conformance or corpus case (those left are reported as
                             not run, a failure), so the report is complete within a time limit (default: none)
        Exit code: 0 every check passed; 1 a check failed (a mismatch, an error, accuracy below 88 %); 2 bad usage
        or the device could not be opened.
        """;

    public static Options Parse(IReadOnlyList<string> args)
    {
        var o = new Options("cpu", "cpu", null, null, null, 10, false, 50, 300, 0);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new UsageException($"{arg} needs a value");
            int Count(int min)
            {
                var text = Next();
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min)
                    throw new UsageException($"{arg} takes a whole number of at least {min}, not '{text}'");
                return n;
            }
            o = arg switch
            {
                "--device" => o with { Device = Next() },
                "--reference" => o with { Reference = Next() },
                "--corpus" => o with { Corpus = Next() },
                "--data" => o with { Data = Next() },
                "--out" => o with { Out = Next() },
                "--epochs" => o with { Epochs = Count(1) },
                "--skip-train" => o with { SkipTrain = true },
                "--warmup-steps" => o with { WarmupSteps = Count(0) },
                "--timed-steps" => o with { TimedSteps = Count(200) },
                "--budget-seconds" => o with { BudgetSeconds = Count(1) },
                _ => throw new UsageException($"unknown argument '{arg}'"),
            };
        }
        if (o.Corpus != null && !Directory.Exists(o.Corpus)) throw new UsageException($"--corpus {o.Corpus}: no such folder");
        if (o.Data != null && !Directory.Exists(o.Data)) throw new UsageException($"--data {o.Data}: no such folder");
        return o;
    }
}

sealed class UsageException(string message) : Exception(message);
