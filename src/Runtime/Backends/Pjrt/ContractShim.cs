using System.Globalization;
using System.Text;
using XlaGen.Hlo;

// TEMPORARY (helper/pjrt): the lead's device contract (pjrt-plan.md) lands on main in parallel. These two types
// follow its published signatures so the PJRT backend compiles against them now; delete this file when main's
// contract is merged (main's definitions win).
namespace XlaGen;

public sealed record DeviceDescription(string Platform, string PlatformVersion, IReadOnlyList<DeviceDescription.Device> Devices,
    IReadOnlyDictionary<string, string> Attributes, string XlaGenVersion, string? ApiVersion)
{
    public sealed record Device(int Id, string Kind, int ProcessIndex, long? BytesInUse, long? BytesLimit, IReadOnlyDictionary<string, string>? Attributes);

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Platform} {PlatformVersion}");
        if (ApiVersion != null) sb.Append(CultureInfo.InvariantCulture, $" (API {ApiVersion})");
        sb.Append(CultureInfo.InvariantCulture, $", XlaGen {XlaGenVersion}\n");
        foreach (var d in Devices)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  device {d.Id}: {d.Kind}, process {d.ProcessIndex}");
            if (d.BytesInUse != null) sb.Append(CultureInfo.InvariantCulture, $", {d.BytesInUse} bytes in use");
            if (d.BytesLimit != null) sb.Append(CultureInfo.InvariantCulture, $", limit {d.BytesLimit} bytes");
            sb.Append('\n');
        }
        foreach (var (k, v) in Attributes.OrderBy(a => a.Key, StringComparer.Ordinal)) sb.Append(CultureInfo.InvariantCulture, $"  {k} = {v}\n");
        return sb.ToString();
    }
}

/// <summary>One shared check of execute arguments and donation.</summary>
public static class ExecuteArguments
{
    public static bool[]? Check<T>(string program, IReadOnlyList<Shape> parameterShapes, IReadOnlyList<string>? parameterNames,
        IReadOnlyList<T> arguments, Func<T, Shape> shapeOf, IReadOnlyList<int> donated) where T : class
    {
        ArgumentNullException.ThrowIfNull(arguments);
        string Name(int i) => parameterNames != null && i < parameterNames.Count ? parameterNames[i] : "p" + i.ToString(CultureInfo.InvariantCulture);
        if (arguments.Count != parameterShapes.Count)
        {
            throw new XlaExecutionException(
                $"module '{program}' takes {parameterShapes.Count} argument(s) ({string.Join(", ", parameterShapes.Select((s, i) => $"{Name(i)}: {s}"))}), got {arguments.Count}");
        }
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == null) throw new XlaExecutionException($"argument {i} ({Name(i)}) of '{program}' is null");
            var shape = shapeOf(arguments[i]);
            if (!shape.Equals(parameterShapes[i])) throw new XlaExecutionException($"argument {i} ({Name(i)}) of '{program}': expected {parameterShapes[i]}, got {shape}");
        }
        if (donated.Count == 0) return null;
        var mask = new bool[arguments.Count];
        foreach (var d in donated)
        {
            if (d < 0 || d >= arguments.Count) throw new XlaExecutionException($"donated argument index {d} is out of range (the module takes {arguments.Count} arguments)");
            if (mask[d]) throw new XlaExecutionException($"argument {d} ({Name(d)}) is donated twice");
            mask[d] = true;
        }
        for (int i = 0; i < arguments.Count; i++)
        {
            if (!mask[i]) continue;
            for (int j = 0; j < arguments.Count; j++)
            {
                if (j != i && ReferenceEquals(arguments[i], arguments[j]))
                    throw new XlaExecutionException($"argument {i} ({Name(i)}) is donated but the same buffer is also argument {j} ({Name(j)})");
            }
        }
        return mask;
    }
}
