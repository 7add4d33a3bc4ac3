using System.Text.RegularExpressions;

namespace XlaGen.Checkpoints;

/// <summary>
/// The temporary files of atomic saves (<c>.{target file name}.{32 hex digits}.tmp</c> beside the target), and the
/// removal of those a killed save left behind. A save in progress holds its temporary file open exclusively (on Unix,
/// .NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/>; Windows enforces the share mode), so a file
/// that can be opened exclusively belongs to no running save and is removed; one that cannot is left alone.
/// Only names of this exact pattern for this exact target are touched, never anything else in the directory.
/// </summary>
internal static class CheckpointTempFiles
{
    static readonly Regex Suffix = new("^\\.[0-9a-f]{32}\\.tmp$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>A fresh temporary file name for a save to <paramref name="fullPath"/>.</summary>
    public static string NewName(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

    /// <summary>Whether <paramref name="candidate"/> (a full path) is a temporary file of a save to <paramref name="fullPath"/>.</summary>
    public static bool IsTempOf(string candidate, string fullPath)
    {
        if (!string.Equals(Path.GetDirectoryName(candidate), Path.GetDirectoryName(fullPath), StringComparison.Ordinal)) return false;
        var prefix = "." + Path.GetFileName(fullPath);
        var name = Path.GetFileName(candidate);
        return name.Length == prefix.Length + 37 && name.StartsWith(prefix, StringComparison.Ordinal) && Suffix.IsMatch(name.AsSpan(prefix.Length).ToString());
    }

    /// <summary>Removes the temporary files of earlier saves to <paramref name="fullPath"/> that no running save holds;
    /// returns how many. Best effort: a file that cannot be opened or deleted stays, and nothing here throws, so a
    /// leftover never fails the save that finds it.</summary>
    public static int RemoveStale(string fullPath)
    {
        var directory = Path.GetDirectoryName(fullPath)!;
        IEnumerable<string> candidates;
        try
        {
            // The glob narrows the listing; IsTempOf decides (the glob's '*' would also match other names).
            candidates = Directory.EnumerateFiles(directory, "." + Path.GetFileName(fullPath) + ".*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return 0;
        }
        int removed = 0;
        foreach (var candidate in candidates)
        {
            if (!IsTempOf(candidate, fullPath)) continue;
            try
            {
                using var exclusive = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                File.Delete(candidate);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Held by a save in progress (or not ours to delete): leave it.
            }
        }
        return removed;
    }
}
