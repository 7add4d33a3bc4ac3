using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace XlaGen.Server.Tests;

/// <summary>
/// A real xlagen-server process on loopback: started with <c>dotnet xlagen-server.dll</c> (port 0 unless the
/// arguments say otherwise), ready once it prints its "listening on" line; killed on dispose. Its stderr (the log)
/// is kept for failure messages.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    const string ListeningPrefix = "xlagen-server listening on ";
    readonly Process process;
    readonly StringBuilder log = new();
    readonly TaskCompletionSource<string> listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    ServerProcess(Process process)
    {
        this.process = process;
    }

    public static string ServerDll { get; } = FindServerDll();

    /// <summary>grpc://127.0.0.1:PORT</summary>
    public string Address { get; private set; } = "";

    /// <summary>http://127.0.0.1:PORT (what the server printed).</summary>
    public string HttpAddress { get; private set; } = "";

    public int Port { get; private set; }

    public int ProcessId => process.Id;

    /// <summary>grpc://HOST:PORT of the key-value store a coordinator (--num-nodes N --node-id 0) serves, from the line
    /// "xlagen-server key-value store on http://HOST:PORT" it prints before its listening line; null for other servers.</summary>
    public string? KeyValueAddress
    {
        get
        {
            const string prefix = "xlagen-server key-value store on ";
            var line = Log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            return line == null ? null : line[prefix.Length..].Replace("https://", "grpcs://", StringComparison.Ordinal).Replace("http://", "grpc://", StringComparison.Ordinal);
        }
    }

    public bool HasExited => process.HasExited;

    public string Log
    {
        get
        {
            lock (log) return log.ToString();
        }
    }

    static string FindServerDll()
    {
        var path = typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "XlaGenServerDll").Value!;
        if (!File.Exists(path)) throw new FileNotFoundException($"xlagen-server is not built at {path}; build the solution first", path);
        return path;
    }

    /// <summary>Starts the server; adds <c>--listen 127.0.0.1:0</c> unless <paramref name="args"/> has --listen.</summary>
    public static Task<ServerProcess> StartAsync(params string[] args) => StartAsync(new Dictionary<string, string>(), args);

    /// <summary>Starts the server with extra environment variables (testing aids such as
    /// XLAGEN_SERVER_TEST_PROTOCOL_RANGE).</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var all = new List<string> { ServerDll };
        if (!args.Contains("--listen")) all.AddRange(new[] { "--listen", "127.0.0.1:0" });
        all.AddRange(args);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var a in all) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_TieredPGO"] = "0";
        foreach (var (name, value) in environment) info.Environment[name] = value;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            server.Append(e.Data);
            if (e.Data.StartsWith(ListeningPrefix, StringComparison.Ordinal)) server.listening.TrySetResult(e.Data[ListeningPrefix.Length..].Trim());
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null) server.Append(e.Data);
        };
        process.Exited += (_, _) => server.listening.TrySetException(new InvalidOperationException($"xlagen-server exited with code {SafeExitCode(process)} before listening:\n{server.Log}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await server.listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            server.HttpAddress = address;
            var uri = new Uri(address);
            server.Port = uri.Port;
            server.Address = $"{(uri.Scheme == "https" ? "grpcs" : "grpc")}://{uri.Host}:{uri.Port}";
            return server;
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new TimeoutException($"xlagen-server did not print its listening line within 60 s:\n{server.Log}");
        }
    }

    static string SafeExitCode(Process p)
    {
        try
        {
            return p.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    void Append(string line)
    {
        lock (log)
        {
            if (log.Length > 1 << 20)
            {
                trimmed += log.Length / 2;
                log.Remove(0, log.Length / 2);
            }
            log.AppendLine(line);
        }
    }

    /// <summary>Characters dropped from the front of <see cref="Log"/> (it keeps about the last MiB).</summary>
    long trimmed;

    /// <summary>Where the log ends now, counted from the server's start: <see cref="LogSince"/> reads what came after.</summary>
    public long LogMark
    {
        get
        {
            lock (log) return trimmed + log.Length;
        }
    }

    /// <summary>The log written since <paramref name="mark"/> (<see cref="LogMark"/>), however much the log was trimmed
    /// meanwhile, as long as that part is still kept (a test that logged over half a MiB fails clearly).</summary>
    public string LogSince(long mark)
    {
        lock (log)
        {
            if (mark < trimmed) throw new InvalidOperationException($"the server log since {mark} was trimmed (it keeps the last {log.Length} characters, from {trimmed})");
            return log.ToString((int)(mark - trimmed), (int)(trimmed + log.Length - mark));
        }
    }

    /// <summary>Kills the process (SIGKILL): no shutdown, as if the host crashed.</summary>
    public void Kill()
    {
        if (process.HasExited) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    /// <summary>Asks for a graceful shutdown (SIGTERM) and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (kill(process.Id, 15) != 0) throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return process.ExitCode;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }
        await Task.Yield();
        process.Dispose();
    }

    public override string ToString() => $"xlagen-server pid {process.Id} at {Address}";
}
