using XlaGen.Hlo;

namespace XlaGen;

/// <summary>A model parameter: its dotted path (encoder.w1), element type, dims and initialiser.</summary>
public sealed record ParameterSpec(string Path, ElementType ElementType, long[] Dims, Init Init, double InitValue)
{
    /// <summary>The parameter's HLO shape (element type and dims, row-major).</summary>
    public Shape Shape => Hlo.Shape.Array(ElementType, Dims);

    /// <summary>The number of elements: the product of <see cref="Dims"/>.</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>"path: shape", such as "encoder.w1: f32[784,128]".</summary>
    public override string ToString() => $"{Path}: {Shape}";
}
