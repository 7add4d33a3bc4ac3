using System.Globalization;
using XlaGen.Fuzz;

// xlagen-fuzz smoke [--mutations N] [--seed S] [--out DIR]
//     every target over its seeds and N mutants each (CI: seconds); exit 1 on any crash
// xlagen-fuzz run TARGET [--execs N] [--seconds S] [--seed S] [--out DIR]
//     a long in-process run of one target, a progress line every 30 s, the counts at the end
// xlagen-fuzz replay TARGET FILE...
//     runs the files (crashes kept by a run, TARGET.slowest …) once each: the outcome or the exception, and the time
// xlagen-fuzz afl TARGET
//     SharpFuzz's entry point, for afl-fuzz on SharpFuzz-instrumented assemblies (docs/fuzzing.md)
// Targets: hlo-text, hlo-proto, safetensors. Crashing inputs go to DIR (default out/fuzz).
const string Usage = "usage: xlagen-fuzz smoke [--mutations N] [--seed S] [--out DIR] | run TARGET [--execs N] [--seconds S] [--seed S] [--out DIR] | replay TARGET FILE... | afl TARGET";
try
{
    if (args.Length == 0) throw new ArgumentException(Usage);
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    var positional = new List<string>();
    for (int i = 1; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) { positional.Add(args[i]); continue; }
        if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
        options[args[i]] = args[++i];
    }
    long Number(string name, long fallback) =>
        !options.TryGetValue(name, out var text) ? fallback
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
        : throw new ArgumentException($"{name} takes a non-negative integer, not '{text}'");
    string outDir = options.GetValueOrDefault("--out", Path.Combine("out", "fuzz"));
    int seed = (int)Number("--seed", 1);
    foreach (var key in options.Keys.Except(new[] { "--mutations", "--seed", "--out", "--execs", "--seconds" }))
        throw new ArgumentException($"unknown option {key}\n{Usage}");

    switch (args[0])
    {
        case "smoke":
        {
            if (Seeds.CorpusRoot == null && XlaGen.Fuzz.Ci.On)
                throw new InvalidOperationException("CI=true, but the XLA corpus (../shared/xla-corpus beside the repository, or XLAGEN_CORPUS) is missing");
            long mutations = Number("--mutations", 20_000);
            long crashes = 0;
            foreach (var target in Targets.Names)
            {
                var seeds = Seeds.For(target);
                var result = new Runner(target, seeds, seed, outDir, Console.Out).Run(seeds.Count + mutations, TimeSpan.MaxValue);
                Console.WriteLine($"fuzz smoke {result} ({seeds.Count} seeds)");
                crashes += result.Crashes;
            }
            if (crashes > 0) Console.WriteLine($"fuzz smoke: {crashes} crashing inputs, kept in {Path.GetFullPath(outDir)}");
            return crashes == 0 ? 0 : 1;
        }
        case "run":
        {
            if (positional.Count != 1) throw new ArgumentException(Usage);
            var target = positional[0];
            Targets.Get(target);
            var seeds = Seeds.For(target);
            long execs = Number("--execs", 1_000_000);
            var limit = TimeSpan.FromSeconds(Number("--seconds", 24 * 3600));
            Console.WriteLine($"fuzz run {target}: {seeds.Count} seeds, up to {execs:N0} execs or {limit.TotalSeconds:N0} s, seed {seed}, corpus {Seeds.CorpusRoot ?? "(none)"}");
            var result = new Runner(target, seeds, seed, outDir, Console.Out).Run(execs, limit, TimeSpan.FromSeconds(30));
            Console.WriteLine($"fuzz run {result}");
            return result.Crashes == 0 ? 0 : 1;
        }
        case "replay":
        {
            if (positional.Count < 2) throw new ArgumentException(Usage);
            var harness = Targets.Get(positional[0]);
            int crashed = 0;
            foreach (var file in positional.Skip(1))
            {
                var input = File.ReadAllBytes(file);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                string outcome;
                try
                {
                    outcome = harness(input).Outcome.ToString().ToLowerInvariant();
                }
                catch (Exception e)
                {
                    crashed++;
                    outcome = "CRASH " + e;
                }
                Console.WriteLine($"{file} ({input.Length} bytes, {clock.Elapsed.TotalMilliseconds:F1} ms): {outcome}");
            }
            return crashed == 0 ? 0 : 1;
        }
        case "afl":
        {
            if (positional.Count != 1) throw new ArgumentException(Usage);
            var harness = Targets.Get(positional[0]);
            SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                harness(buffer.ToArray());
            });
            return 0;
        }
        default:
            throw new ArgumentException($"unknown command '{args[0]}'\n{Usage}");
    }
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"xlagen-fuzz: {e.Message}");
    return 2;
}
