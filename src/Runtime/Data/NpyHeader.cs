using System.Globalization;

namespace XlaGen.Data;

/// <summary>
/// The header of a .npy file: the Python dict literal NumPy writes with <c>repr</c>, e.g.
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (5, 10, 10, 3), }</c>. Parsed as NumPy's own
/// <c>_read_array_header</c> requires: exactly the keys descr, fortran_order and shape; descr a string (a list is a
/// structured dtype, refused); shape a tuple of non-negative integers (Python 2's <c>3L</c> accepted).
/// </summary>
internal static class NpyHeader
{
    public static (string Descr, bool FortranOrder, long[] Shape) Parse(string source, string header)
    {
        var p = new Parser(source, header);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        p.Expect('{');
        while (true)
        {
            if (p.TryTake('}')) break;
            var key = p.String("a key");
            p.Expect(':');
            switch (key)
            {
                case "descr":
                    if (descr != null) throw p.Fail("the header has 'descr' twice");
                    if (p.Peek() == '[') throw p.Fail("'descr' is a list: structured dtypes (records with named fields) are not supported");
                    descr = p.String("the dtype string of 'descr'");
                    break;
                case "fortran_order":
                    if (fortran != null) throw p.Fail("the header has 'fortran_order' twice");
                    fortran = p.Boolean();
                    break;
                case "shape":
                    if (shape != null) throw p.Fail("the header has 'shape' twice");
                    shape = p.Tuple();
                    break;
                default:
                    throw p.Fail($"the header has the key '{key}'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'");
            }
            if (!p.TryTake(','))
            {
                p.Expect('}');
                break;
            }
        }
        p.SkipSpace();
        if (!p.AtEnd) throw p.Fail("text follows the closing '}' of the header dict");
        if (descr == null || fortran == null || shape == null)
        {
            var missing = new[] { (descr == null, "descr"), (fortran == null, "fortran_order"), (shape == null, "shape") }.Where(m => m.Item1).Select(m => "'" + m.Item2 + "'");
            throw new InvalidDataException($"{source}: the header lacks {string.Join(" and ", missing)} (header: {Shorten(header)})");
        }
        return (descr, fortran.Value, shape);
    }

    static string Shorten(string text) => (text.Length <= 120 ? text : text[..120] + "…").TrimEnd();

    sealed class Parser(string source, string text)
    {
        int at;

        public bool AtEnd => at >= text.Length;

        public void SkipSpace()
        {
            while (at < text.Length && char.IsWhiteSpace(text[at])) at++;
        }

        public char Peek()
        {
            SkipSpace();
            return at < text.Length ? text[at] : '\0';
        }

        public bool TryTake(char c)
        {
            if (Peek() != c) return false;
            at++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryTake(c)) throw Fail(AtEnd ? $"the header ends where '{c}' was expected" : $"expected '{c}' at offset {at} of the header, found '{text[at]}'");
        }

        public string String(string what)
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Fail($"expected {what} (a quoted string) at offset {at} of the header");
            int end = text.IndexOf(quote, at + 1);
            if (end < 0) throw Fail($"the string at offset {at} of the header is not closed");
            var value = text.Substring(at + 1, end - at - 1);
            at = end + 1;
            return value;
        }

        public bool Boolean()
        {
            SkipSpace();
            if (text.AsSpan(at).StartsWith("True", StringComparison.Ordinal)) { at += 4; return true; }
            if (text.AsSpan(at).StartsWith("False", StringComparison.Ordinal)) { at += 5; return false; }
            throw Fail($"'fortran_order' must be True or False (at offset {at} of the header)");
        }

        public long[] Tuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (!TryTake(')'))
            {
                SkipSpace();
                int start = at;
                while (at < text.Length && char.IsAsciiDigit(text[at])) at++;
                if (at == start) throw Fail($"'shape' must be a tuple of non-negative integers (at offset {start} of the header)");
                if (!long.TryParse(text.AsSpan(start, at - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                    throw Fail($"dimension {dims.Count} of 'shape' ({text[start..at]}) is too large");
                if (at < text.Length && text[at] == 'L') at++; // Python 2 long literal
                dims.Add(d);
                if (!TryTake(',')) { Expect(')'); break; }
            }
            return dims.ToArray();
        }

        public InvalidDataException Fail(string problem) => new($"{source}: {problem} (header: {Shorten(text)})");
    }
}
