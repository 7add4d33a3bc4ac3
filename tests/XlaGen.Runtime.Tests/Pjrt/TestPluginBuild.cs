using System.Diagnostics;
using System.Runtime.InteropServices;

namespace XlaGen.Tests.Pjrt;

/// <summary>
/// Builds TestPlugin/pjrt_test_plugin.c (a test double of the PJRT C API, not XLA) with gcc into a temp directory,
/// once per variant per process, and reads its exported counters. Without gcc the tests skip, except under CI=true,
/// where they fail.
/// </summary>
public static unsafe class TestPluginBuild
{
    static readonly Dictionary<string, string> Built = new(StringComparer.Ordinal);
    static readonly object Gate = new();
    /// <summary>Builds are cached by the hash of the sources and defines, so runs reuse them instead of piling up.</summary>
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "xlagen-pjrt-test-plugin");

    public static string Source => Path.Combine(AppContext.BaseDirectory, "Pjrt", "TestPlugin", "pjrt_test_plugin.c");

    static string HloSource => Path.Combine(AppContext.BaseDirectory, "Pjrt", "TestPlugin", "pjrt_test_plugin_hlo.c");

    /// <summary>The plugin built with <paramref name="defines"/> (e.g. "TEST_MAJOR=1"); skips (fails under CI) without gcc.</summary>
    public static string Require(params string[] defines)
    {
        string key = string.Join(" ", defines);
        lock (Gate)
        {
            if (Built.TryGetValue(key, out var done)) return done;
            Directory.CreateDirectory(Dir);
            string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
                key + "\0" + File.ReadAllText(Source) + "\0" + File.ReadAllText(HloSource) + "\0" + File.ReadAllText(Path.ChangeExtension(HloSource, ".h")))))[..16];
            string output = Path.Combine(Dir, $"libpjrt_test_plugin_{hash}.so");
            if (File.Exists(output))
            {
                Built[key] = output;
                return output;
            }
            string building = output + "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp";
            var start = new ProcessStartInfo("gcc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "-shared", "-fPIC", "-O1", "-pthread", "-Wall", "-Werror" }) start.ArgumentList.Add(a);
            foreach (var d in defines) start.ArgumentList.Add("-D" + d);
            start.ArgumentList.Add(Source);
            start.ArgumentList.Add(HloSource);
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add(building);
            Process? gcc;
            try
            {
                gcc = Process.Start(start);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                gcc = null;
            }
            Required.Data(gcc != null, "gcc is not on PATH, so the PJRT test plugin (a C test double of the PJRT C API) cannot be built");
            string errors = gcc!.StandardError.ReadToEnd();
            gcc.WaitForExit();
            Assert.True(gcc.ExitCode == 0, $"gcc failed to build {Source}:\n{errors}");
            File.Move(building, output, overwrite: true); // atomic: a concurrent run sees the whole file or none
            Built[key] = output;
            return output;
        }
    }

    /// <summary>The test double's exported counters: live_errors, live_events, live_buffers, live_clients,
    /// live_executables, live_loaded_executables, destroyed_twice, total_errors, num_non_donatable.</summary>
    public static long Counter(string plugin, string name)
    {
        var f = (delegate* unmanaged<byte*, long>)Export(plugin, "test_plugin_counter");
        var bytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes) return f(p);
    }

    public static void SetAsync(string plugin, bool on) => ((delegate* unmanaged<int, void>)Export(plugin, "test_plugin_set_async"))(on ? 1 : 0);

    /// <summary>The next call of <paramref name="function"/> (e.g. "PJRT_Client_Compile") returns this error.</summary>
    public static void FailNext(string plugin, string function, int code, string message)
    {
        var f = (delegate* unmanaged<byte*, int, byte*, void>)Export(plugin, "test_plugin_fail_next");
        var fn = System.Text.Encoding.UTF8.GetBytes(function + "\0");
        var msg = System.Text.Encoding.UTF8.GetBytes(message + "\0");
        fixed (byte* a = fn)
        fixed (byte* m = msg) f(a, code, m);
    }

    public static byte[] LastCompileOptions(string plugin)
    {
        var f = (delegate* unmanaged<byte*, nuint, nuint>)Export(plugin, "test_plugin_last_compile_options");
        var n = f(null, 0);
        var bytes = new byte[(int)n];
        fixed (byte* p = bytes) f(p, n);
        return bytes;
    }

    public static string LastFormat(string plugin) => Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<byte*>)Export(plugin, "test_plugin_last_format"))()) ?? "";

    public static string LastCreateOptions(string plugin) => Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<byte*>)Export(plugin, "test_plugin_last_create_options"))()) ?? "";

    /// <summary>What the last multi-node Client_Create read from the key-value store: every node's topology value, '|'-separated.</summary>
    public static string LastTopology(string plugin) => Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<byte*>)Export(plugin, "test_plugin_last_topology"))()) ?? "";

    public static long[] LastNonDonatable(string plugin)
    {
        long n = Counter(plugin, "num_non_donatable");
        var f = (delegate* unmanaged<int, long>)Export(plugin, "test_plugin_non_donatable");
        return Enumerable.Range(0, (int)Math.Max(0, n)).Select(i => f(i)).ToArray();
    }

    static void* Export(string plugin, string name) => (void*)NativeLibrary.GetExport(NativeLibrary.Load(plugin), name);
}
