using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using XlaGen.Ops;

namespace XlaGen.Hlo
{
    /// <summary>HLO text that could not be read: <see cref="Problem"/> says what was expected, at <see cref="Line"/>:<see cref="Column"/> (1-based).</summary>
    public sealed class HloParseException : Exception
    {
        /// <summary>An error for <paramref name="problem"/> at <paramref name="line"/>:<paramref name="column"/> (1-based);
        /// the message is "problem at line L, column C".</summary>
        public HloParseException(string problem, int line, int column)
            : base($"{problem} at line {line}, column {column}")
        {
            Problem = problem;
            Line = line;
            Column = column;
        }

        /// <summary>What was wrong or expected, without the position.</summary>
        public string Problem { get; }

        /// <summary>The 1-based line of the text where the problem is.</summary>
        public int Line { get; }

        /// <summary>The 1-based column of the text where the problem is.</summary>
        public int Column { get; }
    }

    /// <summary>
    /// Reads HLO text as XLA writes it (HloModule::ToString, hand-written tests, dumps) into the IR. Every
    /// instruction goes through <see cref="HloBuilder"/>, so it is shape-checked by the op catalogue as it is read;
    /// a shape error is reported at the instruction that has it. Accepts symbolic dims (<c>f32[B,784]</c>), since the
    /// generator round-trips symbolic programs through text. Attributes XlaGen does not model (sharding,
    /// backend_config, frontend_attributes …) are skipped. <c>Parse(HloPrinter.Print(m))</c> prints identically.
    /// </summary>
    public static class HloTextParser
    {
        /// <summary>Reads a whole module (<c>HloModule name, …</c> followed by its computations, ENTRY among them).</summary>
        /// <param name="text">HLO text.</param>
        /// <returns>The module, every instruction shape-checked.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
        /// <exception cref="HloParseException">The text is not HLO this reader understands, or an instruction's shapes do not
        /// fit its op (the shape error is reported at that instruction's position).</exception>
        public static HloModule Parse(string text)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            return new HloTextReader(text).ReadModule();
        }

        /// <summary>One shape in HLO syntax: f32[2,B]{1,0}, (f32[], s32[3]), token[].</summary>
        public static Shape ParseShape(string text)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            return new HloTextReader(text).ReadShapeOnly();
        }
    }

    sealed partial class HloTextReader
    {
        readonly string s;
        int pos;

        // The module being read.
        HloBuilder? first;
        readonly List<HloComputation> computations = new List<HloComputation>();
        readonly Dictionary<string, HloComputation> computationsByName = new Dictionary<string, HloComputation>(StringComparer.Ordinal);

        // The computation being read.
        HloBuilder builder = null!;
        Dictionary<string, HloInstruction> scope = null!;
        HloInstruction? lastTopLevel;

        public HloTextReader(string text)
        {
            s = text;
        }

        // ---------------- module and computations ----------------

        public HloModule ReadModule()
        {
            string? moduleName = null;
            var aliases = new List<InputOutputAlias>();
            if (TryKeyword("HloModule"))
            {
                moduleName = ReadModuleName();
                while (TryConsume(","))
                {
                    var key = ReadWord("a module attribute name");
                    Expect("=", $"after the module attribute '{key}'");
                    if (key == "input_output_alias") aliases.AddRange(ReadInputOutputAlias());
                    else SkipValue();
                }
            }

            HloComputation? entry = null;
            SkipTrivia();
            while (pos < s.Length)
            {
                int start = pos;
                bool isEntry = TryKeyword("ENTRY");
                var c = ReadComputation();
                if (isEntry)
                {
                    if (entry != null) throw Error($"a second ENTRY computation %{c.Name} (the first is %{entry.Name})", start);
                    entry = c;
                }
                SkipTrivia();
            }
            if (computations.Count == 0) throw Error("expected a computation (name { instructions })");
            entry ??= computations[computations.Count - 1];
            // Ids as XLA's parser gives them: instructions 0, 1, … in module order, each computation its root's id.
            long nextId = 0;
            foreach (var c in computations)
            {
                foreach (var ins in c.Instructions) ins.Id = nextId++;
                c.Id = c.Root.Id;
            }
            var module = new HloModule(moduleName ?? "module_" + entry.Name, computations, entry);
            module.InputOutputAliases.AddRange(aliases);
            return module;
        }

        public Shape ReadShapeOnly()
        {
            var shape = ParseShapeOrNull() ?? throw Error($"expected a shape (like f32[2,3]{{1,0}} or (f32[], s32[])), found {Found()}");
            if (!AtEnd) throw Error($"unexpected {Found()} after the shape");
            return shape;
        }

        string ReadModuleName()
        {
            SkipTrivia();
            int start = pos;
            while (pos < s.Length && !char.IsWhiteSpace(s[pos]) && s[pos] != ',') pos++;
            if (pos == start) throw Error("expected the module name after 'HloModule'");
            return s.Substring(start, pos - start);
        }

        HloComputation ReadComputation()
        {
            SkipTrivia();
            int start = pos;
            var name = TryName() ?? throw Error("expected a computation name");
            if (computationsByName.ContainsKey(name.Text)) throw Error($"computation %{name.Text} is defined twice", start);
            if (TryConsume("("))
            {
                // The signature restates the parameters and the root; the instructions are what counts.
                SkipBalanced('(', ')');
                Expect("->", $"after the parameters of computation %{name.Text}");
                if (ParseShapeOrNull() == null) throw Error($"expected the result shape of computation %{name.Text}");
            }
            Expect("{", $"to open computation %{name.Text}");

            builder = first == null ? (first = new HloBuilder("module", name.Text)) : first.CreateSubBuilder(name.Text);
            scope = new Dictionary<string, HloInstruction>(StringComparer.Ordinal);
            lastTopLevel = null;
            HloInstruction? root = null;
            while (!TryConsume("}"))
            {
                if (AtEnd) throw Error($"computation %{name.Text} is not closed with '}}'");
                int insStart = pos;
                bool isRoot = TryKeyword("ROOT");
                var ins = ReadInstruction();
                if (isRoot)
                {
                    if (root != null) throw Error($"computation %{name.Text} has two ROOT instructions (%{root.Name} and %{ins.Name})", insStart);
                    root = ins;
                }
            }
            // Parameters, nested operand ones included, must be numbered 0..n-1 without repeats.
            var parameterNumbers = new Dictionary<long, HloInstruction>();
            foreach (var p in builder.Computation.Instructions.Where(i => i.Opcode == "parameter"))
            {
                if (parameterNumbers.TryGetValue(p.Attributes.ParameterNumber, out var other))
                    throw Error($"computation %{name.Text}: parameter number {p.Attributes.ParameterNumber} is used by both %{other.Name} and %{p.Name}", start);
                parameterNumbers[p.Attributes.ParameterNumber] = p;
            }
            for (long n = 0; n < parameterNumbers.Count; n++)
            {
                if (!parameterNumbers.ContainsKey(n))
                    throw Error($"computation %{name.Text} has {parameterNumbers.Count} parameters but no parameter({n})", start);
            }
            root ??= lastTopLevel ?? throw Error($"computation %{name.Text} has no instructions", start);
            var c = builder.Build(root);
            computations.Add(c);
            computationsByName[name.Text] = c;
            return c;
        }

        // ---------------- instructions ----------------

        HloInstruction ReadInstruction()
        {
            SkipTrivia();
            int start = pos;
            var name = TryName() ?? throw Error("expected an instruction (name = shape opcode(operands))");
            if (scope.ContainsKey(name.Text)) throw Error($"instruction %{name.Text} is defined twice in this computation", start);
            Expect("=", $"after the instruction name %{name.Text}");
            var declared = ParseShapeOrNull();
            var ins = ReadInstructionRhs(name.Text, declared, allowAttributes: true, start);
            scope[name.Text] = ins;
            lastTopLevel = ins;
            return ins;
        }

        /// <summary>opcode(operands), attributes — for a named instruction or a nested operand instruction.</summary>
        HloInstruction ReadInstructionRhs(string? name, Shape? declared, bool allowAttributes, int start)
        {
            SkipTrivia();
            int opcodeAt = pos;
            var opcode = ReadWord("an opcode");
            if (!OpCatalogue.TryGet(opcode, out var op))
                throw Error($"unknown opcode '{opcode}'", opcodeAt);
            string what = name != null ? $"%{name} ({opcode})" : $"the nested {opcode}";
            Expect("(", $"after the opcode of {what}");

            var attributes = new HloAttributes();
            var operands = new List<HloInstruction>();
            switch (opcode)
            {
                case "parameter":
                    attributes.ParameterNumber = ReadInteger("the parameter number");
                    break;
                case "constant":
                    if (declared == null) throw Error($"{what} needs its shape before the opcode (x = f32[2] constant({{1, 2}}))", opcodeAt);
                    attributes.Literal = ReadLiteral(declared);
                    break;
                default:
                    SkipTrivia();
                    if (Peek != ')')
                    {
                        do operands.Add(ReadOperand());
                        while (TryConsume(","));
                    }
                    break;
            }
            Expect(")", $"to close the operands of {what}");

            var calledByKey = new Dictionary<string, HloComputation>(StringComparer.Ordinal);
            OpMetadata? metadata = null;
            if (allowAttributes)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (TryConsume(","))
                {
                    SkipTrivia();
                    int keyAt = pos;
                    var key = ReadWord("an attribute name");
                    if (!seen.Add(key)) throw Error($"attribute '{key}' appears twice on {what}", keyAt);
                    Expect("=", $"after the attribute name '{key}'");
                    if (key == "metadata") metadata = ReadMetadata();
                    else if (op.CalledComputationKeys.Contains(key)) calledByKey[key] = ReadComputationReference();
                    else if (op.TextAttributes.Contains(key)) ReadAttribute(opcode, key, attributes);
                    else SkipValue();   // sharding=, backend_config=, frontend_attributes=, control-predecessors= …
                }
            }

            var called = new List<HloComputation>();
            foreach (var key in op.CalledComputationKeys)
            {
                if (!calledByKey.TryGetValue(key, out var c)) throw Error($"{what} needs {key}=%computation", start);
                called.Add(c);
            }
            try
            {
                var ins = builder.AddInstruction(opcode, operands, attributes, declared, called, name);
                ins.Metadata = metadata;
                return ins;
            }
            catch (ShapeException e)
            {
                throw Error($"{what}: {e.Message}", start);
            }
            catch (ArgumentException e)
            {
                throw Error($"{what}: {e.Message}", start);
            }
        }

        /// <summary>[shape] %name, or [shape] opcode(operands) for a nested instruction.</summary>
        HloInstruction ReadOperand()
        {
            SkipTrivia();
            int start = pos;
            var shape = ParseShapeOrNull();
            SkipTrivia();
            int nameAt = pos;
            var name = TryName() ?? throw Error("expected an operand (%name, or shape opcode(...))");
            SkipTrivia();
            if (!name.HasSigil && Peek == '(')
            {
                pos = nameAt;
                return ReadInstructionRhs(null, shape, allowAttributes: false, start);
            }
            if (!scope.TryGetValue(name.Text, out var operand))
                throw Error($"operand %{name.Text} is not defined (earlier) in this computation", nameAt);
            if (shape != null && !shape.Equals(operand.Shape))
                throw Error($"operand %{name.Text} is written as {shape} but it is {operand.Shape}", start);
            return operand;
        }

        HloComputation ReadComputationReference()
        {
            SkipTrivia();
            int at = pos;
            var name = TryName() ?? throw Error("expected a computation name (%name)");
            if (!computationsByName.TryGetValue(name.Text, out var c))
                throw Error($"computation %{name.Text} is not defined before its use (callees come before their callers)", at);
            return c;
        }

        // ---------------- module attributes ----------------

        /// <summary>{ {0}: (1, {}, may-alias), {1}: (2, {}) }</summary>
        List<InputOutputAlias> ReadInputOutputAlias()
        {
            var result = new List<InputOutputAlias>();
            Expect("{", "to open input_output_alias");
            while (!TryConsume("}"))
            {
                if (result.Count > 0) Expect(",", "between input_output_alias entries");
                var output = ReadIntegerList("the output index of an alias");
                Expect(":", "after the output index of an alias");
                Expect("(", "to open an alias (parameter, {index}, kind)");
                var parameter = ReadInteger("the aliased parameter number");
                Expect(",", "after the aliased parameter number");
                var parameterIndex = ReadIntegerList("the aliased parameter index");
                bool must = false;
                if (TryConsume(","))
                {
                    SkipTrivia();
                    int at = pos;
                    var kind = ReadWord("the alias kind (may-alias or must-alias)");
                    if (kind == "must-alias") must = true;
                    else if (kind != "may-alias") throw Error($"unknown alias kind '{kind}' (expected may-alias or must-alias)", at);
                }
                Expect(")", "to close an alias");
                result.Add(new InputOutputAlias(output, parameter, parameterIndex, must));
            }
            return result;
        }

        OpMetadata ReadMetadata()
        {
            Expect("{", "to open metadata");
            string? opType = null, opName = null, sourceFile = null;
            int sourceLine = 0;
            while (!TryConsume("}"))
            {
                if (AtEnd) throw Error("metadata is not closed with '}'");
                var key = ReadWord("a metadata field");
                Expect("=", $"after the metadata field '{key}'");
                switch (key)
                {
                    case "op_type": opType = ReadString(); break;
                    case "op_name": opName = ReadString(); break;
                    case "source_file": sourceFile = ReadString(); break;
                    case "source_line": sourceLine = (int)ReadInteger("source_line", int.MinValue, int.MaxValue); break;
                    default: SkipValue(); break;
                }
            }
            return new OpMetadata(opType, opName, sourceFile, sourceLine);
        }
    }
}
