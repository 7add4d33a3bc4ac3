using XlaGen.Hlo;

namespace XlaGen.Tests.Hlo;

/// <summary>Computations may nest <see cref="HloVerifier.MaxCallDepth"/> calls deep. Every walk over the call graph
/// recurses (proto reading and writing, compiling, running nested calls), so a deeper module from outside must be an
/// error and not a stack overflow, which would end the process (an xlagen-server with it).</summary>
public class CallDepthTests
{
    static readonly float[] Input = { 1, -2, 3.5f, 0 };

    // SmallStack.Run gives 512 KiB; the deepest accepted module needs between 128 and 256 KiB in Debug and Release
    // builds (measured), so the limit leaves room to spare.

    [Fact]
    public void TheDeepestAcceptedModuleRoundTripsCompilesAndRunsOnASmallStack()
    {
        int depth = HloVerifier.MaxCallDepth;
        var values = SmallStack.Run(() =>
        {
            var module = DeepCalls.Module(depth);
            Assert.Empty(HloVerifier.Check(module));
            var callersFirst = HloProto.Read(DeepCalls.Bytes(depth, callersFirst: true));   // the reader recurses to the limit
            Assert.Equal(depth, callersFirst.Computations.Count);
            Assert.Empty(HloVerifier.Check(callersFirst));
            var again = HloProto.Read(HloProto.Write(module));
            var text = HloPrinter.Print(again);
            Assert.Equal(text, HloPrinter.Print(HloTextParser.Parse(text)));
            var cpu = Devices.Cpu();
            using var exe = cpu.CompileHlo(again);
            return ((Tensor<float>)cpu.Download(exe.Execute(new[] { cpu.Upload(Tensor<float>.FromArray(Input, 4)) })[0])).Data;
        });
        Assert.Equal(Input.Select(v => -v), values);
    }

    [Fact]
    public void OneLevelMoreIsRefusedByTheVerifierAndTheCompiler()
    {
        var module = SmallStack.Run(() => DeepCalls.Module(HloVerifier.MaxCallDepth + 1));
        var problem = Assert.Single(HloVerifier.Check(module));
        Assert.Equal($"computations nest {HloVerifier.MaxCallDepth + 1} calls deep at %entry, more than the {HloVerifier.MaxCallDepth} XlaGen accepts", problem.Replace(module.Entry.Name, "entry"));
        var e = Assert.Throws<XlaCompileException>(() => Devices.Cpu().CompileHlo(module));
        Assert.Contains($"more than the {HloVerifier.MaxCallDepth} XlaGen accepts", e.Message);
    }

    [Theory]
    [InlineData(1_000, false)]
    [InlineData(1_000, true)]
    [InlineData(50_000, false)]
    [InlineData(50_000, true)]
    public void AFarDeeperProtoIsAnErrorNotAStackOverflow(int depth, bool callersFirst)
    {
        var bytes = DeepCalls.Bytes(depth, callersFirst);
        var e = SmallStack.Run(() => Assert.Throws<HloProtoException>(() => HloProto.Read(bytes)));
        // listed callers first, the reader's own walk stops at the limit; callees first, the verifier measures the depth
        Assert.Contains(callersFirst ? $"computations nest more than {HloVerifier.MaxCallDepth} calls deep" : $"computations nest {HloVerifier.MaxCallDepth + 1} calls deep", e.Message);
        Assert.Contains("XlaGen accepts", e.Message);
    }
}
