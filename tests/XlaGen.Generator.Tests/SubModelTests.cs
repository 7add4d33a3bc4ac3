using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using XlaGen.Hlo;

namespace XlaGen.Tests;

public class SubModelTests
{
    [Fact]
    public void SubModelInTheSameAssemblyIsInlined()
    {
        var r = GeneratorHarness.Run(("Encoder.cs", Models.Encoder), ("Autoencoder.cs", Models.Autoencoder));
        Assert.Empty(r.Errors);
        var hlo = ForwardHlo(r.Output, "Samples.Autoencoder", "Reconstruct");
        Assert.Contains("%encoder.w = f32[784,32]{1,0} parameter(1)", hlo);
        Assert.Contains("op_name=\"Autoencoder.Reconstruct/encoder.Encode\" source_file=\"Encoder.cs\"", hlo);
        Snapshot.Match(hlo);
    }

    [Fact]
    public void SubModelFromAnotherAssemblyIsInlinedFromItsManifest()
    {
        // Build the encoder into its own assembly with the generator, then compile the autoencoder against its metadata only.
        var lib = GeneratorHarness.Run(GeneratorHarness.Compilation("EncoderLib", new[] { ("Encoder.cs", Models.Encoder) }, Array.Empty<MetadataReference>()));
        Assert.Empty(lib.Errors);
        using var image = new MemoryStream();
        Assert.True(lib.Output.Emit(image).Success);
        var reference = MetadataReference.CreateFromImage(image.ToArray());
        var app = GeneratorHarness.Run(GeneratorHarness.Compilation("App", new[] { ("Autoencoder.cs", Models.Autoencoder) }, new[] { reference }));
        Assert.Empty(app.Errors);
        var local = GeneratorHarness.Run(("Encoder.cs", Models.Encoder), ("Autoencoder.cs", Models.Autoencoder));
        // The program is the same whichever way the encoder arrived.
        Assert.Equal(ForwardHlo(local.Output, "Samples.Autoencoder", "Reconstruct"), ForwardHlo(app.Output, "Samples.Autoencoder", "Reconstruct"));
        Assert.Equal(ForwardHlo(local.Output, "Samples.Autoencoder", "Error"), ForwardHlo(app.Output, "Samples.Autoencoder", "Error"));
    }

    [Fact]
    public void ModelFromAnAssemblyBuiltWithoutTheGeneratorIsReported()
    {
        // Compile the encoder without running the generator: its type has [XlaModel] but no manifest.
        var plain = GeneratorHarness.Compilation("Plain", new[] { ("Encoder.cs", Models.Encoder) }, Array.Empty<MetadataReference>());
        using var image = new MemoryStream();
        Assert.True(plain.Emit(image).Success);
        var app = GeneratorHarness.Run(GeneratorHarness.Compilation("App", new[] { ("Autoencoder.cs", Models.Autoencoder) }, new[] { MetadataReference.CreateFromImage(image.ToArray()) }));
        var d = Assert.Single(app.GeneratorDiagnostics, x => x.Id == "XG0010");
        // On the field's name in the app's source.
        Assert.Equal("Autoencoder.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(new TextSpan(Models.Autoencoder.IndexOf("Encoder encoder", StringComparison.Ordinal) + "Encoder ".Length, "encoder".Length), d.Location.SourceSpan);
        Assert.Equal("Field 'encoder' has model type 'Encoder', which comes from an assembly built without the XlaGen generator (it carries no [XlaModelParam]/[XlaModelForward] manifest); reference XlaGen.Generator as an analyzer in that project", d.GetMessage());
    }

    [Fact]
    public void SubModelArgumentShapeIsCheckedAtTheCall()
    {
        var source = Models.Autoencoder.Replace("[Shape(\"B\", 784)] Tensor<float> x)\n        => Nn.Sigmoid(encoder.Encode(x)", "[Shape(\"B\", 784)] Tensor<float> x)\n        => Nn.Sigmoid(encoder.Encode(x.Reshape(-1, 392))");
        Assert.NotEqual(Models.Autoencoder, source);
        var r = GeneratorHarness.Run(("Encoder.cs", Models.Encoder), ("Autoencoder.cs", source));
        var d = Assert.Single(r.GeneratorDiagnostics);
        Assert.Equal("XG0001", d.Id);
        // On the argument that breaks the callee's [Shape] contract, in the caller's file.
        Assert.Equal("Autoencoder.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(new TextSpan(source.IndexOf("encoder.Encode(x.Reshape", StringComparison.Ordinal) + "encoder.Encode(".Length, "x.Reshape(-1, 392)".Length), d.Location.SourceSpan);
        Assert.Equal("'encoder.Encode(x.Reshape(-1, 392))': argument 'x' must be f32[N,784], got f32[2*B,392]: dimension 1 is 392, expected 784", d.GetMessage());
    }

    /// <summary>The symbolic HLO text the generator recorded for a forward method (its manifest attribute).</summary>
    public static string ForwardHlo(Compilation output, string type, string method)
    {
        var symbol = output.GetTypeByMetadataName(type)!;
        var attr = symbol.GetAttributes().Single(a => a.AttributeClass!.Name == "XlaModelForwardAttribute" && (string)a.ConstructorArguments[0].Value! == method);
        var text = (string)attr.ConstructorArguments[2].Value!;
        HloVerifier.Check(HloTextParser.Parse(text));
        return text;
    }
}
