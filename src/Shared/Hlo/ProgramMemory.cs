using System;
using System.Collections.Generic;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>
    /// A build-time estimate of the device memory one run of a program needs, as polynomials in its symbolic dims.
    /// The model is an unfused schedule in definition order (the order the instructions are listed, which is a
    /// topological order): every instruction the root depends on writes its result into a new buffer, which is live from
    /// its definition to its last use; parameters and constants are live for the whole run (the caller, or the
    /// executable, holds them; a <c>get-dimension-size</c> counts as the constant it becomes once symbols are bound); the root's buffers are live to the end (they are the outputs). <c>tuple</c>,
    /// <c>get-tuple-element</c>, <c>bitcast</c> and a <c>reshape</c> between default (row-major) layouts make no new
    /// buffer: they are views of their operands' buffers (XLA turns such a reshape into a bitcast). An instruction's
    /// operands and its result are live together; <c>call</c>, <c>while</c> and <c>conditional</c> add their callee's
    /// peak less its parameters while they run; scalar reducers (<c>to_apply</c>) count nothing.
    /// This is an estimate in the style of an upper bound, not XLA's buffer assignment: fusion and in-place reuse only
    /// lower the real figure. It is exact for the schedule it models.
    /// </summary>
    public sealed class ProgramMemory
    {
        /// <summary>At most this many candidate peaks are kept; more are merged into their coefficient-wise maximum.</summary>
        public const int MaxPeakCandidates = 8;

        ProgramMemory(SymbolicBytes arguments, SymbolicBytes outputs, IReadOnlyList<SymbolicBytes> peakCandidates)
        {
            Arguments = arguments;
            Outputs = outputs;
            PeakCandidates = peakCandidates;
        }

        /// <summary>Bytes of the entry computation's parameters (the program's inputs and the model's parameters).</summary>
        public SymbolicBytes Arguments { get; }

        /// <summary>Bytes of the root's buffers.</summary>
        public SymbolicBytes Outputs { get; }

        /// <summary>
        /// The live bytes at the points of the schedule that can be the peak: no candidate is coefficient-wise at most
        /// another, so which one is largest depends on the symbol values. The peak for given values is the largest
        /// candidate evaluated at them (<see cref="PeakFor"/>). With more than <see cref="MaxPeakCandidates"/>
        /// non-dominated points the list is replaced by one coefficient-wise maximum (still at least the peak).
        /// </summary>
        public IReadOnlyList<SymbolicBytes> PeakCandidates { get; }

        /// <summary>One formula at least as large as the peak for every non-negative value of the symbols: the
        /// coefficient-wise maximum of the candidates (the peak itself when there is one candidate).</summary>
        public SymbolicBytes PeakBound => PeakCandidates.Aggregate(SymbolicBytes.Zero, SymbolicBytes.Max);

        /// <summary>The peak in bytes for the given symbol values: the largest of <see cref="PeakCandidates"/> evaluated at
        /// <paramref name="symbols"/> (0 when there are none).</summary>
        /// <exception cref="KeyNotFoundException">A candidate mentions a symbol <paramref name="symbols"/> does not bind.</exception>
        public long PeakFor(IReadOnlyDictionary<string, long> symbols) =>
            PeakCandidates.Count == 0 ? 0 : PeakCandidates.Max(c => c.Evaluate(symbols));

        /// <summary>The estimate for <paramref name="module"/>'s entry computation (arithmetic is checked: a byte count
        /// that overflows a long throws <see cref="OverflowException"/>).</summary>
        public static ProgramMemory Estimate(HloModule module)
        {
            var entry = module.Entry;
            var walk = Walk(entry, new Dictionary<HloComputation, SymbolicBytes>());
            return new ProgramMemory(SymbolicBytes.Sum(entry.Parameters.Select(p => SymbolicBytes.Of(p.Shape))),
                SymbolicBytes.Of(entry.Root.Shape), walk);
        }

        /// <summary>Adds <paramref name="candidate"/> to a set of non-dominated polynomials.</summary>
        public static List<SymbolicBytes> AddCandidate(List<SymbolicBytes> candidates, SymbolicBytes candidate)
        {
            if (candidates.Any(c => candidate.IsDominatedBy(c))) return candidates;
            candidates.RemoveAll(c => c.IsDominatedBy(candidate));
            candidates.Add(candidate);
            if (candidates.Count > MaxPeakCandidates)
            {
                var merged = candidates.Aggregate(SymbolicBytes.Zero, SymbolicBytes.Max);
                candidates.Clear();
                candidates.Add(merged);
            }
            return candidates;
        }

        static readonly HashSet<string> Views = new HashSet<string>(StringComparer.Ordinal) { "tuple", "get-tuple-element", "bitcast" };

        static readonly HashSet<string> RunsCallee = new HashSet<string>(StringComparer.Ordinal) { "call", "while", "conditional" };

        static bool IsView(HloInstruction i) =>
            Views.Contains(i.Opcode)
            || (i.Opcode == "reshape" && i.Shape.IsArray && i.Shape.HasDefaultLayout && i.Operands[0].Shape.HasDefaultLayout);

        /// <summary>The peak candidates of one computation (parameters included).</summary>
        static List<SymbolicBytes> Walk(HloComputation computation, Dictionary<HloComputation, SymbolicBytes> calleePeaks)
        {
            var ins = computation.Instructions;
            var index = new Dictionary<HloInstruction, int>();
            for (int i = 0; i < ins.Count; i++) index[ins[i]] = i;

            // The instructions the root depends on (what runs; DCE drops the rest), and parameters, which the caller holds.
            var needed = new bool[ins.Count];
            var stack = new Stack<HloInstruction>();
            stack.Push(computation.Root);
            while (stack.Count > 0)
            {
                var x = stack.Pop();
                if (needed[index[x]]) continue;
                needed[index[x]] = true;
                foreach (var o in x.Operands) stack.Push(o);
            }

            // Buffers: each value is a list of leaf buffers; views reuse their operands' leaves.
            var bytes = new List<SymbolicBytes>();
            var defined = new List<int>();
            var lastUse = new List<int>();
            var leaves = new List<int>[ins.Count];
            int end = ins.Count;
            for (int i = 0; i < ins.Count; i++)
            {
                var x = ins[i];
                // get-dimension-size of a symbolic dim is a constant once the builder binds the symbols.
                bool whole = x.Opcode == "parameter" || x.Opcode == "constant" || x.Opcode == "get-dimension-size";
                if (!needed[i] && x.Opcode != "parameter") continue;
                if (IsView(x))
                {
                    if (x.Opcode == "tuple") leaves[i] = x.Operands.SelectMany(o => leaves[index[o]]).ToList();
                    else if (x.Opcode == "get-tuple-element") leaves[i] = ElementLeaves(x.Operands[0], (int)x.Attributes.TupleIndex, leaves[index[x.Operands[0]]]);
                    else leaves[i] = leaves[index[x.Operands[0]]];
                }
                else
                {
                    leaves[i] = new List<int>();
                    foreach (var leaf in ArrayLeaves(x.Shape))
                    {
                        leaves[i].Add(bytes.Count);
                        bytes.Add(SymbolicBytes.Of(leaf));
                        defined.Add(whole ? 0 : i);
                        lastUse.Add(whole ? end : i);
                    }
                }
                if (!needed[i]) continue;
                // A get-tuple-element reads only the element it takes; every other op reads all its operands' leaves.
                if (x.Opcode == "get-tuple-element") continue;
                foreach (var o in x.Operands)
                    foreach (var b in leaves[index[o]]) lastUse[b] = Math.Max(lastUse[b], i);
            }
            foreach (var b in leaves[index[computation.Root]]) lastUse[b] = end;

            // Live bytes change only where a buffer is defined or dies: walk the schedule once.
            var born = new List<int>[ins.Count + 1];
            var dies = new List<int>[ins.Count + 1];
            for (int b = 0; b < bytes.Count; b++)
            {
                (born[defined[b]] ??= new List<int>()).Add(b);
                if (lastUse[b] < end) (dies[lastUse[b]] ??= new List<int>()).Add(b);
            }
            var candidates = new List<SymbolicBytes>();
            var live = SymbolicBytes.Zero;
            for (int i = 0; i < ins.Count; i++)
            {
                if (born[i] != null) live += SymbolicBytes.Sum(born[i].Select(b => bytes[b]));
                var here = live;
                if (needed[i] && RunsCallee.Contains(ins[i].Opcode))
                {
                    var nested = SymbolicBytes.Zero;
                    foreach (var callee in ins[i].CalledComputations) nested = SymbolicBytes.Max(nested, CalleeTemporaries(callee, calleePeaks));
                    here += nested;
                }
                if (needed[i] || i == 0) AddCandidate(candidates, here);
                if (dies[i] != null) live -= SymbolicBytes.Sum(dies[i].Select(b => bytes[b]));
            }
            return candidates;
        }

        /// <summary>A callee's peak less its parameters (they are views of the caller's operands).</summary>
        static SymbolicBytes CalleeTemporaries(HloComputation callee, Dictionary<HloComputation, SymbolicBytes> calleePeaks)
        {
            if (calleePeaks.TryGetValue(callee, out var known)) return known;
            var peak = Walk(callee, calleePeaks).Aggregate(SymbolicBytes.Zero, SymbolicBytes.Max);
            var parameters = SymbolicBytes.Sum(callee.Parameters.Select(p => SymbolicBytes.Of(p.Shape)));
            var temporaries = peak - parameters;
            if (temporaries.Terms.Any(t => t.Value < 0)) temporaries = SymbolicBytes.Max(temporaries, SymbolicBytes.Zero);
            calleePeaks[callee] = temporaries;
            return temporaries;
        }

        /// <summary>The array leaves of a shape, depth first (a token or an empty tuple has none).</summary>
        static IEnumerable<Shape> ArrayLeaves(Shape shape)
        {
            if (shape.IsTuple) return shape.TupleShapes.SelectMany(ArrayLeaves);
            return shape.IsArray ? new[] { shape } : Enumerable.Empty<Shape>();
        }

        /// <summary>The leaves of element <paramref name="k"/> of a tuple-shaped value, given all its leaves in order.</summary>
        static List<int> ElementLeaves(HloInstruction tuple, int k, List<int> all)
        {
            int skip = 0;
            for (int j = 0; j < k; j++) skip += ArrayLeaves(tuple.Shape.TupleShapes[j]).Count();
            return all.Skip(skip).Take(ArrayLeaves(tuple.Shape.TupleShapes[k]).Count()).ToList();
        }
    }
}
