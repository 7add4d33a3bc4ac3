using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>One HLO instruction: opcode (the catalogue key), result shape, operands, called computations, attributes.</summary>
    public sealed class HloInstruction
    {
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

        public Shape Shape { get; set; }

        public List<HloInstruction> Operands { get; }

        public List<HloComputation> CalledComputations { get; }

        public HloAttributes Attributes { get; }

        public OpMetadata? Metadata { get; set; }

        /// <summary>Owning computation; set when added.</summary>
        public HloComputation? Parent { get; internal set; }

        public HloInstruction Operand(int i) => Operands[i];

        public override string ToString() => $"%{Name} = {Shape.ToString(true)} {Opcode}(...)";

        /// <summary>"%name (opcode)" for error messages.</summary>
        public string Describe() => $"%{Name} ({Opcode})";
    }
}
