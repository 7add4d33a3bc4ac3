using System.Diagnostics;
using System.Text.RegularExpressions;
using XlaGen.Backends.Remote;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>A server that stops executions after one second, and refuses programs over 2e12 operations or 2000 instructions.</summary>
public sealed class OneSecondServer : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await ServerProcess.StartAsync("--max-execution-time", "1s", "--max-program-cost", "2T", "--max-instructions", "2000");

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Issue 13 finding 1: one instruction that runs for minutes (a reduce-window over f32[1024,1024] with a 512x512
/// window ran 303 s under --max-execution-time 3s) must be stopped inside its kernel, not after it. Each program
/// below is a single long kernel fed by a scalar (no uploads), so nothing but the kernel's own polling can stop it.
/// </summary>
public class KernelCancellationTests(OneSecondServer fixture) : IClassFixture<OneSecondServer>
{
    /// <summary>x = broadcast(scalar) to f32[1024,1024]; one long op on it.</summary>
    static string Program(string name, string body, string extra = "") => $$"""
        HloModule {{name}}

        add {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT s = f32[] add(a, b)
        }

        ge {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          ROOT c = pred[] compare(a, b), direction=GE
        }

        odd {
          a = f32[] parameter(0)
          b = f32[] parameter(1)
          m = f32[] multiply(b, b)
          ROOT s = f32[] add(a, m)
        }
        {{extra}}
        ENTRY main {
          p = f32[] parameter(0)
          x = f32[1024,1024] broadcast(p), dimensions={}
          zero = f32[] constant(0)
          {{body}}
        }
        """;

    static readonly string IssueReduceWindow =
        Program("reduce_window", "ROOT r = f32[513,513] reduce-window(x, zero), window={size=512x512}, to_apply=add");

    public static TheoryData<string, string> LongKernels() => new()
    {
        // The issue's case: the reduce-window fast path (a plain add reducer), 69 G additions.
        { "reduce_window", IssueReduceWindow },
        // A reducer that is not one op runs interpreted per window element (17 G calls).
        { "reduce_window_generic", Program("reduce_window_generic", "ROOT r = f32[769,769] reduce-window(x, zero), window={size=256x256}, to_apply=odd") },
        // select-and-scatter over the same windows as the issue's reduce-window.
        { "select_and_scatter", Program("select_and_scatter",
            "s = f32[513,513] broadcast(p), dimensions={}\n  ROOT r = f32[1024,1024] select-and-scatter(x, s, zero), window={size=512x512}, select=ge, scatter=add") },
        // An 8192x8192x8192 matrix product through the GEMM driver (550 G multiply-adds: a 4096³ one took only about a
        // second on two cores, too little to be sure the limit stops it).
        { "dot", Program("dot",
            "y = f32[8192,8192] broadcast(p), dimensions={}\n  ROOT r = f32[8192,8192] dot(y, y), lhs_contracting_dims={1}, rhs_contracting_dims={0}") },
        // A 256x256 kernel over a 1024x1024 image (38 G multiply-adds).
        { "convolution", Program("convolution",
            "i = f32[1,1024,1024,1] reshape(x)\n  k = f32[256,256,1,1] broadcast(p), dimensions={}\n  ROOT r = f32[1,769,769,1] convolution(i, k), window={size=256x256}, dim_labels=b01f_01io->b01f") },
    };

    [Theory]
    [MemberData(nameof(LongKernels))]
    public async Task OneLongKernelIsStoppedInsideItByMaxExecutionTime(string name, string text)
    {
        var module = HloTextParser.Parse(text);
        await using var device = await Devices.ConnectAsync(fixture.Server.Address);
        using var raw = new RawClient(fixture.Server.Address);
        using var exe = await device.CompileHloAsync(module);
        var p = await device.UploadAsync(Tensor<float>.Scalar(1f));
        long stoppedBefore = (await raw.StatsAsync()).ExecutionsStopped;

        var clock = Stopwatch.StartNew();
        var running = exe.ExecuteAsync(new[] { p });
        // Before kernels polled their cancellation, each of these ran for minutes past the limit.
        var finished = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(finished == running, $"'{name}' was still running {clock.Elapsed.TotalSeconds:F1} s after a 1 s --max-execution-time");
        var e = await Assert.ThrowsAsync<XlaExecutionException>(() => running);
        Assert.Contains("DeadlineExceeded", e.Message);
        Assert.Contains($"execute '{name}' ran longer than this server allows (1000 ms, --max-execution-time)", e.Message);

        // The server's own measure: the execution ended within 1 s of its limit (measured: 0-15 ms over), and was counted as stopped.
        var stats = await raw.StatsAsync();
        Assert.Equal(0, stats.ExecutionsInFlight);
        Assert.Equal(stoppedBefore + 1, stats.ExecutionsStopped);
        // the server's output reaches the test through a pipe read asynchronously: wait for the line a little
        var pattern = $"execution of '{name}' stopped after (\\d+) ms";
        var logged = Regex.Matches(fixture.Server.Log, pattern);
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); logged.Count == 0 && waited.Elapsed < TimeSpan.FromSeconds(10);)
        {
            await Task.Delay(50);
            logged = Regex.Matches(fixture.Server.Log, pattern);
        }
        Assert.NotEmpty(logged);
        long ms = long.Parse(logged[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // (a timer may fire a millisecond before the stopwatch reads 1000)
        TestContext.Current.TestOutputHelper?.WriteLine($"'{name}' stopped after {ms} ms (limit 1000 ms)");
        // Unloaded it stops 0-15 ms over the limit; CI runs the test assemblies in parallel on two cores, where a fresh
        // clone's run once measured 3.8 s for the dot (its timer and polls starved). 5 s still fails the dot (1.1 T
        // floating-point operations, over 10 s on these two cores) and the window cases if they stop polling. A fresh
        // clone's CI run of 2026-12-06 measured 5.5 s for the dot; 8 s still fails a dot that stopped polling.
        Assert.InRange(ms, 900, 8000);
    }

    [Fact]
    public async Task AProgramCostlierThanMaxProgramCostIsRefusedAtCompileWithItsEstimate()
    {
        using var raw = new RawClient(fixture.Server.Address);
        string session = await raw.OpenSessionAsync();
        // 2·16384³ ≈ 8.8e12 multiply-add operations: over the 2T limit. Refused before anything is compiled.
        var big = HloTextParser.Parse(Program("big_dot",
            "y = f32[16384,16384] broadcast(p), dimensions={}\n  ROOT r = f32[16384,16384] dot(y, y), lhs_contracting_dims={1}, rhs_contracting_dims={0}"));
        await Expect.Status(Grpc.Core.StatusCode.ResourceExhausted, () => raw.CompileAsync(session, big),
            "module 'big_dot' would cost about 8.8e+12 operations and touch about", "bytes per run",
            "more than the 2e+12 operations this server allows per program (--max-program-cost)");
        // The issue's reduce-window (6.9e10 operations) is under the limit: it compiles (and runs until stopped, above).
        Assert.NotEqual(0UL, await raw.CompileAsync(session, HloTextParser.Parse(IssueReduceWindow)));
    }

    [Fact]
    public async Task AModuleWithMoreThanMaxInstructionsIsRefusedAtCompile()
    {
        using var raw = new RawClient(fixture.Server.Address);
        string session = await raw.OpenSessionAsync();
        var b = new HloBuilder("long_chain");
        var v = b.Parameter(Shape.Array(ElementType.F32, 4), "x");
        for (int i = 0; i < 2100; i++) v = b.Add(v, v);
        await Expect.Status(Grpc.Core.StatusCode.ResourceExhausted, () => raw.CompileAsync(session, b.BuildModule(v)),
            "module 'long_chain' has 2101 instructions in 1 computations, more than the 2000 this server compiles per module (--max-instructions)");
    }
}
