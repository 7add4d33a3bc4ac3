using XlaGen.Checkpoints;

namespace XlaGen.Tests.Checkpoints;

/// <summary>Saves killed mid-write leave <c>.{name}.{guid}.tmp</c> beside the target; the next save of the same target
/// removes exactly those (and none a running save still holds), never any other file.</summary>
public sealed class StaleTempFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("xlagen-stale-temp-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => Path.Combine(dir, name);

    static KeyValuePair<string, Tensor>[] Weights(float value) =>
        new[] { new KeyValuePair<string, Tensor>("w", new Tensor<float>(new long[] { 3 }, new[] { value, value, value })) };

    string LeaveFile(string name, int bytes = 1000)
    {
        var path = PathOf(name);
        File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }

    static string Hex() => Guid.NewGuid().ToString("N");

    [Fact]
    public void TheNextSaveRemovesStaleTempFilesOfItsTargetAndNothingElse()
    {
        var target = PathOf("model.safetensors");
        Safetensors.Save(target, Weights(1));
        var stale = Enumerable.Range(0, 3).Select(_ => LeaveFile($".model.safetensors.{Hex()}.tmp")).ToList();
        var others = new[]
        {
            LeaveFile($".other.safetensors.{Hex()}.tmp"),              // another target's temp file
            LeaveFile($".model.safetensors.{Hex().ToUpperInvariant()}.tmp"), // not the pattern we write (upper-case hex)
            LeaveFile($".model.safetensors.{Hex()[..31]}.tmp"),        // 31 digits
            LeaveFile($".model.safetensors.{Hex()}.tmp.keep"),
            LeaveFile($"model.safetensors.{Hex()}.tmp"),               // no leading dot
            LeaveFile($".model.safetensors.x.{Hex()}.tmp"),            // the temp pattern of "model.safetensors.x"
            LeaveFile(".model.safetensors.tmp"),
            LeaveFile("notes.txt"),
        };

        Safetensors.Save(target, Weights(2));

        foreach (var s in stale) Assert.False(File.Exists(s), $"{Path.GetFileName(s)} was left behind");
        foreach (var o in others) Assert.True(File.Exists(o), $"{Path.GetFileName(o)} is not a temp file of model.safetensors but was removed");
        Assert.Equal(new[] { target }.Concat(others).Order(StringComparer.Ordinal), Directory.GetFiles(dir).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { 2f, 2f, 2f }, ((Tensor<float>)Safetensors.Load(target).Tensors["w"]).Data);
    }

    [Fact]
    public void ATempFileHeldByASaveInProgressIsLeftAlone()
    {
        var target = PathOf("model.safetensors");
        var running = PathOf($".model.safetensors.{Hex()}.tmp");
        // A save in progress holds its temp file exactly like this (FileShare.None: an exclusive flock on Unix).
        using (var held = new FileStream(running, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            held.Write(new byte[100]);
            var stale = LeaveFile($".model.safetensors.{Hex()}.tmp");

            Safetensors.Save(target, Weights(3));

            Assert.True(File.Exists(running), "the temp file of a save in progress was removed");
            Assert.False(File.Exists(stale), "the stale temp file was left behind");
        }
        Safetensors.Save(target, Weights(4));
        Assert.False(File.Exists(running), "once its save ended, the leftover was not removed by the next save");
        Assert.Equal(new[] { target }, Directory.GetFiles(dir));
    }

    [Fact]
    public void ASaveWhoseTargetIsMissingStillRemovesLeftoversOfThatName()
    {
        var target = PathOf("fresh.safetensors");
        var stale = LeaveFile($".fresh.safetensors.{Hex()}.tmp", bytes: 1 << 20);
        Safetensors.Save(target, Weights(5));
        Assert.False(File.Exists(stale));
        Assert.Equal(new[] { target }, Directory.GetFiles(dir));
    }
}
