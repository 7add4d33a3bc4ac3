using XlaGen.Backends.Remote;
using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>A model runner (what the generator emits, written by hand here) works unchanged on a remote device.</summary>
public class ModelRunnerTests(SharedServer shared)
{
    /// <summary>logits = relu(x·w1 + b1)·w2 + b2, batch size symbolic until called.</summary>
    sealed class TinyMlp : ModelRunner
    {
        static readonly ParameterSpec[] Specs =
        {
            new("w1", ElementType.F32, new long[] { 4, 8 }, Init.GlorotUniform, 0),
            new("b1", ElementType.F32, new long[] { 8 }, Init.Constant, 0.1),
            new("w2", ElementType.F32, new long[] { 8, 3 }, Init.GlorotUniform, 0),
            new("b2", ElementType.F32, new long[] { 3 }, Init.Zeros, 0),
        };

        public TinyMlp(IDevice device, int seed) : base("TinyMlp", device, Specs, seed)
        {
        }

        public Tensor<float> Logits(Tensor<float> x)
        {
            long batch = x.Shape[0];
            return (Tensor<float>)Run("Logits", new[] { batch }, () => Build(batch), x)[0];
        }

        static HloModule Build(long batch)
        {
            var b = new HloBuilder("TinyMlp_Logits");
            var x = b.Parameter(Shape.Array(ElementType.F32, batch, 4), "x");
            var w1 = b.Parameter(Shape.Array(ElementType.F32, 4, 8), "w1");
            var b1 = b.Parameter(Shape.Array(ElementType.F32, 8), "b1");
            var w2 = b.Parameter(Shape.Array(ElementType.F32, 8, 3), "w2");
            var b2 = b.Parameter(Shape.Array(ElementType.F32, 3), "b2");
            var h = b.Add(b.MatMul(x, w1), b.Broadcast(b1, new Dim[] { batch, 8 }, new long[] { 1 }));
            var relu = b.Maximum(h, b.Full(ElementType.F32, 0, new Dim[] { batch, 8 }));
            return b.BuildModule(b.Add(b.MatMul(relu, w2), b.Broadcast(b2, new Dim[] { batch, 3 }, new long[] { 1 })));
        }
    }

    [Fact]
    public async Task ForwardPassMatchesTheInProcessRunner()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        using var local = new TinyMlp(Devices.Cpu(), seed: 42);
        using var onServer = new TinyMlp(remote, seed: 42);

        foreach (var batch in new long[] { 5, 16, 5 })
        {
            var x = TestModules.Random((int)batch, batch, 4);
            Assert.Equal(local.Logits(x).Data, onServer.Logits(x).Data);
        }
        Assert.Equal(new[] { "Logits(16)", "Logits(5)" }, onServer.CompiledPrograms);

        var parameters = onServer.GetParameters();
        foreach (var (path, value) in local.GetParameters()) Assert.Equal(value.Data.Cast<float>(), parameters[path].Data.Cast<float>());

        var w2 = TestModules.Random(77, 8, 3);
        local.SetParameter("w2", w2);
        onServer.SetParameter("w2", w2);
        var probe = TestModules.Random(3, 7, 4);
        Assert.Equal(local.Logits(probe).Data, onServer.Logits(probe).Data);
    }

    [Fact]
    public async Task DisposingTheRunnerFreesItsBuffersOnTheServer()
    {
        await using var remote = await Devices.ConnectAsync(shared.Address);
        using var raw = new RawClient(shared.Address);
        async Task<long> Held() => (await raw.Client.KeepAliveAsync(new Device.V1.KeepAliveRequest { SessionId = remote.SessionId }, raw.Options())).BytesHeld;

        var runner = new TinyMlp(remote, seed: 1);
        async Task<long> Settled(long expected)
        {
            // Releases travel in the background, batched; wait for them to land.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            long held;
            while ((held = await Held()) != expected && DateTime.UtcNow < deadline) await Task.Delay(20);
            return held;
        }

        runner.Logits(TestModules.Random(1, 2, 4));
        // The parameters (four buffers of 128, 32, 96 and 12 bytes, each counted as the 1 KiB every handle counts at
        // least, Session.MinimumCharge) and the compiled Logits program (its estimated size: 1 KiB per instruction
        // and its module bytes); the input and the logits were released.
        long program = TestModules.ProgramCharge(runner.GetCompiledProgram(Assert.Single(runner.CompiledPrograms)));
        Assert.Equal(4 * 1024 + program, await Settled(4 * 1024 + program));
        runner.Dispose();
        Assert.Equal(0, await Settled(0));
    }
}
