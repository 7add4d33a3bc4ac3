using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>Data movement: broadcast, reshape, bitcast, transpose, reverse, slice, concatenate, pad, iota, constant.</summary>
public static class StructuralCases
{
    static Dim[] D(params long[] dims) => dims.Select(d => (Dim)d).ToArray();

    static ConformanceCase One(string name, Tensor x, Tensor want, Func<HloBuilder, HloInstruction, HloInstruction> body) =>
        new(name, CaseModule.Of(name, new[] { x }, (b, p) => body(b, p[0])), new[] { x }, new[] { want });

    public static IEnumerable<ConformanceCase> All()
    {
        // ---- broadcast ----
        yield return One("broadcast/scalar", Scalar(2.5f), T(Enumerable.Repeat(2.5f, 6).ToArray(), 2, 3),
            (b, x) => b.Broadcast(x, D(2, 3), Array.Empty<long>()));
        var v3 = T(new[] { 1f, 2, 3 }, 3);
        yield return One("broadcast/rows", v3, Broadcast(v3, new long[] { 2, 3 }, new long[] { 1 }), (b, x) => b.Broadcast(x, D(2, 3), new long[] { 1 }));
        var v2 = T(new[] { 10, 20 }, 2);
        yield return One("broadcast/cols-s32", v2, Broadcast(v2, new long[] { 2, 3 }, new long[] { 0 }), (b, x) => b.Broadcast(x, D(2, 3), new long[] { 0 }));
        yield return One("broadcast/middle", v3, Broadcast(v3, new long[] { 2, 3, 4 }, new long[] { 1 }), (b, x) => b.Broadcast(x, D(2, 3, 4), new long[] { 1 }));
        var m24 = T(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4);
        yield return One("broadcast/outer-and-inner-s64", m24, Broadcast(m24, new long[] { 2, 3, 4 }, new long[] { 0, 2 }),
            (b, x) => b.Broadcast(x, D(2, 3, 4), new long[] { 0, 2 }));
        var deg = T(new[] { 7f, 8, 9 }, 1, 3);
        yield return One("broadcast/degenerate", deg, Broadcast(deg, new long[] { 2, 3 }, new long[] { 0, 1 }), (b, x) => b.Broadcast(x, D(2, 3), new long[] { 0, 1 }));
        var pv = T(new[] { true, false }, 2);
        yield return One("broadcast/pred-rank4", pv, Broadcast(pv, new long[] { 2, 1, 2, 3 }, new long[] { 2 }),
            (b, x) => b.Broadcast(x, D(2, 1, 2, 3), new long[] { 2 }));
        yield return One("broadcast/to-empty", v3, T(Array.Empty<float>(), 0, 3), (b, x) => b.Broadcast(x, D(0, 3), new long[] { 1 }));
        var wide = T(RandomF32(20, 300), 300);
        yield return One("broadcast/parallel", wide, Broadcast(wide, new long[] { 400, 300 }, new long[] { 1 }), (b, x) => b.Broadcast(x, D(400, 300), new long[] { 1 }));

        // ---- reshape / bitcast ----
        var m23 = T(new[] { 1f, 2, 3, 4, 5, 6 }, 2, 3);
        yield return One("reshape/2x3-to-3x2", m23, T(m23.Data, 3, 2), (b, x) => b.Reshape(x, D(3, 2)));
        yield return One("reshape/to-rank4", m23, T(m23.Data, 1, 2, 3, 1), (b, x) => b.Reshape(x, D(1, 2, 3, 1)));
        yield return One("reshape/scalar", T(new[] { 4 }, 1, 1), Scalar(4), (b, x) => b.Reshape(x));
        yield return One("bitcast/f32", m23, T(m23.Data, 6), (b, x) => b.AddInstruction("bitcast", new[] { x }, null, Shape.Array(ElementType.F32, D(6))));

        // ---- transpose ----
        yield return One("transpose/2d", m23, Transpose(m23, new long[] { 1, 0 }), (b, x) => b.Transpose(x, 1, 0));
        var r3 = T(Enumerable.Range(0, 24).Select(i => (sbyte)i).ToArray(), 2, 3, 4);
        yield return One("transpose/rank3-s8", r3, Transpose(r3, new long[] { 2, 0, 1 }), (b, x) => b.Transpose(x, 2, 0, 1));
        var nchw = T(RandomF64(21, 2 * 3 * 4 * 5), 2, 3, 4, 5);
        yield return One("transpose/nchw-to-nhwc-f64", nchw, Transpose(nchw, new long[] { 0, 2, 3, 1 }), (b, x) => b.Transpose(x, 0, 2, 3, 1));
        var tall = T(RandomF32(22, 70 * 130), 70, 130);
        yield return One("transpose/tiled", tall, Transpose(tall, new long[] { 1, 0 }), (b, x) => b.Transpose(x, 1, 0));
        var huge = T(RandomF32(23, 300 * 257), 300, 257);
        yield return One("transpose/tiled-parallel", huge, Transpose(huge, new long[] { 1, 0 }), (b, x) => b.Transpose(x, 1, 0));
        var unit = T(new[] { 1, 2, 3 }, 1, 3, 1);
        yield return One("transpose/unit-dims", unit, T(new[] { 1, 2, 3 }, 3, 1, 1), (b, x) => b.Transpose(x, 1, 0, 2));
        var batched = T(RandomF32(24, 3 * 40 * 50), 3, 40, 50);
        yield return One("transpose/batched-minor", batched, Transpose(batched, new long[] { 0, 2, 1 }), (b, x) => b.Transpose(x, 0, 2, 1));

        // ---- reverse ----
        yield return One("reverse/dim1", m23, Reverse(m23, new long[] { 1 }), (b, x) => b.AddInstruction("reverse", new[] { x }, new HloAttributes { Dimensions = new long[] { 1 } }));
        yield return One("reverse/all", m23, Reverse(m23, new long[] { 0, 1 }), (b, x) => b.AddInstruction("reverse", new[] { x }, new HloAttributes { Dimensions = new long[] { 0, 1 } }));
        yield return One("reverse/rank3-outer-inner", r3, Reverse(r3, new long[] { 0, 2 }), (b, x) => b.AddInstruction("reverse", new[] { x }, new HloAttributes { Dimensions = new long[] { 0, 2 } }));

        // ---- slice ----
        var m56 = T(Enumerable.Range(0, 30).Select(i => (float)i).ToArray(), 5, 6);
        yield return One("slice/strided", m56, Slice(m56, new long[] { 1, 0 }, new long[] { 5, 6 }, new long[] { 2, 3 }),
            (b, x) => b.Slice(x, new[] { new SliceDimension(1, 5, 2), new SliceDimension(0, 6, 3) }));
        yield return One("slice/window", m56, Slice(m56, new long[] { 2, 1 }, new long[] { 4, 5 }, new long[] { 1, 1 }),
            (b, x) => b.Slice(x, new[] { new SliceDimension(2, 4, 1), new SliceDimension(1, 5, 1) }));
        yield return One("slice/rank3-s8", r3, Slice(r3, new long[] { 1, 0, 1 }, new long[] { 2, 3, 4 }, new long[] { 1, 2, 2 }),
            (b, x) => b.Slice(x, new[] { new SliceDimension(1, 2, 1), new SliceDimension(0, 3, 2), new SliceDimension(1, 4, 2) }));
        yield return One("slice/whole", m23, m23, (b, x) => b.Slice(x, new[] { new SliceDimension(0, 2, 1), new SliceDimension(0, 3, 1) }));
        yield return One("slice/empty", m23, T(Array.Empty<float>(), 2, 0), (b, x) => b.Slice(x, new[] { new SliceDimension(0, 2, 1), new SliceDimension(2, 2, 1) }));

        // ---- concatenate ----
        var c1 = T(new[] { 1f, 2, 3, 4 }, 2, 2);
        var c2 = T(new[] { 5f, 6 }, 2, 1);
        var c3 = T(new[] { 7f, 8, 9, 10, 11, 12 }, 2, 3);
        yield return new("concatenate/three-axis1", CaseModule.Of("cat", new Tensor[] { c1, c2, c3 }, (b, p) => b.Concatenate(1, p)),
            new Tensor[] { c1, c2, c3 }, new Tensor[] { Concatenate(1, c1, c2, c3) });
        var a3 = T(RandomS32(25, 2 * 2 * 3), 2, 2, 3);
        var b3 = T(RandomS32(26, 1 * 2 * 3), 1, 2, 3);
        yield return new("concatenate/axis0-rank3-s32", CaseModule.Of("cat", new Tensor[] { a3, b3 }, (b, p) => b.Concatenate(0, p)),
            new Tensor[] { a3, b3 }, new Tensor[] { Concatenate(0, a3, b3) });
        var e = T(Array.Empty<float>(), 2, 0);
        yield return new("concatenate/with-empty", CaseModule.Of("cat", new Tensor[] { c1, e, c2 }, (b, p) => b.Concatenate(1, p)),
            new Tensor[] { c1, e, c2 }, new Tensor[] { Concatenate(1, c1, e, c2) });
        var p1 = T(new[] { true, false }, 2);
        var p2 = T(new[] { false }, 1);
        yield return new("concatenate/pred", CaseModule.Of("cat", new Tensor[] { p1, p2 }, (b, p) => b.Concatenate(0, p)),
            new Tensor[] { p1, p2 }, new Tensor[] { T(new[] { true, false, false }, 3) });

        // ---- pad ----
        foreach (var c in PadCases(m23, r3)) yield return c;

        // ---- iota ----
        yield return new("iota/s32", CaseModule.Of("iota", Array.Empty<Tensor>(), (b, _) => b.Iota(Shape.Array(ElementType.S32, D(5)), 0)),
            Array.Empty<Tensor>(), new Tensor[] { T(new[] { 0, 1, 2, 3, 4 }, 5) });
        yield return new("iota/f32-dim1", CaseModule.Of("iota", Array.Empty<Tensor>(), (b, _) => b.Iota(Shape.Array(ElementType.F32, D(2, 3)), 1)),
            Array.Empty<Tensor>(), new Tensor[] { Iota(new long[] { 2, 3 }, 1, i => (float)i) });
        yield return new("iota/u8-middle", CaseModule.Of("iota", Array.Empty<Tensor>(), (b, _) => b.Iota(Shape.Array(ElementType.U8, D(2, 3, 4)), 1)),
            Array.Empty<Tensor>(), new Tensor[] { Iota(new long[] { 2, 3, 4 }, 1, i => (byte)i) });
        yield return new("iota/s64-dim0", CaseModule.Of("iota", Array.Empty<Tensor>(), (b, _) => b.Iota(Shape.Array(ElementType.S64, D(3, 2)), 0)),
            Array.Empty<Tensor>(), new Tensor[] { Iota(new long[] { 3, 2 }, 0, i => i) });

        // ---- constant (array, pred, f64; tuple constants in ControlCases) ----
        yield return new("constant/f32-matrix", CaseModule.Of("const", Array.Empty<Tensor>(),
                (b, _) => b.Constant(Literal.Create(Shape.Array(ElementType.F32, D(2, 2)), new[] { 1f, -2, float.NaN, 4 }))),
            Array.Empty<Tensor>(), new Tensor[] { T(new[] { 1f, -2, float.NaN, 4 }, 2, 2) });
        yield return new("constant/pred-and-f64", CaseModule.Of("const", Array.Empty<Tensor>(),
                (b, _) => b.Tuple(b.Constant(Literal.Scalar(true)), b.Constant(Literal.Scalar(2.25)))),
            Array.Empty<Tensor>(), new Tensor[] { Scalar(true), Scalar(2.25) });
    }

    static IEnumerable<ConformanceCase> PadCases(Tensor<float> m23, Tensor<sbyte> r3)
    {
        ConformanceCase Pad<T>(string name, Tensor<T> x, T value, params (long, long, long)[] config) where T : unmanaged =>
            new($"pad/{name}", CaseModule.Of("pad", new Tensor[] { x, Scalar(value) },
                    (b, p) => b.AddInstruction("pad", p, new HloAttributes { Padding = config.Select(c => new PaddingDimension(c.Item1, c.Item2, c.Item3)).ToArray() })),
                new Tensor[] { x, Scalar(value) }, new Tensor[] { Ref.Pad(x, value, config) });
        yield return Pad("edges", m23, -1f, (1, 2, 0), (0, 1, 0));
        yield return Pad("interior", m23, 0f, (0, 0, 1), (1, 1, 2));
        yield return Pad("negative", m23, 9f, (-1, 0, 0), (-1, -1, 0));
        yield return Pad("negative-with-interior", m23, 9f, (-1, 1, 1), (-2, -1, 2));
        yield return Pad("rank3-s8", r3, (sbyte)-7, (0, 1, 0), (1, 0, 1), (-1, -2, 0));
        yield return Pad("nan-value", T(new[] { 1f }, 1), float.NaN, (1, 1, 0));
        yield return Pad("all-cut", m23, 5f, (-2, 1, 0), (0, 0, 0));
    }
}
