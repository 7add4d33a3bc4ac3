using XlaGen.Backends.Cpu.Plan;

namespace XlaGen.Backends.Cpu.Kernels;

/// <summary>The CPU kernel table, keyed by HLO opcode like the op catalogue (a test checks they cover each other). The
/// catalogue's unary and binary entries all go to the elementwise kernels, which pick the op struct in <see cref="OpSelect"/>.</summary>
internal static class KernelRegistry
{
    static readonly Dictionary<string, Func<KernelContext, Kernel>> Handlers = Build();

    static Dictionary<string, Func<KernelContext, Kernel>> Build()
    {
        var d = new Dictionary<string, Func<KernelContext, Kernel>>(StringComparer.Ordinal)
        {
            ["parameter"] = DataMovement.HandleParameter,
            ["constant"] = DataMovement.HandleConstant,
            ["iota"] = DataMovement.HandleIota,
            ["convert"] = Elementwise.HandleConvert,
            ["copy"] = DataMovement.HandleAlias,
            ["compare"] = Elementwise.HandleCompare,
            ["select"] = Elementwise.HandleSelect,
            ["clamp"] = Elementwise.HandleClamp,
            ["broadcast"] = DataMovement.HandleBroadcast,
            ["reshape"] = DataMovement.HandleAlias,
            ["bitcast"] = DataMovement.HandleAlias,
            ["transpose"] = DataMovement.HandleTranspose,
            ["reverse"] = DataMovement.HandleReverse,
            ["slice"] = DataMovement.HandleSlice,
            ["concatenate"] = DataMovement.HandleConcatenate,
            ["pad"] = DataMovement.HandlePad,
            ["dot"] = Dot.HandleDot,
            ["reduce"] = Reduce.HandleReduce,
            ["tuple"] = Control.HandleTuple,
            ["get-tuple-element"] = Control.HandleGetTupleElement,
            ["call"] = Control.HandleCall,
            ["fusion"] = ctx => LoopFusionKernel.TryCreate(ctx) ?? Control.HandleCall(ctx),
            ["map"] = Control.HandleMap,
            ["while"] = Control.HandleWhile,
            ["sort"] = Sort.HandleSort,
            ["get-dimension-size"] = DynamicSlice.HandleGetDimensionSize,
            ["dynamic-slice"] = DynamicSlice.HandleDynamicSlice,
            ["dynamic-update-slice"] = DynamicSlice.HandleDynamicUpdateSlice,
            ["gather"] = Gather.HandleGather,
            ["scatter"] = Scatter.HandleScatter,
            ["convolution"] = Convolution.HandleConvolution,
            ["reduce-window"] = ReduceWindow.HandleReduceWindow,
            ["select-and-scatter"] = SelectAndScatter.HandleSelectAndScatter,
            ["rng-bit-generator"] = Rng.HandleRngBitGenerator,
            ["all-reduce"] = Collectives.HandleAllReduce,
            ["all-gather"] = Collectives.HandleAllGather,
            ["reduce-scatter"] = Collectives.HandleReduceScatter,
            ["replica-id"] = Collectives.HandleReplicaId,
        };
        foreach (var op in OpSelect.UnaryOpcodes) d[op] = Elementwise.HandleUnary;
        foreach (var op in OpSelect.BinaryOpcodes) d[op] = Elementwise.HandleBinary;
        return d;
    }

    public static IReadOnlyCollection<string> Opcodes => Handlers.Keys;

    public static bool Has(string opcode) => Handlers.ContainsKey(opcode);

    public static Kernel Create(KernelContext ctx) => Handlers[ctx.Instruction.Opcode](ctx);
}
