using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace XlaGen.Hlo
{
    /// <summary>
    /// One dimension of a shape: a constant (784) or a monomial over symbolic dimensions (B, 2*B, B*T).
    /// Symbols exist only at build time, in the generator; every program the runtime builds binds them to
    /// constants. Monomials are closed under the products that reshape needs, and two dims are equal only
    /// when they are provably equal, so B and 784 (or B and C) never match.
    /// </summary>
    public readonly struct Dim : IEquatable<Dim>
    {
        readonly string? symbols;

        Dim(long factor, string symbols)
        {
            Factor = factor;
            this.symbols = symbols;
        }

        /// <summary>The constant factor (the whole value for a constant dim).</summary>
        public long Factor { get; }

        /// <summary>Symbols multiplied together, sorted, joined by '*'; empty for a constant.</summary>
        public string Symbols => symbols ?? "";

        /// <summary>Whether the dim is a plain number (no symbols), so <see cref="Value"/> may be read.</summary>
        public bool IsConstant => Symbols.Length == 0;

        /// <summary>The value of a constant dim; throws for a symbolic one.</summary>
        public long Value => IsConstant ? Factor : throw new InvalidOperationException($"dimension {this} is symbolic");

        /// <summary>A constant dim of <paramref name="value"/> elements (not validated; <see cref="Shape.Array(ElementType, Dim[])"/> refuses a negative one).</summary>
        public static Dim Constant(long value) => new Dim(value, "");

        /// <summary>A symbolic dim named <paramref name="name"/> (B, T, …), with factor 1.</summary>
        /// <exception cref="ArgumentException"><paramref name="name"/> is not an identifier (see <see cref="IsIdentifier"/>).</exception>
        public static Dim Symbol(string name)
        {
            if (!IsIdentifier(name)) throw new ArgumentException($"'{name}' is not a valid symbolic dimension name");
            return new Dim(1, name);
        }

        /// <summary>A constant dim, as <see cref="Constant"/>.</summary>
        public static implicit operator Dim(long value) => Constant(value);

        /// <summary>A constant dim, as <see cref="Constant"/>.</summary>
        public static implicit operator Dim(int value) => Constant(value);

        /// <summary>The symbols of the monomial, sorted ordinally, each as often as it occurs (B*B gives B twice); empty for a constant.</summary>
        public IEnumerable<string> SymbolNames => IsConstant ? Enumerable.Empty<string>() : Symbols.Split('*');

        /// <summary>The product of two dims: the factors multiply and the symbols are merged (2*B times T is 2*B*T).</summary>
        public static Dim operator *(Dim a, Dim b)
        {
            if (a.IsConstant && b.IsConstant) return Constant(a.Factor * b.Factor);
            var names = a.SymbolNames.Concat(b.SymbolNames).OrderBy(s => s, StringComparer.Ordinal);
            return new Dim(a.Factor * b.Factor, string.Join("*", names));
        }

        /// <summary>Exact division: succeeds when <paramref name="b"/> divides <paramref name="a"/> as a monomial.</summary>
        public static bool TryDivide(Dim a, Dim b, out Dim quotient)
        {
            quotient = default;
            if (b.Factor == 0 || a.Factor % b.Factor != 0) return false;
            var rest = a.SymbolNames.ToList();
            foreach (var s in b.SymbolNames)
            {
                if (!rest.Remove(s)) return false;
            }
            quotient = new Dim(a.Factor / b.Factor, string.Join("*", rest));
            return true;
        }

        /// <summary>Sum of two dims when it is again a monomial: both constant, or the same symbols (B + 2*B = 3*B).</summary>
        public static bool TryAdd(Dim a, Dim b, out Dim sum)
        {
            sum = default;
            if (a.Symbols != b.Symbols) return false;
            sum = new Dim(a.Factor + b.Factor, a.Symbols);
            return true;
        }

        /// <summary>Replaces every symbol by its bound value; a symbol without a binding stays symbolic.</summary>
        public Dim Substitute(IReadOnlyDictionary<string, long> bindings)
        {
            if (IsConstant) return this;
            Dim result = Constant(Factor);
            foreach (var s in SymbolNames)
            {
                result *= bindings.TryGetValue(s, out var v) ? Constant(v) : Symbol(s);
            }
            return result;
        }

        /// <summary>Replaces symbols by dims (a callee's N by the caller's B); unmapped symbols stay.</summary>
        public Dim Substitute(IReadOnlyDictionary<string, Dim> bindings)
        {
            if (IsConstant) return this;
            Dim result = Constant(Factor);
            foreach (var s in SymbolNames)
            {
                result *= bindings.TryGetValue(s, out var v) ? v : Symbol(s);
            }
            return result;
        }

        /// <summary>Whether the two dims are provably equal: the same factor and the same symbols. B and 784 are never equal.</summary>
        public bool Equals(Dim other) => Factor == other.Factor && Symbols == other.Symbols;

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is Dim d && Equals(d);

        /// <inheritdoc/>
        public override int GetHashCode() => unchecked(Factor.GetHashCode() * 397 ^ Symbols.GetHashCode());

        /// <summary>Whether the two dims are provably equal (see <see cref="Equals(Dim)"/>).</summary>
        public static bool operator ==(Dim a, Dim b) => a.Equals(b);

        /// <summary>Whether the two dims are not provably equal (see <see cref="Equals(Dim)"/>).</summary>
        public static bool operator !=(Dim a, Dim b) => !a.Equals(b);

        /// <summary>The dim as HLO text and <see cref="Parse"/> read it: 784, B, 2*B, B*T.</summary>
        public override string ToString()
        {
            if (IsConstant) return Factor.ToString(CultureInfo.InvariantCulture);
            return Factor == 1 ? Symbols : Factor.ToString(CultureInfo.InvariantCulture) + "*" + Symbols;
        }

        /// <summary>Parses "784", "B", "2*B", "B*T".</summary>
        public static Dim Parse(string text)
        {
            if (!TryParse(text, out var d)) throw new FormatException($"'{text}' is not a dimension (a number or a product like 2*B)");
            return d;
        }

        /// <summary>Parses a dim as <see cref="Parse"/> does, returning false instead of throwing when <paramref name="text"/>
        /// is null, empty or not a product of numbers and identifiers.</summary>
        public static bool TryParse(string text, out Dim dim)
        {
            dim = default;
            if (string.IsNullOrEmpty(text)) return false;
            Dim result = Constant(1);
            foreach (var part in text.Split('*'))
            {
                var p = part.Trim();
                if (long.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) result *= Constant(v);
                else if (IsIdentifier(p)) result *= Symbol(p);
                else return false;
            }
            dim = result;
            return true;
        }

        /// <summary>Whether <paramref name="s"/> may name a symbolic dim: a letter or underscore, then letters, digits and underscores.</summary>
        public static bool IsIdentifier(string s)
        {
            if (string.IsNullOrEmpty(s) || !(char.IsLetter(s[0]) || s[0] == '_')) return false;
            foreach (var c in s)
            {
                if (!(char.IsLetterOrDigit(c) || c == '_')) return false;
            }
            return true;
        }
    }
}
