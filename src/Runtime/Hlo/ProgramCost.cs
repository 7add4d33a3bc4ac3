namespace XlaGen.Hlo;

/// <summary>
/// What running a module once costs, estimated from its instructions before it runs: <see cref="Operations"/>
/// counts arithmetic (a multiply-add of a dot or convolution is two, every element an elementwise op writes is one,
/// every call of an applied computation such as a reducer or comparator costs that computation's operations) and
/// <see cref="Bytes"/> the bytes each instruction reads (its operands) and writes (its result). Windowed and
/// reducing ops count every window element they visit: a reduce-window over f32[1024,1024] with a 512x512 window is
/// 513² · 512² ≈ 6.9e10 operations although it reads 4 MiB. A while loop's body and condition count once (the trip
/// count is a run-time value; --max-execution-time bounds loops); a conditional counts its most expensive branch.
/// Doubles throughout: an estimate never overflows.
/// </summary>
public readonly record struct ProgramCost(double Operations, double Bytes)
{
    /// <summary>The cost of running both: operations and bytes add.</summary>
    public static ProgramCost operator +(ProgramCost a, ProgramCost b) => new(a.Operations + b.Operations, a.Bytes + b.Bytes);

    /// <summary>The cost of running <paramref name="c"/> <paramref name="k"/> times: operations and bytes scale by <paramref name="k"/>.</summary>
    public static ProgramCost operator *(double k, ProgramCost c) => new(k * c.Operations, k * c.Bytes);

    /// <summary>The cost of one run of <paramref name="module"/>'s entry computation. Computations are visited with an
    /// explicit stack (a module's call depth cannot overflow the thread's stack) and each is costed once.</summary>
    public static ProgramCost Estimate(HloModule module)
    {
        var done = new Dictionary<HloComputation, ProgramCost>(ReferenceEqualityComparer.Instance);
        var onStack = new HashSet<HloComputation>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<HloComputation>();
        stack.Push(module.Entry);
        while (stack.Count > 0)
        {
            var c = stack.Peek();
            if (done.ContainsKey(c))
            {
                stack.Pop();
                continue;
            }
            bool ready = true;
            if (onStack.Add(c))
            {
                foreach (var ins in c.Instructions)
                {
                    foreach (var callee in ins.CalledComputations)
                    {
                        if (done.ContainsKey(callee)) continue;
                        if (onStack.Contains(callee)) throw new ArgumentException($"computation %{callee.Name} calls itself (through %{c.Name}): a module's calls cannot be cyclic");
                        stack.Push(callee);
                        ready = false;
                    }
                }
            }
            if (!ready) continue;
            stack.Pop();
            onStack.Remove(c);
            var total = default(ProgramCost);
            foreach (var ins in c.Instructions) total += Instruction(ins, done);
            done[c] = total;
        }
        return done[module.Entry];
    }

    static ProgramCost Instruction(HloInstruction ins, Dictionary<HloComputation, ProgramCost> done)
    {
        ProgramCost Called(int i) => done[ins.CalledComputations[i]];
        // a scalar computation applied per element costs at least one operation per call
        ProgramCost Applied(int i) => new(Math.Max(1, Called(i).Operations), Called(i).Bytes);
        double outElements = Elements(ins.Shape);
        var own = new ProgramCost(outElements, ShapeBytes(ins.Shape) + ins.Operands.Sum(o => ShapeBytes(o.Shape)));
        switch (ins.Opcode)
        {
            case "parameter":
            case "constant":
            case "tuple":
            case "get-tuple-element":
            case "bitcast":
            case "after-all":
                return default;
            case "dot":
            {
                var lhs = ins.Operands[0].Shape;
                double contracted = ins.Attributes.Dot?.LhsContracting.Aggregate(1.0, (a, d) => a * lhs.Dims[(int)d].Factor) ?? 1;
                return own with { Operations = 2 * outElements * contracted };
            }
            case "convolution":
            {
                var rhs = ins.Operands[1].Shape;
                var dn = ins.Attributes.Convolution;
                double outFeatures = dn != null ? Math.Max(1, rhs.Dims[(int)dn.KernelOutputFeatureDimension].Factor) : 1;
                return own with { Operations = 2 * outElements * (Elements(rhs) / outFeatures) };
            }
            case "reduce":
                return own with { Operations = Elements(ins.Operands[0].Shape) * Applied(0).Operations };
            case "reduce-window":
            {
                int k = ins.Operands.Count / 2;
                double outputs = Elements(FirstLeaf(ins.Shape));
                return own with { Operations = outputs * WindowSize(ins) * k * Applied(0).Operations };
            }
            case "select-and-scatter":
            {
                double sources = Elements(ins.Operands[1].Shape);
                return own with { Operations = outElements + sources * (WindowSize(ins) * Applied(0).Operations + Applied(1).Operations) };
            }
            case "all-gather":
                return own;
            case "map":
            case "all-reduce":
            case "reduce-scatter":
                return own with { Operations = outElements * (ins.CalledComputations.Count > 0 ? Applied(0).Operations : 1) };
            case "scatter":
            {
                int k = (ins.Operands.Count - 1) / 2;
                double updates = ins.Operands.Skip(k + 1).Sum(o => Elements(o.Shape));
                return own with { Operations = outElements + updates * Applied(0).Operations };
            }
            case "rng-bit-generator":
                // Threefry-2x32 (20 rounds) or Philox-4x32 (10 rounds): a few dozen integer operations per 32-bit word
                return own with { Operations = 40 * Elements(ins.Shape.TupleShapes[1]) };
            case "sort":
            {
                var first = ins.Operands[0].Shape;
                long axis = ins.Attributes.Dimensions is { Length: > 0 } d ? d[0] : Math.Max(0, first.Dims.Count - 1);
                double n = first.Dims.Count > 0 ? Math.Max(2, first.Dims[(int)axis].Factor) : 2;
                return own with { Operations = Elements(first) * Math.Log2(n) * Applied(0).Operations };
            }
            case "while":
                return own with { Operations = 0 } + Called(0) + Called(1);
            case "conditional":
            {
                var worst = default(ProgramCost);
                for (int i = 0; i < ins.CalledComputations.Count; i++)
                {
                    var b = Called(i);
                    if (b.Operations > worst.Operations) worst = b;
                }
                return own with { Operations = 0 } + worst;
            }
            default:
            {
                var callees = default(ProgramCost);
                for (int i = 0; i < ins.CalledComputations.Count; i++) callees += Called(i);
                return ins.CalledComputations.Count > 0 ? own with { Operations = 0 } + callees : own;
            }
        }
    }

    static double WindowSize(HloInstruction ins) => ins.Attributes.Window?.Aggregate(1.0, (a, w) => a * Math.Max(1, w.Size)) ?? 1;

    static Shape FirstLeaf(Shape s)
    {
        while (s.IsTuple && s.TupleShapes.Count > 0) s = s.TupleShapes[0];
        return s;
    }

    /// <summary>Elements of every array leaf (symbolic dimensions count their constant factor).</summary>
    static double Elements(Shape s)
    {
        if (s.IsTuple) return s.TupleShapes.Sum(Elements);
        if (!s.IsArray) return 0;
        double n = 1;
        foreach (var d in s.Dims) n *= d.Factor;
        return n;
    }

    static double ShapeBytes(Shape s)
    {
        if (s.IsTuple) return s.TupleShapes.Sum(ShapeBytes);
        if (!s.IsArray) return 0;
        return Elements(s) * ElementBytes(s.ElementType);
    }

    static int ElementBytes(ElementType t)
    {
        try
        {
            return Math.Max(1, t.ByteSize());
        }
        catch (ArgumentException)
        {
            return 1;   // sub-byte and opaque types: at most one byte per element
        }
    }
}
