namespace XlaGen.Tests;

/// <summary>One mutation of a byte string for fuzz-style property tests: overwrite, flip a bit, truncate, delete, insert,
/// duplicate, or fill a run with <c>fill</c>.</summary>
public static class ByteMutation
{
    public const int Kinds = 7;

    public static byte[] Mutate(byte[] source, int kind, int position, int length, byte[] bytes, byte fill)
    {
        var b = new List<byte>(source);
        if (b.Count == 0) return bytes;
        int at = position % b.Count;
        int n = Math.Min(length, b.Count - at);
        switch (kind)
        {
            case 0: b[at] = bytes[0]; break;
            case 1: b[at] ^= (byte)(1 << (bytes[0] % 8)); break;
            case 2: b.RemoveRange(at, b.Count - at); break;
            case 3: b.RemoveRange(at, n); break;
            case 4: b.InsertRange(at, bytes); break;
            case 5: b.InsertRange(at, b.GetRange(at, n)); break;
            default: for (int i = at; i < at + n; i++) b[i] = fill; break;
        }
        return b.ToArray();
    }
}
