using System.Text;
using XlaGen.Checkpoints;
using XlaGen.Hlo;

namespace XlaGen.Fuzz;

/// <summary>An input made a harness break its contract: a foreign exception escaped, or accepted input did not
/// print stably. Anything a harness throws other than <see cref="Rejected"/> is a finding.</summary>
public sealed class FuzzFinding : Exception
{
    public FuzzFinding(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The three harnesses. Each feeds bytes to a reader; the reader's own exception types (a clear refusal of bad input)
/// end the run as <see cref="Outcome.Rejected"/>; anything else escapes and is a crash. Accepted HLO must also print
/// as text that parses back and prints the same (the printer and the parser agree on everything the readers accept).
/// </summary>
public static class Targets
{
    public enum Outcome { Accepted, Rejected }

    /// <summary>What a run did, with a rough trace of the path it took (for accepted HLO the printed module; for a
    /// refusal its message with the numbers and quoted parts taken out): the runner keeps inputs whose trace is new, a cheap stand-in
    /// for the coverage feedback of an instrumented fuzzer.</summary>
    public readonly record struct Result(Outcome Outcome, string Trace);

    static Result Refused(Exception e) => new(Outcome.Rejected, e.GetType().Name + Variable.Replace(e.Message, ""));

    /// <summary>What differs between refusals of one kind: names (quoted, or after %), numbers, shapes, punctuation;
    /// the lower-case words that are left say which check refused.</summary>
    static readonly System.Text.RegularExpressions.Regex Variable = new("'[^']*'|\"[^\"]*\"|%[^ ,)]*|[^a-z ]+");

    public static readonly string[] Names = { "hlo-text", "hlo-proto", "safetensors" };

    public static Func<byte[], Result> Get(string name) => name switch
    {
        "hlo-text" => HloText,
        "hlo-proto" => HloProtoBytes,
        "safetensors" => SafetensorsBytes,
        _ => throw new ArgumentException($"unknown target '{name}'; the targets are {string.Join(", ", Names)}"),
    };

    static bool IsOwnHlo(Exception e) => e is HloParseException or HloProtoException or HloVerificationException;

    public static Result HloText(byte[] input)
    {
        HloModule module;
        try
        {
            module = HloTextParser.Parse(Encoding.UTF8.GetString(input));
        }
        catch (Exception e) when (IsOwnHlo(e))
        {
            return Refused(e);
        }
        return new(Outcome.Accepted, PrintsStably(module));
    }

    public static Result HloProtoBytes(byte[] input)
    {
        HloModule module;
        try
        {
            module = HloProto.Read(input);
        }
        catch (Exception e) when (IsOwnHlo(e))
        {
            return Refused(e);
        }
        return new(Outcome.Accepted, PrintsStably(module));
    }

    /// <summary>The reader and then the range checks a checkpoint load runs on its metadata and step counters.</summary>
    public static Result SafetensorsBytes(byte[] input)
    {
        var trace = new StringBuilder();
        try
        {
            using var stream = new MemoryStream(input, writable: false);
            var file = Safetensors.Load(stream, "fuzz.safetensors");
            CheckpointMetadata.Integer(file, "epoch", CheckpointMetadata.MaxEpoch);
            CheckpointMetadata.Integer(file, "step", CheckpointMetadata.MaxStep);
            CheckpointMetadata.Unsigned(file, "shuffle_seed");
            CheckpointMetadata.CheckNumbers(file, "learning_rate");
            CheckpointMetadata.CheckNumbers(file, "optimizer");
            CheckpointMetadata.CheckStepTensors(file);
            foreach (var (name, tensor) in file.Tensors)
            {
                long count = ElementsOf(tensor.Shape);
                if (count != tensor.ElementCount)
                    throw new FuzzFinding($"tensor '{name}' holds {tensor.ElementCount} elements for the shape [{string.Join(",", tensor.Shape)}]");
                trace.Append(tensor.ElementType).Append(tensor.Rank).Append(count == 0 ? "e" : "").Append(';');
            }
            foreach (var key in file.Metadata.Keys.Order(StringComparer.Ordinal)) trace.Append(key).Append(';');
        }
        catch (CheckpointException e)
        {
            return Refused(e);
        }
        return new(Outcome.Accepted, trace.ToString());
    }

    /// <summary>The element count a shape claims, without wrapping around (-1 when it overflows a long): a shape whose
    /// product overflows must have been refused.</summary>
    static long ElementsOf(IReadOnlyList<long> shape)
    {
        if (shape.Contains(0)) return 0;
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0 || n > long.MaxValue / d) return -1;
            n *= d;
        }
        return n;
    }

    /// <summary>print → parse → print gives the same text, which is returned.</summary>
    static string PrintsStably(HloModule module)
    {
        var text = HloPrinter.Print(module);
        HloModule again;
        try
        {
            again = HloTextParser.Parse(text);
        }
        catch (Exception e) when (IsOwnHlo(e))
        {
            throw new FuzzFinding($"accepted input printed text the parser rejects: {e.Message}", e);
        }
        var second = HloPrinter.Print(again);
        if (second != text) throw new FuzzFinding("accepted input printed text that prints differently once parsed");
        return text;
    }
}
