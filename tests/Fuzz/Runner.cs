using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;
using XlaGen.Tests;

namespace XlaGen.Fuzz;

/// <summary>The counts of one run.</summary>
public sealed record RunResult(string Target, long Execs, long Accepted, long Rejected, long Crashes, int UniqueCrashes, TimeSpan Elapsed,
    TimeSpan Slowest, int SlowestBytes, int CorpusSize)
{
    public override string ToString() =>
        $"{Target}: {Execs:N0} execs in {Elapsed.TotalSeconds:F1} s ({Execs / Math.Max(Elapsed.TotalSeconds, 1e-9):N0}/s), " +
        $"{Accepted:N0} accepted, {Rejected:N0} rejected, {Crashes} crashes ({UniqueCrashes} distinct), " +
        $"slowest input {Slowest.TotalMilliseconds:F1} ms ({SlowestBytes:N0} bytes), corpus {CorpusSize}";
}

/// <summary>
/// In-process fuzzing without instrumentation: the seeds first, then mutants of the corpus (one to four stacked byte
/// mutations, splices of two inputs, tokens that make trouble for parsers), seeded and so reproducible. A mutant whose
/// trace (<see cref="Targets.Result"/>: the module it printed, or the refusal it got) is new joins the corpus (capped),
/// so mutations go on from inputs that reached somewhere new. Every
/// crash is kept in <c>outDir</c> (input and exception); the input being run is mirrored into a memory-mapped
/// <c>TARGET.current</c> file, so an input that kills the process outright (a stack overflow) is still on disk.
/// </summary>
public sealed class Runner
{
    const int MaxInputBytes = 1 << 20;
    const int MaxCorpus = 4096;

    /// <summary>Tokens inserted or written over the input: numbers past every integer range, brackets that nest,
    /// names XLA sanitises, primitive types, JSON and proto pieces.</summary>
    static readonly byte[][] Tokens = new[]
    {
        "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "99999999999999999999999999", "1e309", "nan", "-inf", "{", "}", "{{{{{{{{", "}}}}", "((((((((", ")", "[", "]", ",", "=", "%", ":",
        "\"", "\\", "*", "x*x", "f32", "token", "pred", "s32[]", "f32[1,2,3]", "/*", "*/", "metadata={source_line=", "ROOT ", "ENTRY ",
        "\"dtype\":\"F32\"", "\"shape\":[", "\"data_offsets\":[", "\"__metadata__\":{", "null", "-1", "0", "\u00ff", "\u2028",
    }.Select(Encoding.UTF8.GetBytes).Concat(new[]
    {
        new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },   // the largest varint
        new byte[] { 0x80, 0x80, 0x80, 0x80, 0x08 },                                // a length of 2^31
        new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f },                                // a length of 2^32 - 1
        new byte[] { 0x00, 0x00, 0x00, 0x80 }, new byte[] { 0xff, 0xff, 0xff, 0x7f }, new byte[] { 0xff, 0xff, 0xff, 0xff },
        new byte[] { 0, 0, 0, 0, 0, 0, 0, 0x80 }, new byte[] { 0xc0, 0x80 }, new byte[] { 0xed, 0xa0, 0x80 },   // overlong and surrogate UTF-8
    }).ToArray();

    readonly string target;
    readonly Func<byte[], Targets.Result> harness;
    readonly HashSet<ulong> traces = new();
    readonly List<byte[]> corpus;
    readonly int seedCount;
    readonly Random random;
    readonly string outDir;
    readonly TextWriter log;
    readonly HashSet<string> signatures = new(StringComparer.Ordinal);

    public Runner(string target, List<byte[]> seeds, int seed, string outDir, TextWriter log)
    {
        this.target = target;
        harness = Targets.Get(target);
        corpus = new List<byte[]>(seeds);
        seedCount = seeds.Count;
        random = new Random(seed);
        this.outDir = outDir;
        this.log = log;
        if (corpus.Count == 0) corpus.Add(Array.Empty<byte>());
    }

    /// <summary>Runs every seed, then mutants until <paramref name="execs"/> inputs have run or <paramref name="limit"/>
    /// has passed, whichever is first; <paramref name="progressEvery"/> prints a line that often.</summary>
    public RunResult Run(long execs, TimeSpan limit, TimeSpan? progressEvery = null)
    {
        Directory.CreateDirectory(outDir);
        var currentPath = Path.Combine(outDir, target + ".current");
        using var current = MemoryMappedFile.CreateFromFile(currentPath, FileMode.Create, null, 4 + MaxInputBytes);
        using var view = current.CreateViewAccessor();
        long accepted = 0, rejected = 0, crashes = 0;
        long slowestTicks = 0;
        byte[] slowest = Array.Empty<byte>();
        var clock = Stopwatch.StartNew();
        var nextProgress = progressEvery ?? TimeSpan.MaxValue;
        long n = 0;
        for (; n < execs && (n < seedCount || clock.Elapsed < limit); n++)
        {
            var input = n < seedCount ? corpus[(int)n] : Mutate();
            view.Write(0, input.Length);
            view.WriteArray(4, input, 0, input.Length);
            long start = Stopwatch.GetTimestamp();
            try
            {
                var result = harness(input);
                if (result.Outcome == Targets.Outcome.Accepted) accepted++;
                else rejected++;
                bool newTrace = traces.Add(System.IO.Hashing.XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(result.Trace)));
                if (newTrace && n >= seedCount && corpus.Count < MaxCorpus) corpus.Add(input);
            }
            catch (Exception e)
            {
                crashes++;
                Keep(input, e);
            }
            long ticks = Stopwatch.GetTimestamp() - start;
            if (ticks > slowestTicks) (slowestTicks, slowest) = (ticks, input);
            if (clock.Elapsed >= nextProgress)
            {
                log.WriteLine($"  {target}: {n + 1:N0} execs, {clock.Elapsed.TotalSeconds:F0} s, {(n + 1) / clock.Elapsed.TotalSeconds:N0}/s, {accepted:N0} accepted, {crashes} crashes, corpus {corpus.Count}");
                log.Flush();
                nextProgress += progressEvery!.Value;
            }
        }
        File.WriteAllBytes(Path.Combine(outDir, target + ".slowest"), slowest);
        return new RunResult(target, n, accepted, rejected, crashes, signatures.Count, clock.Elapsed,
            Stopwatch.GetElapsedTime(0, slowestTicks), slowest.Length, corpus.Count);
    }

    /// <summary>Saves a crashing input (named by its hash) with its exception; prints the first of each kind (the
    /// exception type and the frame it was thrown from).</summary>
    void Keep(byte[] input, Exception e)
    {
        var hash = Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant();
        var path = Path.Combine(outDir, $"crash-{target}-{hash}");
        File.WriteAllBytes(path + ".bin", input);
        File.WriteAllText(path + ".txt", e.ToString());
        var frame = new StackTrace(e).GetFrames().FirstOrDefault()?.GetMethod();
        var signature = $"{e.GetType().FullName} at {frame?.DeclaringType?.FullName}.{frame?.Name}";
        if (!signatures.Add(signature)) return;
        log.WriteLine($"CRASH {target}: {signature}: {e.Message}");
        log.WriteLine($"  input: {path}.bin ({input.Length} bytes){(input.Length <= 2048 ? ", base64 " + Convert.ToBase64String(input) : "")}");
        log.Flush();
    }

    byte[] Mutate()
    {
        var input = corpus[random.Next(corpus.Count)];
        int rounds = 1 + random.Next(4);
        for (int i = 0; i < rounds; i++)
        {
            input = random.Next(10) switch
            {
                0 => Splice(input, corpus[random.Next(corpus.Count)]),
                1 or 2 => Insert(input, Tokens[random.Next(Tokens.Length)], overwrite: random.Next(2) == 0),
                _ => ByteMutation.Mutate(input, random.Next(ByteMutation.Kinds), random.Next(1 << 30), 1 + random.Next(64),
                    RandomBytes(1 + random.Next(8)), (byte)random.Next(256)),
            };
            if (input.Length > MaxInputBytes) input = input[..MaxInputBytes];
        }
        return input;
    }

    byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A prefix of <paramref name="a"/> then a suffix of <paramref name="b"/>.</summary>
    byte[] Splice(byte[] a, byte[] b)
    {
        int cutA = a.Length == 0 ? 0 : random.Next(a.Length + 1), cutB = b.Length == 0 ? 0 : random.Next(b.Length + 1);
        return a.AsSpan(0, cutA).ToArray().Concat(b.AsSpan(cutB).ToArray()).ToArray();
    }

    byte[] Insert(byte[] input, byte[] token, bool overwrite)
    {
        int at = random.Next(input.Length + 1);
        if (overwrite && at + token.Length <= input.Length)
        {
            var copy = (byte[])input.Clone();
            token.CopyTo(copy, at);
            return copy;
        }
        var result = new byte[input.Length + token.Length];
        input.AsSpan(0, at).CopyTo(result);
        token.CopyTo(result, at);
        input.AsSpan(at).CopyTo(result.AsSpan(at + token.Length));
        return result;
    }
}
