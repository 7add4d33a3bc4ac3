using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace XlaGen.Bench.Protocol;

// The worker protocol both benchmark workers share: XlaGen's (bench/XlaGen.Bench, `worker`) and the Torch peer's
// (bench/XlaGen.Bench.Torch), which run in processes of their own. Linked into both projects, so the arguments they
// accept and the "infer" lines they print cannot drift apart.

/// <summary>Times single calls (after as many warm-up calls, at most 200) and emits one "infer" line.</summary>
internal static class InferTiming
{
    public static void Latency(string name, int batch, int calls, Action call, Action<JsonObject> emit)
    {
        for (int i = 0; i < Math.Min(calls, 200); i++) call();
        var times = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            call();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        double median = times[calls / 2];
        emit(new JsonObject
        {
            ["type"] = "infer",
            ["case"] = name,
            ["batch"] = batch,
            ["calls"] = calls,
            ["median_us"] = median * 1e6,
            ["best_us"] = times[0] * 1e6,
            ["samples_per_second"] = batch / median,
        });
    }
}

/// <summary>The workers' arguments. <c>--steps-per-execution K</c> is Fit's steps per execution on XlaGen's side; the
/// Torch peer has no such setting and ignores it.</summary>
internal sealed record WorkerArgs(int Epochs, int Examples, int Threads, int Seed, int WarmupSteps, int Calls, int StepsPerExecution = 1)
{
    /// <summary>The usage line of <paramref name="program"/> (as typed before the workload).</summary>
    public static string Usage(string program) =>
        $"usage: {program} mlp|cnn|infer [--epochs N] [--examples N] [--threads N] [--seed N] [--warmup-steps N] [--calls N] [--steps-per-execution K]";

    /// <summary>The arguments after the workload, or null (the problem and the usage printed to stderr) when they are bad.</summary>
    public static WorkerArgs? TryParse(ReadOnlySpan<string> args, string program)
    {
        try
        {
            return Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{program}: {e.Message}");
            Console.Error.WriteLine(Usage(program));
            return null;
        }
    }

    public static WorkerArgs Parse(ReadOnlySpan<string> args)
    {
        var o = new WorkerArgs(2, 60000, Environment.ProcessorCount, 1, 20, 2000);
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (i + 1 >= args.Length) throw new ArgumentException($"{name} needs a value");
            string text = args[++i];
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 0)
                throw new ArgumentException($"{name} takes a whole number of at least 0, got '{text}'");
            o = name switch
            {
                "--epochs" => o with { Epochs = value },
                "--examples" => o with { Examples = value },
                "--threads" => o with { Threads = value },
                "--seed" => o with { Seed = value },
                "--warmup-steps" => o with { WarmupSteps = value },
                "--calls" => o with { Calls = value },
                "--steps-per-execution" => o with { StepsPerExecution = Math.Max(1, value) },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }
        return o;
    }
}
