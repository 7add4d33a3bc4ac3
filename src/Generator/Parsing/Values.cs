using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>What a C# expression in a model method evaluates to at build time.</summary>
    abstract class Value
    {
    }

    /// <summary>A tensor: an instruction of the program being built.</summary>
    sealed class TensorValue : Value
    {
        public TensorValue(HloInstruction instruction)
        {
            Instruction = instruction;
        }

        public HloInstruction Instruction { get; }

        public Shape Shape => Instruction.Shape;
    }

    /// <summary>A compile-time number or bool (a literal, a const, a folded expression).</summary>
    sealed class ScalarValue : Value
    {
        public ScalarValue(double number, bool isIntegral, bool isBool = false)
        {
            Number = number;
            IsIntegral = isIntegral;
            IsBool = isBool;
        }

        public double Number { get; }

        public bool IsIntegral { get; }

        public bool IsBool { get; }
    }

    /// <summary>A compile-time int array (axes, dims, permutations).</summary>
    sealed class IntArrayValue : Value
    {
        public IntArrayValue(int[] items)
        {
            Items = items;
        }

        public int[] Items { get; }
    }

    /// <summary>A compile-time array of tensors (the params argument of Tensor.Concat and Tensor.Stack).</summary>
    sealed class TensorArrayValue : Value
    {
        public TensorArrayValue(HloInstruction[] items)
        {
            Items = items;
        }

        public HloInstruction[] Items { get; }
    }

    /// <summary>The constant null (an omitted optional int? argument such as Slice's end).</summary>
    sealed class NullValue : Value
    {
        public static readonly NullValue Instance = new NullValue();

        NullValue()
        {
        }
    }

    /// <summary>A sub-model field (its methods can be called).</summary>
    sealed class ModelValue : Value
    {
        public ModelValue(ModelLayout layout, string fieldName)
        {
            Layout = layout;
            FieldName = fieldName;
        }

        public ModelLayout Layout { get; }

        public string FieldName { get; }
    }

    /// <summary>An array field of sub-models (<c>ResBlock[] blocks</c>): its length is a build-time constant, so
    /// <c>foreach</c>, <c>blocks[i]</c> and <c>blocks.Length</c> are evaluated at build time.</summary>
    sealed class ModelArrayValue : Value
    {
        public ModelArrayValue(System.Collections.Generic.IReadOnlyList<ModelLayout> elements, string fieldName)
        {
            Elements = elements;
            FieldName = fieldName;
        }

        public System.Collections.Generic.IReadOnlyList<ModelLayout> Elements { get; }

        public string FieldName { get; }

        public ModelValue this[int i] => new ModelValue(Elements[i], FieldName + "." + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
