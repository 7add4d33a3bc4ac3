using System;
using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>A computation: instructions in dependency order (operands first), a root, parameters by number.</summary>
    public sealed class HloComputation
    {
        readonly List<HloInstruction> instructions = new List<HloInstruction>();

        /// <summary>An empty computation; add instructions with <see cref="Add"/> and set <see cref="Root"/>. Usually made by an <see cref="HloBuilder"/>.</summary>
        /// <param name="id">HloComputationProto.id, unique within the module.</param>
        /// <param name="name">The name, printed as %name and unique among the module's computations.</param>
        public HloComputation(long id, string name)
        {
            Id = id;
            Name = name;
        }

        /// <summary>HloComputationProto.id, unique within the module.</summary>
        public long Id { get; set; }

        /// <summary>The name, printed as %name; unique among the module's computations.</summary>
        public string Name { get; set; }

        /// <summary>The instructions in the order they were added (operands first for a well-formed computation; see <see cref="SortTopologically"/>).</summary>
        public IReadOnlyList<HloInstruction> Instructions => instructions;

        /// <summary>The instruction whose value the computation returns; null until set (the builder's <see cref="HloBuilder.Build"/> sets it).</summary>
        public HloInstruction Root { get; set; } = null!;

        /// <summary>HloComputationProto.is_fusion_computation: whether this is the body of a fusion instruction, kept so a proto round trip preserves it.</summary>
        public bool IsFusionComputation { get; set; }

        /// <summary>Parameters ordered by parameter number.</summary>
        public IReadOnlyList<HloInstruction> Parameters =>
            instructions.Where(i => i.Opcode == "parameter").OrderBy(i => i.Attributes.ParameterNumber).ToList();

        /// <summary>Appends <paramref name="instruction"/> unchecked and makes this computation its <see cref="HloInstruction.Parent"/>;
        /// use <see cref="HloBuilder.AddInstruction"/> for shape checking.</summary>
        /// <returns><paramref name="instruction"/>.</returns>
        public HloInstruction Add(HloInstruction instruction)
        {
            instruction.Parent = this;
            instructions.Add(instruction);
            return instruction;
        }

        /// <summary>Drops instructions the root does not depend on (parameters always stay), keeping order.</summary>
        public void RemoveDeadInstructions()
        {
            var live = new HashSet<HloInstruction>();
            var stack = new Stack<HloInstruction>();
            stack.Push(Root);
            while (stack.Count > 0)
            {
                var i = stack.Pop();
                if (!live.Add(i)) continue;
                foreach (var o in i.Operands) stack.Push(o);
            }
            instructions.RemoveAll(i => !live.Contains(i) && i.Opcode != "parameter");
        }

        /// <summary>Reorders instructions so every operand precedes its users (stable for already-ordered input).</summary>
        public void SortTopologically()
        {
            var order = new List<HloInstruction>(instructions.Count);
            var state = new Dictionary<HloInstruction, int>();
            foreach (var i in instructions) Visit(i);
            instructions.Clear();
            instructions.AddRange(order);

            void Visit(HloInstruction root)
            {
                var stack = new Stack<(HloInstruction, int)>();
                stack.Push((root, 0));
                while (stack.Count > 0)
                {
                    var (node, next) = stack.Pop();
                    if (next == 0)
                    {
                        if (state.TryGetValue(node, out var s))
                        {
                            if (s == 1) throw new InvalidOperationException($"computation %{Name} has a cycle through {node.Describe()}");
                            continue;
                        }
                        state[node] = 1;
                    }
                    if (next < node.Operands.Count)
                    {
                        stack.Push((node, next + 1));
                        stack.Push((node.Operands[next], 0));
                    }
                    else
                    {
                        state[node] = 2;
                        order.Add(node);
                    }
                }
            }
        }

        /// <summary>The shape of <see cref="Root"/>.</summary>
        public Shape ResultShape => Root.Shape;

        /// <summary>The name as HLO text refers to it: %name.</summary>
        public override string ToString() => $"%{Name}";
    }
}
