using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>Elementwise ops: every unary and binary opcode, compare, select, clamp, convert, copy; several dtypes,
/// integer edge cases as XLA's evaluator defines them, NaN/inf, scalars, zero-size and rank-4 shapes, and sizes
/// large enough to take the SIMD and multi-core paths.</summary>
public static class ElementwiseCases
{
    const float NaN = float.NaN, Inf = float.PositiveInfinity;

    static ConformanceCase Unary(string op, Tensor x, Tensor want, double tol = 0, string tag = "") =>
        new($"{op}/{x.ShapeText}{tag}", CaseModule.Of(op, new[] { x }, (b, p) => b.Unary(op, p[0])), new[] { x }, new[] { want }, tol);

    static ConformanceCase Binary(string op, Tensor x, Tensor y, Tensor want, double tol = 0, string tag = "") =>
        new($"{op}/{x.ShapeText}{tag}", CaseModule.Of(op, new[] { x, y }, (b, p) => b.Binary(op, p[0], p[1])), new[] { x, y }, new[] { want }, tol);

    /// <summary>References for exponential-minus-one and log-plus-one: the Taylor series near 0, where exp(v) - 1 and
    /// log(1 + v) lose digits, and those (exact to rounding there) elsewhere.</summary>
    static double ExpM1(double v)
    {
        if (Math.Abs(v) >= 0.5 || double.IsNaN(v)) return Math.Exp(v) - 1;
        double sum = 0, term = 1;
        for (int k = 1; k < 40; k++) sum += term *= v / k;
        return v == 0 ? v : sum;
    }

    static double LogP1(double v)
    {
        if (Math.Abs(v) >= 0.5 || double.IsNaN(v)) return Math.Log(1 + v);
        double sum = 0, power = 1;
        for (int k = 1; k < 80; k++) sum += (k % 2 == 1 ? 1 : -1) * (power *= v) / k;
        return v == 0 ? v : sum;
    }

    static readonly float[] Specials = { -3.5f, -1, -0.5f, -0f, 0, 0.5f, 1, 2.5f, 7, Inf, -Inf, NaN };

    public static IEnumerable<ConformanceCase> All()
    {
        // ---- float unary: f32 with specials, f64 random ----
        var fs = T(Specials, 3, 4);
        var pos = T(new[] { 0f, 0.25f, 1, 2, 100, Inf, NaN, -1 }, 8);
        var fd = T(RandomF64(1, 6, -3, 3), 2, 3);
        var fdPos = T(RandomF64(2, 6, 0.1, 5), 6);
        (string Op, Func<double, double> F, bool Positive)[] floatOps =
        {
            ("exponential", Math.Exp, false), ("log", Math.Log, true), ("sqrt", Math.Sqrt, true),
            ("exponential-minus-one", ExpM1, false), ("log-plus-one", LogP1, true),
            ("rsqrt", v => 1 / Math.Sqrt(v), true), ("tanh", Math.Tanh, false), ("logistic", v => 1 / (1 + Math.Exp(-v)), false),
            ("floor", Math.Floor, false), ("ceil", Math.Ceiling, false),
        };
        foreach (var (op, f, positive) in floatOps)
        {
            var x = positive ? pos : fs;
            yield return Unary(op, x, Map(x, v => (float)f(v)), 2e-6);
            var xd = positive ? fdPos : fd;
            yield return Unary(op, xd, Map(xd, f), 1e-14);
        }
        // exponential-minus-one and log-plus-one keep their digits near 0, where exp(x) - 1 and log(1 + x) lose most of
        // them (8e-8 relative error at 1e-10): f(x)/x is checked, so the tolerance is relative (1e-13 leaves other backends
        // room; ElementwiseCatalogueTests holds the CPU kernels to a few ulps); the signed zero is kept; the ends: expm1(-inf) = -1,
        // log1p(-1) = -inf, log1p(x < -1) = NaN
        var tiny = T(new[] { 1e-10, -3e-9, 2.5e-5, 1e-300, -0.25, 0.3 }, 6);
        foreach (var (op, f) in new (string, Func<double, double>)[] { ("exponential-minus-one", ExpM1), ("log-plus-one", LogP1) })
        {
            yield return new($"{op}/relative-near-zero", CaseModule.Of(op, new Tensor[] { tiny }, (b, p) => b.Divide(b.Unary(op, p[0]), p[0])),
                new Tensor[] { tiny }, new Tensor[] { Map(tiny, v => f(v) / v) }, 1e-13);
        }
        yield return new("exponential-minus-one/signed-zero", CaseModule.Of("expm1_0", new Tensor[] { T(new[] { -0f, 0f }, 2) },
            (b, p) => b.Divide(b.Full(ElementType.F32, 1, new Dim[] { 2 }), b.Unary("exponential-minus-one", p[0]))),
            new Tensor[] { T(new[] { -0f, 0f }, 2) }, new Tensor[] { T(new[] { -Inf, Inf }, 2) });
        var ends = T(new[] { -Inf, Inf, NaN, -1, -2, 100 }, 6);
        yield return Unary("exponential-minus-one", ends, T(new[] { -1f, Inf, NaN, (float)ExpM1(-1), (float)ExpM1(-2), Inf }, 6), 2e-6, "/ends");
        yield return Unary("log-plus-one", ends, T(new[] { NaN, Inf, NaN, -Inf, NaN, (float)LogP1(100) }, 6), 2e-6, "/ends");

        // ceil(-0.5) is -0, floor(-0) is -0: exact sign checked through 1/x
        yield return new("ceil/signed-zero", CaseModule.Of("ceil0", new Tensor[] { T(new[] { -0.5f, 0.5f }, 2) },
            (b, p) => b.Divide(b.Full(ElementType.F32, 1, new Dim[] { 2 }), b.Unary("ceil", p[0]))),
            new Tensor[] { T(new[] { -0.5f, 0.5f }, 2) }, new Tensor[] { T(new[] { -Inf, 1 }, 2) });

        // large inputs take the SIMD + multi-core paths
        var big = T(RandomF32(3, 70_001, -5, 5), 70_001);
        yield return Unary("exponential", big, Map(big, v => (float)Math.Exp(v)), 2e-6, "/parallel");
        yield return Unary("tanh", big, Map(big, v => (float)Math.Tanh(v)), 2e-6, "/parallel");
        var big2 = T(RandomF32(4, 70_001, -5, 5), 70_001);
        yield return Binary("add", big, big2, Zip(big, big2, (a, b) => a + b), 0, "/parallel");
        yield return Binary("maximum", big, big2, Zip(big, big2, Math.Max), 0, "/parallel");

        // ---- negate / abs / sign ----
        yield return Unary("negate", fs, Map(fs, v => -v));
        yield return Unary("abs", fs, Map(fs, Math.Abs));
        yield return Unary("sign", fs, T(new[] { -1f, -1, -1, -0f, 0, 1, 1, 1, 1, 1, -1, NaN }, 3, 4));
        var s8 = T(new sbyte[] { sbyte.MinValue, -5, 0, 7, sbyte.MaxValue }, 5);
        yield return Unary("negate", s8, T(new sbyte[] { sbyte.MinValue, 5, 0, -7, -sbyte.MaxValue }, 5));
        yield return Unary("abs", s8, T(new sbyte[] { sbyte.MinValue, 5, 0, 7, sbyte.MaxValue }, 5));
        yield return Unary("sign", s8, T(new sbyte[] { -1, -1, 0, 1, 1 }, 5));
        var s32 = T(new[] { int.MinValue, -3, 0, 9, int.MaxValue }, 5);
        yield return Unary("negate", s32, T(new[] { int.MinValue, 3, 0, -9, -int.MaxValue }, 5));
        yield return Unary("abs", s32, T(new[] { int.MinValue, 3, 0, 9, int.MaxValue }, 5));
        yield return Unary("sign", s32, T(new[] { -1, -1, 0, 1, 1 }, 5));
        var s64 = T(new[] { long.MinValue, -3L, 0, 4 }, 4);
        yield return Unary("negate", s64, T(new[] { long.MinValue, 3L, 0, -4 }, 4));
        yield return Unary("abs", s64, T(new[] { long.MinValue, 3L, 0, 4 }, 4));
        var u8 = T(new byte[] { 0, 1, 200, 255 }, 4);
        yield return Unary("negate", u8, T(new byte[] { 0, 255, 56, 1 }, 4));
        yield return Unary("abs", u8, u8);
        yield return Unary("sign", u8, T(new byte[] { 0, 1, 1, 1 }, 4));
        var f64s = T(new[] { -2.0, -0.0, 0.0, 3.0, double.NaN }, 5);
        yield return Unary("sign", f64s, T(new[] { -1.0, -0.0, 0.0, 1.0, double.NaN }, 5));

        // ---- not ----
        yield return Unary("not", T(new[] { true, false, true }, 3), T(new[] { false, true, false }, 3));
        yield return Unary("not", T(new[] { 0, -1, 5 }, 3), T(new[] { -1, 0, ~5 }, 3));
        yield return Unary("not", T(new ushort[] { 0, 1, 65535 }, 3), T(new ushort[] { 65535, 65534, 0 }, 3));

        // ---- add / subtract / multiply over many types (integers wrap) ----
        var fa = T(RandomF32(5, 12), 3, 4);
        var fb = T(RandomF32(6, 12), 3, 4);
        yield return Binary("add", fa, fb, Zip(fa, fb, (a, b) => a + b));
        yield return Binary("subtract", fa, fb, Zip(fa, fb, (a, b) => a - b));
        yield return Binary("multiply", fa, fb, Zip(fa, fb, (a, b) => a * b));
        var da = T(RandomF64(7, 6), 6);
        var db = T(RandomF64(8, 6), 6);
        yield return Binary("add", da, db, Zip(da, db, (a, b) => a + b));
        yield return Binary("multiply", da, db, Zip(da, db, (a, b) => a * b));
        yield return Binary("add", T(new sbyte[] { 127, -128, 5 }, 3), T(new sbyte[] { 1, -1, 5 }, 3), T(new sbyte[] { -128, 127, 10 }, 3));
        yield return Binary("subtract", T(new short[] { -32768, 10 }, 2), T(new short[] { 1, 20 }, 2), T(new short[] { 32767, -10 }, 2));
        yield return Binary("multiply", T(new[] { 65536, -7, 3 }, 3), T(new[] { 65536, 6, -3 }, 3), T(new[] { 0, -42, -9 }, 3));
        yield return Binary("add", T(new[] { long.MaxValue, 5L }, 2), T(new[] { 1L, -9L }, 2), T(new[] { long.MinValue, -4L }, 2));
        yield return Binary("add", T(new byte[] { 250, 1 }, 2), T(new byte[] { 10, 2 }, 2), T(new byte[] { 4, 3 }, 2));
        yield return Binary("subtract", T(new ushort[] { 0, 9 }, 2), T(new ushort[] { 1, 2 }, 2), T(new ushort[] { 65535, 7 }, 2));
        yield return Binary("multiply", T(new uint[] { 0x80000000, 3 }, 2), T(new uint[] { 2, 5 }, 2), T(new uint[] { 0, 15 }, 2));
        yield return Binary("subtract", T(new ulong[] { 0, 10 }, 2), T(new ulong[] { 1, 3 }, 2), T(new ulong[] { ulong.MaxValue, 7 }, 2));
        // scalars, zero-size, rank 4
        yield return Binary("add", Scalar(1.5f), Scalar(2f), Scalar(3.5f), 0, "/scalar");
        var empty = T(Array.Empty<float>(), 0, 3);
        yield return Binary("multiply", empty, empty, empty, 0, "/empty");
        var r4a = T(RandomF32(9, 2 * 3 * 2 * 2), 2, 3, 2, 2);
        var r4b = T(RandomF32(10, 2 * 3 * 2 * 2), 2, 3, 2, 2);
        yield return Binary("subtract", r4a, r4b, Zip(r4a, r4b, (a, b) => a - b), 0, "/rank4");
        // inf and NaN arithmetic
        yield return Binary("add", T(new[] { Inf, Inf, NaN, 1 }, 4), T(new[] { -Inf, 1, 1, -Inf }, 4), T(new[] { NaN, Inf, NaN, -Inf }, 4), 0, "/inf");

        // ---- divide (XLA integer semantics: x/0 = -1 or all ones, MIN/-1 = MIN, truncation toward zero) ----
        yield return Binary("divide", T(new[] { 7, -7, 7, -7, 5, int.MinValue, int.MinValue, 0 }, 8), T(new[] { 2, 2, -2, -2, 0, -1, 0, 0 }, 8),
            T(new[] { 3, -3, -3, 3, -1, int.MinValue, -1, -1 }, 8));
        yield return Binary("divide", T(new sbyte[] { -128, 9 }, 2), T(new sbyte[] { -1, 0 }, 2), T(new sbyte[] { -128, -1 }, 2));
        yield return Binary("divide", T(new uint[] { 7, 9, 0 }, 3), T(new uint[] { 2, 0, 0 }, 3), T(new uint[] { 3, uint.MaxValue, uint.MaxValue }, 3));
        yield return Binary("divide", T(new ulong[] { 100 }, 1), T(new ulong[] { 0 }, 1), T(new[] { ulong.MaxValue }, 1));
        yield return Binary("divide", T(new[] { 1f, -1, 0, 6, Inf }, 5), T(new[] { 0f, 0, 0, 4, Inf }, 5), T(new[] { Inf, -Inf, NaN, 1.5f, NaN }, 5));
        yield return Binary("divide", da, db, Zip(da, db, (a, b) => a / b));

        // ---- remainder (x%0 = x, MIN%-1 = 0, sign of dividend; floats are fmod) ----
        yield return Binary("remainder", T(new[] { 7, -7, 7, -7, 5, int.MinValue }, 6), T(new[] { 3, 3, -3, -3, 0, -1 }, 6), T(new[] { 1, -1, 1, -1, 5, 0 }, 6));
        yield return Binary("remainder", T(new byte[] { 7, 9 }, 2), T(new byte[] { 4, 0 }, 2), T(new byte[] { 3, 9 }, 2));
        yield return Binary("remainder", T(new[] { 5.5f, -5.5f, 1, Inf, 3 }, 5), T(new[] { 2f, 2, 0, 2, Inf }, 5), T(new[] { 1.5f, -1.5f, NaN, NaN, 3 }, 5));

        // ---- maximum / minimum (NaN propagates) ----
        yield return Binary("maximum", T(new[] { 1f, NaN, 3, -Inf, 2 }, 5), T(new[] { 2f, 1, NaN, -5, 2 }, 5), T(new[] { 2f, NaN, NaN, -5, 2 }, 5));
        yield return Binary("minimum", T(new[] { 1f, NaN, 3, Inf, 2 }, 5), T(new[] { 2f, 1, NaN, 5, 2 }, 5), T(new[] { 1f, NaN, NaN, 5, 2 }, 5));
        yield return Binary("maximum", T(new[] { 1.0, double.NaN }, 2), T(new[] { 2.0, 0.0 }, 2), T(new[] { 2.0, double.NaN }, 2));
        yield return Binary("maximum", T(new[] { -5, 3, int.MinValue }, 3), T(new[] { 2, -3, int.MaxValue }, 3), T(new[] { 2, 3, int.MaxValue }, 3));
        yield return Binary("minimum", T(new ulong[] { ulong.MaxValue, 3 }, 2), T(new ulong[] { 1, 4 }, 2), T(new ulong[] { 1, 3 }, 2));
        yield return Binary("minimum", T(new sbyte[] { -128, 3 }, 2), T(new sbyte[] { 127, -3 }, 2), T(new sbyte[] { -128, -3 }, 2));

        // ---- power ----
        yield return Binary("power", T(new[] { 2f, 0, 1, NaN, -8, 4, 2, -2 }, 8), T(new[] { 3f, 0, NaN, 0, 1f / 3, 0.5f, -1, 3 }, 8),
            T(new[] { 8f, 1, 1, 1, NaN, 2, 0.5f, -8 }, 8), 1e-6);
        yield return Binary("power", T(new[] { 2, 3, 0, 1, -1, 2, -2, 2, 5 }, 9), T(new[] { 10, 0, 0, -5, -1, -1, 3, 31, 1 }, 9),
            T(new[] { 1024, 1, 1, 1, 0, 0, -8, int.MinValue, 5 }, 9));
        yield return Binary("power", T(new byte[] { 2, 3 }, 2), T(new byte[] { 9, 5 }, 2), T(new byte[] { 0, 243 }, 2));
        yield return Binary("power", da, T(new[] { 2.0, 3, 0, 1, 2, 3 }, 6), Zip(da, T(new[] { 2.0, 3, 0, 1, 2, 3 }, 6), Math.Pow), 1e-14);

        // ---- and / or / xor ----
        var pa = T(new[] { true, true, false, false }, 4);
        var pb = T(new[] { true, false, true, false }, 4);
        yield return Binary("and", pa, pb, T(new[] { true, false, false, false }, 4));
        yield return Binary("or", pa, pb, T(new[] { true, true, true, false }, 4));
        yield return Binary("xor", pa, pb, T(new[] { false, true, true, false }, 4));
        var ia = T(new[] { 0b1100, -1, 0 }, 3);
        var ib = T(new[] { 0b1010, 12345, -1 }, 3);
        yield return Binary("and", ia, ib, Zip(ia, ib, (a, b) => a & b));
        yield return Binary("or", ia, ib, Zip(ia, ib, (a, b) => a | b));
        yield return Binary("xor", ia, ib, Zip(ia, ib, (a, b) => a ^ b));
        yield return Binary("xor", T(new byte[] { 0xF0, 0xFF }, 2), T(new byte[] { 0x0F, 0x0F }, 2), T(new byte[] { 0xFF, 0xF0 }, 2));

        foreach (var c in ScalarOperandCases()) yield return c;
        foreach (var c in CompareCases()) yield return c;
        foreach (var c in SelectClampCases()) yield return c;
        foreach (var c in ConvertCases()) yield return c;

        // ---- copy ----
        yield return Unary("copy", r4a, r4a);
        yield return Unary("copy", T(new[] { true, false }, 2), T(new[] { true, false }, 2));
    }

    /// <summary>x op broadcast(c) and broadcast(c) op x: the executor reads c as a scalar instead of materialising the
    /// broadcast; both sides, non-commutative ops, NaN, SIMD tails and multi-core sizes.</summary>
    static IEnumerable<ConformanceCase> ScalarOperandCases()
    {
        static ConformanceCase WithScalar<T>(string op, Tensor<T> x, T c, bool scalarLeft, Func<T, T, T> f) where T : unmanaged
        {
            var dims = x.Shape.Select(d => (Dim)d).ToArray();
            var want = Map(x, v => scalarLeft ? f(c, v) : f(v, c));
            return new($"{op}/scalar-{(scalarLeft ? "left" : "right")}/{x.ShapeText}", CaseModule.Of(op, new Tensor[] { x, Scalar(c) }, (b, p) =>
                {
                    var bc = b.Broadcast(p[1], dims, Array.Empty<long>());
                    return scalarLeft ? b.Binary(op, bc, p[0]) : b.Binary(op, p[0], bc);
                }), new Tensor[] { x, Scalar(c) }, new Tensor[] { want });
        }
        var x = T(RandomF32(14, 1000, -3, 3).Append(NaN).ToArray(), 1001);
        foreach (bool left in new[] { false, true })
        {
            yield return WithScalar("subtract", x, 0.75f, left, (a, b) => a - b);
            yield return WithScalar("divide", x, -2.5f, left, (a, b) => a / b);
            yield return WithScalar("maximum", x, 0f, left, (a, b) => float.IsNaN(a) || float.IsNaN(b) ? NaN : Math.Max(a, b));
            yield return WithScalar("minimum", T(new[] { 1.0, -2, double.NaN }, 3), 0.5, left, (a, b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b));
            yield return WithScalar("divide", T(new[] { 7, -7, 0, 9, int.MinValue }, 5), left ? 3 : -1, left, (a, b) => b == 0 ? -1 : a == int.MinValue && b == -1 ? a : a / b);
            yield return WithScalar("power", T(new[] { 2f, 3, 0.5f }, 3), 2f, left, (a, b) => (float)Math.Pow(a, b));
            yield return WithScalar("xor", T(new byte[] { 0, 1, 0xF0, 0xFF }, 4), (byte)0x0F, left, (a, b) => (byte)(a ^ b));
        }
        var big = T(RandomF32(15, 70_003), 70_003);
        yield return WithScalar("multiply", big, 0.1f, false, (a, b) => a * b);
        yield return WithScalar("add", big, -1f, true, (a, b) => a + b);

        // compare and select against broadcast scalars
        var v = T(new[] { -1f, 0, 2, NaN, 0.5f, -0f, 3, 1, 1, -5, 2, 0, 8, 9, -9, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0.25f }, 33);
        foreach (var (dir, left) in new[] { ("LT", false), ("LT", true), ("GE", false), ("NE", true) })
        {
            var dims = new Dim[] { 33 };
            Func<float, float, bool> test = dir switch
            {
                "LT" => (a, b) => a < b,
                "GE" => (a, b) => a >= b,
                _ => (a, b) => a != b,
            };
            yield return new($"compare/scalar-{(left ? "left" : "right")}-{dir}/f32[33]", CaseModule.Of("cmp", new Tensor[] { v, Scalar(1f) }, (b, p) =>
                {
                    var bc = b.Broadcast(p[1], dims, Array.Empty<long>());
                    return left ? b.Compare(bc, p[0], dir) : b.Compare(p[0], bc, dir);
                }), new Tensor[] { v, Scalar(1f) }, new Tensor[] { Map(v, a => left ? test(1f, a) : test(a, 1f)) });
        }
        var mask = T(Enumerable.Range(0, 37).Select(i => i % 3 == 0).ToArray(), 37);
        var w = T(Enumerable.Range(0, 37).Select(i => (double)i).ToArray(), 37);
        foreach (bool onTrue in new[] { true, false })
        {
            yield return new($"select/scalar-{(onTrue ? "true" : "false")}-branch/f64[37]", CaseModule.Of("sel", new Tensor[] { mask, w, Scalar(-1.0) }, (b, p) =>
                {
                    var bc = b.Broadcast(p[2], new Dim[] { 37 }, Array.Empty<long>());
                    return onTrue ? b.Select(p[0], bc, p[1]) : b.Select(p[0], p[1], bc);
                }), new Tensor[] { mask, w, Scalar(-1.0) },
                new Tensor[] { T(mask.Data.Zip(w.Data, (m, a) => onTrue ? (m ? -1 : a) : (m ? a : -1)).ToArray(), 37) });
        }
        // the broadcast is also a result, so it is materialised while add reads it as a scalar; dead code is skipped
        var y = T(new[] { 1f, 2, 3 }, 3);
        yield return new("add/scalar-broadcast-also-used", CaseModule.Of("both", new Tensor[] { y, Scalar(10f) }, (b, p) =>
            {
                var bc = b.Broadcast(p[1], new Dim[] { 3 }, Array.Empty<long>());
                b.Exp(b.Multiply(p[0], p[0]));
                return b.Tuple(b.Add(p[0], bc), bc);
            }), new Tensor[] { y, Scalar(10f) }, new Tensor[] { T(new[] { 11f, 12, 13 }, 3), T(new[] { 10f, 10, 10 }, 3) });
    }

    static ConformanceCase Compare(string dir, string? type, Tensor x, Tensor y, bool[] want, string tag = "") =>
        new($"compare/{dir}{(type == null ? "" : "-" + type)}/{x.ShapeText}{tag}",
            CaseModule.Of("cmp", new[] { x, y }, (b, p) => b.Compare(p[0], p[1], dir, type)), new[] { x, y },
            new Tensor[] { T(want, x.Shape.ToArray()) });

    static IEnumerable<ConformanceCase> CompareCases()
    {
        var a = T(new[] { 1f, 2, NaN, NaN, -0f, Inf }, 6);
        var b = T(new[] { 2f, 2, 1, NaN, 0, Inf }, 6);
        // FLOAT: every comparison with NaN is false except NE
        yield return Compare("EQ", null, a, b, new[] { false, true, false, false, true, true });
        yield return Compare("NE", null, a, b, new[] { true, false, true, true, false, false });
        yield return Compare("LT", "FLOAT", a, b, new[] { true, false, false, false, false, false });
        yield return Compare("LE", null, a, b, new[] { true, true, false, false, true, true });
        yield return Compare("GT", null, a, b, new[] { false, false, false, false, false, false });
        yield return Compare("GE", null, a, b, new[] { false, true, false, false, true, true });
        // TOTALORDER: -NaN < -inf < -1 < -0 < +0 < 1 < inf < +NaN (.NET's float.NaN is the negative quiet NaN)
        float negNaN = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00000));
        float posNaN = BitConverter.Int32BitsToSingle(0x7FC00000);
        var ordered = new[] { negNaN, -Inf, -1f, -0f, 0f, 1f, Inf, posNaN };
        var tx = new List<float>();
        var ty = new List<float>();
        var lt = new List<bool>();
        var eq = new List<bool>();
        for (int i = 0; i < ordered.Length; i++)
        {
            for (int j = 0; j < ordered.Length; j++)
            {
                tx.Add(ordered[i]);
                ty.Add(ordered[j]);
                lt.Add(i < j);
                eq.Add(i == j);
            }
        }
        var x = T(tx.ToArray(), tx.Count);
        var y = T(ty.ToArray(), ty.Count);
        yield return Compare("LT", "TOTALORDER", x, y, lt.ToArray());
        yield return Compare("EQ", "TOTALORDER", x, y, eq.ToArray());
        yield return Compare("GE", "TOTALORDER", x, y, lt.Select(v => !v).ToArray());
        var dx = T(new[] { -0.0, BitConverter.Int64BitsToDouble(0x7FF8000000000000), -1.0 }, 3);
        var dy = T(new[] { 0.0, double.PositiveInfinity, -1.0 }, 3);
        yield return Compare("LT", "TOTALORDER", dx, dy, new[] { true, false, false });
        yield return Compare("LE", null, T(new[] { -3, 5, 7 }, 3), T(new[] { 2, 5, -7 }, 3), new[] { true, true, false });
        yield return Compare("GT", null, T(new uint[] { 0x80000000, 1 }, 2), T(new uint[] { 1, 2 }, 2), new[] { true, false });
        yield return Compare("LT", null, T(new sbyte[] { -128, 127 }, 2), T(new sbyte[] { 0, 0 }, 2), new[] { true, false });
        yield return Compare("GT", null, T(new[] { true, false, true }, 3), T(new[] { false, false, true }, 3), new[] { true, false, false });
        yield return Compare("NE", null, T(new ulong[] { ulong.MaxValue, 0 }, 2), T(new ulong[] { ulong.MaxValue, 1 }, 2), new[] { false, true });
        var big = T(RandomF32(11, 70_000), 70_000);
        var big2 = T(RandomF32(12, 70_000), 70_000);
        yield return Compare("LT", null, big, big2, big.Data.Zip(big2.Data, (p, q) => p < q).ToArray(), "/parallel");
    }

    static IEnumerable<ConformanceCase> SelectClampCases()
    {
        var p = T(new[] { true, false, false, true }, 2, 2);
        var x = T(new[] { 1f, 2, 3, 4 }, 2, 2);
        var y = T(new[] { -1f, -2, -3, -4 }, 2, 2);
        yield return new("select/f32[2,2]", CaseModule.Of("sel", new Tensor[] { p, x, y }, (b, a) => b.Select(a[0], a[1], a[2])),
            new Tensor[] { p, x, y }, new Tensor[] { T(new[] { 1f, -2, -3, 4 }, 2, 2) });
        yield return new("select/scalar-pred", CaseModule.Of("sel", new Tensor[] { Scalar(false), x, y }, (b, a) => b.Select(a[0], a[1], a[2])),
            new Tensor[] { Scalar(false), x, y }, new Tensor[] { y });
        var si = T(new[] { 10, 20, 30 }, 3);
        var sj = T(new[] { -10, -20, -30 }, 3);
        var sp = T(new[] { false, true, false }, 3);
        yield return new("select/s32[3]", CaseModule.Of("sel", new Tensor[] { sp, si, sj }, (b, a) => b.Select(a[0], a[1], a[2])),
            new Tensor[] { sp, si, sj }, new Tensor[] { T(new[] { -10, 20, -30 }, 3) });
        var pt = T(new[] { true, false }, 2);
        var pf = T(new[] { false, false }, 2);
        yield return new("select/pred[2]", CaseModule.Of("sel", new Tensor[] { pt, pt, pf }, (b, a) => b.Select(a[0], a[1], a[2])),
            new Tensor[] { pt, pt, pf }, new Tensor[] { T(new[] { true, false }, 2) });

        var v = T(new[] { -5f, 0.5f, 7, NaN, -Inf }, 5);
        yield return new("clamp/f32-scalar-bounds", CaseModule.Of("clamp", new Tensor[] { Scalar(-1f), v, Scalar(1f) }, (b, a) => b.AddInstruction("clamp", a)),
            new Tensor[] { Scalar(-1f), v, Scalar(1f) }, new Tensor[] { T(new[] { -1f, 0.5f, 1, NaN, -1 }, 5) });
        var lo = T(new[] { 0f, 1, NaN, 0, 0 }, 5);
        var hi = T(new[] { 1f, 2, 3, 1, NaN }, 5);
        var w = T(new[] { 5f, 1.5f, 2, -1, 0.5f }, 5);
        yield return new("clamp/f32-array-bounds", CaseModule.Of("clamp", new Tensor[] { lo, w, hi }, (b, a) => b.AddInstruction("clamp", a)),
            new Tensor[] { lo, w, hi }, new Tensor[] { T(new[] { 1f, 1.5f, NaN, 0, NaN }, 5) });
        var iv = T(new[] { -100, 3, 100 }, 3);
        yield return new("clamp/s32", CaseModule.Of("clamp", new Tensor[] { Scalar(-10), iv, Scalar(10) }, (b, a) => b.AddInstruction("clamp", a)),
            new Tensor[] { Scalar(-10), iv, Scalar(10) }, new Tensor[] { T(new[] { -10, 3, 10 }, 3) });
    }

    static ConformanceCase Convert(ElementType to, Tensor x, Tensor want) =>
        new($"convert/{x.ShapeText}-to-{to.TextName()}", CaseModule.Of("cvt", new[] { x }, (b, p) => b.Convert(p[0], to)), new[] { x }, new[] { want });

    static IEnumerable<ConformanceCase> ConvertCases()
    {
        // float -> integer truncates toward zero and saturates; NaN -> 0
        var f = T(new[] { 2.7f, -2.7f, 1e10f, -1e10f, NaN, Inf, -Inf, 0.5f, 300f, -0.5f }, 10);
        yield return Convert(ElementType.S32, f, T(new[] { 2, -2, int.MaxValue, int.MinValue, 0, int.MaxValue, int.MinValue, 0, 300, 0 }, 10));
        yield return Convert(ElementType.U8, f, T(new byte[] { 2, 0, 255, 0, 0, 255, 0, 0, 255, 0 }, 10));
        yield return Convert(ElementType.S8, f, T(new sbyte[] { 2, -2, 127, -128, 0, 127, -128, 0, 127, 0 }, 10));
        yield return Convert(ElementType.S64, T(new[] { 1e19, -1e19, 3.9, double.NaN }, 4), T(new[] { long.MaxValue, long.MinValue, 3L, 0 }, 4));
        yield return Convert(ElementType.U32, T(new[] { -1.5f, 4e9f, 5e9f }, 3), T(new uint[] { 0, 4_000_000_000, uint.MaxValue }, 3));
        // float -> pred is x != 0 (NaN is true)
        yield return Convert(ElementType.Pred, T(new[] { 0f, -0f, 2, NaN }, 4), T(new[] { false, false, true, true }, 4));
        yield return Convert(ElementType.Pred, T(new[] { 0, 7, -1 }, 3), T(new[] { false, true, true }, 3));
        yield return Convert(ElementType.F32, T(new[] { true, false }, 2), T(new[] { 1f, 0 }, 2));
        yield return Convert(ElementType.S32, T(new[] { true, false }, 2), T(new[] { 1, 0 }, 2));
        // integer -> integer wraps (two's complement), sign-extending first
        yield return Convert(ElementType.S8, T(new[] { 200, -129, 127 }, 3), T(new sbyte[] { -56, 127, 127 }, 3));
        yield return Convert(ElementType.U32, T(new sbyte[] { -1, 5 }, 2), T(new uint[] { uint.MaxValue, 5 }, 2));
        yield return Convert(ElementType.S8, T(new byte[] { 255, 128 }, 2), T(new sbyte[] { -1, -128 }, 2));
        yield return Convert(ElementType.S64, T(new uint[] { uint.MaxValue }, 1), T(new[] { 4294967295L }, 1));
        // integer -> float rounds to nearest
        yield return Convert(ElementType.F32, T(new[] { 16777217, -3 }, 2), T(new[] { 16777216f, -3 }, 2));
        yield return Convert(ElementType.F64, T(new[] { long.MaxValue }, 1), T(new[] { 9.2233720368547758E+18 }, 1));
        yield return Convert(ElementType.F32, T(new ulong[] { ulong.MaxValue }, 1), T(new[] { 1.8446744e19f }, 1));
        // float <-> float
        yield return Convert(ElementType.F32, T(new[] { 1.0000000596046448, 1e300, double.NaN }, 3), T(new[] { 1f, Inf, NaN }, 3));
        yield return Convert(ElementType.F64, T(new[] { 0.1f, -Inf }, 2), T(new[] { (double)0.1f, double.NegativeInfinity }, 2));
        var big = T(RandomF32(13, 70_000, -1000, 1000), 70_000);
        yield return Convert(ElementType.S32, big, Map(big, v => (int)v));
    }
}
