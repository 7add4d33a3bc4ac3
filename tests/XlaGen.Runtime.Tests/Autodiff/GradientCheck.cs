using System.Globalization;
using XlaGen.Autodiff;
using XlaGen.Hlo;

namespace XlaGen.Tests.Autodiff;

/// <summary>One f64 input of a gradient check: its dims and values.</summary>
public sealed record GradInput(long[] Dims, double[] Values)
{
    public int Count => Values.Length;
}

/// <summary>
/// A finite-difference gradient check in the style of JAX's check_grads: f(x…) = Σ w ⊙ body(x…) with a random
/// fixed weight w reduces the op's output to a scalar; for random directions v, ⟨∇f(x), v⟩ from
/// <see cref="ReverseMode.Gradients"/> run on the CPU executor must match the central difference
/// (f(x + εv) − f(x − εv)) / 2ε. Every float input is checked along a direction of its own, and all together.
/// Index operands, predicates and the like are constants inside <see cref="Body"/>.
/// </summary>
public sealed record GradCase(string Name, GradInput[] Inputs, Func<HloBuilder, HloInstruction[], HloInstruction> Body, double Tolerance = 1e-6)
{
    public const double Epsilon = 1e-6;

    public override string ToString() => Name;

    static int Seed(string s) => s.Aggregate(17, (h, ch) => unchecked(h * 31 + ch));

    /// <summary>The scalar function (and, with <paramref name="withGradient"/>, its gradients as a tuple). The opcodes
    /// of the body's instructions that depend on an input are what the case covers.</summary>
    public (HloModule Module, HashSet<string> Covered) Build(bool withGradient)
    {
        var b = new HloBuilder(Name.Replace('/', '_').Replace(' ', '_'));
        var ps = Inputs.Select((x, i) => b.Parameter(ElementType.F64, x.Dims.Select(d => (Dim)d).ToArray(), "x" + i)).ToArray();
        var y = Body(b, ps);
        var dependent = new HashSet<HloInstruction>(ps);
        foreach (var ins in b.Computation.Instructions)
        {
            if (ins.Operands.Any(dependent.Contains)) dependent.Add(ins);
        }
        var covered = new HashSet<string>(dependent.Where(i => i.Opcode != "parameter").Select(i => i.Opcode), StringComparer.Ordinal);
        if (y.Shape.ElementType != ElementType.F64) throw new InvalidOperationException($"{Name}: the body must return f64, not {y.Shape}");
        var rng = new Random(Seed(Name) ^ 0x5eed);
        var dims = y.Shape.Dims.Select(d => d.Value).ToArray();
        var w = b.Constant(Literal.Create(Shape.Array(ElementType.F64, y.Shape.Dims.ToArray()),
            Enumerable.Range(0, (int)y.Shape.ElementCount).Select(_ => rng.NextDouble() * 2 - 1).ToArray()));
        var f = b.ReduceSum(b.Multiply(y, w), Enumerable.Range(0, dims.Length).Select(i => (long)i).ToArray());
        if (!withGradient) return (b.BuildModule(f), covered);
        var grads = ReverseMode.Gradients(b, f, ps);
        return (b.BuildModule(b.Tuple(grads)), covered);
    }

    /// <summary>Runs the check; returns a description of the first mismatch, or null.</summary>
    public string? Check(IDevice device)
    {
        var (forward, _) = Build(withGradient: false);
        var (gradient, _) = Build(withGradient: true);
        using var fExe = device.CompileHlo(forward);
        using var gExe = device.CompileHlo(gradient);
        var grads = Run(device, gExe, Inputs.Select(x => x.Values).ToArray()).Select(t => ((Tensor<double>)t).Data).ToArray();
        var rng = new Random(Seed(Name));
        var directions = new List<(string What, double[][] V)>();
        var all = Inputs.Select(x => RandomDirection(rng, x.Count)).ToArray();
        if (Inputs.Length > 1)
        {
            for (int i = 0; i < Inputs.Length; i++)
                directions.Add(($"input {i}", Inputs.Select((x, j) => j == i ? all[j] : new double[x.Count]).ToArray()));
        }
        directions.Add(("all inputs", all));
        foreach (var (what, v) in directions)
        {
            double analytic = 0;
            for (int i = 0; i < v.Length; i++)
            {
                for (int k = 0; k < v[i].Length; k++) analytic += grads[i][k] * v[i][k];
            }
            double Eval(double sign) => ((Tensor<double>)Run(device, fExe,
                Inputs.Select((x, i) => x.Values.Select((val, k) => val + sign * Epsilon * v[i][k]).ToArray()).ToArray())[0]).Data[0];
            double numeric = (Eval(+1) - Eval(-1)) / (2 * Epsilon);
            if (!(Math.Abs(analytic - numeric) <= Tolerance * Math.Max(1, Math.Max(Math.Abs(analytic), Math.Abs(numeric)))))
                return string.Create(CultureInfo.InvariantCulture, $"{Name}, direction over {what}: ⟨∇f, v⟩ = {analytic:R} but the central difference is {numeric:R}");
        }
        return null;
    }

    static double[] RandomDirection(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

    Tensor[] Run(IDevice device, IExecutable exe, double[][] values)
    {
        var args = values.Select((v, i) => device.Upload(new Tensor<double>(Inputs[i].Dims, v))).ToArray();
        var results = exe.Execute(args);
        var tensors = results.Select(device.Download).ToArray();
        foreach (var a in args.Concat(results)) a.Dispose();
        return tensors;
    }
}

/// <summary>Input generators for gradient checks.</summary>
public static class Gen
{
    static Random R(int seed) => new(seed);

    /// <summary>Uniform values in [lo, hi).</summary>
    public static GradInput U(int seed, long[] dims, double lo = -1, double hi = 1)
    {
        var r = R(seed);
        return new GradInput(dims, Enumerable.Range(0, (int)dims.Aggregate(1L, (a, b) => a * b)).Select(_ => lo + r.NextDouble() * (hi - lo)).ToArray());
    }

    /// <summary>Distinct values at least 0.05 apart, shuffled, in about [-1, 1]: no ties for max/min and selection.</summary>
    public static GradInput Distinct(int seed, long[] dims)
    {
        var r = R(seed);
        int n = (int)dims.Aggregate(1L, (a, b) => a * b);
        // neighbours are at least 1/n apart (2/n spacing, jitter of ±1/(2n))
        var values = Enumerable.Range(0, n).Select(i => -1 + 2.0 * (i + 0.25 + 0.5 * r.NextDouble()) / n).ToArray();
        return new GradInput(dims, values.OrderBy(_ => r.Next()).ToArray());
    }

    public static GradInput Of(long[] dims, params double[] values) => new(dims, values);

    /// <summary>Magnitudes in [0.2, 1) with random signs: away from the kink of abs and sign, safe divisors.</summary>
    public static GradInput AwayFromZero(int seed, long[] dims)
    {
        var r = R(seed);
        var u = U(seed + 1, dims, 0.2, 1);
        return new GradInput(dims, u.Values.Select(v => r.Next(2) == 0 ? v : -v).ToArray());
    }

    /// <summary>Values at least 0.1 from any integer (floor and ceil are flat there).</summary>
    public static GradInput AwayFromIntegers(int seed, long[] dims)
    {
        var r = R(seed);
        var u = U(seed + 1, dims, 0.1, 0.9);
        return new GradInput(dims, u.Values.Select(v => r.Next(-3, 3) + v).ToArray());
    }

    /// <summary>A constant f64 array for a module body.</summary>
    public static HloInstruction Const(HloBuilder b, long[] dims, double[] values) =>
        b.Constant(Literal.Create(Shape.Array(ElementType.F64, dims.Select(d => (Dim)d).ToArray()), values));

    /// <summary>A constant integer array (s32) for index operands.</summary>
    public static HloInstruction Indices(HloBuilder b, long[] dims, params int[] values) =>
        b.Constant(Literal.Create(Shape.Array(ElementType.S32, dims.Select(d => (Dim)d).ToArray()), values));

    public static long[] D(params long[] dims) => dims;
}
