using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// Deterministic parameter initialisation. Each parameter draws from its own stream, seeded by the model seed
/// and a hash of its path, so adding a parameter does not change the others, and the values are the same on
/// every machine and .NET version (SplitMix64, not System.Random). Fans follow Keras: rank 1 uses its only dim
/// for both; rank 2 [in, out]; higher ranks (conv kernels HWIO) multiply the receptive field into both.
/// </summary>
internal static class ParameterInit
{
    public static Tensor Create(ParameterSpec spec, int seed)
    {
        var n = checked((int)spec.ElementCount);
        var rng = new SplitMix64(StreamSeed(seed, spec.Path));
        var values = new double[n];
        var (fanIn, fanOut) = Fans(spec.Dims);
        switch (spec.Init)
        {
            case Init.Zeros: break;
            case Init.Ones: Array.Fill(values, 1.0); break;
            case Init.Constant: Array.Fill(values, spec.InitValue); break;
            case Init.GlorotUniform: Uniform(rng, values, Math.Sqrt(6.0 / (fanIn + fanOut))); break;
            case Init.HeUniform: Uniform(rng, values, Math.Sqrt(6.0 / fanIn)); break;
            case Init.Uniform: Uniform(rng, values, spec.InitValue); break;
            case Init.GlorotNormal: TruncatedNormal(rng, values, Math.Sqrt(2.0 / (fanIn + fanOut)) / .87962566103423978); break;
            case Init.HeNormal: TruncatedNormal(rng, values, Math.Sqrt(2.0 / fanIn) / .87962566103423978); break;
            case Init.Normal:
                for (int i = 0; i < n; i++) values[i] = rng.NextNormal() * spec.InitValue;
                break;
            default: throw new ArgumentException($"unknown initialiser {spec.Init} for parameter {spec.Path}");
        }
        bool random = spec.Init is not (Init.Zeros or Init.Ones or Init.Constant);
        if (random && !spec.ElementType.IsFloatingPoint())
            throw new ArgumentException($"parameter {spec.Path} is {spec.Shape}: the random initialiser {spec.Init} needs a floating-point type");
        return Tensor.FromLiteral(Literal.FromDoubles(spec.Shape, values));
    }

    public static (double FanIn, double FanOut) Fans(long[] dims)
    {
        if (dims.Length == 0) return (1, 1);
        if (dims.Length == 1) return (dims[0], dims[0]);
        double receptive = 1;
        for (int i = 0; i < dims.Length - 2; i++) receptive *= dims[i];
        return (dims[^2] * receptive, dims[^1] * receptive);
    }

    static void Uniform(SplitMix64 rng, double[] values, double limit)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (2 * rng.NextDouble() - 1) * limit;
    }

    static void TruncatedNormal(SplitMix64 rng, double[] values, double stddev)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double z;
            do z = rng.NextNormal(); while (Math.Abs(z) > 2);
            values[i] = z * stddev;
        }
    }

    /// <summary>The stream seed of one parameter: the model seed mixed with FNV-1a of its path.</summary>
    public static ulong StreamSeed(int seed, string path)
    {
        ulong h = 14695981039346656037UL;
        foreach (var c in path)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return h ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
    }
}

/// <summary>SplitMix64: a tiny, fast, well-mixed generator with a fixed specification (Steele et al. 2014).</summary>
public sealed class SplitMix64
{
    ulong state;

    /// <summary>A generator whose stream starts from <paramref name="seed"/> (the same seed always gives the same stream).</summary>
    public SplitMix64(ulong seed)
    {
        state = seed;
    }

    /// <summary>The state, to save and restore a stream exactly.</summary>
    public ulong State
    {
        get => state;
        set => state = value;
    }

    /// <summary>The next 64 random bits of the stream. Not thread-safe: one generator per thread.</summary>
    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)((NextUInt64() >> 33) % (ulong)n);

    /// <summary>Standard normal (Box–Muller; one of the pair is used, so the stream stays simple to reason about).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
