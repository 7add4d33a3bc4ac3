using System;
using System.Collections.Generic;
using System.Linq;
using XlaGen.Ops;

namespace XlaGen.Hlo
{
    /// <summary>An HLO module broke a structural or shape rule. <see cref="Problems"/> lists each, naming the instruction.</summary>
    public sealed class HloVerificationException : Exception
    {
        /// <summary>An error for module <paramref name="moduleName"/> listing <paramref name="problems"/> (the message shows the first ten).</summary>
        public HloVerificationException(string moduleName, IReadOnlyList<string> problems)
            : base($"HLO module '{moduleName}' is invalid: " + string.Join("; ", problems.Take(10)) + (problems.Count > 10 ? $"; and {problems.Count - 10} more" : ""))
        {
            Problems = problems;
        }

        /// <summary>Every problem found, one sentence each, naming the instruction or computation.</summary>
        public IReadOnlyList<string> Problems { get; }
    }

    /// <summary>
    /// Checks a module the way XLA's HloVerifier does the parts we rely on: known opcodes, operands defined
    /// before use in the same computation, callees listed before callers, unique names and ids, parameter
    /// numbers 0..n-1, and every instruction's shape equal to what the op catalogue infers.
    /// </summary>
    public static class HloVerifier
    {
        /// <summary>How deep computations may call one another (entry → while body → call → reducer … counts each
        /// level). Real programs nest a handful of levels; the limit keeps every recursive walk over the call graph
        /// (proto reading and writing, compiling, running) far from the end of a thread's stack, so a hostile module
        /// is an error, not a crashed process.</summary>
        public const int MaxCallDepth = 128;

        /// <summary>Checks <paramref name="module"/> as <see cref="Check"/> does and throws when anything is wrong.</summary>
        /// <exception cref="HloVerificationException">The module broke at least one rule; <see cref="HloVerificationException.Problems"/> lists them all.</exception>
        public static void Verify(HloModule module)
        {
            var problems = Check(module);
            if (problems.Count > 0) throw new HloVerificationException(module.Name, problems);
        }

        /// <summary>Every rule <paramref name="module"/> breaks, one sentence each; empty when the module is valid.</summary>
        public static IReadOnlyList<string> Check(HloModule module)
        {
            var problems = new List<string>();
            if (module.Computations.Count == 0) return new[] { "the module has no computations" };
            if (!module.Computations.Contains(module.Entry)) problems.Add($"entry computation %{module.Entry.Name} is not one of the module's computations");
            var seenComputations = new HashSet<HloComputation>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var ids = new HashSet<long>();
            var computationNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in module.Computations)
            {
                if (!computationNames.Add(c.Name)) problems.Add($"two computations are named %{c.Name}");
                CheckComputation(c, seenComputations, names, ids, problems);
                seenComputations.Add(c);
            }
            // Callees are listed before callers (checked above), so one pass gives every computation's nesting depth.
            var depth = new Dictionary<HloComputation, int>();
            foreach (var c in module.Computations)
            {
                int d = 1;
                foreach (var ins in c.Instructions)
                {
                    foreach (var callee in ins.CalledComputations) d = Math.Max(d, 1 + (depth.TryGetValue(callee, out var cd) ? cd : 1));
                }
                depth[c] = d;
                if (d == MaxCallDepth + 1) problems.Add($"computations nest {d} calls deep at %{c.Name}, more than the {MaxCallDepth} XlaGen accepts");
            }
            foreach (var p in module.Entry.Parameters.Concat(new[] { module.Entry.Root }).Where(i => i != null))
            {
                if (!p.Shape.IsStatic) problems.Add($"entry {p.Describe()} has the symbolic shape {p.Shape}; bind every symbolic dimension");
            }
            return problems;
        }

        static void CheckComputation(HloComputation c, HashSet<HloComputation> earlier, HashSet<string> names, HashSet<long> ids, List<string> problems)
        {
            string where(HloInstruction i) => $"{i.Describe()} in %{c.Name}";
            if (c.Root == null)
            {
                problems.Add($"computation %{c.Name} has no root");
                return;
            }
            if (!c.Instructions.Contains(c.Root)) problems.Add($"the root {c.Root.Describe()} of %{c.Name} is not one of its instructions");
            var defined = new HashSet<HloInstruction>();
            var parameterNumbers = new HashSet<long>();
            foreach (var ins in c.Instructions)
            {
                if (string.IsNullOrEmpty(ins.Name)) problems.Add($"an instruction of %{c.Name} ({ins.Opcode}) has no name");
                else if (!names.Add(ins.Name)) problems.Add($"the name %{ins.Name} is used twice");
                if (ins.Id < 0) problems.Add($"{where(ins)} has the negative id {ins.Id}");
                else if (!ids.Add(ins.Id)) problems.Add($"{where(ins)} reuses id {ins.Id}");
                foreach (var o in ins.Operands)
                {
                    if (!defined.Contains(o))
                        problems.Add(o.Parent == c ? $"{where(ins)} uses {o.Describe()} before it is defined" : $"{where(ins)} uses {o.Describe()} of another computation");
                }
                foreach (var callee in ins.CalledComputations)
                {
                    if (!earlier.Contains(callee)) problems.Add($"{where(ins)} calls %{callee.Name}, which is not listed before %{c.Name}");
                }
                if (ins.Opcode == "parameter" && !parameterNumbers.Add(ins.Attributes.ParameterNumber))
                    problems.Add($"{where(ins)}: parameter number {ins.Attributes.ParameterNumber} is used twice");
                defined.Add(ins);
                if (!OpCatalogue.TryGet(ins.Opcode, out var op))
                {
                    problems.Add($"{where(ins)}: unknown opcode '{ins.Opcode}'");
                    continue;
                }
                try
                {
                    var inferred = op.InferShape(new ShapeQuery(ins.Opcode, ins.Operands.Select(o => o.Shape).ToList(), ins.Attributes, ins.CalledComputations, ins.Shape));
                    if (!inferred.Equals(ins.Shape)) problems.Add($"{where(ins)} has shape {ins.Shape} but its operands give {inferred}");
                }
                catch (ShapeException e)
                {
                    problems.Add($"{where(ins)}: {e.Message}");
                }
                catch (Exception e) when (e is ArgumentException || e is IndexOutOfRangeException || e is InvalidOperationException)
                {
                    problems.Add($"{where(ins)}: {e.Message}");
                }
            }
            for (long n = 0; n < parameterNumbers.Count; n++)
            {
                if (!parameterNumbers.Contains(n)) problems.Add($"%{c.Name} has {parameterNumbers.Count} parameters but no parameter {n}");
            }
        }
    }
}
