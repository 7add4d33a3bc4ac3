using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace XlaGen.Hlo
{
    /// <summary>
    /// Names as XLA's text syntax accepts them, with XLA's rules (NameUniquer): every character outside
    /// [a-zA-Z0-9_.-] becomes '_' (the first also when it is a digit, '.' or '-'); a name equal to a primitive type name
    /// (other than "tuple") gets a '_' suffix, since those are keywords of the syntax; a leading "__" that is not
    /// "__xla_" becomes "a_" (a prefix backends reserve). Names that collide afterwards are made unique by a numeric
    /// suffix after '.', as XLA does. The printer applies this, so text printed from any module the proto reader
    /// accepts (names there are arbitrary strings) parses; names that are already valid print unchanged.
    /// </summary>
    internal static class HloNames
    {
        /// <summary>Lower-case names of XLA's PrimitiveType values (xla_data.proto), "tuple" excepted.</summary>
        static readonly HashSet<string> PrimitiveTypeNames = new HashSet<string>(StringComparer.Ordinal)
        {
            "pred", "s1", "s2", "s4", "s8", "s16", "s32", "s64", "u1", "u2", "u4", "u8", "u16", "u32", "u64",
            "f16", "f32", "bf16", "f64", "f8e5m2", "f8e4m3", "f8e4m3fn", "f8e4m3b11fnuz", "f8e3m4", "f8e5m2fnuz",
            "f8e4m3fnuz", "f4e2m1fn", "f8e8m0fnu", "c64", "c128", "opaque", "token", "buffer",
        };

        static bool IsAsciiLetter(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        static bool IsAllowed(char c) => IsAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

        /// <summary>XLA's sanitising of one name ("" stays "").</summary>
        public static string Sanitize(string name)
        {
            if (string.IsNullOrEmpty(name)) return "";
            var sb = new StringBuilder(name.Length + 1);
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                bool ok = i == 0 ? IsAsciiLetter(c) || c == '_' : IsAllowed(c);
                sb.Append(ok ? c : '_');
            }
            var result = sb.ToString();
            if (PrimitiveTypeNames.Contains(result)) result += "_";
            if (result.StartsWith("__", StringComparison.Ordinal) && !result.StartsWith("__xla_", StringComparison.Ordinal))
                result = "a" + result.Substring(1);
            return result;
        }

        /// <summary>Hands out sanitised names that are unique among those it handed out: a name taken already gets the
        /// next free numeric suffix of its root (x, x.1, x.2; x.5 then x.6 …).</summary>
        public sealed class Uniquer
        {
            readonly Dictionary<string, HashSet<long>> usedSuffixes = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);
            readonly Dictionary<string, long> nextSuffix = new Dictionary<string, long>(StringComparer.Ordinal);

            public string Unique(string name)
            {
                string root = Sanitize(name);
                if (root.Length == 0) root = "name";
                long suffix = 0;
                bool hasSuffix = false;
                int dot = root.LastIndexOf('.');
                if (dot > 0 && dot < root.Length - 1 && IsSuffix(root, dot + 1, out long parsed))
                {
                    suffix = parsed;
                    hasSuffix = true;
                    root = root.Substring(0, dot);
                }
                if (!usedSuffixes.TryGetValue(root, out var used))
                {
                    used = new HashSet<long>();
                    usedSuffixes.Add(root, used);
                }
                if (!used.Add(suffix))
                {
                    nextSuffix.TryGetValue(root, out long next);
                    if (next < 1) next = 1;
                    while (used.Contains(next)) next++;
                    used.Add(next);
                    nextSuffix[root] = next + 1;
                    suffix = next;
                    hasSuffix = true;
                }
                return hasSuffix ? root + "." + suffix.ToString(CultureInfo.InvariantCulture) : root;
            }

            /// <summary>Digits only (no sign), at most 18 of them so the value fits a long.</summary>
            static bool IsSuffix(string text, int start, out long value)
            {
                value = 0;
                int length = text.Length - start;
                if (length > 18) return false;
                for (int i = start; i < text.Length; i++)
                {
                    char c = text[i];
                    if (c < '0' || c > '9') return false;
                    value = value * 10 + (c - '0');
                }
                return true;
            }
        }

        /// <summary>The printed names of a module's computations and instructions, each kind unique in the module (as in
        /// XLA; the text parser also renames an instruction name reused in another computation, so per-computation
        /// uniqueness would not print stably), assigned in the printer's order so printing is deterministic.</summary>
        public sealed class ModuleNames
        {
            readonly Dictionary<HloComputation, string> computations = new Dictionary<HloComputation, string>();
            readonly Dictionary<HloInstruction, string> instructions = new Dictionary<HloInstruction, string>();

            public ModuleNames(IEnumerable<HloComputation> computationsInOrder)
            {
                var computationNames = new Uniquer();
                var instructionNames = new Uniquer();
                foreach (var c in computationsInOrder)
                {
                    if (computations.ContainsKey(c)) continue;
                    computations.Add(c, computationNames.Unique(c.Name));
                    foreach (var ins in c.Instructions)
                        if (!instructions.ContainsKey(ins)) instructions.Add(ins, instructionNames.Unique(ins.Name));
                }
            }

            /// <summary>The printed name; one outside the module's list (printing a lone instruction) is only sanitised.</summary>
            public string Of(HloComputation c) => computations.TryGetValue(c, out var name) ? name : Standalone(c.Name);

            public string Of(HloInstruction i) => instructions.TryGetValue(i, out var name) ? name : Standalone(i.Name);

            static string Standalone(string name)
            {
                var sanitized = Sanitize(name);
                return sanitized.Length == 0 ? "name" : sanitized;
            }
        }
    }
}
