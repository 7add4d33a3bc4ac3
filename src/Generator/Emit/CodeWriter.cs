using System.Text;

namespace XlaGen.Generator.Emit
{
    /// <summary>A small indenting text writer for generated C#.</summary>
    sealed class CodeWriter
    {
        readonly StringBuilder sb = new StringBuilder();
        int indent;

        public CodeWriter Line(string text = "")
        {
            if (text.Length > 0) sb.Append(' ', indent * 4).Append(text);
            sb.Append('\n');
            return this;
        }

        public CodeWriter Open(string text)
        {
            if (text.Length > 0) Line(text);
            Line("{");
            indent++;
            return this;
        }

        public CodeWriter Close(string suffix = "")
        {
            indent--;
            Line("}" + suffix);
            return this;
        }

        /// <summary>Writes <paramref name="text"/> and indents the lines after it (for argument lists).</summary>
        public CodeWriter Indent(string text)
        {
            Line(text);
            indent++;
            return this;
        }

        public CodeWriter Dedent(string text)
        {
            indent--;
            return Line(text);
        }

        public override string ToString() => sb.ToString();
    }
}
