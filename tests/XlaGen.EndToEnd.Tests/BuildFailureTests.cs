using System.Diagnostics;

namespace XlaGen.Tests;

/// <summary>A model with a shape error fails `dotnet build` with an XG diagnostic at the expression (a real build).</summary>
public class BuildFailureTests
{
    [Fact]
    public async Task ShapeErrorFailsTheBuildAtTheExpression()
    {
        var dir = Directory.CreateTempSubdirectory("xlagen-build-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Broken.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <ProjectReference Include="{Repo.Root}/src/Runtime/XlaGen.Runtime.csproj" />
                    <ProjectReference Include="{Repo.Root}/src/Generator/XlaGen.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(dir, "FashionMlp.cs"), """
                using XlaGen;

                [XlaModel]
                public partial class FashionMlp
                {
                    [Param(784, 256)] Tensor<float> w1;
                    [Param(256, 10)] Tensor<float> w2;

                    [Forward]
                    public Tensor<float> Logits([Shape("B", 784)] Tensor<float> x)
                        => x.MatMul(w2);
                }
                """);
            var psi = new ProcessStartInfo("dotnet", $"build \"{dir}\" -nologo -v:q -clp:NoSummary")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var error = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await p.WaitForExitAsync(timeout.Token);
            var text = await output + await error;
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("FashionMlp.cs(11,12): error XG0001: 'x.MatMul(w2)': MatMul: f32[B,784] × f32[256,10]: inner dimensions differ (784 vs 256)", text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
