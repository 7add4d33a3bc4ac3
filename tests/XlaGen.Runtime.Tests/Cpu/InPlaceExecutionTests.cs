using XlaGen.Backends.Cpu;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The CPU executor's in-place execution (the train step's path, <c>IInPlaceExecutable</c>): a result aliased to a
/// donated argument comes back in that argument's handle with the new value, other donated arguments are deleted as in
/// Execute, results not aliased (or aliased to an argument that was not donated) get new handles, and the values equal
/// Execute's.
/// </summary>
public class InPlaceExecutionTests
{
    static HloModule Module()
    {
        var b = new HloBuilder("step");
        var w = b.Parameter(Shape.Array(ElementType.F32, 3), "w");
        var g = b.Parameter(Shape.Array(ElementType.F32, 3), "g");
        var module = b.BuildModule(b.Tuple(b.Subtract(w, g), b.Multiply(w, g)));
        module.InputOutputAliases.Add(new InputOutputAlias(new long[] { 0 }, 0, Array.Empty<long>()));
        return module;
    }

    static float[] Values(CpuDevice d, DeviceBuffer b) => ((Tensor<float>)d.Download(b)).Data;

    [Fact]
    public void AnAliasedDonatedArgumentKeepsItsHandleWithTheNewValue()
    {
        var cpu = new CpuDevice();
        var exe = (CpuExecutable)cpu.CompileHlo(Module());
        var w = cpu.Upload(Tensor<float>.FromArray(new[] { 5f, 6, 7 }, 3));
        var g = cpu.Upload(Tensor<float>.FromArray(new[] { 1f, 2, 3 }, 3));
        var results = new DeviceBuffer[2];
        for (int step = 1; step <= 3; step++)
        {
            var args = new[] { w, g };
            exe.ExecuteInPlace(args, new ExecuteOptions { DonatedArguments = new[] { 0 } }, results);
            Assert.Same(w, results[0]);
            Assert.False(w.IsDeleted);
            Assert.False(g.IsDeleted);
            Assert.Equal(new[] { 5f - step, 6 - 2 * step, 7 - 3 * step }, Values(cpu, w));
            Assert.NotSame(g, results[1]);
            results[1].Dispose();
        }
    }

    [Fact]
    public void WithoutDonationOrAliasTheResultsAreNewHandlesAsExecuteGives()
    {
        var cpu = new CpuDevice();
        var exe = (CpuExecutable)cpu.CompileHlo(Module());
        var w = cpu.Upload(Tensor<float>.FromArray(new[] { 5f, 6, 7 }, 3));
        var g = cpu.Upload(Tensor<float>.FromArray(new[] { 1f, 2, 3 }, 3));
        var results = new DeviceBuffer[2];
        exe.ExecuteInPlace(new[] { w, g }, new ExecuteOptions(), results);
        Assert.NotSame(w, results[0]);
        Assert.Equal(new[] { 5f, 6, 7 }, Values(cpu, w));
        var viaExecute = exe.Execute(new[] { w, g });
        Assert.Equal(Values(cpu, viaExecute[0]), Values(cpu, results[0]));
        Assert.Equal(Values(cpu, viaExecute[1]), Values(cpu, results[1]));

        // g donated but aliased to nothing: deleted, as Execute deletes it
        exe.ExecuteInPlace(new[] { w, g }, new ExecuteOptions { DonatedArguments = new[] { 1 } }, results);
        Assert.True(g.IsDeleted);
        Assert.False(w.IsDeleted);
        Assert.NotSame(w, results[0]);
    }

    [Fact]
    public void BadArgumentsFailBeforeAnythingIsConsumed()
    {
        var cpu = new CpuDevice();
        var exe = (CpuExecutable)cpu.CompileHlo(Module());
        var w = cpu.Upload(Tensor<float>.FromArray(new[] { 5f, 6, 7 }, 3));
        var wrong = cpu.Upload(Tensor<float>.FromArray(new[] { 1f, 2 }, 2));
        var e = Assert.Throws<XlaExecutionException>(() =>
            exe.ExecuteInPlace(new[] { w, wrong }, new ExecuteOptions { DonatedArguments = new[] { 0 } }, new DeviceBuffer[2]));
        Assert.Contains("argument 1 (g): expected f32[3]", e.Message);
        Assert.False(w.IsDeleted);
        Assert.Equal(new[] { 5f, 6, 7 }, Values(cpu, w));
        Assert.Throws<ArgumentException>(() => exe.ExecuteInPlace(new[] { w, w }, new ExecuteOptions(), new DeviceBuffer[1]));
    }
}
