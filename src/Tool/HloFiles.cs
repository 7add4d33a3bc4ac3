using System.Text;
using XlaGen.Hlo;

namespace XlaGen.Tool;

/// <summary>HLO files as the hlo commands read and write them: HLO text (XLA's syntax) or a serialized HloModuleProto
/// (or an HloProto wrapper), told apart by their bytes when read and by the extension when written.</summary>
static class HloFiles
{
    public enum Format { Text, Proto }

    /// <summary>Extensions that name the format of a file to write.</summary>
    public const string ExtensionsHelp = ".hlo, .txt (HLO text); .pb, .binpb, .hlo.pb (HloModuleProto)";

    public static Format FormatForOutput(string command, string path)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".pb", StringComparison.Ordinal) || name.EndsWith(".binpb", StringComparison.Ordinal)) return Format.Proto;
        if (name.EndsWith(".hlo", StringComparison.Ordinal) || name.EndsWith(".txt", StringComparison.Ordinal)) return Format.Text;
        throw new UsageException($"{command}: cannot tell the format to write from the name '{path}': end it with {ExtensionsHelp}");
    }

    /// <summary>Reads and verifies the module in <paramref name="path"/>; a problem is a <see cref="BadInputException"/>
    /// naming the file (and the line and column for text).</summary>
    public static HloModule Read(string command, string path, out Format format)
    {
        byte[] bytes = Files.ReadAll(command, path);
        format = LooksLikeText(bytes) ? Format.Text : Format.Proto;
        HloModule module;
        if (format == Format.Text)
        {
            var text = Encoding.UTF8.GetString(bytes);
            try
            {
                module = HloTextParser.Parse(text);
            }
            catch (HloParseException e)
            {
                throw new BadInputException($"{command}: {path}:{e.Line}:{e.Column}: {e.Problem}", e);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new BadInputException($"{command}: {path}: is not valid HLO text: {e.Message}", e);
            }
            var problems = HloVerifier.Check(module);
            if (problems.Count > 0)
                throw new BadInputException($"{command}: {path}: the module does not verify:\n  " + string.Join("\n  ", problems));
        }
        else
        {
            try
            {
                module = HloProto.Read(bytes);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new BadInputException($"{command}: {path}: is neither HLO text nor a readable HloModuleProto ({bytes.Length} bytes): {e.Message}", e);
            }
        }
        return module;
    }

    public static void Write(string command, string path, HloModule module, Format format)
    {
        byte[] bytes = format == Format.Proto ? HloProto.Write(module) : Encoding.UTF8.GetBytes(Text(module));
        Files.WriteAll(command, path, bytes);
    }

    /// <summary>HLO text is UTF-8 without control characters other than whitespace; a serialized proto has tags and
    /// lengths (bytes below 0x20 other than \t \n \r, or invalid UTF-8) almost at once.</summary>
    static bool LooksLikeText(byte[] bytes)
    {
        foreach (byte b in bytes)
            if (b < 0x20 && b is not (byte)'\t' and not (byte)'\n' and not (byte)'\r') return false;
        try
        {
            new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return bytes.Length > 0;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>The module in HLO text, ending with one newline.</summary>
    public static string Text(HloModule module)
    {
        var text = module.ToString();
        return text.EndsWith('\n') ? text : text + "\n";
    }
}

/// <summary>File reads and writes with the errors the tool reports: a missing or unreadable input is exit 3, an
/// output that cannot be written exit 1; both name the file.</summary>
static class Files
{
    public static byte[] ReadAll(string command, string path)
    {
        if (Directory.Exists(path)) throw new BadInputException($"{command}: {path}: is a folder, not a file");
        if (!File.Exists(path)) throw new BadInputException($"{command}: {path}: no such file");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{command}: {path}: cannot be read: {e.Message}", e);
        }
    }

    public static void WriteAll(string command, string path, byte[] bytes)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir != null) Directory.CreateDirectory(dir);
            File.WriteAllBytes(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ToolFailureException($"{command}: cannot write {path}: {e.Message}", e);
        }
    }
}
