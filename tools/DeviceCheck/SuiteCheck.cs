using System.Diagnostics;
using System.Globalization;
using XlaGen.Tests.Conformance;

namespace XlaGen.DeviceCheck;

/// <summary>One case of a suite, whichever suite it comes from.</summary>
sealed record CheckCase(string Name, Func<IDevice, Tensor[]> Run, Func<IReadOnlyList<Tensor>, List<string>> CheckExpected);

/// <summary>
/// Runs every case of a suite on the device and on the reference, and records every problem (never stopping at the
/// first): an error on either side, either side's results against the stated values (the case's own tolerance), and
/// the device's results against the reference's (<see cref="Tolerance.Backends"/>: 1e-5 relative for floats, exact
/// for integers and pred).
/// </summary>
static class SuiteCheck
{
    public static IReadOnlyList<CheckCase> Conformance() =>
        ConformanceSuite.Names.Select(n => ConformanceSuite.Cases[n]).Select(c => new CheckCase(c.Name, c.Run, c.Check)).ToList();

    public static IReadOnlyList<CheckCase> Corpus(string root) =>
        XlaCorpus.All(root).Select(c => new CheckCase(c.Name, c.Run, c.Check)).ToList();

    /// <summary>Runs the cases in order until <paramref name="outOfTime"/> says stop; the rest count as not run.</summary>
    public static SuiteSection Run(string title, IReadOnlyList<CheckCase> cases, IDevice device, IDevice reference, TextWriter log, Func<bool> outOfTime)
    {
        var section = new SuiteSection { Cases = cases.Count, DeviceVsReferenceTolerance = Tolerance.Backends + " for floating point, exact otherwise" };
        var deviceTimes = new List<(string Name, double Ms)>();
        var clock = new Stopwatch();
        int done = 0;
        foreach (var c in cases)
        {
            if (outOfTime())
            {
                section.NotRun = cases.Count - done;
                log.WriteLine($"  {title}: out of time after {done} of {cases.Count} cases");
                break;
            }
            int problemsBefore = Problems(section);
            clock.Restart();
            var onDevice = Attempt(c, device, section.DeviceErrors);
            double deviceMs = clock.Elapsed.TotalMilliseconds;
            deviceTimes.Add((c.Name, deviceMs));
            section.DeviceSeconds += deviceMs / 1000;
            clock.Restart();
            var onReference = Attempt(c, reference, section.ReferenceErrors);
            section.ReferenceSeconds += clock.Elapsed.TotalSeconds;
            if (onDevice != null) section.DeviceVsExpected.AddRange(Guard(c.Name, () => c.CheckExpected(onDevice)));
            if (onReference != null) section.ReferenceVsExpected.AddRange(Guard(c.Name, () => c.CheckExpected(onReference)));
            if (onDevice != null && onReference != null)
                section.DeviceVsReference.AddRange(Guard(c.Name, () => TensorComparison.Mismatches(onReference, onDevice, _ => Tolerance.Backends, c.Name)));
            if (Problems(section) == problemsBefore) section.Passed++;
            else section.Failed++;
            if (++done % 100 == 0) log.WriteLine($"  {title}: {done}/{cases.Count} cases, {section.Failed} failed");
        }
        section.DeviceSeconds = Math.Round(section.DeviceSeconds, 3);
        section.ReferenceSeconds = Math.Round(section.ReferenceSeconds, 3);
        section.SlowestOnDevice = deviceTimes.OrderByDescending(t => t.Ms).Take(5)
            .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name}: {t.Ms:F1} ms")).ToList();
        return section;
    }

    static int Problems(SuiteSection s) =>
        s.DeviceErrors.Count + s.ReferenceErrors.Count + s.DeviceVsExpected.Count + s.ReferenceVsExpected.Count + s.DeviceVsReference.Count;

    static Tensor[]? Attempt(CheckCase c, IDevice device, List<string> errors)
    {
        try
        {
            return c.Run(device);
        }
        catch (Exception e)
        {
            errors.Add($"{c.Name}: {e.GetType().Name}: {e.Message}");
            return null;
        }
    }

    /// <summary>A comparison that throws (an unexpected element type, say) is a problem of that case, not the end of the run.</summary>
    static List<string> Guard(string name, Func<List<string>> compare)
    {
        try
        {
            return compare();
        }
        catch (Exception e)
        {
            return new List<string> { $"{name}: comparing failed: {e.GetType().Name}: {e.Message}" };
        }
    }
}
