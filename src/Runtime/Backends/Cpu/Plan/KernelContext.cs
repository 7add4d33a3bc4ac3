using XlaGen.Hlo;

namespace XlaGen.Backends.Cpu.Plan;

/// <summary>
/// What a kernel factory (a <c>HandleXxx</c> method) sees at compile time: the instruction, the slots of its
/// operands and result, liveness-based in-place candidates, and the compiler for called computations.
/// </summary>
internal sealed class KernelContext
{
    readonly ComputationCompiler owner;

    internal KernelContext(ComputationCompiler owner, HloInstruction instruction, int index)
    {
        this.owner = owner;
        Instruction = instruction;
        Index = index;
    }

    public HloInstruction Instruction { get; }

    /// <summary>Position of the instruction in its computation.</summary>
    public int Index { get; }

    public CpuCompiler Compiler => owner.Compiler;

    public Shape Shape => Instruction.Shape;

    public ElementType ElementType => Instruction.Shape.ElementType;

    /// <summary>The shape of operand <paramref name="i"/> as the program states it (a scalar-broadcast operand keeps
    /// its array shape here; see <see cref="IsScalar"/>).</summary>
    public Shape OperandShape(int i) => Instruction.Operands[i].Shape;

    /// <summary>True when operand <paramref name="i"/> is broadcast(scalar) and the kernel must read the scalar
    /// from <see cref="In"/> (a one-element array) instead of an array of the result's size.</summary>
    public bool IsScalar(int i) => owner.IsScalarOperand(Instruction, i);

    public int OperandCount => Instruction.Operands.Count;

    /// <summary>The slot of array operand <paramref name="i"/>.</summary>
    public int In(int i) => owner.SlotOf(owner.Operand(Instruction, i));

    /// <summary>The slots of every array leaf of operand <paramref name="i"/> (one for an array).</summary>
    public int[] InLeaves(int i) => owner.LeafSlots(owner.Operand(Instruction, i));

    /// <summary>The first (for an array, the only) result slot.</summary>
    public int Out => owner.SlotOf(Instruction);

    public int[] OutLeaves => owner.LeafSlots(Instruction);

    /// <summary>Element count of an array shape as an int (the compiler has checked it fits).</summary>
    public static int Count(Shape s) => checked((int)s.ElementCount);

    public int OutCount => Count(Shape);

    /// <summary>The slot of operand <paramref name="i"/> when the result may be written into it: this instruction is
    /// the operand's last use and the operand has the result's element type and size. -1 otherwise. The frame
    /// still checks at run time that the storage is owned and unshared.</summary>
    public int InPlace(int i) => InPlace(i, Instruction.Shape);

    /// <summary>Whether this instruction is the last reader of operand <paramref name="i"/> (its leaves may then be
    /// handed over, see <see cref="Frame.TryTake"/>).</summary>
    public bool IsLastUse(int i) => owner.LastUse(owner.Operand(Instruction, i)) == Index;

    /// <summary>As <see cref="InPlace(int)"/> for a result leaf of shape <paramref name="leaf"/> (a multi-output fusion).</summary>
    public int InPlace(int i, Shape leaf)
    {
        var o = owner.Operand(Instruction, i);
        if (!o.Shape.IsArray || !leaf.IsArray) return -1;
        if (o.Shape.ElementType != leaf.ElementType || o.Shape.ElementCount != leaf.ElementCount) return -1;
        return owner.LastUse(o) == Index ? owner.SlotOf(o) : -1;
    }

    public XlaCompileException Error(string message) =>
        new($"{Instruction.Describe()} in %{Instruction.Parent?.Name}: {message}");
}
