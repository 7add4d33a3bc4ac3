using XlaGen.Hlo;

namespace XlaGen.Server.Tests;

/// <summary>Small programs built with HloBuilder, and deterministic data for them.</summary>
internal static class TestModules
{
    static Shape F32(params Dim[] dims) => Shape.Array(ElementType.F32, dims);

    /// <summary>(relu(x·w + b), sum of it): x f32[rows,in], w f32[in,out], b f32[out].</summary>
    public static HloModule Affine(long rows, long inDim, long outDim)
    {
        var b = new HloBuilder("affine");
        var x = b.Parameter(F32(rows, inDim), "x");
        var w = b.Parameter(F32(inDim, outDim), "w");
        var bias = b.Parameter(F32(outDim), "b");
        var h = b.Add(b.MatMul(x, w), b.Broadcast(bias, new Dim[] { rows, outDim }, new long[] { 1 }));
        var y = b.Maximum(h, b.Full(ElementType.F32, 0, new Dim[] { rows, outDim }));
        return b.BuildModule(b.Tuple(y, b.ReduceSum(y, 0, 1)));
    }

    /// <summary>
    /// One step of least-squares gradient descent: w' = w − lr·(2/n)·xᵀ(xw − t), and the loss mean((xw − t)²).
    /// Parameters: w f32[d,k], x f32[n,d], t f32[n,k]. Returns (w', loss).
    /// </summary>
    public static HloModule SgdStep(long n, long d, long k, float learningRate)
    {
        var b = new HloBuilder("sgd_step");
        var w = b.Parameter(F32(d, k), "w");
        var x = b.Parameter(F32(n, d), "x");
        var t = b.Parameter(F32(n, k), "t");
        var r = b.Subtract(b.MatMul(x, w), t);
        var loss = b.Divide(b.ReduceSum(b.Multiply(r, r), 0, 1), b.Constant(ElementType.F32, n));
        var grad = b.Dot(x, r, new DotDimensionNumbers(new long[] { 0 }, new long[] { 0 }));
        var scale = b.Full(ElementType.F32, 2.0 * learningRate / n, new Dim[] { d, k });
        var next = b.Subtract(w, b.Multiply(scale, grad));
        return b.BuildModule(b.Tuple(next, loss));
    }

    /// <summary>y = copy(x) for any element type and dims.</summary>
    public static HloModule Copy(ElementType type, params long[] dims)
    {
        var b = new HloBuilder("copy_" + type.TextName());
        var x = b.Parameter(Shape.Array(type, dims), "x");
        return b.BuildModule(b.Unary("copy", x));
    }

    /// <summary>x + y, f32[n].</summary>
    public static HloModule AddVectors(long n)
    {
        var b = new HloBuilder("add_vectors");
        var x = b.Parameter(F32(n), "x");
        var y = b.Parameter(F32(n), "y");
        return b.BuildModule(b.Add(x, y));
    }

    /// <summary>
    /// A loop that runs <c>count</c> (an s32 argument) times: v = tanh(v·m) with m f32[size,size]. Slow on purpose,
    /// for shutdown tests: its running time grows with count.
    /// </summary>
    public static HloModule SlowLoop(long size)
    {
        var b = new HloBuilder("slow_loop");
        var state = Shape.Tuple(Shape.Scalar(ElementType.S32), Shape.Scalar(ElementType.S32), F32(size, size), F32(size, size));

        var cond = b.CreateSubBuilder("cond");
        var cs = cond.Parameter(state, "s");
        var condition = cond.Build(cond.Compare(cond.GetTupleElement(cs, 0), cond.GetTupleElement(cs, 1), "LT"));

        var body = b.CreateSubBuilder("body");
        var bs = body.Parameter(state, "s");
        var i = body.GetTupleElement(bs, 0);
        var limit = body.GetTupleElement(bs, 1);
        var v = body.GetTupleElement(bs, 2);
        var m = body.GetTupleElement(bs, 3);
        var next = body.Tanh(body.MatMul(v, m));
        var loopBody = body.Build(body.Tuple(body.Add(i, body.Constant(ElementType.S32, 1)), limit, next, m));

        var count = b.Parameter(Shape.Scalar(ElementType.S32), "count");
        var v0 = b.Parameter(F32(size, size), "v0");
        var m0 = b.Parameter(F32(size, size), "m");
        var init = b.Tuple(b.Constant(ElementType.S32, 0), count, v0, m0);
        var loop = b.AddInstruction("while", new[] { init }, called: new[] { loopBody, condition });
        return b.BuildModule(b.GetTupleElement(loop, 2));
    }

    /// <summary>What the server counts against the byte budgets for a compiled program of <paramref name="module"/>
    /// (CachedProgram.Estimate: its proto bytes, 1 KiB per instruction, its constants; at least 1 KiB).</summary>
    public static long ProgramCharge(HloModule module)
    {
        var bytes = HloProto.Write(module);
        long total = bytes.Length;
        foreach (var c in HloProto.Read(bytes).Computations)
        {
            total += c.Instructions.Count * 1024L;
            foreach (var ins in c.Instructions)
                if (ins.Opcode == "constant" && ins.Shape.IsArray) total += ins.Shape.ElementCount * ins.Shape.ElementType.ByteSize();
        }
        return Math.Max(total, 1024);
    }

    public static Tensor<float> Random(int seed, params long[] dims)
    {
        var rng = new Random(seed);
        long n = dims.Aggregate(1L, (a, c) => a * c);
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return new Tensor<float>(dims, data);
    }
}
