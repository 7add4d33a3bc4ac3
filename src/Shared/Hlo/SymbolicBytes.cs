using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace XlaGen.Hlo
{
    /// <summary>
    /// A byte count that may depend on symbolic dims: a polynomial over the symbol names with integer coefficients,
    /// such as <c>3,176·B + 814,120</c>. Each term is a coefficient times a monomial (<see cref="Dim.Symbols"/>: symbols
    /// sorted and joined by '*', empty for the constant term). Byte counts of shapes have non-negative coefficients, so
    /// for positive symbol values <see cref="Max"/> (coefficient-wise) is at least each of its arguments; symbols stand
    /// for dims, so values are at least 1 (<see cref="IsDominatedBy"/> uses that).
    /// Arithmetic is checked: an overflow throws <see cref="OverflowException"/>.
    /// </summary>
    public sealed class SymbolicBytes : IEquatable<SymbolicBytes>
    {
        // Sorted by monomial: higher degree first, then ordinal; no zero coefficients.
        readonly KeyValuePair<string, long>[] terms;

        SymbolicBytes(KeyValuePair<string, long>[] terms)
        {
            this.terms = terms;
        }

        /// <summary>Zero bytes: the polynomial with no terms.</summary>
        public static SymbolicBytes Zero { get; } = new SymbolicBytes(new KeyValuePair<string, long>[0]);

        /// <summary>A byte count that does not depend on any symbol.</summary>
        public static SymbolicBytes Constant(long bytes) => FromTerms(new[] { new KeyValuePair<string, long>("", bytes) });

        /// <summary>The polynomial of the given (monomial, coefficient) terms; equal monomials add up, and a monomial's
        /// symbols may come in any order ("T*B" is "B*T").</summary>
        public static SymbolicBytes FromTerms(IEnumerable<KeyValuePair<string, long>> terms)
        {
            var sum = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var t in terms)
            {
                var key = Normalize(t.Key);
                sum.TryGetValue(key, out var c);
                sum[key] = checked(c + t.Value);
            }
            var sorted = sum.Where(kv => kv.Value != 0).OrderByDescending(kv => Degree(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
            return new SymbolicBytes(sorted);
        }

        /// <summary>The bytes of one array of <paramref name="elements"/> elements of <paramref name="bytesPerElement"/> bytes.</summary>
        public static SymbolicBytes Of(Dim elements, long bytesPerElement) =>
            FromTerms(new[] { new KeyValuePair<string, long>(elements.Symbols, checked(elements.Factor * bytesPerElement)) });

        /// <summary>The bytes of a shape: the sum over its array leaves (tuples hold no bytes of their own, tokens none).</summary>
        public static SymbolicBytes Of(Shape shape)
        {
            if (shape.IsTuple) return Sum(shape.TupleShapes.Select(Of));
            if (!shape.IsArray) return Zero;
            return Of(shape.ElementCountDim, shape.ElementType.ByteSize());
        }

        /// <summary>The sum of <paramref name="items"/> (<see cref="Zero"/> for none).</summary>
        /// <exception cref="OverflowException">A coefficient overflows a long.</exception>
        public static SymbolicBytes Sum(IEnumerable<SymbolicBytes> items) => FromTerms(items.SelectMany(i => i.terms));

        /// <summary>(monomial, coefficient) pairs, highest degree first; the constant term's monomial is "".</summary>
        public IReadOnlyList<KeyValuePair<string, long>> Terms => terms;

        /// <summary>The symbols the polynomial mentions, sorted.</summary>
        public IEnumerable<string> SymbolNames =>
            terms.SelectMany(t => Symbols(t.Key)).Distinct().OrderBy(s => s, StringComparer.Ordinal);

        /// <summary>Whether the count depends on no symbol (then <see cref="ConstantTerm"/> is the whole value).</summary>
        public bool IsConstant => terms.All(t => t.Key.Length == 0);

        /// <summary>The constant term.</summary>
        public long ConstantTerm => terms.Where(t => t.Key.Length == 0).Select(t => t.Value).FirstOrDefault();

        /// <summary>The coefficient of <paramref name="monomial"/> (symbols joined by '*', in any order; "" for the constant term), 0 when absent.</summary>
        public long Coefficient(string monomial)
        {
            var key = Normalize(monomial);
            foreach (var t in terms) if (t.Key == key) return t.Value;
            return 0;
        }

        /// <summary>The term-wise sum.</summary>
        /// <exception cref="OverflowException">A coefficient overflows a long.</exception>
        public static SymbolicBytes operator +(SymbolicBytes a, SymbolicBytes b) => FromTerms(a.terms.Concat(b.terms));

        /// <summary>The term-wise difference (coefficients may become negative).</summary>
        /// <exception cref="OverflowException">A coefficient overflows a long.</exception>
        public static SymbolicBytes operator -(SymbolicBytes a, SymbolicBytes b) =>
            FromTerms(a.terms.Concat(b.terms.Select(t => new KeyValuePair<string, long>(t.Key, checked(-t.Value)))));

        /// <summary>Every coefficient multiplied by <paramref name="factor"/>.</summary>
        /// <exception cref="OverflowException">A coefficient overflows a long.</exception>
        public static SymbolicBytes operator *(SymbolicBytes a, long factor) =>
            FromTerms(a.terms.Select(t => new KeyValuePair<string, long>(t.Key, checked(t.Value * factor))));

        /// <summary>Coefficient-wise maximum: for non-negative symbol values and non-negative coefficients, at least as
        /// large as both <paramref name="a"/> and <paramref name="b"/> (equal to the larger when one dominates).</summary>
        public static SymbolicBytes Max(SymbolicBytes a, SymbolicBytes b)
        {
            var keys = a.terms.Select(t => t.Key).Union(b.terms.Select(t => t.Key), StringComparer.Ordinal);
            return FromTerms(keys.Select(k => new KeyValuePair<string, long>(k, Math.Max(a.Coefficient(k), b.Coefficient(k)))));
        }

        /// <summary>True when this is at most <paramref name="other"/> for every value ≥ 1 of the symbols (dims are
        /// positive): written in the shifted symbols s = 1 + s' (so s' ≥ 0), every coefficient of this is at most the
        /// same coefficient of <paramref name="other"/>. Sound (never true when some values make this larger), and it
        /// sees that 576·B + 152 is above 48·B + 156, which a plain coefficient comparison cannot.</summary>
        public bool IsDominatedBy(SymbolicBytes other)
        {
            var a = Shifted();
            var b = other.Shifted();
            foreach (var t in a.terms) if (t.Value > b.Coefficient(t.Key)) return false;
            foreach (var t in b.terms) if (t.Value < 0 && a.Coefficient(t.Key) > t.Value) return false;
            return true;
        }

        /// <summary>The same polynomial in the symbols s' = s − 1: each monomial s1·…·sk becomes the sum over the subsets
        /// of its factors (the product of (1 + si')).</summary>
        SymbolicBytes Shifted()
        {
            var result = new List<KeyValuePair<string, long>>();
            foreach (var t in terms)
            {
                var names = Symbols(t.Key).ToArray();
                if (names.Length > 16) throw new OverflowException($"monomial {t.Key} has too many factors to compare");
                for (int mask = 0; mask < 1 << names.Length; mask++)
                {
                    var chosen = names.Where((_, i) => (mask & (1 << i)) != 0);
                    result.Add(new KeyValuePair<string, long>(string.Join("*", chosen), t.Value));
                }
            }
            return FromTerms(result);
        }

        /// <summary>The value for the given symbol values (checked); throws naming a symbol that has none.</summary>
        public long Evaluate(IReadOnlyDictionary<string, long> symbols)
        {
            long total = 0;
            foreach (var t in terms)
            {
                long v = t.Value;
                foreach (var s in Symbols(t.Key))
                {
                    if (!symbols.TryGetValue(s, out var x))
                        throw new KeyNotFoundException($"the byte count {this} needs a value for the symbolic dimension {s}");
                    v = checked(v * x);
                }
                total = checked(total + v);
            }
            return total;
        }

        /// <summary>Replaces the bound symbols by their values; others stay symbolic.</summary>
        public SymbolicBytes Substitute(IReadOnlyDictionary<string, long> symbols)
        {
            var result = new List<KeyValuePair<string, long>>();
            foreach (var t in terms)
            {
                long v = t.Value;
                var rest = new List<string>();
                foreach (var s in Symbols(t.Key))
                {
                    if (symbols.TryGetValue(s, out var x)) v = checked(v * x);
                    else rest.Add(s);
                }
                result.Add(new KeyValuePair<string, long>(string.Join("*", rest), v));
            }
            return FromTerms(result);
        }

        /// <summary>The formula for people: <c>3,176·B + 814,120</c>, <c>12·B·T</c>, <c>0</c>.</summary>
        public override string ToString()
        {
            if (terms.Length == 0) return "0";
            var sb = new StringBuilder();
            for (int i = 0; i < terms.Length; i++)
            {
                var t = terms[i];
                long c = t.Value;
                if (i > 0) sb.Append(c < 0 ? " - " : " + ");
                else if (c < 0) sb.Append('-');
                long abs = c == long.MinValue ? c : Math.Abs(c);
                var monomial = string.Join("·", Symbols(t.Key));
                if (monomial.Length == 0) sb.Append(abs.ToString("N0", CultureInfo.InvariantCulture));
                else if (abs == 1) sb.Append(monomial);
                else sb.Append(abs.ToString("N0", CultureInfo.InvariantCulture)).Append('·').Append(monomial);
            }
            return sb.ToString();
        }

        /// <summary>The canonical machine form, <c>3176*B+814120</c>, which <see cref="Parse"/> reads back.</summary>
        public string ToCanonicalString()
        {
            if (terms.Length == 0) return "0";
            return string.Join("+", terms.Select(t => t.Key.Length == 0
                ? t.Value.ToString(CultureInfo.InvariantCulture)
                : t.Value.ToString(CultureInfo.InvariantCulture) + "*" + t.Key));
        }

        /// <summary>Reads <see cref="ToCanonicalString"/>'s form: terms joined by '+', each a product of an integer
        /// (optional, signed) and symbols joined by '*'.</summary>
        public static SymbolicBytes Parse(string text)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var list = new List<KeyValuePair<string, long>>();
            foreach (var termText in text.Split('+'))
            {
                var term = termText.Trim();
                if (term.Length == 0) throw new FormatException($"'{text}' is not a byte polynomial: an empty term");
                long c = 1;
                var names = new List<string>();
                foreach (var part in term.Split('*'))
                {
                    var p = part.Trim();
                    if (long.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) c = checked(c * v);
                    else if (Dim.IsIdentifier(p)) names.Add(p);
                    else throw new FormatException($"'{text}' is not a byte polynomial: '{p}' is neither an integer nor a symbol");
                }
                list.Add(new KeyValuePair<string, long>(string.Join("*", names), c));
            }
            return FromTerms(list);
        }

        /// <summary>Whether the two polynomials have the same terms (same monomials, same coefficients).</summary>
        public bool Equals(SymbolicBytes? other)
        {
            if (other is null || other.terms.Length != terms.Length) return false;
            for (int i = 0; i < terms.Length; i++)
            {
                if (terms[i].Key != other.terms[i].Key || terms[i].Value != other.terms[i].Value) return false;
            }
            return true;
        }

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is SymbolicBytes s && Equals(s);

        /// <inheritdoc/>
        public override int GetHashCode()
        {
            unchecked
            {
                int h = 17;
                foreach (var t in terms) h = (h * 31 + StringComparer.Ordinal.GetHashCode(t.Key)) * 31 + t.Value.GetHashCode();
                return h;
            }
        }

        static IEnumerable<string> Symbols(string monomial) => monomial.Length == 0 ? Enumerable.Empty<string>() : monomial.Split('*');

        static int Degree(string monomial) => monomial.Length == 0 ? 0 : monomial.Split('*').Length;

        static string Normalize(string monomial) =>
            string.Join("*", Symbols(monomial).Select(s => s.Trim()).OrderBy(s => s, StringComparer.Ordinal));
    }
}
