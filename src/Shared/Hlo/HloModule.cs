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

        /// <summary>Drops the entry's instructions its root does not depend on, then the computations nothing left calls
        /// (what XLA's DCE would remove anyway, so the program a user reviews and ships is the one that runs).</summary>
        public void RemoveDeadCode()
        {
            Entry.RemoveDeadInstructions();
            var live = new HashSet<HloComputation> { Entry };
            for (int i = Computations.Count - 1; i >= 0; i--)
            {
                var c = Computations[i];
                if (!live.Contains(c)) continue;
                foreach (var ins in c.Instructions)
                {
                    foreach (var callee in ins.CalledComputations) live.Add(callee);
                }
            }
            Computations.RemoveAll(c => !live.Contains(c));
        }

        /// <summary>The module as XLA HLO text.</summary>
        public override string ToString() => HloPrinter.Print(this);
    }
}
