using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>An HLO module: computations with callees before callers, and the entry computation last.</summary>
    public sealed class HloModule
    {
        /// <summary>A module of <paramref name="computations"/> (callees before callers, the entry among them, last by
        /// convention); the sequence is copied into <see cref="Computations"/>.</summary>
        /// <param name="name">The module's name (HloModule name in HLO text).</param>
        /// <param name="computations">Every computation of the module.</param>
        /// <param name="entry">The computation that runs; its parameters are the program's arguments.</param>
        /// <param name="id">HloModuleProto.id; 0 by default.</param>
        public HloModule(string name, IEnumerable<HloComputation> computations, HloComputation entry, long id = 0)
        {
            Name = name;
            Computations = computations.ToList();
            Entry = entry;
            Id = id;
        }

        /// <summary>The module's name, as HLO text writes it after <c>HloModule</c>.</summary>
        public string Name { get; set; }

        /// <summary>HloModuleProto.id (0 unless a proto said otherwise).</summary>
        public long Id { get; set; }

        /// <summary>Every computation, callees before callers; mutable so passes can drop or add computations.</summary>
        public List<HloComputation> Computations { get; }

        /// <summary>The entry computation: its parameters are the program's arguments and its root the program's result.</summary>
        public HloComputation Entry { get; set; }

        /// <summary>input_output_alias: result elements that reuse (donate) an argument's buffer; empty when nothing is donated.</summary>
        public List<InputOutputAlias> InputOutputAliases { get; } = new List<InputOutputAlias>();

        /// <summary>Every instruction of every computation, computation by computation in <see cref="Computations"/> order.</summary>
        public IEnumerable<HloInstruction> AllInstructions => Computations.SelectMany(c => c.Instructions);

        /// <summary>The shapes of the entry computation's parameters, by parameter number.</summary>
        public IReadOnlyList<Shape> ParameterShapes => Entry.Parameters.Select(p => p.Shape).ToList();

        /// <summary>The shape of the entry computation's root (a tuple for several results).</summary>
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
