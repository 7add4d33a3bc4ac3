using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace XlaGen.Hlo
{
    /// <summary>
    /// An HLO shape: an array (element type, dims, optional layout) or a tuple of shapes. Immutable.
    /// Equality ignores the layout (it is a physical detail the executor does not depend on); use
    /// <see cref="EqualsWithLayout"/> where it matters (proto round trips).
    /// </summary>
    public sealed class Shape : IEquatable<Shape>
    {
        static readonly Dim[] NoDims = new Dim[0];
        static readonly Shape[] NoShapes = new Shape[0];
        readonly Dim[] dims;
        readonly Shape[] tupleShapes;
        readonly long[]? layout;

        Shape(ElementType elementType, Dim[] dims, Shape[] tupleShapes, long[]? layout)
        {
            ElementType = elementType;
            this.dims = dims;
            this.tupleShapes = tupleShapes;
            this.layout = layout;
        }

        /// <summary>The element type of an array shape; <see cref="ElementType.Tuple"/> for a tuple and <see cref="ElementType.Token"/> for a token.</summary>
        public ElementType ElementType { get; }

        /// <summary>The dimensions, major to minor (row-major: the last one varies fastest by default); empty for a scalar, a tuple or a token.</summary>
        public IReadOnlyList<Dim> Dims => dims;

        /// <summary>The element shapes of a tuple; empty for an array.</summary>
        public IReadOnlyList<Shape> TupleShapes => tupleShapes;

        /// <summary>minor_to_major as written in the program, or null for the default (row-major).</summary>
        public IReadOnlyList<long>? Layout => layout;

        /// <summary>The number of dimensions: 0 for a scalar (and for a tuple or token).</summary>
        public int Rank => dims.Length;

        /// <summary>Whether this is a tuple shape.</summary>
        public bool IsTuple => ElementType == ElementType.Tuple;

        /// <summary>Whether this is an array shape (not a tuple, token or opaque).</summary>
        public bool IsArray => ElementType.IsArray();

        /// <summary>Whether this is an array of rank 0.</summary>
        public bool IsScalar => IsArray && dims.Length == 0;

        /// <summary>True when no dim (of any tuple element) is symbolic.</summary>
        public bool IsStatic => IsTuple ? tupleShapes.All(s => s.IsStatic) : dims.All(d => d.IsConstant);

        /// <summary>An array of <paramref name="type"/> with the given dims (major to minor) and the default row-major layout.
        /// The token type is also accepted.</summary>
        /// <exception cref="ArgumentException"><paramref name="type"/> is not an array element type or a token, or a dim is negative.</exception>
        public static Shape Array(ElementType type, params Dim[] dims)
        {
            if (!type.IsArray() && type != ElementType.Token)
                throw new ArgumentException($"{type} is not an array element type");
            foreach (var d in dims)
            {
                if (d.Factor < 0) throw new ArgumentException($"negative dimension {d} in a shape");
            }
            return new Shape(type, (Dim[])dims.Clone(), NoShapes, null);
        }

        /// <summary>An array of <paramref name="type"/> with constant dims, as <see cref="Array(ElementType, Dim[])"/>.</summary>
        /// <exception cref="ArgumentException"><paramref name="type"/> is not an array element type, or a dim is negative.</exception>
        public static Shape Array(ElementType type, IEnumerable<long> dims) =>
            Array(type, dims.Select(d => (Dim)d).ToArray());

        /// <summary>A rank-0 array of <paramref name="type"/>.</summary>
        /// <exception cref="ArgumentException"><paramref name="type"/> is not an array element type.</exception>
        public static Shape Scalar(ElementType type) => Array(type);

        /// <summary>A tuple of the given shapes (the array is copied).</summary>
        public static Shape Tuple(params Shape[] elements) => new Shape(ElementType.Tuple, NoDims, (Shape[])elements.Clone(), null);

        /// <summary>The token shape, token[] in HLO text.</summary>
        public static Shape Token() => new Shape(ElementType.Token, NoDims, NoShapes, null);

        /// <summary>This shape with an explicit minor_to_major layout (validated to be a permutation).</summary>
        public Shape WithLayout(IReadOnlyList<long>? minorToMajor)
        {
            if (minorToMajor == null) return new Shape(ElementType, dims, tupleShapes, null);
            if (IsTuple) throw new ArgumentException("a tuple shape has no layout of its own");
            if (minorToMajor.Count != Rank || !minorToMajor.OrderBy(x => x).SequenceEqual(Enumerable.Range(0, Rank).Select(i => (long)i)))
                throw new ArgumentException($"layout {{{string.Join(",", minorToMajor)}}} is not a permutation of the {Rank} dimensions of {this}");
            return new Shape(ElementType, dims, tupleShapes, minorToMajor.ToArray());
        }

        /// <summary>This array shape with another element type; the dims and layout are kept.</summary>
        /// <exception cref="InvalidOperationException">This is a tuple shape.</exception>
        public Shape WithElementType(ElementType type) =>
            IsTuple ? throw new InvalidOperationException("a tuple has no element type to change") : new Shape(type, dims, tupleShapes, layout);

        /// <summary>An array of this element type with other dims and the default layout.</summary>
        /// <exception cref="ArgumentException">A dim is negative, or this shape's element type is not an array type.</exception>
        public Shape WithDims(params Dim[] newDims) => Array(ElementType, newDims);

        /// <summary>True when the layout is absent or row-major (minor_to_major = rank-1 … 0).</summary>
        public bool HasDefaultLayout
        {
            get
            {
                if (layout == null) return true;
                for (int i = 0; i < layout.Length; i++)
                {
                    if (layout[i] != layout.Length - 1 - i) return false;
                }
                return true;
            }
        }

        /// <summary>The dims as numbers; throws naming the symbol when a dim is symbolic.</summary>
        public long[] ConcreteDims()
        {
            var r = new long[dims.Length];
            for (int i = 0; i < r.Length; i++)
            {
                if (!dims[i].IsConstant) throw new InvalidOperationException($"shape {this} has a symbolic dimension {dims[i]}; bind it before running");
                r[i] = dims[i].Factor;
            }
            return r;
        }

        /// <summary>Element count of a static array shape.</summary>
        public long ElementCount
        {
            get
            {
                long n = 1;
                foreach (var d in dims) n *= d.Value;
                return n;
            }
        }

        /// <summary>Element count as a (possibly symbolic) dim.</summary>
        public Dim ElementCountDim
        {
            get
            {
                Dim n = 1;
                foreach (var d in dims) n *= d;
                return n;
            }
        }

        /// <summary>This shape with every symbol that <paramref name="bindings"/> binds replaced by its value (in tuple elements too); unbound symbols stay.</summary>
        public Shape Substitute(IReadOnlyDictionary<string, long> bindings)
        {
            if (IsTuple) return new Shape(ElementType, NoDims, tupleShapes.Select(s => s.Substitute(bindings)).ToArray(), null);
            return new Shape(ElementType, dims.Select(d => d.Substitute(bindings)).ToArray(), NoShapes, layout);
        }

        /// <summary>This shape with symbols replaced by other dims (a callee's N by the caller's B), in tuple elements too; unmapped symbols stay.</summary>
        public Shape Substitute(IReadOnlyDictionary<string, Dim> bindings)
        {
            if (IsTuple) return new Shape(ElementType, NoDims, tupleShapes.Select(s => s.Substitute(bindings)).ToArray(), null);
            return new Shape(ElementType, dims.Select(d => d.Substitute(bindings)).ToArray(), NoShapes, layout);
        }

        /// <summary>Whether the two shapes have the same element type, provably equal dims and equal tuple elements. The layout
        /// is ignored; see <see cref="EqualsWithLayout"/>.</summary>
        public bool Equals(Shape? other)
        {
            if (other is null) return false;
            if (ReferenceEquals(this, other)) return true;
            return ElementType == other.ElementType && dims.SequenceEqual(other.dims) && tupleShapes.SequenceEqual(other.tupleShapes);
        }

        /// <summary>Same dims and element types, and the same physical layout (absent equals row-major).</summary>
        public bool EqualsWithLayout(Shape other)
        {
            if (!Equals(other)) return false;
            if (IsTuple) return tupleShapes.Zip(other.tupleShapes, (a, b) => a.EqualsWithLayout(b)).All(x => x);
            return EffectiveLayout().SequenceEqual(other.EffectiveLayout());
        }

        /// <summary>minor_to_major, with the default filled in.</summary>
        public long[] EffectiveLayout() => layout != null ? (long[])layout.Clone() : Enumerable.Range(0, Rank).Select(i => (long)(Rank - 1 - i)).ToArray();

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is Shape s && Equals(s);

        /// <inheritdoc/>
        public override int GetHashCode()
        {
            unchecked
            {
                int h = (int)ElementType;
                foreach (var d in dims) h = h * 31 + d.GetHashCode();
                foreach (var t in tupleShapes) h = h * 31 + t.GetHashCode();
                return h;
            }
        }

        /// <summary>Shape equality as <see cref="Equals(Shape)"/> (layout ignored); two nulls are equal.</summary>
        public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);

        /// <summary>The negation of <see cref="op_Equality"/>.</summary>
        public static bool operator !=(Shape? a, Shape? b) => !(a == b);

        /// <summary>f32[128,784], (f32[], s32[2]); no layout.</summary>
        public override string ToString() => ToString(includeLayout: false);

        /// <summary>With <paramref name="includeLayout"/>: f32[128,784]{1,0}, as XLA prints instruction shapes.</summary>
        public string ToString(bool includeLayout)
        {
            var sb = new StringBuilder();
            Append(sb, includeLayout);
            return sb.ToString();
        }

        /// <summary>Appends the shape's text, as <see cref="ToString(bool)"/> returns it, to <paramref name="sb"/>.</summary>
        public void Append(StringBuilder sb, bool includeLayout)
        {
            if (IsTuple)
            {
                sb.Append('(');
                for (int i = 0; i < tupleShapes.Length; i++)
                {
                    if (i > 0) sb.Append(", ");
                    tupleShapes[i].Append(sb, includeLayout);
                }
                sb.Append(')');
                return;
            }
            if (ElementType == ElementType.Token)
            {
                sb.Append("token[]");
                return;
            }
            sb.Append(ElementType.TextName()).Append('[');
            for (int i = 0; i < dims.Length; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(dims[i].ToString());
            }
            sb.Append(']');
            if (includeLayout)
            {
                sb.Append('{').Append(string.Join(",", EffectiveLayout())).Append('}');
            }
        }

        /// <summary>"the dims of" text for messages: [B,784].</summary>
        public string DimsText => "[" + string.Join(",", dims.Select(d => d.ToString())) + "]";
    }
}
