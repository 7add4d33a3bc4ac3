using System.Diagnostics;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>
/// Bounded spinning before a blocking wait: on a VM a blocked thread's wake-up costs tens of microseconds, longer than
/// the gaps between a step's phases, so threads that expect their next signal within microseconds spin first (with
/// <see cref="SpinWait"/>, yielding but never sleeping) and block only when it does not come. Used by the replica
/// threads between steps and by the replicas' rendezvous; only where every spinning thread has a core of its own.
/// </summary>
internal static class Spin
{
    /// <summary>Spins until <paramref name="done"/>(<paramref name="state"/>) holds or <paramref name="ticks"/>
    /// <see cref="Stopwatch"/> ticks have passed; whether it held. A static lambda and a value state allocate nothing.</summary>
    public static bool Until<TState>(TState state, Func<TState, bool> done, long ticks)
    {
        var spinner = new SpinWait();
        long until = Stopwatch.GetTimestamp() + ticks;
        while (!done(state))
        {
            if (Stopwatch.GetTimestamp() >= until) return false;
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        return true;
    }
}
