using XlaGen.Hlo;

namespace XlaGen.Tests.DeviceContract;

/// <summary>The device contract every backend shares: the execute-argument check, device names, Describe, the
/// asynchronous download and buffer readiness.</summary>
public class DeviceContractTests
{
    sealed class Arg(Shape shape)
    {
        public Shape Shape { get; } = shape;
    }

    static readonly Shape F4 = Shape.Array(ElementType.F32, 4);
    static readonly Shape[] Params = { F4, Shape.Array(ElementType.S32, 2) };
    static readonly string[] Names = { "x", "labels" };

    static XlaExecutionException Fails(IReadOnlyList<Arg?> args, params int[] donated) =>
        Assert.Throws<XlaExecutionException>(() => ExecuteArguments.Check("step", Params, Names, args, a => a.Shape, donated));

    [Fact]
    public void ArgumentCountShapeAndNullAreNamed()
    {
        var x = new Arg(F4);
        Assert.Equal("module 'step' takes 2 argument(s) (x: f32[4], labels: s32[2]), got 1", Fails(new[] { x }).Message);
        Assert.Equal("module 'step', argument 1 (labels): expected s32[2], got f32[4]", Fails(new[] { x, x }).Message);
        Assert.Equal("module 'step', argument 0 (x) is null", Fails(new Arg?[] { null, x }).Message);
        var e = Assert.Throws<XlaExecutionException>(() =>
            ExecuteArguments.Check("step", Params, null, new[] { x, x }, a => a.Shape, null, _ => "buffer 7"));
        Assert.Equal("module 'step', argument 1 (p1): expected s32[2], got f32[4] (buffer 7)", e.Message);
    }

    [Fact]
    public void DonationIsCheckedAndReturnedAsAMask()
    {
        var x = new Arg(F4);
        var y = new Arg(Params[1]);
        Assert.Null(ExecuteArguments.Check("step", Params, Names, new[] { x, y }, a => a.Shape, Array.Empty<int>()));
        Assert.Equal(new[] { false, true }, ExecuteArguments.Check("step", Params, Names, new[] { x, y }, a => a.Shape, new[] { 1 }));
        Assert.Equal("module 'step': donated argument index 2 is out of range (the program takes 2 arguments)", Fails(new[] { x, y }, 2).Message);
        Assert.Equal("module 'step': donated argument index -1 is out of range (the program takes 2 arguments)", Fails(new[] { x, y }, -1).Message);
        Assert.Equal("module 'step': argument 0 (x) is donated twice", Fails(new[] { x, y }, 0, 0).Message);
        var same = new[] { F4, F4 };
        var e = Assert.Throws<XlaExecutionException>(() => ExecuteArguments.Check("step", same, Names, new[] { x, x }, a => a.Shape, new[] { 1 }));
        Assert.Equal("module 'step': argument 1 (labels) is donated but the same buffer is also argument 0 (x)", e.Message);
        // passing one buffer twice without donating it is fine
        Assert.Null(ExecuteArguments.Check("step", same, Names, new[] { x, x }, a => a.Shape, null));
    }

    [Theory]
    [InlineData("cpu", DeviceBackend.Cpu, null, null)]
    [InlineData(" CPU ", DeviceBackend.Cpu, null, null)]
    [InlineData("pjrt", DeviceBackend.Pjrt, null, null)]
    [InlineData("pjrt:/opt/libtpu/libtpu.so", DeviceBackend.Pjrt, "/opt/libtpu/libtpu.so", null)]
    [InlineData("grpc://10.0.0.2:8470", DeviceBackend.Remote, null, "grpc://10.0.0.2:8470")]
    [InlineData("grpcs://tpu-host:8470", DeviceBackend.Remote, null, "grpcs://tpu-host:8470")]
    public void DeviceNamesParseInOnePlace(string text, DeviceBackend backend, string? plugin, string? address)
    {
        var spec = DeviceSpec.Parse(text);
        Assert.Equal(new DeviceSpec(backend, plugin, address), spec);
        Assert.Equal(spec, DeviceSpec.Parse(spec.ToString()));
    }

    [Theory]
    [InlineData("tpu", "device 'tpu' is not one XlaGen knows: write cpu, pjrt, pjrt:/path/to/plugin.so, grpc://host:port or grpcs://host:port")]
    [InlineData("pjrt:", "device 'pjrt:' names no plugin; write pjrt:/path/to/plugin.so, or pjrt alone to search for one")]
    [InlineData("http://host:1", "device 'http://host:1' is not one XlaGen knows: write cpu, pjrt, pjrt:/path/to/plugin.so, grpc://host:port or grpcs://host:port")]
    public void UnknownDeviceNamesSayWhatIsAccepted(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceSpec.Parse(text));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void OpenCpuIsTheSharedExecutor() => Assert.Same(Devices.Cpu(), Devices.Open("cpu"));

    [Fact]
    public void CpuDescribesItself()
    {
        var cpu = Devices.Cpu();
        var d = cpu.Describe();
        Assert.Equal("cpu", d.Platform);
        Assert.Equal(cpu.Info.Version, d.PlatformVersion);
        var only = Assert.Single(d.Devices);
        Assert.Equal(0, only.Id);
        Assert.Equal(cpu.Info.DeviceKind, only.Kind);
        Assert.Equal(cpu.Info.MemoryBytes, only.BytesLimit);
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), d.Attributes["cores"]);
        Assert.Null(d.ApiVersion);
        var text = d.ToString();
        Assert.StartsWith($"Platform cpu {cpu.Info.Version}, 1 device(s); XlaGen {PlatformDescription.RuntimeVersion}", text);
        Assert.Contains($"  device 0: {cpu.Info.DeviceKind}, memory ", text);
        Assert.Contains("  cores: ", text);
    }

    [Fact]
    public async Task DownloadAsyncAndReadyOnASynchronousDevice()
    {
        var cpu = Devices.Cpu();
        using var b = cpu.Upload(Tensor<float>.FromArray(new[] { 1f, 2f, 3f }, 3));
        Assert.True(b.Ready.IsCompletedSuccessfully);
        var t = (Tensor<float>)await cpu.DownloadAsync(b);
        Assert.Equal(new[] { 1f, 2f, 3f }, t.Data);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => cpu.DownloadAsync(b, cancelled.Token));
    }
}
