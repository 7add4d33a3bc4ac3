using System.Collections.Concurrent;
using System.Diagnostics;
using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// Opt-in time per instruction of the CPU executor (<c>XLAGEN_CPU_PROFILE=1</c>): every plan step is timed and summed
/// by (computation, instruction); the table goes to standard error when the process exits, most expensive first.
/// B/call is what the calling thread allocated during the instruction (the first runs' pooled arrays included).
/// Off, it costs one static bool test per step. Instructions that run other plans (while, call, a fusion that is not a loop) include their callees'
/// time, which is also listed under the callees' own instructions.
/// </summary>
internal static class CpuProfiler
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("XLAGEN_CPU_PROFILE") is "1" or "true";

    sealed class Entry
    {
        public long Ticks;
        public long Calls;
        public long Bytes;
    }

    static readonly ConcurrentDictionary<HloInstruction, Entry> Entries = new();
    static readonly ConcurrentDictionary<HloInstruction, string> Owners = new();

    static CpuProfiler()
    {
        if (Enabled) AppDomain.CurrentDomain.ProcessExit += (_, _) => Console.Error.Write(Report());
    }

    public static long Start() => Stopwatch.GetTimestamp();

    /// <summary>Adds one run of <paramref name="instruction"/>: the time since <paramref name="start"/> and the bytes
    /// this thread allocated since <paramref name="startBytes"/> (GC.GetAllocatedBytesForCurrentThread).</summary>
    public static void Stop(HloComputation computation, HloInstruction instruction, long start, long startBytes)
    {
        long elapsed = Stopwatch.GetTimestamp() - start;
        long bytes = GC.GetAllocatedBytesForCurrentThread() - startBytes;
        var e = Entries.GetOrAdd(instruction, _ => new Entry());
        Owners.TryAdd(instruction, computation.Name);
        Interlocked.Add(ref e.Ticks, elapsed);
        Interlocked.Increment(ref e.Calls);
        Interlocked.Add(ref e.Bytes, bytes);
    }

    /// <summary>The table so far: per instruction its total ms, share, calls and µs per call; then totals by opcode.</summary>
    public static string Report(int top = 60)
    {
        var rows = Entries.Select(kv => (Ins: kv.Key, kv.Value.Ticks, kv.Value.Calls, kv.Value.Bytes)).OrderByDescending(r => r.Ticks).ToList();
        var leaf = rows.Where(r => r.Ins.Opcode is not ("while" or "call" or "conditional")).ToList();
        double total = leaf.Sum(r => (double)r.Ticks);
        double ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"CPU executor profile: {ms((long)total):F0} ms in {leaf.Sum(r => r.Calls):N0} instruction runs (control flow excluded from the total)");
        sb.AppendLine($"{"ms",9} {"%",6} {"calls",8} {"µs/call",9} {"B/call",8}  instruction");
        foreach (var r in rows.Take(top))
        {
            string text = $"%{r.Ins.Name} = {r.Ins.Shape} {r.Ins.Opcode}({string.Join(", ", r.Ins.Operands.Select(o => o.Shape.ToString()))})";
            if (text.Length > 150) text = text[..150] + "…";
            sb.AppendLine($"{ms(r.Ticks),9:F1} {100 * r.Ticks / Math.Max(1, total),6:F1} {r.Calls,8} {ms(r.Ticks) * 1000 / r.Calls,9:F1} {r.Bytes / r.Calls,8}  {Owners[r.Ins]}: {text}");
        }
        sb.AppendLine("by opcode:");
        foreach (var g in leaf.GroupBy(r => r.Ins.Opcode).Select(g => (Op: g.Key, Ticks: g.Sum(r => r.Ticks))).OrderByDescending(g => g.Ticks))
            sb.AppendLine($"{ms(g.Ticks),9:F1} {100 * g.Ticks / Math.Max(1, total),6:F1}  {g.Op}");
        return sb.ToString();
    }
}
