using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace XlaGen.Hlo
{
    // The lexical half of the HLO text reader: trivia, names, numbers, strings and shapes (literals: HloTextParser.Literals.cs).
    sealed partial class HloTextReader
    {
        struct Name
        {
            public Name(string text, bool hasSigil)
            {
                Text = text;
                HasSigil = hasSigil;
            }

            public string Text { get; }

            public bool HasSigil { get; }
        }

        bool AtEnd
        {
            get
            {
                SkipTrivia();
                return pos >= s.Length;
            }
        }

        char Peek => pos < s.Length ? s[pos] : '\0';

        static bool IsNameStart(char c) => char.IsLetter(c) || c == '_';

        static bool IsNameChar(char c) => char.IsLetterOrDigit(c) || c == '_' || c == '.' || c == '-';

        // ---------------- errors ----------------

        HloParseException Error(string problem, int? at = null)
        {
            int p = Math.Min(at ?? pos, s.Length);
            int line = 1, column = 1;
            for (int i = 0; i < p; i++)
            {
                if (s[i] == '\n')
                {
                    line++;
                    column = 1;
                }
                else
                {
                    column++;
                }
            }
            return new HloParseException(problem, line, column);
        }

        /// <summary>The next token, quoted, for "found …" in messages.</summary>
        string Found()
        {
            SkipTrivia();
            if (pos >= s.Length) return "the end of the text";
            int end = pos;
            if (IsNameChar(s[end]) || s[end] == '%')
            {
                end++;
                while (end < s.Length && end - pos < 40 && IsNameChar(s[end])) end++;
            }
            else
            {
                end++;
            }
            return "'" + s.Substring(pos, end - pos) + "'";
        }

        // ---------------- trivia and tokens ----------------

        void SkipTrivia()
        {
            while (pos < s.Length)
            {
                char c = s[pos];
                if (char.IsWhiteSpace(c))
                {
                    pos++;
                }
                else if (c == '/' && pos + 1 < s.Length && s[pos + 1] == '/')
                {
                    while (pos < s.Length && s[pos] != '\n') pos++;
                }
                else if (c == '/' && pos + 1 < s.Length && s[pos + 1] == '*')
                {
                    int close = s.IndexOf("*/", pos + 2, StringComparison.Ordinal);
                    if (close < 0) throw Error("a /* comment is not closed with */");
                    pos = close + 2;
                }
                else
                {
                    return;
                }
            }
        }

        bool LookingAt(string literal) =>
            pos + literal.Length <= s.Length && string.CompareOrdinal(s, pos, literal, 0, literal.Length) == 0;

        bool TryConsume(string literal)
        {
            SkipTrivia();
            if (!LookingAt(literal)) return false;
            pos += literal.Length;
            return true;
        }

        void Expect(string literal, string context)
        {
            if (!TryConsume(literal)) throw Error($"expected '{literal}' {context}, found {Found()}");
        }

        bool TryKeyword(string keyword)
        {
            SkipTrivia();
            if (!LookingAt(keyword)) return false;
            int end = pos + keyword.Length;
            if (end < s.Length && IsNameChar(s[end])) return false;
            pos = end;
            return true;
        }

        /// <summary>%name or name (letters, digits, _ . -), or null when no name starts here.</summary>
        Name? TryName()
        {
            SkipTrivia();
            int start = pos;
            bool sigil = Peek == '%';
            if (sigil) pos++;
            if (pos >= s.Length || !(IsNameStart(s[pos]) || (sigil && char.IsDigit(s[pos]))))
            {
                if (sigil) throw Error("expected a name after '%'", start);
                return null;
            }
            int nameStart = pos;
            while (pos < s.Length && IsNameChar(s[pos])) pos++;
            return new Name(s.Substring(nameStart, pos - nameStart), sigil);
        }

        string ReadWord(string what)
        {
            SkipTrivia();
            int start = pos;
            while (pos < s.Length && IsNameChar(s[pos])) pos++;
            if (pos == start) throw Error($"expected {what}, found {Found()}");
            return s.Substring(start, pos - start);
        }

        /// <summary>A bare value: everything up to whitespace, ',', '}' or ')' (outside [] and ()).</summary>
        string ReadToken(string what)
        {
            SkipTrivia();
            int start = pos;
            int depth = 0;
            while (pos < s.Length)
            {
                char c = s[pos];
                if (c == '[' || c == '(') depth++;
                else if (c == ']' || c == ')')
                {
                    if (depth == 0) break;
                    depth--;
                }
                else if (depth == 0 && (char.IsWhiteSpace(c) || c == ',' || c == '}' || c == '{')) break;
                pos++;
            }
            if (pos == start) throw Error($"expected {what}, found {Found()}");
            return s.Substring(start, pos - start);
        }

        /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>] (a 64-bit one by default); one out of
        /// range is a parse error naming it and the range, at its line and column.</summary>
        long ReadInteger(string what, long min = long.MinValue, long max = long.MaxValue)
        {
            SkipTrivia();
            int start = pos;
            if (Peek == '-' || Peek == '+') pos++;
            int digits = pos;
            while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9') pos++;
            var text = s.Substring(start, pos - start);
            if (pos == digits)
            {
                pos = start;
                throw Error($"expected {what} (an integer), found {Found()}");
            }
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            {
                throw Error($"{what} {Shorten(text)} is out of range: it must be an integer from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}", start);
            }
            return v;
        }

        static string Shorten(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "…";

        bool ReadBool(string what)
        {
            SkipTrivia();
            int at = pos;
            var w = ReadWord(what);
            if (w == "true") return true;
            if (w == "false") return false;
            throw Error($"expected true or false for {what}, found '{w}'", at);
        }

        /// <summary>{1,2,3} or {}.</summary>
        long[] ReadIntegerList(string what)
        {
            Expect("{", $"to open {what}");
            var r = new List<long>();
            if (TryConsume("}")) return r.ToArray();
            do r.Add(ReadInteger(what));
            while (TryConsume(","));
            Expect("}", $"to close {what}");
            return r.ToArray();
        }

        string[] ReadWordList(string what)
        {
            Expect("{", $"to open {what}");
            var r = new List<string>();
            if (TryConsume("}")) return r.ToArray();
            do r.Add(ReadWord(what));
            while (TryConsume(","));
            Expect("}", $"to close {what}");
            return r.ToArray();
        }

        /// <summary>A C-escaped string in double quotes, as XLA's CEscape writes it.</summary>
        string ReadString()
        {
            SkipTrivia();
            int start = pos;
            if (Peek != '"') throw Error($"expected a string in double quotes, found {Found()}");
            pos++;
            var sb = new StringBuilder();
            while (true)
            {
                if (pos >= s.Length) throw Error("a string is not closed with '\"'", start);
                char c = s[pos++];
                if (c == '"') return sb.ToString();
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                if (pos >= s.Length) throw Error("a string is not closed with '\"'", start);
                char e = s[pos++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case '"': sb.Append('"'); break;
                    case '\'': sb.Append('\''); break;
                    case '\\': sb.Append('\\'); break;
                    case 'x':
                    {
                        int h = pos;
                        while (pos < s.Length && pos - h < 2 && Uri.IsHexDigit(s[pos])) pos++;
                        if (pos == h) throw Error("expected hex digits after \\x", h);
                        sb.Append((char)int.Parse(s.Substring(h, pos - h), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        break;
                    }
                    default:
                        if (e >= '0' && e <= '7')
                        {
                            int o = pos - 1;
                            while (pos < s.Length && pos - o < 3 && s[pos] >= '0' && s[pos] <= '7') pos++;
                            sb.Append((char)Convert.ToInt32(s.Substring(o, pos - o), 8));
                            break;
                        }
                        throw Error($"unknown escape '\\{e}' in a string", pos - 2);
                }
            }
        }

        /// <summary>Skips to the closer matching an opener that was just consumed (strings are skipped whole).</summary>
        void SkipBalanced(char open, char close)
        {
            int start = pos - 1;
            int depth = 1;
            while (pos < s.Length)
            {
                char c = s[pos];
                if (c == '"')
                {
                    ReadString();
                    continue;
                }
                pos++;
                if (c == open) depth++;
                else if (c == close && --depth == 0) return;
            }
            throw Error($"'{open}' is not closed with '{close}'", start);
        }

        /// <summary>Skips an attribute value XlaGen does not model: {…}, "…", (…) or a bare token.</summary>
        void SkipValue()
        {
            SkipTrivia();
            switch (Peek)
            {
                case '{':
                    pos++;
                    SkipBalanced('{', '}');
                    break;
                case '(':
                    pos++;
                    SkipBalanced('(', ')');
                    break;
                case '"':
                    ReadString();
                    break;
                default:
                    ReadToken("an attribute value");
                    break;
            }
        }

        // ---------------- shapes ----------------

        /// <summary>How deep tuple shapes may nest in text (protobuf's own recursion limit bounds them in protos).</summary>
        public const int MaxTupleNesting = 64;

        int tupleDepth;

        /// <summary>f32[2,B]{1,0}, (f32[], s32[4]), token[] — or null when no shape starts here.</summary>
        Shape? ParseShapeOrNull()
        {
            SkipTrivia();
            int start = pos;
            if (Peek == '(')
            {
                // Tuples nest by recursion: bound it, so hostile text is a parse error and not a stack overflow.
                if (tupleDepth == MaxTupleNesting) throw Error($"tuple shapes nest more than {MaxTupleNesting} levels deep");
                pos++;
                tupleDepth++;
                var elements = new List<Shape>();
                if (!TryConsume(")"))
                {
                    do elements.Add(ParseShapeOrNull() ?? throw Error($"expected a shape in a tuple shape, found {Found()}"));
                    while (TryConsume(","));
                    Expect(")", "to close a tuple shape");
                }
                tupleDepth--;
                return Shape.Tuple(elements.ToArray());
            }
            int p = pos;
            while (p < s.Length && char.IsLetterOrDigit(s[p])) p++;
            if (p == pos || p >= s.Length || s[p] != '[') return null;
            var typeName = s.Substring(pos, p - pos);
            if (!ElementTypes.TryParse(typeName, out var type) || type == ElementType.OpaqueType)
                throw Error($"unknown element type '{typeName}'", start);
            pos = p + 1;
            var dims = new List<Dim>();
            if (!TryConsume("]"))
            {
                do dims.Add(ReadDim());
                while (TryConsume(","));
                Expect("]", "to close the dimensions of a shape");
            }
            Shape shape;
            try
            {
                shape = Shape.Array(type, dims.ToArray());
            }
            catch (ArgumentException e)
            {
                throw Error(e.Message, start);
            }
            if (Peek == '{') shape = ReadLayout(shape);
            return shape;
        }

        Dim ReadDim()
        {
            SkipTrivia();
            int start = pos;
            while (pos < s.Length && s[pos] != ',' && s[pos] != ']' && s[pos] != '\n') pos++;
            var text = s.Substring(start, pos - start).Trim();
            if (text.StartsWith("<=", StringComparison.Ordinal) || text == "?")
                throw Error($"dynamic dimension '{text}' is not supported (XlaGen shapes are static or symbolic)", start);
            if (!Dim.TryParse(text, out var d) || d.Factor < 0)
            {
                pos = start;
                throw Error($"expected a dimension (a size like 784 or a symbolic product like B or 2*B), found '{text}'", start);
            }
            if (!ProductFits(text)) throw Error($"dimension '{Shorten(text)}' is out of range: its size does not fit a 64-bit integer", start);
            return d;
        }

        /// <summary>Whether the numbers of a product like 2*B*3 multiply without overflowing a long (Dim's own
        /// arithmetic wraps silently).</summary>
        static bool ProductFits(string text)
        {
            ulong magnitude = 1;
            foreach (var part in text.Split('*'))
            {
                if (!long.TryParse(part.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) continue;
                ulong m = v < 0 ? (ulong)(-(v + 1)) + 1 : (ulong)v;
                if (m != 0 && magnitude > (ulong)long.MaxValue / m) return false;
                magnitude *= m;
            }
            return true;
        }

        /// <summary>{1,0}; tiles and memory space after ':' ({1,0:T(8,128)S(1)}) are read past and dropped.</summary>
        Shape ReadLayout(Shape shape)
        {
            int start = pos;
            pos++;
            var minorToMajor = new List<long>();
            SkipTrivia();
            if (Peek != '}' && Peek != ':')
            {
                do minorToMajor.Add(ReadInteger("a layout dimension"));
                while (TryConsume(","));
            }
            if (TryConsume(":")) SkipBalanced('{', '}');
            else Expect("}", "to close a layout");
            try
            {
                return shape.WithLayout(minorToMajor);
            }
            catch (ArgumentException e)
            {
                throw Error(e.Message, start);
            }
        }
    }
}
