// Rewrites src/Runtime/Backends/Cpu/Kernels/GemmMicroKernels.{F32,F64}.cs from GemmKernelSource.
// Usage (from anywhere in the repo): dotnet run --project tools/GemmKernelGen [-- --check]
//   --check: write nothing; exit 1 when a checked-in file differs from the generator's output.
using System.Text;
using XlaGen.Tools.GemmKernelGen;

bool check = args.Contains("--check");
string root = FindRepoRoot();
var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
int stale = 0;
foreach (ElementKind kind in Enum.GetValues<ElementKind>())
{
    string path = Path.Combine(root, GemmKernelSource.RelativePath(kind));
    string text = GemmKernelSource.Emit(kind);
    string? current = File.Exists(path) ? File.ReadAllText(path, utf8) : null;
    if (current == text)
    {
        Console.WriteLine($"up to date: {GemmKernelSource.RelativePath(kind)}");
        continue;
    }
    if (check)
    {
        Console.WriteLine($"stale: {GemmKernelSource.RelativePath(kind)}");
        stale++;
        continue;
    }
    File.WriteAllText(path, text, utf8);
    Console.WriteLine($"wrote: {GemmKernelSource.RelativePath(kind)}");
}
if (stale > 0) Console.Error.WriteLine($"run `{GemmKernelSource.RegenerateCommand}` to regenerate");
return stale > 0 ? 1 : 0;

static string FindRepoRoot()
{
    foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
    {
        var dir = new DirectoryInfo(start);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "XlaGen.sln"))) dir = dir.Parent;
        if (dir != null) return dir.FullName;
    }
    throw new InvalidOperationException("XlaGen.sln not found above the current directory or " + AppContext.BaseDirectory);
}
