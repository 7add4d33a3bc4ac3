// Source generator (plain string building) for src/Runtime/Backends/Cpu/Kernels/GemmMicroKernels.{F32,F64}.cs.
// Regenerate with: dotnet run --project tools/GemmKernelGen
// Not compiled into XlaGen.Runtime; the runtime tests link this file to check the checked-in kernels are up to date.
using System.Text;

namespace XlaGen.Tools.GemmKernelGen;

/// <summary>The element types that get register-blocked SIMD micro-kernels.</summary>
internal enum ElementKind
{
    F32,
    F64,
}

/// <summary>
/// Emits the register-blocked GEMM micro-kernels for one element type: an AVX-512 MR=8 kernel with dedicated
/// 1..7-row edge kernels and an AVX2 MR=6 kernel whose edge rows go through <c>GemmEdge.RowsViaTile</c>. Every
/// kernel keeps MR × NV accumulators (NV = 2 vectors of B per row) fully unrolled in registers.
/// </summary>
internal static class GemmKernelSource
{
    /// <summary>The command that rewrites the checked-in files from this generator.</summary>
    public const string RegenerateCommand = "dotnet run --project tools/GemmKernelGen";

    /// <summary>Vectors of B per broadcast row of A (the NR / lanes ratio of every kernel).</summary>
    private const int NV = 2;

    /// <summary>The generated file's path relative to the repository root ('/'-separated).</summary>
    public static string RelativePath(ElementKind kind) =>
        $"src/Runtime/Backends/Cpu/Kernels/GemmMicroKernels.{Prefix(kind)}.cs";

    private static string Prefix(ElementKind kind) => kind switch
    {
        ElementKind.F32 => "F32",
        ElementKind.F64 => "F64",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string TypeName(ElementKind kind) => kind == ElementKind.F32 ? "float" : "double";

    private static int ElementBytes(ElementKind kind) => kind == ElementKind.F32 ? 4 : 8;

    private static string PrecisionWord(ElementKind kind) => kind == ElementKind.F32 ? "single" : "double";

    /// <summary>The full text of the generated file (UTF-8, '\n' line endings, trailing newline).</summary>
    public static string Emit(ElementKind kind)
    {
        var w = new Writer();
        w.Line($"// Register-blocked {PrecisionWord(kind)}-precision micro-kernels (generated; see IGemmMicroKernel for the contract).");
        if (kind == ElementKind.F32)
            w.Line("// MR broadcast rows × NV vectors of B; keep MR * NV + NV + 1 within the register file (32 zmm / 16 ymm).");
        w.Line("using System.Runtime.CompilerServices;");
        w.Line("using System.Runtime.Intrinsics;");
        w.Line();
        w.Line("namespace XlaGen.Backends.Cpu.Kernels;");
        w.Line();
        EmitKernel(w, kind, new Kernel(VectorBits: 512, MR: 8, EdgeKernels: true));
        w.Line();
        EmitKernel(w, kind, new Kernel(VectorBits: 256, MR: 6, EdgeKernels: false));
        return w.ToString();
    }

    private readonly record struct Kernel(int VectorBits, int MR, bool EdgeKernels);

    private static void EmitKernel(Writer w, ElementKind kind, Kernel k)
    {
        string t = TypeName(kind);
        int lanes = k.VectorBits / 8 / ElementBytes(kind);
        int nr = lanes * NV;
        string vec = $"Vector{k.VectorBits}";
        string isa = k.VectorBits == 512 ? "Avx512" : "Avx2";
        string name = $"{Prefix(kind)}{isa}K{k.MR}x{nr}";

        w.Line("/// <summary>");
        w.Line($"/// {k.MR}×{nr} {t} micro-kernel: {k.MR} broadcast rows of packed A times {NV} {vec}&lt;{t}&gt; columns of packed B");
        w.Line(k.EdgeKernels
            ? $"/// ({k.MR * NV} accumulators). Partial row panels use dedicated 1..{k.MR - 1}-row kernels."
            : $"/// ({k.MR * NV} accumulators).");
        w.Line("/// </summary>");
        w.Line($"internal unsafe struct {name} : IGemmMicroKernel<{t}>");
        w.Line("{");
        w.Line($"    public static int MR => {k.MR};");
        w.Line($"    public static int NR => {nr};");
        w.Line();

        string parameters = $"nint kc, {t}* a, {t}* b, nint ldb, {t}* c, nint ldc, {t} alpha, {t} beta";
        EmitBody(w, $"public static void Run({parameters})", t, vec, lanes, k.MR, rows: k.MR);
        w.Line();

        w.Line($"    public static void RunRows(int rows, {parameters})");
        if (k.EdgeKernels)
        {
            const string args = "kc, a, b, ldb, c, ldc, alpha, beta";
            w.Line("    {");
            w.Line("        switch (rows)");
            w.Line("        {");
            for (int r = 1; r < k.MR; r++)
                w.Line($"            case {r}: Rows{r}({args}); break;");
            w.Line($"            default: Run({args}); break;");
            w.Line("        }");
            w.Line("    }");
            for (int r = 1; r < k.MR; r++)
            {
                w.Line();
                EmitBody(w, $"private static void Rows{r}({parameters})", t, vec, lanes, k.MR, rows: r);
            }
        }
        else
        {
            w.Line($"        => GemmEdge.RowsViaTile<{t}, {name}>(rows, kc, a, b, ldb, c, ldc, alpha, beta);");
        }
        w.Line("}");
    }

    /// <summary>
    /// One fully unrolled kernel over <paramref name="rows"/> rows of a panel packed for <paramref name="mr"/> rows:
    /// accumulate, then C = alpha·acc (beta == 0, C is not read) or C = alpha·acc + beta·C.
    /// </summary>
    private static void EmitBody(Writer w, string signature, string t, string vec, int lanes, int mr, int rows)
    {
        string v = $"{vec}<{t}>";
        w.Line("    [MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Line($"    {signature}");
        w.Line("    {");
        for (int i = 0; i < rows; i++)
        {
            var decl = new StringBuilder("        ");
            for (int j = 0; j < NV; j++)
                decl.Append(j == 0 ? "" : " ").Append($"{v} c{i}_{j} = default;");
            w.Line(decl.ToString());
        }
        w.Line($"        {v} av;");
        w.Line("        for (nint p = 0; p < kc; p++)");
        w.Line("        {");
        for (int j = 0; j < NV; j++)
            w.Line($"            {v} b{j} = {vec}.Load(b + {j * lanes});");
        for (int i = 0; i < rows; i++)
        {
            w.Line($"            av = {vec}.Create(a[{i}]);");
            for (int j = 0; j < NV; j++)
                w.Line($"            c{i}_{j} = {vec}.FusedMultiplyAdd(av, b{j}, c{i}_{j});");
        }
        w.Line($"            a += {mr};");
        w.Line("            b += ldb;");
        w.Line("        }");
        w.Line();
        w.Line($"        {v} va = {vec}.Create(alpha);");
        w.Line("        if (beta == 0)");
        w.Line("        {");
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < NV; j++)
                w.Line($"            {vec}.Store(c{i}_{j} * va, c + {i} * ldc + {j * lanes});");
        w.Line("        }");
        w.Line("        else");
        w.Line("        {");
        w.Line($"            {v} vb = {vec}.Create(beta);");
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < NV; j++)
            {
                string at = $"c + {i} * ldc + {j * lanes}";
                w.Line($"            {vec}.Store({vec}.FusedMultiplyAdd(c{i}_{j}, va, {vec}.Load({at}) * vb), {at});");
            }
        w.Line("        }");
        w.Line("    }");
    }

    /// <summary>Line writer with fixed '\n' endings, so the output is the same on every OS.</summary>
    private sealed class Writer
    {
        private readonly StringBuilder _sb = new();

        public void Line(string text = "") => _sb.Append(text).Append('\n');

        public override string ToString() => _sb.ToString();
    }
}
