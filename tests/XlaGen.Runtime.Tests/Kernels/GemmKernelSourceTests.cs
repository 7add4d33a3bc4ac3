using System.Text;
using XlaGen.Tools.GemmKernelGen;

namespace XlaGen.Tests.Kernels;

/// <summary>The checked-in GEMM micro-kernels are exactly what tools/GemmKernelGen emits.</summary>
public class GemmKernelSourceTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("F64")]
    public void CheckedInKernelsMatchGenerator(string element)
    {
        var kind = Enum.Parse<ElementKind>(element);
        string relative = GemmKernelSource.RelativePath(kind);
        string path = Path.Combine(Repo.Root, relative);
        Assert.True(File.Exists(path), $"{relative} is missing; run `{GemmKernelSource.RegenerateCommand}` from the repository root.");

        // A CRLF checkout (core.autocrlf) is not a difference: the generator writes '\n'.
        string checkedIn = File.ReadAllText(path, new UTF8Encoding(false)).Replace("\r\n", "\n");
        string generated = GemmKernelSource.Emit(kind);
        if (checkedIn == generated) return;

        string[] a = checkedIn.Split('\n'), b = generated.Split('\n');
        int line = 0;
        while (line < a.Length && line < b.Length && a[line] == b[line]) line++;
        Assert.Fail(
            $"{relative} differs from the generator's output (tools/GemmKernelGen/GemmKernelSource.cs) at line {line + 1}:\n" +
            $"  checked in: {(line < a.Length ? a[line] : "<end of file>")}\n" +
            $"  generated:  {(line < b.Length ? b[line] : "<end of file>")}\n" +
            $"Edit the generator, not the file, then regenerate with `{GemmKernelSource.RegenerateCommand}` from the repository root.");
    }

    [Fact]
    public void GeneratorShapes()
    {
        string f32 = GemmKernelSource.Emit(ElementKind.F32), f64 = GemmKernelSource.Emit(ElementKind.F64);
        Assert.Contains("internal unsafe struct F32Avx512K8x32 : IGemmMicroKernel<float>", f32);
        Assert.Contains("internal unsafe struct F32Avx2K6x16 : IGemmMicroKernel<float>", f32);
        Assert.Contains("internal unsafe struct F64Avx512K8x16 : IGemmMicroKernel<double>", f64);
        Assert.Contains("internal unsafe struct F64Avx2K6x8 : IGemmMicroKernel<double>", f64);
        Assert.DoesNotContain("\r", f32 + f64);
        Assert.EndsWith("}\n", f32);
    }
}
