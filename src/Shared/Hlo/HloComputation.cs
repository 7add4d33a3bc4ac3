using System;
using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>A computation: instructions in dependency order (operands first), a root, parameters by number.</summary>
    public sealed class HloComputation
    {
        readonly List<HloInstruction> instructions = new List<HloInstruction>();

        public HloComputation(long id, string name)
        {
            Id = id;
            Name = name;
        }

        public long Id { get; set; }

        public string Name { get; set; }

        public IReadOnlyList<HloInstruction> Instructions => instructions;

        public HloInstruction Root { get; set; } = null!;

        public bool IsFusionComputation { get; set; }

        /// <summary>Parameters ordered by parameter number.</summary>
        public IReadOnlyList<HloInstruction> Parameters =>
            instructions.Where(i => i.Opcode == "parameter").OrderBy(i => i.Attributes.ParameterNumber).ToList();

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

        public Shape ResultShape => Root.Shape;

        public override string ToString() => $"%{Name}";
    }
}
