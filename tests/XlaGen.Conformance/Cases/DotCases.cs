using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>dot (DotGeneral): plain matmul, transposed operands, contracting on dim 0, batch dims in and out of the
/// leading position, several contracting dims in either order, vectors, empty contractions, f64 / integer / mixed
/// s16×s8→s32, NaN propagation.</summary>
public static class DotCases
{
    static ConformanceCase F32(string name, long[] lhsDims, long[] rhsDims, long[] lc, long[] rc, long[]? lb = null, long[]? rb = null, int seed = 1)
    {
        var x = T(RandomF32(seed, (int)Count(lhsDims)), lhsDims);
        var y = T(RandomF32(seed + 1, (int)Count(rhsDims)), rhsDims);
        var want = DotF32(x, y, lc, rc, lb, rb);
        return new($"dot/{name}", CaseModule.Of("dot", new Tensor[] { x, y },
                (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(lc, rc, lb, rb))),
            new Tensor[] { x, y }, new Tensor[] { want }, 1e-5);
    }

    public static IEnumerable<ConformanceCase> All()
    {
        yield return F32("matmul", new long[] { 2, 3 }, new long[] { 3, 4 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("rhs-transposed", new long[] { 2, 3 }, new long[] { 4, 3 }, new long[] { 1 }, new long[] { 1 });
        yield return F32("contract-dim0", new long[] { 3, 2 }, new long[] { 3, 4 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("both-transposed", new long[] { 3, 2 }, new long[] { 4, 3 }, new long[] { 0 }, new long[] { 1 });
        yield return F32("batched", new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 }, new long[] { 2 }, new long[] { 1 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("batch-not-leading", new long[] { 3, 2, 4 }, new long[] { 4, 2, 5 }, new long[] { 2 }, new long[] { 0 }, new long[] { 1 }, new long[] { 1 });
        yield return F32("two-batch-dims", new long[] { 2, 2, 3, 4 }, new long[] { 2, 2, 4, 3 }, new long[] { 3 }, new long[] { 2 }, new long[] { 0, 1 }, new long[] { 0, 1 });
        yield return F32("two-contracting", new long[] { 2, 3, 4 }, new long[] { 3, 4, 5 }, new long[] { 1, 2 }, new long[] { 0, 1 });
        yield return F32("two-contracting-reordered", new long[] { 2, 3, 4 }, new long[] { 4, 3, 5 }, new long[] { 2, 1 }, new long[] { 0, 1 });
        yield return F32("free-dims-split", new long[] { 2, 3, 4 }, new long[] { 4, 5 }, new long[] { 2 }, new long[] { 0 });
        yield return F32("free-dims-around-contracting", new long[] { 2, 4, 3 }, new long[] { 4, 5 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("vector-vector", new long[] { 5 }, new long[] { 5 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("matrix-vector", new long[] { 3, 4 }, new long[] { 4 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("vector-matrix", new long[] { 4 }, new long[] { 4, 3 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("outer-product", new long[] { 3 }, new long[] { 2 }, Array.Empty<long>(), Array.Empty<long>());
        yield return F32("unit-dims", new long[] { 1, 3 }, new long[] { 3, 1 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("larger", new long[] { 33, 65 }, new long[] { 65, 17 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("larger-transposed-lhs", new long[] { 65, 33 }, new long[] { 65, 17 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("many-batches", new long[] { 8, 5, 6 }, new long[] { 8, 6, 7 }, new long[] { 2 }, new long[] { 1 }, new long[] { 0 }, new long[] { 0 });
        yield return F32("empty-contraction", new long[] { 2, 0 }, new long[] { 0, 3 }, new long[] { 1 }, new long[] { 0 });
        yield return F32("empty-result", new long[] { 0, 3 }, new long[] { 3, 2 }, new long[] { 1 }, new long[] { 0 });

        var nx = T(new[] { 1f, float.NaN, 2, 3 }, 2, 2);
        var ny = T(new[] { 1f, 0, 0, 1 }, 2, 2);
        yield return new("dot/nan-propagates", CaseModule.Of("dot", new Tensor[] { nx, ny }, (b, p) => b.MatMul(p[0], p[1])),
            new Tensor[] { nx, ny }, new Tensor[] { T(new[] { float.NaN, float.NaN, 2, 3 }, 2, 2) });

        var dx = T(RandomF64(30, 12), 3, 4);
        var dy = T(RandomF64(31, 8), 4, 2);
        yield return new("dot/f64", CaseModule.Of("dot", new Tensor[] { dx, dy }, (b, p) => b.MatMul(p[0], p[1])),
            new Tensor[] { dx, dy }, new Tensor[] { Dot(dx, dy, new long[] { 1 }, new long[] { 0 }, Array.Empty<long>(), Array.Empty<long>(), v => v, v => v, (a, c) => a + c, (a, c) => a * c) },
            1e-12);
        var ix = T(RandomS32(32, 2 * 3 * 4), 2, 3, 4);
        var iy = T(RandomS32(33, 2 * 4 * 2), 2, 4, 2);
        yield return new("dot/s32-batched", CaseModule.Of("dot", new Tensor[] { ix, iy },
                (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(new long[] { 2 }, new long[] { 1 }, new long[] { 0 }, new long[] { 0 }))),
            new Tensor[] { ix, iy }, new Tensor[] { Dot(ix, iy, new long[] { 2 }, new long[] { 1 }, new long[] { 0 }, new long[] { 0 }, v => v, v => v, (a, c) => a + c, (a, c) => a * c) });
        // XLA's DotUpcast: s16 x s8 -> s32, values stated in hlo_evaluator_test.cc (FillUnique)
        var sx = T(new short[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, 4, 3);
        var sy = T(new sbyte[] { -100, 101, 102, 103, 104, 105 }, 3, 2);
        yield return new("dot/s16-s8-to-s32", CaseModule.Of("dot", new Tensor[] { sx, sy },
                (b, p) => b.Dot(p[0], p[1], new DotDimensionNumbers(new long[] { 1 }, new long[] { 0 }), ElementType.S32)),
            new Tensor[] { sx, sy },
            new Tensor[] { Dot(sx, sy, new long[] { 1 }, new long[] { 0 }, Array.Empty<long>(), Array.Empty<long>(), v => (int)v, v => (int)v, (a, c) => a + c, (a, c) => a * c) });
        var ux = T(new byte[] { 200, 100 }, 1, 2);
        var uy = T(new byte[] { 2, 3 }, 2, 1);
        yield return new("dot/u8-wraps", CaseModule.Of("dot", new Tensor[] { ux, uy }, (b, p) => b.MatMul(p[0], p[1])),
            new Tensor[] { ux, uy }, new Tensor[] { T(new byte[] { unchecked((byte)(400 + 300)) }, 1, 1) });
    }
}
