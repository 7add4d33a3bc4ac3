using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.Diagnostics;
using XlaGen.Generator.Diagnostics;
using XlaGen.Generator.Model;

namespace XlaGen.Generator.Parsing
{
    /// <summary>
    /// The <c>XlaGenDeviceMemory</c> build property (<c>&lt;XlaGenDeviceMemory&gt;16GiB&lt;/XlaGenDeviceMemory&gt;</c>; made
    /// visible to the compiler by the package's build/XlaGen.props) and the check of each model's parameter bytes against it.
    /// </summary>
    static class DeviceMemory
    {
        public const string PropertyName = "XlaGenDeviceMemory";

        public const string OptionKey = "build_property." + PropertyName;

        static readonly Regex Syntax = new Regex(@"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)$", RegexOptions.CultureInvariant);

        static readonly Dictionary<string, decimal> Units = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase)
        {
            ["B"] = 1m,
            ["KB"] = 1e3m, ["MB"] = 1e6m, ["GB"] = 1e9m, ["TB"] = 1e12m,
            ["KiB"] = 1024m, ["MiB"] = 1024m * 1024, ["GiB"] = 1024m * 1024 * 1024, ["TiB"] = 1024m * 1024 * 1024 * 1024,
        };

        public static DeviceMemorySetting Read(AnalyzerConfigOptions options) =>
            Parse(options.TryGetValue(OptionKey, out var text) ? text : "");

        /// <summary>A number and a unit: B; KB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB (powers of 1024). Empty is unset.</summary>
        public static DeviceMemorySetting Parse(string text)
        {
            var t = (text ?? "").Trim();
            if (t.Length == 0) return new DeviceMemorySetting("", 0, null);
            var m = Syntax.Match(t);
            if (!m.Success) return Malformed(t, "it is not a number followed by a unit");
            if (!Units.TryGetValue(m.Groups[2].Value, out var unit)) return Malformed(t, $"'{m.Groups[2].Value}' is not a unit");
            decimal number;
            try
            {
                number = decimal.Parse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * unit;
            }
            catch (OverflowException)
            {
                return Malformed(t, "it is more than 9,223,372,036,854,775,807 bytes");
            }
            if (number > long.MaxValue) return Malformed(t, "it is more than 9,223,372,036,854,775,807 bytes");
            if (number != decimal.Truncate(number)) return Malformed(t, "it is not a whole number of bytes");
            if (number <= 0) return Malformed(t, "a device has more than 0 bytes");
            return new DeviceMemorySetting(t, (long)number, null);
        }

        static DeviceMemorySetting Malformed(string text, string why) => new DeviceMemorySetting(text, 0, why);

        /// <summary>XG0025 when the property is malformed (reported once per compilation, without a location).</summary>
        public static EquatableArray<DiagnosticInfo> Problems(DeviceMemorySetting setting) =>
            setting.Problem == null
                ? EquatableArray<DiagnosticInfo>.Empty
                : new[] { new DiagnosticInfo(DiagnosticDescriptors.DeviceMemoryMalformed.Id, null, new[] { setting.Text, setting.Problem }.ToEquatableArray()) }.ToEquatableArray();

        /// <summary>XG0024 when a model's parameters alone exceed the configured device memory. Parameters are the one
        /// figure that is fixed at build time (the optimizer and batch size are chosen at run time), and they must be
        /// resident on the device, so more parameter bytes than device bytes cannot run.</summary>
        public static EquatableArray<DiagnosticInfo> Check(ParameterBytesSpec? model, DeviceMemorySetting setting)
        {
            if (model == null || !setting.IsSet || model.Bytes <= setting.Bytes) return EquatableArray<DiagnosticInfo>.Empty;
            var largest = string.Join(", ", model.Largest.Select(p => $"{p.Path} {p.Shape} {BytesText(p.Bytes)}"));
            return new[]
            {
                new DiagnosticInfo(DiagnosticDescriptors.ParametersExceedDeviceMemory.Id, model.Location, new[]
                {
                    model.ModelName, BytesText(model.Bytes), setting.Text, setting.Bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes", largest,
                }.ToEquatableArray()),
            }.ToEquatableArray();
        }

        /// <summary>"17,179,869,184 bytes (16.0 GiB)": exact, then readable.</summary>
        public static string BytesText(long n)
        {
            var c = CultureInfo.InvariantCulture;
            var exact = n.ToString("N0", c) + " bytes";
            if (n < 1024) return exact;
            string readable = n < 1L << 20 ? (n / 1024.0).ToString("F1", c) + " KiB"
                : n < 1L << 30 ? (n / 1048576.0).ToString("F1", c) + " MiB"
                : n < 1L << 40 ? (n / 1073741824.0).ToString("F1", c) + " GiB"
                : (n / 1099511627776.0).ToString("F1", c) + " TiB";
            return exact + " (" + readable + ")";
        }
    }
}
