using System.Globalization;
using System.Reflection;
using System.Text;

namespace XlaGen;

/// <summary>
/// What a platform is and holds, as <see cref="IDevice.Describe"/> reports it for every backend alike: the platform
/// and its version, every device (id, kind, process, memory where the platform reports it), the platform's attributes
/// (a PJRT plugin's <c>xla_version</c>, <c>stablehlo_current_version</c> …) and the API versions on both sides.
/// <see cref="ToString"/> is the text to print.
/// </summary>
public sealed record PlatformDescription(
    string Platform,
    string PlatformVersion,
    IReadOnlyList<PlatformDescription.Device> Devices,
    IReadOnlyDictionary<string, string> Attributes,
    string? ApiVersion = null,
    string? SupportedApiVersion = null)
{
    /// <summary>One device of the platform. Memory figures are null where the platform does not report them.</summary>
    public sealed record Device(int Id, string Kind, int ProcessIndex = 0, long? BytesInUse = null, long? BytesLimit = null,
        IReadOnlyDictionary<string, string>? Attributes = null);

    /// <summary>This XlaGen runtime's version.</summary>
    public static string RuntimeVersion { get; } =
        typeof(PlatformDescription).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PlatformDescription).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>A description from a device's <see cref="DeviceInfo"/> alone (one device).</summary>
    public static PlatformDescription FromInfo(DeviceInfo info) => new(
        info.Platform,
        info.Version,
        new[] { new Device(info.Id, info.DeviceKind, 0, null, info.MemoryBytes > 0 ? info.MemoryBytes : null) },
        info.Attributes ?? new Dictionary<string, string>());

    /// <summary>A multi-line report: the platform, its version, the device count, XlaGen's version and the PJRT API
    /// versions; then one line per device (id, kind, process, memory limit and use, attributes); then the platform's
    /// attributes, one per line.</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(c, $"Platform {Platform} {PlatformVersion}, {Devices.Count} device(s); XlaGen {RuntimeVersion}");
        if (ApiVersion != null) text.Append(c, $"; PJRT C API {ApiVersion} (plugin), {SupportedApiVersion ?? "?"} (XlaGen)");
        text.AppendLine();
        foreach (var d in Devices)
        {
            text.Append(c, $"  device {d.Id}: {d.Kind}");
            if (d.ProcessIndex != 0) text.Append(c, $", process {d.ProcessIndex}");
            if (d.BytesLimit is long limit) text.Append(c, $", memory {Bytes(limit)}");
            if (d.BytesInUse is long used) text.Append(c, $", {Bytes(used)} in use");
            if (d.Attributes is { Count: > 0 } a) text.Append(c, $" ({string.Join(", ", a.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))})");
            text.AppendLine();
        }
        foreach (var (key, value) in Attributes.OrderBy(p => p.Key, StringComparer.Ordinal)) text.Append(c, $"  {key}: {value}").AppendLine();
        return text.ToString().TrimEnd('\n', '\r');
    }

    static string Bytes(long n) => n >= 1L << 30 ? string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1L << 30):F1} GiB")
        : n >= 1L << 20 ? string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1L << 20):F1} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{n} B");
}
