namespace XlaGen.Tests.Conformance;

/// <summary>
/// The backends the conformance suite runs on, by name (like GoMLX's backendtest.RunAll or the Regex tests'
/// RegexEngine theory data). A backend that is not available in this environment opens as null with a reason, and
/// its cases skip. To add PJRT or the remote server, add one entry here.
/// </summary>
public static class ConformanceBackends
{
    public sealed record Backend(string Name, Func<IDevice?> Open, string UnavailableReason);

    public static IReadOnlyList<Backend> All { get; } = new[]
    {
        new Backend("cpu", () => Devices.Cpu(), "the CPU executor is always available"),
        // new Backend("pjrt", PjrtBackend.TryOpen, "no PJRT plugin: set XLAGEN_PJRT_PLUGIN"),
        // new Backend("remote", RemoteBackend.TryOpen, "no xlagen-server: set XLAGEN_REMOTE"),
    };

    static readonly Dictionary<string, Lazy<IDevice?>> Opened = All.ToDictionary(b => b.Name, b => new Lazy<IDevice?>(b.Open));

    public static IDevice? Open(string name) => Opened[name].Value;

    public static string Reason(string name) => All.First(b => b.Name == name).UnavailableReason;
}
