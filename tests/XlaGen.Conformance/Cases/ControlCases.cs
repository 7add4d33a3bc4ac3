using XlaGen.Hlo;
using static XlaGen.Tests.Conformance.Ref;

namespace XlaGen.Tests.Conformance.Cases;

/// <summary>tuple, get-tuple-element, call, fusion, map, while, sort; tuple results come back flattened.</summary>
public static class ControlCases
{
    static HloInstruction Call(HloBuilder b, string opcode, HloComputation callee, params HloInstruction[] args) =>
        b.AddInstruction(opcode, args, opcode == "fusion" ? new HloAttributes { FusionKind = "kLoop" } : null, called: new[] { callee });

    public static IEnumerable<ConformanceCase> All()
    {
        var x = T(new[] { 1f, 2, 3 }, 3);
        var y = T(new[] { 10, 20 }, 2);
        yield return new("tuple/flattened-result", CaseModule.Of("tup", new Tensor[] { x, y }, (b, p) => b.Tuple(p[1], p[0], p[1])),
            new Tensor[] { x, y }, new Tensor[] { y, x, y });
        yield return new("tuple/nested-gte", CaseModule.Of("gte", new Tensor[] { x, y }, (b, p) =>
            {
                var inner = b.Tuple(p[0], p[1]);
                var outer = b.Tuple(inner, b.Negate(p[0]));
                return b.Tuple(b.GetTupleElement(b.GetTupleElement(outer, 0), 1), b.GetTupleElement(outer, 1));
            }),
            new Tensor[] { x, y }, new Tensor[] { y, T(new[] { -1f, -2, -3 }, 3) });
        yield return new("tuple/constant-tuple", CaseModule.Of("ct", Array.Empty<Tensor>(),
                (b, _) => b.GetTupleElement(b.Constant(Literal.Tuple(Literal.Scalar(1), Literal.Create(Shape.Array(ElementType.F32, 2), new[] { 4f, 5 }))), 1)),
            Array.Empty<Tensor>(), new Tensor[] { T(new[] { 4f, 5 }, 2) });

        foreach (var opcode in new[] { "call", "fusion" })
        {
            var a = T(new[] { 1f, 2, 3, 4 }, 2, 2);
            var c = T(new[] { 0.5f, 0.5f, 2, 2 }, 2, 2);
            yield return new($"{opcode}/multiply-add", () =>
                {
                    var b = new HloBuilder(opcode);
                    var pa = b.Parameter(a.HloShape, "a");
                    var pc = b.Parameter(c.HloShape, "c");
                    var sub = b.CreateSubBuilder("callee");
                    var s0 = sub.Parameter(a.HloShape, "s0");
                    var s1 = sub.Parameter(c.HloShape, "s1");
                    var callee = sub.Build(sub.Tuple(sub.Multiply(s0, s1), sub.Add(s0, s1)));
                    if (opcode == "fusion") callee.IsFusionComputation = true;
                    var r = Call(b, opcode, callee, pa, pc);
                    return b.BuildModule(b.Tuple(b.GetTupleElement(r, 1), b.GetTupleElement(r, 0)));
                },
                new Tensor[] { a, c }, new Tensor[] { Zip(a, c, (u, v) => u + v), Zip(a, c, (u, v) => u * v) });
        }
        yield return new("call/passes-parameter-through", () =>
            {
                var b = new HloBuilder("through");
                var p = b.Parameter(x.HloShape, "x");
                var sub = b.CreateSubBuilder("identity");
                var callee = sub.Build(sub.Parameter(x.HloShape, "v"));
                return b.BuildModule(b.Add(Call(b, "call", callee, p), p));
            },
            new Tensor[] { x }, new Tensor[] { T(new[] { 2f, 4, 6 }, 3) });

        foreach (var c in MapCases()) yield return c;
        foreach (var c in WhileCases()) yield return c;
        foreach (var c in SortCases()) yield return c;
    }

    static IEnumerable<ConformanceCase> MapCases()
    {
        var a = T(new[] { 1f, -2, 3, -4 }, 2, 2);
        var c = T(new[] { 10f, 20, 30, 40 }, 2, 2);
        ConformanceCase Map2(string name, Tensor p0, Tensor p1, Tensor want, Func<HloBuilder, HloInstruction, HloInstruction, HloInstruction> f, ElementType t) =>
            new($"map/{name}", () =>
                {
                    var b = new HloBuilder("map");
                    var x = b.Parameter(p0.HloShape, "x");
                    var y = b.Parameter(p1.HloShape, "y");
                    var fn = CaseModule.Binary(b, "fn", t, f);
                    return b.BuildModule(b.AddInstruction("map", new[] { x, y }, new HloAttributes { Dimensions = new long[] { 0, 1 } }, called: new[] { fn }));
                },
                new[] { p0, p1 }, new[] { want });
        yield return Map2("plain-swapped-subtract", a, c, Zip(a, c, (u, v) => v - u), (s, u, v) => s.Subtract(v, u), ElementType.F32);
        yield return Map2("interpreted", a, c, Zip(a, c, (u, v) => u * u + v + 1), (s, u, v) => s.Add(s.Add(s.Multiply(u, u), v), s.Constant(ElementType.F32, 1)), ElementType.F32);
        var i = T(new[] { 7, -7, 0, 5 }, 2, 2);
        var j = T(new[] { 2, 2, 0, -1 }, 2, 2);
        yield return Map2("integer-divide", i, j, T(new[] { 3, -3, -1, -5 }, 2, 2), (s, u, v) => s.Divide(u, v), ElementType.S32);
        yield return new("map/unary-to-pred", () =>
            {
                var b = new HloBuilder("map");
                var x = b.Parameter(a.HloShape, "x");
                var sub = b.CreateSubBuilder("positive");
                var v = sub.Parameter(Shape.Scalar(ElementType.F32), "v");
                var fn = sub.Build(sub.Compare(v, sub.Constant(ElementType.F32, 0), "GT"));
                return b.BuildModule(b.AddInstruction("map", new[] { x }, new HloAttributes { Dimensions = new long[] { 0, 1 } }, called: new[] { fn }));
            },
            new Tensor[] { a }, new Tensor[] { T(new[] { true, false, true, false }, 2, 2) });
    }

    static IEnumerable<ConformanceCase> WhileCases()
    {
        // state (i, acc): while i < limit { acc = acc * 2 + 1; i = i + 1 }
        ConformanceCase Loop(string name, int start, int limit)
        {
            var acc = T(new[] { 1f, -1, 0.5f }, 3);
            var want = acc.Data.ToArray();
            for (int k = start; k < limit; k++) want = want.Select(v => v * 2 + 1).ToArray();
            return new($"while/{name}", () =>
                {
                    var b = new HloBuilder("loop");
                    var pacc = b.Parameter(acc.HloShape, "acc");
                    var stateShape = Shape.Tuple(Shape.Scalar(ElementType.S32), acc.HloShape);
                    var cb = b.CreateSubBuilder("cond");
                    var cs = cb.Parameter(stateShape, "s");
                    var cond = cb.Build(cb.Compare(cb.GetTupleElement(cs, 0), cb.Constant(ElementType.S32, limit), "LT"));
                    var bb = b.CreateSubBuilder("body");
                    var bs = bb.Parameter(stateShape, "s");
                    var i = bb.GetTupleElement(bs, 0);
                    var v = bb.GetTupleElement(bs, 1);
                    var two = bb.Full(ElementType.F32, 2, new Dim[] { 3 });
                    var one = bb.Full(ElementType.F32, 1, new Dim[] { 3 });
                    var body = bb.Build(bb.Tuple(bb.Add(i, bb.Constant(ElementType.S32, 1)), bb.Add(bb.Multiply(v, two), one)));
                    var init = b.Tuple(b.Constant(ElementType.S32, start), pacc);
                    var w = b.AddInstruction("while", new[] { init }, null, called: new[] { body, cond });
                    return b.BuildModule(w);
                },
                new Tensor[] { acc }, new Tensor[] { Scalar(Math.Max(start, limit)), T(want, 3) });
        }
        yield return Loop("ten-iterations", 0, 10);
        yield return Loop("zero-iterations", 5, 3);
        // the body passes one state element through unchanged
        var keep = T(new[] { 4, 5 }, 2);
        yield return new("while/pass-through", () =>
            {
                var b = new HloBuilder("loop");
                var pk = b.Parameter(keep.HloShape, "keep");
                var stateShape = Shape.Tuple(Shape.Scalar(ElementType.S32), keep.HloShape);
                var cb = b.CreateSubBuilder("cond");
                var cs = cb.Parameter(stateShape, "s");
                var cond = cb.Build(cb.Compare(cb.GetTupleElement(cs, 0), cb.Constant(ElementType.S32, 3), "LT"));
                var bb = b.CreateSubBuilder("body");
                var bs = bb.Parameter(stateShape, "s");
                var body = bb.Build(bb.Tuple(bb.Add(bb.GetTupleElement(bs, 0), bb.Constant(ElementType.S32, 1)), bb.GetTupleElement(bs, 1)));
                var w = b.AddInstruction("while", new[] { b.Tuple(b.Constant(ElementType.S32, 0), pk) }, null, called: new[] { body, cond });
                return b.BuildModule(b.Tuple(b.GetTupleElement(w, 1), b.Add(b.GetTupleElement(w, 1), pk)));
            },
            new Tensor[] { keep }, new Tensor[] { keep, T(new[] { 8, 10 }, 2) });
    }

    static HloComputation Comparator(HloBuilder b, ElementType[] types, Func<HloBuilder, HloInstruction[], HloInstruction> body)
    {
        var sub = b.CreateSubBuilder("cmp");
        var ps = new List<HloInstruction>();
        for (int i = 0; i < types.Length; i++)
        {
            ps.Add(sub.Parameter(Shape.Scalar(types[i]), $"lhs{i}"));
            ps.Add(sub.Parameter(Shape.Scalar(types[i]), $"rhs{i}"));
        }
        return sub.Build(body(sub, ps.ToArray()));
    }

    static ConformanceCase SortCase(string name, Tensor[] operands, long axis, bool stable, ElementType[] types,
        Func<HloBuilder, HloInstruction[], HloInstruction> comparator, Func<long, long, bool> less) =>
        new($"sort/{name}", () =>
            {
                var b = new HloBuilder("sort");
                var ps = operands.Select((t, i) => b.Parameter(t.HloShape, "x" + i)).ToArray();
                var cmp = Comparator(b, types, comparator);
                return b.BuildModule(b.AddInstruction("sort", ps, new HloAttributes { Dimensions = new[] { axis }, IsStable = stable }, called: new[] { cmp }));
            },
            operands, SortExpected(operands, (int)axis, less));

    static Tensor[] SortExpected(Tensor[] operands, int axis, Func<long, long, bool> less)
    {
        var perms = SortPermutations(operands[0].Shape, axis, less);
        return operands.Select(t => t switch
        {
            Tensor<float> f => (Tensor)Permute(f, perms),
            Tensor<int> i => Permute(i, perms),
            Tensor<double> d => Permute(d, perms),
            Tensor<long> l => Permute(l, perms),
            _ => throw new NotSupportedException(),
        }).ToArray();
    }

    static int TotalKey(float f)
    {
        int b = BitConverter.SingleToInt32Bits(f);
        return b < 0 ? b ^ int.MaxValue : b;
    }

    static IEnumerable<ConformanceCase> SortCases()
    {
        var keys = T(new[] { 3f, float.NaN, -1, 2, -0f, 0, float.NegativeInfinity, 2 }, 8);
        yield return SortCase("f32-totalorder-ascending", new Tensor[] { keys }, 0, true, new[] { ElementType.F32 },
            (s, p) => s.Compare(p[0], p[1], "LT", "TOTALORDER"), (a, c) => TotalKey(keys.Data[a]) < TotalKey(keys.Data[c]));
        var ints = T(RandomS32(50, 24, -5, 5), 4, 6);
        yield return SortCase("s32-descending-rows", new Tensor[] { ints }, 1, false, new[] { ElementType.S32 },
            (s, p) => s.Compare(p[0], p[1], "GT"), (a, c) => ints.Data[a] > ints.Data[c]);
        yield return SortCase("s32-ascending-dim0", new Tensor[] { ints }, 0, false, new[] { ElementType.S32 },
            (s, p) => s.Compare(p[1], p[0], "GT"), (a, c) => ints.Data[a] < ints.Data[c]);
        // key/value sort with ties: stable keeps the values of equal keys in order
        var k = T(new[] { 2, 1, 2, 1, 0, 2 }, 6);
        var v = T(new[] { 0f, 1, 2, 3, 4, 5 }, 6);
        yield return SortCase("key-value-stable", new Tensor[] { k, v }, 0, true, new[] { ElementType.S32, ElementType.F32 },
            (s, p) => s.Compare(p[0], p[1], "LT"), (a, c) => k.Data[a] < k.Data[c]);
        // an interpreted comparator: by absolute value, then by the second operand descending
        var m = T(new[] { -3.0, 1, -1, 2, 3, -2 }, 6);
        var tie = T(new[] { 1L, 2, 3, 4, 5, 6 }, 6);
        yield return SortCase("interpreted-abs-then-desc", new Tensor[] { m, tie }, 0, true, new[] { ElementType.F64, ElementType.S64 },
            (s, p) =>
            {
                var a0 = s.Abs(p[0]);
                var a1 = s.Abs(p[1]);
                var lt = s.Compare(a0, a1, "LT");
                var eq = s.Compare(a0, a1, "EQ");
                return s.Binary("or", lt, s.Binary("and", eq, s.Compare(p[2], p[3], "GT")));
            },
            (a, c) => Math.Abs(m.Data[a]) < Math.Abs(m.Data[c]) || (Math.Abs(m.Data[a]) == Math.Abs(m.Data[c]) && tie.Data[a] > tie.Data[c]));
        var many = T(RandomF32(51, 64 * 300), 64, 300);
        yield return SortCase("f32-many-rows", new Tensor[] { many }, 1, false, new[] { ElementType.F32 },
            (s, p) => s.Compare(p[0], p[1], "LT"), (a, c) => many.Data[a] < many.Data[c]);
    }
}
