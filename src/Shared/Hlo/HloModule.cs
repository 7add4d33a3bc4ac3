using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>An HLO module: computations with callees before callers, and the entry computation last.</summary>
    public sealed class HloModule
    {
        public HloModule(string name, IEnumerable<HloComputation> computations, HloComputation entry, long id = 0)
        {
            Name = name;
            Computations = computations.ToList();
            Entry = entry;
            Id = id;
        }

        public string Name { get; set; }

        public long Id { get; set; }

        public List<HloComputation> Computations { get; }

        public HloComputation Entry { get; set; }

        public List<InputOutputAlias> InputOutputAliases { get; } = new List<InputOutputAlias>();

        public IEnumerable<HloInstruction> AllInstructions => Computations.SelectMany(c => c.Instructions);

        public IReadOnlyList<Shape> ParameterShapes => Entry.Parameters.Select(p => p.Shape).ToList();

        public Shape ResultShape => Entry.Root.Shape;

        /// <summary>The module as XLA HLO text.</summary>
        public override string ToString() => HloPrinter.Print(this);
    }
}
