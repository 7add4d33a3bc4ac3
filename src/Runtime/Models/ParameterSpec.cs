using XlaGen.Hlo;

namespace XlaGen;

/// <summary>A model parameter: its dotted path (encoder.w1), element type, dims and initialiser.</summary>
public sealed record ParameterSpec(string Path, ElementType ElementType, long[] Dims, Init Init, double InitValue)
{
    public Shape Shape => Hlo.Shape.Array(ElementType, Dims);

    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public override string ToString() => $"{Path}: {Shape}";
}
