using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>One HLO instruction: opcode (the catalogue key), result shape, operands, called computations, attributes.</summary>
    public sealed class HloInstruction
    {
        /// <summary>An instruction, unchecked; <see cref="HloBuilder.AddInstruction"/> makes one after checking it against the op catalogue.</summary>
        /// <param name="id">HloInstructionProto.id, unique within the module.</param>
        /// <param name="name">The name, printed as %name, unique within the module.</param>
        /// <param name="opcode">The HLO opcode (add, dot, get-tuple-element, …).</param>
        /// <param name="shape">The result shape.</param>
        /// <param name="operands">The operands in order; null means none.</param>
        /// <param name="attributes">The op-specific fields; null means all defaults.</param>
        /// <param name="called">The computations it calls (reducer, loop condition and body, …); null means none.</param>
        /// <param name="metadata">Where it came from; null means nothing is known.</param>
        public HloInstruction(long id, string name, string opcode, Shape shape,
            IEnumerable<HloInstruction>? operands = null, HloAttributes? attributes = null,
            IEnumerable<HloComputation>? called = null, OpMetadata? metadata = null)
        {
            Id = id;
            Name = name;
            Opcode = opcode;
            Shape = shape;
            Operands = operands?.ToList() ?? new List<HloInstruction>();
            Attributes = attributes ?? new HloAttributes();
            CalledComputations = called?.ToList() ?? new List<HloComputation>();
            Metadata = metadata;
        }

        /// <summary>Unique within the module (HloInstructionProto.id).</summary>
        public long Id { get; set; }

        /// <summary>Unique within the module, printed as %name.</summary>
        public string Name { get; set; }

        /// <summary>The HLO opcode spelling: add, dot, get-tuple-element …</summary>
        public string Opcode { get; }

        /// <summary>The result shape (with a layout where the program states one).</summary>
        public Shape Shape { get; set; }

        /// <summary>The operands, in order; each belongs to the same computation.</summary>
        public List<HloInstruction> Operands { get; }

        /// <summary>The computations this instruction calls (to_apply, condition and body, branches, fused computation), in HLO text order.</summary>
        public List<HloComputation> CalledComputations { get; }

        /// <summary>The op-specific fields (dimensions, window, literal, …); unused fields keep their defaults.</summary>
        public HloAttributes Attributes { get; }

        /// <summary>Where the instruction came from (op name, C# file and line); null when unknown.</summary>
        public OpMetadata? Metadata { get; set; }

        /// <summary>Owning computation; set when added.</summary>
        public HloComputation? Parent { get; internal set; }

        /// <summary>Operand <paramref name="i"/> (from 0).</summary>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="i"/> is not an operand index.</exception>
        public HloInstruction Operand(int i) => Operands[i];

        /// <summary>A one-line summary for debugging: <c>%name = f32[2,3]{1,0} opcode(...)</c>.</summary>
        public override string ToString() => $"%{Name} = {Shape.ToString(true)} {Opcode}(...)";

        /// <summary>"%name (opcode)" for error messages.</summary>
        public string Describe() => $"%{Name} ({Opcode})";
    }
}
